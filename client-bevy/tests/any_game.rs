//! The game-independent `SyncPlugin` playing a game that is not the arena: a few dozen lines of
//! "walkers" served by the real server (`GameRooms::new`), mirrored into headless Bevy apps.
//! Proves the plugin's contract: one Bevy entity per replicated entity, `Owned` on the local
//! player's, predicted through the game's own step, others interpolated, despawned when they
//! leave; and that a client for another game stops with a clear reason.

mod common;

use bevy::prelude::*;
use common::{WAIT, run_until};
use std::collections::BTreeMap;
use std::time::Duration;
use tickwire_client_bevy::net::NetPlugin;
use tickwire_client_bevy::sync::{
    Connection, Disconnect, Drawn, EntityMap, GameHooks, Held, InputLanes, LinkConfig, LinkStatus,
    Owned, Replicated, Session, SyncEvent, SyncPlugin,
};
use tickwire_server::engine::{Ctx, EntityMeta, Game, World};
use tickwire_server::{Config, GameRooms, Server};
use tickwire_shared::schema::{KindDesc, Schema};
use tickwire_shared::sync::netcode::Source;
use tickwire_shared::sync::predict::PredictStep;
use tickwire_shared::sync::{InputCmd, Welcome};
use tickwire_shared::{NetId, PlayerId, fields};
use tokio_util::sync::CancellationToken;

fields! { pub mod walker { owner: Player; x: I32, interpolate, predict; } }
fields! { pub mod walk { dx: I8; } }

/// Every player is a walker on a line; an input moves it by `dx`.
#[derive(Default)]
struct Walkers {
    walkers: BTreeMap<PlayerId, (NetId, i64)>,
}

impl Game for Walkers {
    fn schema(&self) -> Schema {
        Schema::new("walkers")
            .kind(KindDesc {
                name: "walker".into(),
                fields: walker::fields(),
            })
            .input(walk::fields())
    }

    fn join(&mut self, ctx: &mut Ctx<'_>, player: PlayerId, _name: &str) -> Result<(), String> {
        self.walkers.insert(player, (ctx.spawn(), 0));
        Ok(())
    }

    fn leave(&mut self, ctx: &mut Ctx<'_>, player: PlayerId) {
        if let Some((id, _)) = self.walkers.remove(&player) {
            ctx.despawn(id);
        }
    }

    fn input(&mut self, _ctx: &mut Ctx<'_>, player: PlayerId, cmd: &InputCmd) {
        if let Some(w) = self.walkers.get_mut(&player) {
            w.1 += cmd.lanes[walk::dx];
        }
    }

