//! Snapshots over a lossy datagram link never diverge: arena bots (the load tester's mixed
//! brains: they move, fight, die and respawn) where half the clients get their snapshots as
//! messages 5 through a link that drops, duplicates, delays and reorders them, and whose
//! acknowledgements are lost and delayed too. Every snapshot carries a checksum, every client
//! applies what arrives against the base it names ([`Bases`]), and one datagram client drops
//! and resumes halfway. Events (message 6) go on the reliable side, in order.
mod common;

use std::collections::BTreeMap;
use tickwire_arena::{ArenaConfig, ArenaGame};
use tickwire_engine::{EngineConfig, Room};
use tickwire_shared::sync::acked::{Applied, Bases, peek_acked};
use tickwire_shared::sync::bot::BotBrain;
use tickwire_shared::sync::{InputCmd, Replica, ServerMsg, decode_server};
use tickwire_shared::{InputSeq, PlayerId, Tick};

const PLAYERS: usize = 12;
const TICKS: u32 = 1500;

/// A small deterministic generator (no dependency for a test).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }

    /// True with probability `p` percent.
    fn pct(&mut self, p: u64) -> bool {
        self.next() % 100 < p
    }
}

struct Peer {
    replica: Replica,
    bases: Bases,
    brain: Box<dyn BotBrain>,
    seq: u32,
    /// Datagrams on their way to the client: (arrival tick, bytes).
    down: Vec<(u32, Vec<u8>)>,
    /// Acknowledgements on their way to the server: (arrival tick, acked tick).
    up: Vec<(u32, Tick)>,
    /// The newest tick applied, to acknowledge.
    ack: Option<Tick>,
    applied: u64,
    stale: u64,
    /// Whether a snapshot against an acknowledged base came (after which none should be
    /// against nothing).
    based: bool,
    events: u64,
}

fn welcome_replica(bytes: &[u8]) -> Replica {
    let Ok(ServerMsg::Welcome(w)) = decode_server(bytes, None, &[]) else {
        panic!("a welcome")
    };
    Replica::new(&w)
}

