//! The everyone-in-view benchmark game (`--game inview`, `--game inview-plain`) over real
//! loopback sockets: the server, configured from its command line, quick-matches three
//! clients into one room; each steers on a straight course, every snapshot carries a checksum
//! its replica verifies, and every client sees the other two move (by exactly the step the
//! game gives their direction).

mod common;

use clap::Parser;
use common::{TestServer, WAIT};
use tickwire_client::{GameClient, GameEvent};
use tickwire_inview::{PLAYER, input_lanes, player};
use tickwire_server::Config;
use tickwire_server::net::RoomInfo;
use tickwire_server::net::driver::{GameName, GameRooms};
use tickwire_shared::PlayerId;

fn config(game: &str) -> Config {
    Config::parse_from([
        "tickwire",
        "--game",
        game,
        "--addr",
        "127.0.0.1:0",
        "--db",
        "sqlite::memory:",
        "--checksum-interval",
        "1",
    ])
}

/// Applies the next snapshot; every one must carry a checksum the replica verified.
async fn step(c: &mut GameClient) {
    match c.next_snapshot(WAIT).await {
        Ok(GameEvent::Snapshot { checked, .. }) => assert!(checked, "a checksum every tick"),
        other => panic!("no snapshot: {other:?}"),
    }
}

/// `player`'s (x, y) in `c`'s replica.
fn pos(c: &GameClient, player: PlayerId) -> Option<(i64, i64)> {
    let p = i64::from(player.0);
    c.replica
        .of_kind(PLAYER)
        .find(|(_, l)| l[player::player] == p)
        .map(|(_, l)| (l[player::x], l[player::y]))
}

#[test]
fn the_command_line_names_both_encodings() {
    assert_eq!(config("inview").game, GameName::Inview);
    assert_eq!(config("inview-plain").game, GameName::InviewPlain);
    let schema = |g| (**GameRooms::bundled(g).schema()).clone();
    assert_eq!(schema(GameName::Inview), tickwire_inview::schema(true));
    assert_eq!(
        schema(GameName::InviewPlain),
        tickwire_inview::schema(false)
    );
}

#[tokio::test]
async fn three_players_share_one_room_and_see_each_other_move_over_loopback() {
    let server = TestServer::start(config("inview")).await;
    let mut clients = Vec::new();
    for name in ["ann", "bob", "cid"] {
        let c = GameClient::join(&server.ws_url(), name, None, WAIT)
            .await
            .expect("join");
        assert_eq!(c.welcome.schema, tickwire_inview::schema(true));
        clients.push(c);
    }
    // One room, all three in it (the token names the room: its id, a dot, a secret).
    let room = |c: &GameClient| {
        c.welcome
            .resume_token
            .split('.')
            .next()
            .unwrap()
            .to_string()
    };
    assert!(clients.iter().all(|c| room(c) == room(&clients[0])));
    let (_, rooms) = server.http_get("/rooms").await;
    let rooms: Vec<RoomInfo> = serde_json::from_str(&rooms).unwrap();
    assert_eq!(rooms.len(), 1, "{rooms:?}");
    assert_eq!((rooms[0].players, rooms[0].game.as_str()), (3, "inview"));

    // Each heads for the centre of the field (no wall within reach), one command each: the
    // latest command stays in force.
    for c in &mut clients {
        while pos(c, c.welcome.player_id).is_none() {
            step(c).await;
        }
        let (x, y) = pos(c, c.welcome.player_id).unwrap();
        let a = ((8000 - y) as f64).atan2((8000 - x) as f64);
        let tick = c.replica.tick;
        c.send_input(tick, input_lanes(a)).await.unwrap();
    }
    let ids: Vec<PlayerId> = clients.iter().map(|c| c.welcome.player_id).collect();
    // Everyone holds everyone; after a few ticks, everyone has seen the others move by a
    // constant step each tick.
    for c in &mut clients {
        // (tick, x, y) of each player, per snapshot.
        let mut seen: Vec<Vec<(u32, i64, i64)>> = vec![Vec::new(); ids.len()];
        for _ in 0..40 {
            step(c).await;
            for (k, &p) in ids.iter().enumerate() {
                if let Some((x, y)) = pos(c, p) {
                    seen[k].push((c.replica.tick.0, x, y));
                }
            }
        }
        let me = c.welcome.player_id;
        for (k, track) in seen.iter().enumerate() {
            assert!(track.len() >= 35, "{me:?} holds player {k}");
            // The change per tick between snapshots (a client that read late may have
            // skipped ticks).
            let steps: Vec<(i64, i64)> = track
                .windows(2)
                .map(|w| {
                    let gap = i64::from(w[1].0 - w[0].0).max(1);
                    ((w[1].1 - w[0].1) / gap, (w[1].2 - w[0].2) / gap)
                })
                .filter(|d| *d != (0, 0))
                .collect();
            assert!(steps.len() >= 10, "{me:?} sees player {k} move: {track:?}");
            // A straight course: the same step every tick once the command is applied,
            // 200 units/s at 30 Hz (53.3 eighths a tick).
            let last = *steps.last().unwrap();
            assert!(
                steps[steps.len() - 10..].iter().all(|s| *s == last),
                "{steps:?}"
            );
            let d = last.0 * last.0 + last.1 * last.1;
            assert!((2700..=3000).contains(&d), "{last:?}");
        }
    }
    for c in clients {
        c.leave().await;
    }
    server.stop().await;
}
