//! The bot's replica checking, driven by a real sans-IO engine room playing the arena (no
//! sockets): a faithful replica
//! verifies every checksum; a deliberately corrupted one is caught at the next checksum.

use std::time::{Duration, Instant};
use tickwire_arena::bot::{Behaviour, Brain};
use tickwire_arena::{ArenaConfig, ArenaGame, BODY, body};
use tickwire_bench::bot::{BotState, Seen};
use tickwire_server::engine::{EngineConfig, Room};
use tickwire_shared::PlayerId;
use tickwire_shared::sync::{ClientMsg, ServerMsg, decode_server};

struct Table {
    room: Room<ArenaGame>,
    bots: Vec<(PlayerId, BotState)>,
    now: Instant,
}

impl Table {
    fn new(n: usize, checksum_interval: u16) -> Table {
        let mut room = Room::new(
            EngineConfig {
                checksum_interval,
                ..EngineConfig::default()
            },
            ArenaGame::new(ArenaConfig::default()),
        );
        let now = Instant::now();
        let bots = (0..n)
            .map(|i| {
                let j = room.handle_join(&format!("bot{i}"), None).unwrap();
                let Ok(ServerMsg::Welcome(w)) = decode_server(&j.welcome, None, &[]) else {
                    panic!("first message is a welcome")
                };
                let brain = Brain::new(Behaviour::StrafeAndShoot.for_bot(i), i as u64);
                (j.player_id, BotState::new(&w, Box::new(brain), now))
            })
            .collect();
        Table { room, bots, now }
    }

    /// One tick: every bot sends an input, the room ticks, every bot handles its snapshot.
    fn tick(&mut self) -> Vec<Seen> {
        for (id, bot) in &mut self.bots {
            let (ClientMsg::Input(cmds), None) = bot.input(30.0) else {
                unreachable!("arena bots send inputs and no actions")
            };
            self.room.handle_inputs(*id, cmds);
        }
        let out = self.room.tick(|_| true);
        self.now += Duration::from_millis(33);
        let mut seen = Vec::new();
        for (id, bytes) in out.messages {
            let bot = &mut self.bots.iter_mut().find(|b| b.0 == id).unwrap().1;
            seen.push(bot.on_frame(&bytes, self.now));
        }
        seen
    }
}

#[test]
fn faithful_replicas_verify_every_checksum() {
    let mut t = Table::new(8, 5);
    for _ in 0..120 {
        for s in t.tick() {
            assert!(matches!(s, Seen::Snapshot { .. }), "{s:?}");
        }
    }
    for (_, bot) in &t.bots {
        assert_eq!(bot.stats.snapshots, 120);
        assert_eq!(bot.stats.checksums_verified, 24, "every 5th tick");
        assert_eq!(bot.stats.divergences, 0);
        assert_eq!(bot.stats.missed_ticks, 0);
        assert!(bot.stats.bytes_in > 0);
    }
}

#[test]
fn a_corrupted_replica_is_counted_as_a_divergence_at_the_next_checksum() {
    let mut t = Table::new(4, 5);
    for _ in 0..12 {
        t.tick();
    }
    // Corrupt bot 0's copy of its own body: one eighth of a unit to the right.
    let bot = &mut t.bots[0].1;
    let me = i64::from(bot.replica.player_id.0);
    let own = bot
        .replica
        .entities
        .values_mut()
        .find(|e| e.kind == BODY && e.lanes[body::player] == me)
        .expect("own body in view");
    own.lanes[body::x] += 1;
    let mut divergences_seen = 0;
    for _ in 0..10 {
        let seen = t.tick();
        divergences_seen += seen.iter().filter(|s| **s == Seen::Divergence).count();
    }
    assert_eq!(
        divergences_seen, 1,
        "counted once, then the bot stops checking"
    );
    assert_eq!(t.bots[0].1.stats.divergences, 1);
    assert!(t.bots[0].1.is_broken());
    for (_, other) in &t.bots[1..] {
        assert_eq!(
            other.stats.divergences, 0,
            "only the corrupted bot diverges"
        );
        assert!(other.stats.checksums_verified >= 4);
    }
}