#[test]
fn lost_duplicated_and_reordered_snapshots_never_diverge() {
    let config = EngineConfig {
        max_players: PLAYERS + 1,
        checksum_interval: 1,
        ..EngineConfig::default()
    };
    let mut room = Room::new(config, ArenaGame::new(ArenaConfig::default()));
    let mut reliable = common::Bots::new();
    let mut peers: BTreeMap<PlayerId, Peer> = BTreeMap::new();
    let mut tokens = BTreeMap::new();
    for i in 0..PLAYERS {
        if i % 2 == 0 {
            common::join(&mut room, &mut reliable, i, 11);
            continue;
        }
        let j = room.handle_join(&format!("dgram{i}"), None).unwrap();
        assert!(room.set_unreliable(j.player_id));
        let replica = welcome_replica(&j.welcome);
        tokens.insert(j.player_id, String::new());
        let Ok(ServerMsg::Welcome(w)) = decode_server(&j.welcome, None, &[]) else {
            unreachable!()
        };
        tokens.insert(j.player_id, w.resume_token.clone());
        peers.insert(
            j.player_id,
            Peer {
                bases: Bases::new(&replica),
                replica,
                brain: tickwire_arena::bot::brain("mixed", i, 11).unwrap(),
                seq: 0,
                down: Vec::new(),
                up: Vec::new(),
                ack: None,
                applied: 0,
                stale: 0,
                based: false,
                events: 0,
            },
        );
    }
    let mut rng = Lcg(42);
    let (mut lost, mut duplicated, mut against_nothing, mut max_back) = (0u64, 0u64, 0u64, 0u32);
    let resumer = *peers.keys().next().unwrap();
    for t in 0..TICKS {
        // Halfway, one datagram client drops and comes back with its token.
        if t == TICKS / 2 {
            room.handle_disconnect(resumer);
            let j = room
                .handle_join("again", Some(&tokens[&resumer]))
                .expect("a resume");
            assert!(j.resumed && j.player_id == resumer);
            assert!(room.set_unreliable(resumer));
            let p = peers.get_mut(&resumer).unwrap();
            p.replica = welcome_replica(&j.welcome);
            p.bases = Bases::new(&p.replica);
            p.down.clear();
            p.up.clear();
            p.ack = None;
            p.seq = 0;
            p.based = false;
        }
        for (id, p) in peers.iter_mut() {
            // Acknowledgements that arrive now.
            let (now, later): (Vec<_>, Vec<_>) = p.up.drain(..).partition(|(at, _)| *at <= t);
            p.up = later;
            for (_, tick) in now {
                room.handle_ack(*id, tick);
            }
            p.seq += 1;
            let lanes = p.brain.next_input(&p.replica, 30.0);
            room.handle_inputs(
                *id,
                vec![InputCmd {
                    seq: InputSeq(p.seq),
                    view_tick: p.replica.tick,
                    lanes,
                }],
            );
        }
        let (_, frames) = common::tick(&mut room, &mut reliable, |_| true);
        for (id, bytes) in frames {
            let Some(p) = peers.get_mut(&id) else {
                continue;
            };
            match peek_acked(&bytes).unwrap() {
                Some((tick, back)) => {
                    assert_eq!(tick.0, room.tick_count().0);
                    if back == 0 && p.based {
                        against_nothing += 1;
                    }
                    p.based |= back > 0;
                    max_back = max_back.max(back);
                    // The datagram link: 10 % lost, 5 % twice, 0–3 ticks late (so reordered).
                    if rng.pct(10) {
                        lost += 1;
                        continue;
                    }
                    let copies = if rng.pct(5) { 2 } else { 1 };
                    duplicated += copies - 1;
                    for _ in 0..copies {
                        let at = t + (rng.next() % 4) as u32;
                        p.down.push((at, bytes.clone()));
                    }
                }
                None => {
                    // The reliable stream: in order, now.
                    let Ok(ServerMsg::Events(e)) = p.replica.decode(&bytes) else {
                        panic!("only snapshots (5) and events (6) come from the room");
                    };
                    assert!(!e.events.is_empty());
                    p.events += e.events.len() as u64;
                }
            }
        }
        for p in peers.values_mut() {
            // What arrives this tick, in the order the link delivers it (shuffled by lateness).
            let (now, later): (Vec<_>, Vec<_>) = p.down.drain(..).partition(|(at, _)| *at <= t);
            p.down = later;
            for (_, bytes) in now {
                match p
                    .bases
                    .apply(&mut p.replica, &bytes)
                    .expect("every snapshot applies against its base, checksum and all")
                {
                    Applied::Stale => p.stale += 1,
                    Applied::New(s, _) => {
                        p.applied += 1;
                        p.ack = Some(s.tick);
                    }
                }
            }
            // The acknowledgement rides in the next datagram up: 10 % lost, 0–2 ticks late.
            if let Some(a) = p.ack
                && !rng.pct(10)
            {
                p.up.push((t + 1 + (rng.next() % 3) as u32, a));
            }
        }
        assert_eq!(room.net_id_errors(), 0, "tick {t}: NetId bookkeeping");
    }
    let applied: u64 = peers.values().map(|p| p.applied).sum();
    let stale: u64 = peers.values().map(|p| p.stale).sum();
    let events: u64 = peers.values().map(|p| p.events).sum();
    println!(
        "applied {applied}, stale {stale}, lost {lost}, duplicated {duplicated}, against nothing {against_nothing}, largest back {max_back}, events {events}, ids in use {}",
        room.net_ids_in_use()
    );
    assert!(lost > 500 && duplicated > 200, "the link lost and repeated");
    assert!(
        stale > 200,
        "duplicates and overtaken snapshots were dropped"
    );
    assert!(
        applied > (PLAYERS as u64 / 2) * u64::from(TICKS) * 3 / 5,
        "most ticks applied"
    );
    // Once a connection's acknowledgements arrive, bases stay within reach.
    assert_eq!(
        against_nothing, 0,
        "no snapshot against nothing after the first base"
    );
    assert!(
        max_back >= 3,
        "bases older than the last snapshot were used"
    );
    assert!(
        events > 0,
        "events (kills, notices) went on the reliable side"
    );
    // Ids are held while a kept table names them, and no longer.
    assert!(room.net_ids_in_use() < 200, "{}", room.net_ids_in_use());
}