    fn step(&mut self, _ctx: &mut Ctx<'_>) {}

    fn replicate(&self, world: &mut World) {
        for (p, (id, x)) in &self.walkers {
            world.entity(EntityMeta::new(*id, 0).owned_by(*p), &[i64::from(p.0), *x]);
        }
    }
}

/// The client's copy of the game's step: the same `x += dx`.
fn walk_step(_: &Welcome) -> Option<Box<dyn PredictStep + Send + Sync>> {
    Some(Box::new(|lanes: &mut [i64], cmd: &InputCmd| {
        lanes[walker::x] += cmd.lanes[walk::dx];
    }))
}

struct TestServer {
    runtime: tokio::runtime::Runtime,
    url: String,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

fn start() -> TestServer {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let shutdown = CancellationToken::new();
    let rooms = GameRooms::new(|_config, _engine| Walkers::default());
    let server = runtime
        .block_on(Server::bind_game(
            Config::ephemeral(),
            rooms,
            shutdown.clone(),
        ))
        .expect("bind");
    let url = format!("ws://{}/ws", server.local_addr());
    let task = runtime.spawn(server.run());
    TestServer {
        runtime,
        url,
        shutdown,
        task,
    }
}

impl TestServer {
    fn stop(self) {
        self.shutdown.cancel();
        self.runtime
            .block_on(async { tokio::time::timeout(WAIT, self.task).await })
            .expect("server stops in time")
            .unwrap();
    }
}

fn link(url: &str, name: &str) -> LinkConfig {
    let mut link = LinkConfig::new(url, name);
    link.backoff_base = Duration::from_millis(100);
    link.backoff_cap = Duration::from_millis(400);
    link
}

/// Every [`SyncEvent`] the app received.
#[derive(Resource, Default)]
struct Seen(Vec<SyncEvent>);

fn collect(mut events: MessageReader<SyncEvent>, mut seen: ResMut<Seen>) {
    seen.0.extend(events.read().cloned());
}

fn walker_app(url: &str, name: &str) -> App {
    let mut app = App::new();
    app.add_plugins((
        MinimalPlugins,
        SyncPlugin {
            link: link(url, name),
            hooks: GameHooks {
                game: Some("walkers".into()),
                predict: Some(walk_step),
            },
        },
    ))
    .init_resource::<Seen>()
    .add_systems(Update, collect);
    app.finish();
    app.cleanup();
    app
}

/// Every mirrored entity: (id, held lanes, drawn, owned).
fn mirrored(app: &mut App) -> Vec<(NetId, Vec<i64>, Drawn, bool)> {
    let mut q = app
        .world_mut()
        .query::<(&Replicated, &Held, &Drawn, Has<Owned>)>();
    let mut out: Vec<_> = q
        .iter(app.world())
        .map(|(r, h, d, o)| (r.id, h.0.clone(), d.clone(), o))
        .collect();
    out.sort_by_key(|e| e.0);
    out
}

#[test]
fn a_game_of_ones_own_is_mirrored_predicted_and_interpolated() {
    let server = start();
    let mut alice = walker_app(&server.url, "alice");
    let mut bob = walker_app(&server.url, "bob");
    alice.world_mut().resource_mut::<InputLanes>().0 = vec![2];
    run_until(
        &mut [&mut alice, &mut bob],
        "both see two walkers, alice's moving",
        |apps| {
            let (a, b) = (mirrored(apps[0]), mirrored(apps[1]));
            a.len() == 2 && b.len() == 2 && a.iter().any(|e| e.3 && e.2.lanes[walker::x] > 40.0)
        },
    );
    for app in [&mut alice, &mut bob] {
        let entities = mirrored(app);
        // The mirror is the replica: same ids, same lanes.
        let session = app.world().resource::<Session>();
        let n = session.netcode.as_ref().unwrap();
        let replica: Vec<_> = n
            .replica
            .entities
            .iter()
            .map(|(id, e)| (*id, e.lanes.clone()))
            .collect();
        let mirror: Vec<_> = entities.iter().map(|e| (e.0, e.1.clone())).collect();
        assert_eq!(mirror, replica);
        assert_eq!(app.world().resource::<EntityMap>().0.len(), 2);
        // Exactly one walker is this player's, and it is the one whose owner lane says so.
        let me = app.world().resource::<Connection>().player.unwrap();
        let owned: Vec<_> = entities.iter().filter(|e| e.3).collect();
        assert_eq!(owned.len(), 1);
        assert_eq!(owned[0].1[walker::owner], i64::from(me.0));
        assert_eq!(owned[0].2.source, Source::Predicted);
        let other = entities.iter().find(|e| !e.3).unwrap();
        assert!(
            matches!(other.2.source, Source::Interpolated { .. }),
            "{:?}",
            other.2
        );
    }
    // Alice's prediction runs ahead of what the server has confirmed, by the game's own step.
    let a = mirrored(&mut alice);
    let mine = a.iter().find(|e| e.3).unwrap();
    assert!(mine.2.lanes[walker::x] >= mine.1[walker::x] as f64);
    // Bob sees alice's walker move, interpolated between snapshots.
    let seen = |app: &mut App| {
        mirrored(app)
            .into_iter()
            .find(|e| !e.3)
            .map(|e| e.2.lanes[walker::x])
            .unwrap()
    };
    let before = seen(&mut bob);
    run_until(
        &mut [&mut alice, &mut bob],
        "bob sees alice walk on",
        |apps| seen(apps[1]) > before + 20.0,
    );
    // Alice quits (her app ends): her walker goes from bob's world, and bob is told she left.
    let alice_id = alice.world().resource::<Connection>().player.unwrap();
    drop(alice);
    run_until(&mut [&mut bob], "alice's walker despawns", |apps| {
        mirrored(apps[0]).len() == 1
    });
    assert!(mirrored(&mut bob)[0].3, "the one left is bob's own");
    let seen = &bob.world().resource::<Seen>().0;
    assert!(
        seen.contains(&SyncEvent::Joined {
            player: alice_id,
            name: "alice".into()
        }),
        "bob is told alice is there, whether she came first or second: {seen:?}"
    );
    assert!(
        seen.contains(&SyncEvent::Left {
            player: alice_id,
            name: "alice".into()
        }),
        "{seen:?}"
    );
    // A goodbye, not a dropped link: she never showed as away (a resume would be waited for).
    assert!(
        !seen.contains(&SyncEvent::Connection {
            player: alice_id,
            connected: false
        }),
        "{seen:?}"
    );
    drop(bob);
    server.stop();
}

#[test]
fn a_client_for_another_game_stops_and_says_why() {
    let server = start();
    let mut app = App::new();
    app.add_plugins((
        MinimalPlugins,
        NetPlugin {
            link: link(&server.url, "arena player"),
        },
    ));
    app.finish();
    app.cleanup();
    run_until(&mut [&mut app], "the arena client gives up", |apps| {
        matches!(
            apps[0].world().resource::<Connection>().status,
            LinkStatus::Stopped { .. }
        )
    });
    let c = app.world().resource::<Connection>();
    let LinkStatus::Stopped { cause } = &c.status else {
        unreachable!()
    };
    assert!(matches!(cause, Disconnect::WrongGame(_)), "{cause:?}");
    assert_eq!(
        cause.describe(),
        "Wrong game: this client plays arena, the server runs walkers"
    );
    assert_eq!(
        mirrored(&mut app).len(),
        0,
        "nothing of the other game is mirrored"
    );
    drop(app);
    server.stop();
}
