//! Deterministic tests of a game over the real bytes: a [`TestRoom`] runs a [`Room`] and, for
//! every player, a client [`Replica`] fed exactly the bytes the room produced (decoded,
//! applied, checksums verified when the room sends them). No socket, no clock.

use crate::game::Game;
use crate::room::{EngineConfig, Room, TickOutput};
use std::collections::BTreeMap;
use tickwire_shared::sync::{InputCmd, Replica, ServerMsg, Snapshot, decode_server};
use tickwire_shared::{InputSeq, PlayerId};

/// A room and one real client replica per player.
pub struct TestRoom<G: Game> {
    /// The room under test.
    pub room: Room<G>,
    /// Each player's replica, built from the bytes it was sent.
    pub replicas: BTreeMap<PlayerId, Replica>,
    /// Each player's last snapshot and its size in bytes.
    pub last: BTreeMap<PlayerId, (Snapshot, usize)>,
    seqs: BTreeMap<PlayerId, u32>,
}

impl<G: Game> TestRoom<G> {
    /// A room running `game`.
    pub fn new(config: EngineConfig, game: G) -> TestRoom<G> {
        TestRoom {
            room: Room::new(config, game),
            replicas: BTreeMap::new(),
            last: BTreeMap::new(),
            seqs: BTreeMap::new(),
        }
    }

    /// Joins a player and decodes its `Welcome` into a fresh replica.
    pub fn join(&mut self, name: &str) -> PlayerId {
        let j = self
            .room
            .handle_join(name, None)
            .expect("the room takes the player");
        let ServerMsg::Welcome(w) =
            decode_server(&j.welcome, None, &[]).expect("a welcome decodes")
        else {
            panic!("the first message is not a welcome")
        };
        self.replicas.insert(j.player_id, Replica::new(&w));
        self.seqs.insert(j.player_id, 0);
        j.player_id
    }

    /// The player leaves for good.
    pub fn leave(&mut self, id: PlayerId) {
        self.room.handle_leave(id);
        self.replicas.remove(&id);
        self.seqs.remove(&id);
    }

    /// Queues the player's next input command (numbered in order, viewed at the room's tick).
    pub fn input(&mut self, id: PlayerId, lanes: Vec<i64>) {
        let seq = self.seqs.get_mut(&id).expect("joined");
        *seq += 1;
        let cmd = InputCmd {
            seq: InputSeq(*seq),
            view_tick: self.room.tick_count(),
            lanes,
        };
        self.room.handle_inputs(id, vec![cmd]);
    }

    /// One tick; players for whom `ready` is false skip it. Every snapshot sent is decoded and
    /// applied to its player's replica (panics on any mismatch).
    pub fn tick_with(&mut self, ready: impl FnMut(PlayerId) -> bool) -> TickOutput {
        let out = self.room.tick(ready);
        for (id, bytes) in &out.messages {
            let r = self
                .replicas
                .get_mut(id)
                .expect("bytes only for joined players");
            let ServerMsg::Snapshot(s) = r.decode(bytes).expect("a snapshot decodes") else {
                panic!("a tick produced something other than a snapshot")
            };
            r.apply(&s)
                .expect("the snapshot applies and its checksum matches");
            self.last.insert(*id, (s, bytes.len()));
        }
        out
    }

    /// One tick for everyone.
    pub fn tick(&mut self) -> TickOutput {
        self.tick_with(|_| true)
    }
}
