//! Headless tests of the Bevy client: `App`s with `MinimalPlugins` and the `NetPlugin` (no
//! window, no renderer) against the real server on a loopback port. Frames are stepped by
//! hand; every wait is for a condition on the app's state, bounded by a deadline.

mod common;

use bevy::prelude::*;
use common::{FRAME, WAIT, run_until};
use std::net::SocketAddr;
use std::time::Duration;
use tickwire_arena::{BODY, body};
use tickwire_client_bevy::net::{
    Connection, Corrections, Disconnect, Game, Link, LinkConfig, LinkStatus, NetPlugin,
    PlayerIntent, ToNet, ViewKind, ViewState,
};
use tickwire_client_bevy::sync::Session;
use tickwire_server::{Config, Server};
use tickwire_shared::{InputSeq, PlayerId};
use tokio_util::sync::CancellationToken;

/// The real server, running on its own tokio runtime.
struct TestServer {
    runtime: tokio::runtime::Runtime,
    addr: SocketAddr,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl TestServer {
    fn start(addr: SocketAddr) -> TestServer {
        TestServer::start_with(addr, false)
    }

    /// With `webtransport`, the server also takes WebTransport sessions (`--webtransport`).
    fn start_with(addr: SocketAddr, webtransport: bool) -> TestServer {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let config = Config {
            addr,
            // Everyone sees everyone, wherever they spawn.
            view_radius: 10_000.0,
            webtransport,
            ..Config::ephemeral()
        };
        let shutdown = CancellationToken::new();
        let server = runtime
            .block_on(Server::bind(config, shutdown.clone()))
            .expect("bind");
        let addr = server.local_addr();
        let task = runtime.spawn(server.run());
        TestServer {
            runtime,
            addr,
            shutdown,
            task,
        }
    }

    fn url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    fn stop(self) {
        self.shutdown.cancel();
        self.runtime
            .block_on(async { tokio::time::timeout(WAIT, self.task).await })
            .expect("server stops in time")
            .unwrap();
    }
}

fn client_app(url: &str, name: &str) -> App {
    client_app_with_lag(url, name, Duration::ZERO)
}

fn client_app_with_lag(url: &str, name: &str, lag: Duration) -> App {
    client_app_with(url, name, lag, 0)
}

fn client_app_with(url: &str, name: &str, lag: Duration, mirrors: usize) -> App {
    let mut link = LinkConfig::new(url, name);
    link.lag = lag;
    link.mirrors = mirrors;
    link.backoff_base = Duration::from_millis(100);
    link.backoff_cap = Duration::from_millis(400);
    let mut app = App::new();
    app.add_plugins((MinimalPlugins, NetPlugin { link }));
    app.finish();
    app.cleanup();
    app
}

/// Steps every app for `frames` frames.
fn run_frames(apps: &mut [&mut App], frames: u32) {
    for _ in 0..frames {
        for app in apps.iter_mut() {
            app.update();
        }
        std::thread::sleep(FRAME);
    }
}

fn player_id(app: &App) -> Option<PlayerId> {
    app.world()
        .resource::<Game>()
        .0
        .as_ref()
        .map(|s| s.player_id)
}

fn seen_position(app: &App, player: PlayerId) -> Option<Vec2> {
    app.world()
        .resource::<ViewState>()
        .player(player)
        .map(|e| e.pos)
}

fn local(app: &App) -> Option<tickwire_client_bevy::net::LocalView> {
    app.world().resource::<ViewState>().local
}

/// A direction from `pos` towards the arena's middle, so a walk does not start into a wall.
fn inward(app: &App, pos: Vec2) -> Vec2 {
    let game = app.world().resource::<Game>();
    let arena = &game.0.as_ref().unwrap().config.arena;
    let centre = Vec2::new(arena.width, arena.height) / 2.0;
    let d = centre - pos;
    Vec2::new(d.x.signum(), 0.0)
}

fn set_intent(app: &mut App, movement: Vec2) {
    app.world_mut().resource_mut::<PlayerIntent>().movement = movement;
}

#[test]
fn a_remote_players_moves_show_in_the_other_clients_view() {
    let server = TestServer::start("127.0.0.1:0".parse().unwrap());
    let mut alice = client_app(&server.url(), "alice");
    let mut bob = client_app(&server.url(), "bob");
    let mut alice_id = None;
    run_until(
        &mut [&mut alice, &mut bob],
        "both joined, bob sees alice",
        |apps| {
            alice_id = player_id(apps[0]);
            alice_id.is_some_and(|a| seen_position(apps[1], a).is_some())
                && local(apps[0]).is_some()
        },
    );
    let alice_id = alice_id.unwrap();
    let start = seen_position(&bob, alice_id).unwrap();
    let dir = inward(&alice, local(&alice).unwrap().predicted);
    set_intent(&mut alice, dir);

    // Bob's view of alice moves a little every frame, at her walking speed, not one jump per
    // snapshot. Each sample is timed by the instant bob's view was built for (his render
    // clock), not by when the test looked: the two apps update one after the other.
    let built_at = |app: &App| app.world().resource::<ViewState>().built_at.unwrap();
    let mut seen = vec![(built_at(&bob), start)];
    run_until(
        &mut [&mut alice, &mut bob],
        "bob sees alice move 60 units",
        |apps| {
            let p = seen_position(apps[1], alice_id).unwrap_or(start);
            seen.push((built_at(apps[1]), p));
            (p - start).dot(dir) > 60.0
        },
    );
    let speed = {
        let game = bob.world().resource::<Game>();
        game.0.as_ref().unwrap().config.rules.player_speed
    };
    // A client drawing one jump per snapshot would break the bound at every snapshot (8 or
    // more times over 60 units); the render clock re-aiming under a loaded machine may break
    // it once or twice by a fraction of a tick, which is allowed.
    let mut over = Vec::new();
    for w in seen.windows(2) {
        let ((t0, p0), (t1, p1)) = (w[0], w[1]);
        assert!(
            (p1 - p0).dot(dir) >= -0.01,
            "alice went backwards: {seen:?}"
        );
        // The render clock may run up to 5% fast, and the two apps update one after the
        // other, so a sample's timestamp can be off by up to a frame: twice the frame's walk,
        // plus 1 unit of slack. One jump per snapshot (a tick of walking, ~7 units, within a
        // frame of ~7 ms) is still far over it.
        let most = speed * 1.05 * 2.0 * (t1 - t0).as_secs_f32() + 1.0;
        if p0.distance(p1) > most {
            over.push((p0.distance(p1), t1 - t0, most));
        }
    }
    assert!(
        over.len() <= 2,
        "alice jumped {} times (distance, time, bound): {over:?}",
        over.len()
    );
    let distinct = seen.windows(2).filter(|w| w[0].1 != w[1].1).count();
    assert!(distinct >= 8, "moved in {distinct} steps: {seen:?}");
    // Bob renders alice in the past (interpolation delay), never ahead of the server.
    let view = bob.world().resource::<ViewState>();
    assert!(view.render_tick <= view.server_tick, "{view:?}");
    drop((alice, bob));
    server.stop();
}

#[test]
fn over_webtransport_a_remote_players_moves_arrive_as_datagrams() {
    let server = TestServer::start_with("127.0.0.1:0".parse().unwrap(), true);
    let mut alice = client_app(&server.url(), "alice");
    let mut bob = client_app(&server.url(), "bob");
    let mut alice_id = None;
    run_until(
        &mut [&mut alice, &mut bob],
        "both joined over WebTransport, bob sees alice",
        |apps| {
            alice_id = player_id(apps[0]);
            alice_id.is_some_and(|a| seen_position(apps[1], a).is_some())
                && local(apps[0]).is_some()
        },
    );
    for app in [&alice, &bob] {
        let c = app.world().resource::<Connection>();
        assert_eq!(
            c.transport,
            Some(tickwire_client::Transport::WebTransport),
            "the client says which transport it uses"
        );
    }
    // Alice's inputs go as datagrams and are acknowledged: her prediction is the server's.
    walks_and_is_seen(&mut alice, &mut bob, alice_id.unwrap());
    drop((alice, bob));
    server.stop();
}

/// Alice walks inward until bob sees her 60 units on, then stops until her prediction is the
/// server's position.
fn walks_and_is_seen(alice: &mut App, bob: &mut App, alice_id: PlayerId) {
    let start = seen_position(bob, alice_id).unwrap();
    let dir = inward(alice, local(alice).unwrap().predicted);
    set_intent(alice, dir);
    run_until(
        &mut [&mut *alice, &mut *bob],
        "bob sees alice move 60 units",
        |apps| {
            let p = seen_position(apps[1], alice_id).unwrap_or(start);
            (p - start).dot(dir) > 60.0
        },
    );
    set_intent(alice, Vec2::ZERO);
    run_until(&mut [&mut *alice, &mut *bob], "alice settles", |apps| {
        local(apps[0]).is_some_and(|l| l.predicted.distance(l.server) < 0.01)
    });
}

#[test]
fn with_a_mirror_each_the_clients_play_over_two_websockets() {
    let server = TestServer::start("127.0.0.1:0".parse().unwrap());
    let mut alice = client_app_with(&server.url(), "alice", Duration::ZERO, 1);
    let mut bob = client_app_with(&server.url(), "bob", Duration::ZERO, 1);
    let mut alice_id = None;
    run_until(
        &mut [&mut alice, &mut bob],
        "both joined with a mirror each, bob sees alice",
        |apps| {
            alice_id = player_id(apps[0]);
            alice_id.is_some_and(|a| seen_position(apps[1], a).is_some())
                && local(apps[0]).is_some()
                && apps
                    .iter()
                    .all(|a| a.world().resource::<Connection>().mirrors == 1)
        },
    );
    for app in [&alice, &bob] {
        let c = app.world().resource::<Connection>();
        assert_eq!(c.transport, Some(tickwire_client::Transport::WebSocket));
    }
    walks_and_is_seen(&mut alice, &mut bob, alice_id.unwrap());
    drop((alice, bob));
    server.stop();
}

/// Walks alice for 100 units over a link with `lag` each way, stops, and waits until the
/// prediction has settled on the server's position; returns the reconciliation figures.
fn walk_and_settle(lag: Duration) -> Corrections {
    let server = TestServer::start("127.0.0.1:0".parse().unwrap());
    let mut alice = client_app_with_lag(&server.url(), "alice", lag);
    run_until(&mut [&mut alice], "alice joined", |apps| {
        local(apps[0]).is_some()
    });
    let start = local(&alice).unwrap();
    let dir = inward(&alice, start.predicted);
    set_intent(&mut alice, dir);
    // While moving, prediction runs ahead of what the server has confirmed, by about the
    // round trip's worth of movement.
    let mut ahead = 0.0f32;
    run_until(&mut [&mut alice], "alice walked 100 units", |apps| {
        let l = local(apps[0]).unwrap();
        ahead = ahead.max((l.predicted - l.server).dot(dir));
        (l.predicted - start.predicted).dot(dir) > 100.0
    });
    assert!(ahead > 0.0, "prediction never ran ahead of the server");
    if !lag.is_zero() {
        let speed = {
            let game = alice.world().resource::<Game>();
            game.0.as_ref().unwrap().config.rules.player_speed
        };
        let round_trip_walk = speed * 2.0 * lag.as_secs_f32();
        assert!(
            ahead >= round_trip_walk * 0.8,
            "ahead by {ahead}, expected at least {round_trip_walk} at {lag:?} each way"
        );
    }
    set_intent(&mut alice, Vec2::ZERO);
    // Commands up to this one may still move; every later one stands still.
    let last_moving = {
        let session = alice.world().resource::<Session>();
        let n = session.netcode.as_ref().unwrap();
        n.inputs.pending().last().map_or(InputSeq(0), |c| c.seq)
    };
    // Once the server has applied every moving command, prediction and server agree exactly.
    run_until(
        &mut [&mut alice],
        "prediction settles on the server's position",
        |apps| {
            let l = local(apps[0]).unwrap();
            let session = apps[0].world().resource::<Session>();
            let n = session.netcode.as_ref().unwrap();
            n.replica.ack_input_seq >= last_moving && l.predicted == l.server
        },
    );
    let l = local(&alice).unwrap();
    let session = alice.world().resource::<Session>();
    let n = session.netcode.as_ref().unwrap();
    let me = n.owned(Some(BODY)).next().unwrap();
    let lanes = &n.replica.entities[&me].lanes;
    assert_eq!(
        l.server,
        Vec2::new(lanes[body::x] as f32 / 8.0, lanes[body::y] as f32 / 8.0),
        "the ghost is the replica's authoritative position"
    );
    let c = alice.world().resource::<ViewState>().corrections;
    println!("corrections at {lag:?} each way: {c:?}");
    drop(alice);
    server.stop();
    c
}

#[test]
fn prediction_matches_the_server_after_reconciliation() {
    let c = walk_and_settle(Duration::ZERO);
    // With no other players around, prediction ran the server's own movement rules, so
    // reconciliation never had to move the player.
    assert!(c.samples > 10, "{c:?}");
    assert_eq!(c.max, 0.0, "{c:?}");
}

#[test]
fn prediction_holds_under_simulated_lag() {
    let c = walk_and_settle(Duration::from_millis(60));
    assert!(c.samples > 10, "{c:?}");
    assert_eq!(c.max, 0.0, "{c:?}");
}

#[test]
fn a_server_restart_triggers_a_reconnect() {
    let first = TestServer::start("127.0.0.1:0".parse().unwrap());
    let addr = first.addr;
    let mut alice = client_app(&first.url(), "alice");
    run_until(&mut [&mut alice], "alice joined", |apps| {
        apps[0].world().resource::<Connection>().status == LinkStatus::Playing
    });
    first.stop();
    let mut saw_retry = None;
    run_until(
        &mut [&mut alice],
        "the client notices the shutdown",
        |apps| {
            let c = apps[0].world().resource::<Connection>();
            if let LinkStatus::Retrying { cause, .. } = &c.status {
                saw_retry = Some(cause.clone());
            }
            saw_retry.is_some()
        },
    );
    assert_eq!(
        saw_retry.unwrap(),
        Disconnect::Closed {
            code: Some(tickwire_shared::close::CloseCode::GoingAway.code()),
            reason: "server shutting down".into()
        }
    );
    assert!(alice.world().resource::<Game>().0.is_none());
    // While the server is down, attempts fail and are retried.
    run_frames(&mut [&mut alice], 40);
    let second = TestServer::start(addr);
    run_until(&mut [&mut alice], "alice rejoined the new server", |apps| {
        let c = apps[0].world().resource::<Connection>();
        c.sessions == 2 && c.status == LinkStatus::Playing && local(apps[0]).is_some()
    });
    drop(alice);
    second.stop();
}

#[test]
fn remote_view_lists_players_with_names_and_health() {
    let server = TestServer::start("127.0.0.1:0".parse().unwrap());
    let mut alice = client_app(&server.url(), "alice");
    let mut bob = client_app(&server.url(), "bob");
    run_until(
        &mut [&mut alice, &mut bob],
        "each sees two players",
        |apps| {
            apps.iter().all(|a| {
                a.world()
                    .resource::<ViewState>()
                    .entities
                    .iter()
                    .filter(|e| matches!(e.kind, ViewKind::Player { .. }))
                    .count()
                    == 2
            })
        },
    );
    let game = bob.world().resource::<Game>();
    let names: Vec<_> = game
        .0
        .as_ref()
        .unwrap()
        .players
        .values()
        .map(|p| p.name.clone())
        .collect();
    assert!(
        names.contains(&"alice".to_string()) && names.contains(&"bob".to_string()),
        "{names:?}"
    );
    let view = bob.world().resource::<ViewState>();
    let locals = view
        .entities
        .iter()
        .filter(|e| matches!(e.kind, ViewKind::Player { local: true, health, alive: true, .. } if health > 0))
        .count();
    assert_eq!(locals, 1);
    drop((alice, bob));
    server.stop();
}

#[test]
fn a_dropped_connection_resumes_the_same_player() {
    let server = TestServer::start("127.0.0.1:0".parse().unwrap());
    let mut alice = client_app(&server.url(), "alice");
    run_until(&mut [&mut alice], "alice joined", |apps| {
        local(apps[0]).is_some()
    });
    let first = player_id(&alice).unwrap();
    // Drop the socket the way a network failure would (no close frame).
    alice
        .world()
        .resource::<Link>()
        .command(ToNet::Reconnect(Disconnect::Diverged("test".into())));
    run_until(&mut [&mut alice], "alice is back", |apps| {
        let c = apps[0].world().resource::<Connection>();
        c.sessions == 2 && c.status == LinkStatus::Playing && local(apps[0]).is_some()
    });
    let c = alice.world().resource::<Connection>();
    assert!(c.resumed, "the server took the same player back");
    assert_eq!(player_id(&alice), Some(first));
    drop(alice);
    server.stop();
}
