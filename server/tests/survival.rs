//! The co-op survival game (`--game survival`) over real loopback sockets: the server binary's
//! code serves it, two [`GameClient`]s join, every snapshot carries a checksum that their
//! replicas verify, each client holds its own hero's ammo and reserve while the other hero's
//! are 0 in its replica (owner-only fields), a hero that fires spends rounds that only its
//! owner sees, both hear the shot, and the first wave's zombies (no owner) reach both
//! replicas; `/` serves the survival page and `/rooms` names the game.

mod common;

use common::{TestServer, WAIT};
use tickwire_client::{GameClient, GameEvent};
use tickwire_server::Config;
use tickwire_server::net::RoomInfo;
use tickwire_server::net::driver::GameName;
use tickwire_shared::PlayerId;
use tickwire_shared::sync::Event;
use tickwire_survival::client::{ClientConfig, Intent, input_lanes};
use tickwire_survival::{HERO, SHOT, ZOMBIE, hero, room, zombie};

async fn join(server: &TestServer, name: &str) -> GameClient {
    GameClient::join(&server.ws_url(), name, None, WAIT)
        .await
        .expect("join")
}

/// The next snapshot's events; every snapshot must carry a checksum the replica verified.
async fn step(c: &mut GameClient) -> Vec<Event> {
    match c.next_snapshot(WAIT).await {
        Ok(GameEvent::Snapshot {
            events, checked, ..
        }) => {
            assert!(checked, "every snapshot carries a checksum");
            events
        }
        other => panic!("no snapshot: {other:?}"),
    }
}

/// The lanes of `player`'s hero in `c`'s replica.
fn hero_of(c: &GameClient, player: PlayerId) -> Option<Vec<i64>> {
    let p = i64::from(player.0);
    c.replica
        .of_kind(HERO)
        .find(|(_, l)| l[hero::player] == p)
        .map(|(_, l)| l.to_vec())
}

fn zombies(c: &GameClient) -> usize {
    c.replica.of_kind(ZOMBIE).count()
}

#[tokio::test]
async fn two_heroes_hold_only_their_own_ammo_and_see_the_first_wave_over_loopback() {
    let server = TestServer::start(Config {
        game: GameName::Survival,
        checksum_interval: 1,
        // Wide enough that the first wave's zombies, which enter at the map's edges, are in
        // view within seconds of the wave rather than after their long walk in.
        view_radius: 1600.0,
        ..Config::ephemeral()
    })
    .await;
    let (status, page) = server.http_get("/").await;
    assert_eq!(status, 200);
    assert!(
        page.contains("/survival/survival.js"),
        "/ serves the survival page"
    );
    let mut a = join(&server, "ann").await;
    let mut b = join(&server, "bob").await;
    assert_eq!(a.welcome.schema, tickwire_survival::schema());
    let config = ClientConfig::parse(&a.welcome.game_config).unwrap();
    assert_eq!((config.rules.width, config.view_radius), (3000.0, 1600.0));
    let (_, rooms) = server.http_get("/rooms").await;
    let rooms: Vec<RoomInfo> = serde_json::from_str(&rooms).unwrap();
    assert_eq!(rooms.len(), 1);
    assert_eq!(rooms[0].game, "survival");
    assert_eq!(rooms[0].players, 2);

    let (pa, pb) = (a.welcome.player_id, b.welcome.player_id);
    while hero_of(&a, pb).is_none() || hero_of(&b, pa).is_none() {
        step(&mut a).await;
        step(&mut b).await;
    }
    let rules = &config.rules;
    let fresh = |l: &[i64]| {
        l[hero::ammo] == i64::from(rules.clip_size)
            && l[hero::reserve] == i64::from(rules.start_reserve)
    };
    assert!(fresh(&hero_of(&a, pa).unwrap()), "ann holds her own ammo");
    assert!(fresh(&hero_of(&b, pb).unwrap()), "bob holds his own ammo");

    // Ann fires along +x now and then; bob stands. Both step until zombies are in both
    // replicas and ann has spent some rounds.
    let fire = |on| {
        input_lanes(&Intent {
            fire: on,
            ..Intent::default()
        })
    };
    let (mut heard_by_bob, mut ticks) = (0, 0);
    let deadline = tokio::time::Instant::now() + 3 * WAIT;
    loop {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no zombies in time: ann sees {}, bob {}, wave {}",
            zombies(&a),
            zombies(&b),
            a.replica.room[room::wave]
        );
        let view = a.replica.tick;
        a.send_input(view, fire(ticks % 20 == 0 && ticks < 100))
            .await
            .unwrap();
        let view = b.replica.tick;
        b.send_input(view, fire(false)).await.unwrap();
        step(&mut a).await;
        let eb = step(&mut b).await;
        heard_by_bob += eb.iter().filter(|e| e.kind == SHOT).count();
        ticks += 1;

        // Owner-only: each replica holds 0 in the other hero's ammo lanes, its own for real.
        for (c, me, other) in [(&a, pa, pb), (&b, pb, pa)] {
            if let Some(l) = hero_of(c, other) {
                assert_eq!(
                    (l[hero::ammo], l[hero::reserve]),
                    (0, 0),
                    "{other:?} on {me:?}"
                );
            }
            let own = hero_of(c, me).expect("own hero");
            assert!(
                own[hero::ammo] + own[hero::reserve] > 0,
                "{me:?} holds real rounds"
            );
        }
        let ann = hero_of(&a, pa).unwrap();
        if zombies(&a) > 0 && zombies(&b) > 0 && ann[hero::ammo] < i64::from(rules.clip_size) {
            break;
        }
    }
    let ann = hero_of(&a, pa).unwrap();
    assert!(
        ann[hero::ammo] <= i64::from(rules.clip_size) - 3,
        "ann spent rounds: {ann:?}"
    );
    assert!(heard_by_bob >= 3, "bob heard ann's shots: {heard_by_bob}");
    assert!(fresh(&hero_of(&b, pb).unwrap()), "bob never fired");
    // The wave is room state in both replicas; its zombies are nobody's, alive and on the map.
    assert!(a.replica.room[room::wave] >= 1 && b.replica.room[room::wave] >= 1);
    for (_, z) in a.replica.of_kind(ZOMBIE).chain(b.replica.of_kind(ZOMBIE)) {
        assert!(z[zombie::hp] > 0, "{:?}", z);
        let x = z[zombie::x] as f32 / 8.0;
        assert!((0.0..=rules.width).contains(&x), "{x}");
    }
    a.leave().await;
    b.leave().await;
    server.stop().await;
}
