//! A byte budget per client, with a priority accumulator.
//!
//! Each client may be sent at most [`EngineConfig::client_budget`](crate::EngineConfig) bytes a
//! second, on average: a bucket fills by the budget's share of every tick (up to
//! [`BURST_TICKS`] ticks' worth) and every frame sent empties it by its size. While the bucket
//! holds at least twice the last frame, nothing changes (the common case costs one
//! comparison). When it does not, the client's delta goes through a copy of what it holds
//! ([`crate::delta::Baseline::Copied`]) and [`hold`] chooses which entity updates go this tick:
//!
//! - the header, removals, player records, room fields, events and checksums always go, and
//!   so do the spawns and updates of the client's own entities (its prediction is reconciled
//!   against them) and every update that changes a `discontinuity` field of a kind with
//!   extrapolated fields (a respawn, a teleport: held, the entity would glide on along its old
//!   course far from where it is; in the default scenario at a 2 KiB/s budget this took the
//!   worst error from 1,673 units to 271 and the mean from 8.4 to 5.9);
//! - a spawn of another entity entering the view may wait too, while the client is already
//!   short (a frame that starts a shortage goes whole): it competes with the updates by the
//!   same priority, its length in bits counting as an update's does (missing altogether is the
//!   furthest a copy can stray), and the client does not hold the entity until it goes;
//! - every other update that is due accumulates priority each tick it waits: the entity's
//!   [`relevance`](crate::EntityMeta::relevance) times a closeness factor (4 next to the
//!   viewer, falling to 1 at the view radius and beyond; 2.5 for an entity without a
//!   position), times the ticks elapsed, times 1 + the update's length in bits / 16 (a copy
//!   that strayed far costs more to bring back, so it should not wait longer);
//! - the updates are taken in order of priority (highest first, then by id) while they fit
//!   in what the bucket holds after the rest of the snapshot; one that does not fit waits
//!   and the next smaller one is tried;
//! - an update that waits is not lost: the client keeps predicting the entity on its old
//!   course, exactly as it would on a quiet tick, and the copy the server keeps of what the
//!   client holds does the same, so its next update is the residual against that prediction
//!   and brings the client back to the exact value (checksums hold throughout). Its priority
//!   keeps growing until it goes, then starts again from 0;
//! - the per-tick change a client would measure from an update that waited is not the entity's
//!   course but the catch-up: such an update carries the reset escape
//!   ([`Snapshot::reset`](tickwire_shared::sync::Snapshot)), so the client restarts the
//!   entity's courses from 0, and the entity's next update goes in the client's next snapshot
//!   whatever the budget: a small one (its course), measured over one tick. The same follow-up
//!   comes after an update that spans ticks the client skipped. (Continued, the catch-up would
//!   run on as a wrong course, and the next catch-up would be wrong by more: a client over its
//!   budget would spiral into ever larger updates.)
//!
//! A frame may still go over what the bucket holds (a burst of creations, the client's own
//! entities): the bucket then goes below 0 and the next ticks hold more until it has paid.

use crate::game::EntityMeta;
use crate::view::{Interest, Masks, Table, Viewer};
use tickwire_shared::NetId;
use tickwire_shared::schema::Schema;
use tickwire_shared::sync::bits::Bits;
use tickwire_shared::sync::{Snapshot, Update, wire, write_spawn, write_update};

/// The bucket holds at most this many ticks' share of the budget.
pub const BURST_TICKS: f64 = 8.0;

/// Bits an update's skip is assumed to take when choosing (the frame is then measured).
const SKIP_BITS: i64 = 3;

/// One client's budget: its bucket and the updates it is waiting for.
#[derive(Debug, Clone)]
pub struct ClientBudget {
    /// Bytes a second.
    per_second: f64,
    /// Ticks a second.
    rate: f64,
    /// Bytes the client may be sent now (below 0 after a frame that had to go over).
    bucket: f64,
    /// Entities whose update waits, ascending id, with their priority.
    pending: Vec<(NetId, f32)>,
    /// Entities whose last update waited or spanned a gap, ascending id: their next update
    /// goes at once.
    follow: Vec<NetId>,
    /// Bytes of the last frame sent.
    last: usize,
}

/// What one [`hold`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Held {
    /// Updates sent.
    pub sent: usize,
    /// Updates that wait for a later tick.
    pub held: usize,
}

impl ClientBudget {
    /// A full bucket for `per_second` bytes a second at `tick_rate`.
    pub fn new(per_second: u32, tick_rate: u16) -> ClientBudget {
        let rate = f64::from(tick_rate.max(1));
        let per_second = f64::from(per_second);
        ClientBudget {
            per_second,
            rate,
            bucket: per_second / rate * BURST_TICKS,
            pending: Vec::new(),
            follow: Vec::new(),
            last: 0,
        }
    }

    /// `gap` ticks passed since the last snapshot: the bucket fills by their share.
    pub fn refill(&mut self, gap: u32) {
        let share = self.per_second / self.rate;
        self.bucket = (self.bucket + share * f64::from(gap)).min(share * BURST_TICKS);
    }

    /// Whether this tick's delta must go through [`hold`]: an update waits, or the bucket
    /// holds less than twice the last frame.
    pub fn tight(&self) -> bool {
        !self.pending.is_empty() || !self.follow.is_empty() || self.bucket < 2.0 * self.last as f64
    }

    /// A frame of `bytes` was sent.
    pub fn spend(&mut self, bytes: usize) {
        // A debt of at most one bucket: a burst that had to go (a crowd entering the view)
        // is paid for in a few ticks, not for as long as it was large.
        let burst = self.per_second / self.rate * BURST_TICKS;
        self.bucket = (self.bucket - bytes as f64).max(-burst);
        self.last = bytes;
    }

    /// The client's snapshot has no update due: no update waits, none follows.
    pub fn nothing_due(&mut self) {
        self.pending.clear();
        self.follow.clear();
    }

    /// Bytes the bucket holds now.
    pub fn bucket(&self) -> f64 {
        self.bucket
    }

    /// How many entity updates wait.
    pub fn waiting(&self) -> usize {
        self.pending.len()
    }

    /// The priority of an entity's waiting update or spawn (`None` when none waits).
    pub fn waited(&self, id: NetId) -> Option<f32> {
        self.pending
            .binary_search_by_key(&id, |p| p.0)
            .ok()
            .map(|i| self.pending[i].1)
    }
}

/// How much a waiting update of `meta` gains each tick for `viewer`: its relevance times its
/// closeness (4 next to the viewer down to 1 at `scale` and beyond, 2.5 without a position).
pub fn weight(meta: &EntityMeta, viewer: &Viewer, scale: f32) -> f32 {
    let near = match (meta.pos, viewer.center) {
        (Some(p), Some(c)) => 1.0 - (p.distance(c) / scale.max(1.0)).min(1.0),
        _ => 0.5,
    };
    meta.relevance * (1.0 + 3.0 * near)
}

/// The distance at which closeness reaches 1: the view radius, or half the area's larger
/// side for a game without one.
pub fn scale(interest: &Interest) -> f32 {
    interest
        .radius
        .unwrap_or(interest.size.0.max(interest.size.1) * 0.5)
}

/// Chooses which of `snap`'s entity updates go within `allowance` bits (see the module
/// documentation) and takes the others out of it. `before` is what the client held, `view`
/// what it holds after `snap` (rows in the order of `visible`, this tick's entity indices),
/// `gap` the ticks since its last snapshot. A held entity's row in `view` becomes what the
/// client will then hold: its old values moved along its old course.
#[allow(clippy::too_many_arguments)]
pub fn hold(
    budget: &mut ClientBudget,
    interest: &Interest,
    masks: &Masks,
    schema: &Schema,
    viewer: &Viewer,
    gap: u32,
    before: &Table,
    view: &mut Table,
    visible: &[u32],
    snap: &mut Snapshot,
    allowance: i64,
) -> Held {
    struct Candidate {
        /// Where its lanes start (in `updated_lanes` or `created_lanes`).
        lanes: usize,
        /// Its row in `view`.
        row: usize,
        must: bool,
        /// Whether it waited before this tick.
        waited: bool,
        priority: f32,
        bits: i64,
    }
    let scale = scale(interest);
    let mut bits = Bits::default();
    let mut candidates = Vec::with_capacity(snap.updated.len());
    let mut lanes = 0;
    for u in &snap.updated {
        let n = u.mask.count_ones() as usize;
        let fields = &schema.kinds[usize::from(u.kind)].fields;
        bits.clear();
        let mut l = snap.updated_lanes[lanes..lanes + n].iter();
        write_update(&mut bits, fields, u.mask, |_| {
            *l.next().expect("a lane per bit")
        });
        let row = view
            .rows
            .binary_search_by_key(&u.id, |r| r.0)
            .expect("an update of an entity in view");
        let (meta, _) = interest.entity(visible[row]);
        let waiting = budget.waited(u.id);
        let waited = waiting.unwrap_or(0.0);
        let follow = budget.follow.binary_search(&u.id).is_ok();
        candidates.push(Candidate {
            lanes,
            row,
            // A jump (a discontinuity field changed: a respawn, a teleport) never waits: the
            // client would draw the entity gliding on along its old course, far from where it
            // is, the worst a wait can do.
            must: meta.owner == Some(viewer.player)
                || follow
                || u.mask & masks.jumps[usize::from(u.kind)] != 0,
            waited: waiting.is_some(),
            // The further a client's copy has strayed, the longer its update: priority grows
            // with it, so an entity that waits does not wait until it costs a fortune.
            priority: waited
                + weight(meta, viewer, scale) * gap as f32 * (1.0 + bits.len() as f32 / 16.0),
            bits: bits.len() as i64 + SKIP_BITS,
        });
        lanes += n;
    }
    // Entities entering the view may wait too (a crowd coming into view is one burst
    // otherwise): a spawn's cost is its bytes; the client's own entities never wait.
    let updates = candidates.len();
    let mut lanes = 0;
    for c in &snap.created {
        let fields = &schema.kinds[usize::from(c.kind)].fields;
        let n = fields.len();
        bits.clear();
        write_spawn(
            &mut bits,
            fields,
            &snap.created_lanes[lanes..lanes + n],
            snap.tick,
        );
        // Its id and kind: about a byte.
        let spawn_bits = bits.len() as i64 + 8;
        let row = view
            .rows
            .binary_search_by_key(&c.id, |r| r.0)
            .expect("a creation of an entity in view");
        let (meta, _) = interest.entity(visible[row]);
        let waited = budget.waited(c.id).unwrap_or(0.0);
        candidates.push(Candidate {
            lanes,
            row,
            must: meta.owner == Some(viewer.player),
            waited: false,
            // Missing altogether is the furthest a copy can stray: its length counts as an
            // update's does.
            priority: waited
                + weight(meta, viewer, scale) * gap as f32 * (1.0 + spawn_bits as f32 / 16.0),
            bits: spawn_bits,
        });
        lanes += n;
    }
    let mut order: Vec<usize> = (0..candidates.len()).collect();
    order.sort_by(|&a, &b| {
        let (x, y) = (&candidates[a], &candidates[b]);
        y.must
            .cmp(&x.must)
            .then(y.priority.total_cmp(&x.priority))
            .then(a.cmp(&b))
    });
    let mut left = allowance;
    let mut send = vec![false; candidates.len()];
    for &i in &order {
        let c = &candidates[i];
        if c.must || c.bits <= left {
            send[i] = true;
            left -= c.bits;
        }
    }
    // Rebuild the updates in id order; a held entity's row becomes its prediction.
    let updated = std::mem::take(&mut snap.updated);
    let all_lanes = std::mem::take(&mut snap.updated_lanes);
    budget.pending.clear();
    budget.follow.clear();
    let mut done = Held::default();
    for ((c, u), &go) in candidates.iter().zip(updated).zip(&send) {
        let n = u.mask.count_ones() as usize;
        if go {
            snap.updated_lanes
                .extend_from_slice(&all_lanes[c.lanes..c.lanes + n]);
            let k = usize::from(u.kind);
            if c.waited && masks.extrapolate[k] != 0 {
                // A catch-up: the client restarts its courses from 0 (the escape of
                // `Snapshot::reset`), and the next update, a tick later, sets them.
                snap.reset.push(u.id);
                let b0 = view.rows[c.row].2 as usize;
                let mut m = masks.extrapolate[k];
                while m != 0 {
                    view.vel[b0 + m.trailing_zeros() as usize] = 0;
                    m &= m - 1;
                }
            }
            if c.waited || gap > 1 {
                budget.follow.push(u.id);
            }
            snap.updated.push(u);
            done.sent += 1;
        } else {
            keep_prediction(masks, gap, before, view, c.row, &u);
            budget.pending.push((u.id, c.priority));
            done.held += 1;
        }
    }
    // A spawn that waits: the client does not hold the entity yet (its row leaves the view;
    // the next delta creates it again).
    let created = std::mem::take(&mut snap.created);
    let created_lanes = std::mem::take(&mut snap.created_lanes);
    let mut gone = Vec::new();
    for ((c, s), &go) in candidates[updates..]
        .iter()
        .zip(created)
        .zip(&send[updates..])
    {
        let n = schema.kinds[usize::from(s.kind)].fields.len();
        if go {
            snap.created_lanes
                .extend_from_slice(&created_lanes[c.lanes..c.lanes + n]);
            snap.created.push(s);
        } else {
            gone.push(s.id);
            budget.pending.push((s.id, c.priority));
            done.held += 1;
        }
    }
    if !gone.is_empty() {
        view.rows.retain(|r| gone.binary_search(&r.0).is_err());
    }
    budget.pending.sort_unstable_by_key(|p| p.0);
    done
}

/// Row `row` of `view` (entity `u.id`, whose update waits) becomes what the client holds
/// without it: each `extrapolate` lane its prediction over `gap`, with the per-tick change
/// the client then measures; every other lane its old value.
fn keep_prediction(
    masks: &Masks,
    gap: u32,
    before: &Table,
    view: &mut Table,
    row: usize,
    u: &Update,
) {
    let old = before
        .rows
        .binary_search_by_key(&u.id, |r| r.0)
        .expect("an update of an entity held");
    let k = usize::from(u.kind);
    let (n, x, types) = (masks.lens[k], masks.extrapolate[k], &masks.types[k]);
    let a0 = before.rows[old].2 as usize;
    let b0 = view.rows[row].2 as usize;
    for (f, &ty) in types.iter().enumerate().take(n) {
        let (a, d) = (before.lanes[a0 + f], before.vel[a0 + f]);
        if x >> f & 1 != 0 {
            let p = wire::predict(ty, a, d, gap);
            view.lanes[b0 + f] = p;
            view.vel[b0 + f] = wire::velocity(ty, wire::anchor(ty, a, d, gap), p);
        } else {
            view.lanes[b0 + f] = a;
            view.vel[b0 + f] = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    //! The budget over the real bytes: a client over it is sent the nearest and the longest
    //! waiting updates first, its own entity every tick, stays within the budget on average,
    //! and every entity held back catches up exactly (checksums every tick).
    use crate::game::{Ctx, EntityMeta, Game, World};
    use crate::room::EngineConfig;
    use crate::testing::TestRoom;
    use glam::Vec2;
    use tickwire_shared::schema::{KindDesc, Schema};
    use tickwire_shared::sync::InputCmd;
    use tickwire_shared::{NetId, PlayerId, fields};

    fields! {
        mod dot {
            owner: Player;
            x: Fixed(8), interpolate, extrapolate;
            y: Fixed(8), interpolate, extrapolate;
            hops: U8, discontinuity;
        }
    }

    /// The viewer's body at the origin and `DOTS` dots on a line away from it, every one
    /// wobbling (a new velocity every tick) while `wobble` is set.
    struct Swarm {
        viewer: Option<(PlayerId, NetId, [i64; 2])>,
        dots: Vec<(NetId, [i64; 2], [i64; 2])>,
        /// Each dot's jumps so far (its `hops` lane).
        hops: Vec<i64>,
        wobble: bool,
        rng: u64,
        turn: i64,
    }

    const DOTS: usize = 40;

    impl Swarm {
        fn next(&mut self) -> i64 {
            self.rng = self
                .rng
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (self.rng >> 33) as i64 % 9 - 4
        }
    }

    impl Game for Swarm {
        fn schema(&self) -> Schema {
            Schema::new("swarm").kind(KindDesc {
                name: "dot".into(),
                fields: dot::fields(),
            })
        }
        fn view_radius(&self) -> Option<f32> {
            Some(500.0)
        }
        fn view_center(&self, _: PlayerId) -> Option<Vec2> {
            Some(Vec2::ZERO)
        }
        fn join(&mut self, ctx: &mut Ctx<'_>, p: PlayerId, _: &str) -> Result<(), String> {
            self.viewer = Some((p, ctx.spawn(), [0, 0]));
            for i in 0..DOTS {
                // 10, 20, ..., 400 units out (x in eighths).
                let x = (10 + 10 * i as i64) * 8;
                self.dots.push((ctx.spawn(), [x, 0], [0, 0]));
                self.hops.push(0);
            }
            Ok(())
        }
        fn leave(&mut self, _: &mut Ctx<'_>, _: PlayerId) {}
        fn input(&mut self, _: &mut Ctx<'_>, _: PlayerId, _: &InputCmd) {}
        fn step(&mut self, _: &mut Ctx<'_>) {
            for i in 0..self.dots.len() {
                let v = if self.wobble {
                    [self.next(), self.next()]
                } else {
                    [0, 0]
                };
                let d = &mut self.dots[i];
                d.2 = v;
                d.1[0] += v[0];
                d.1[1] += v[1];
            }
            if let (Some(v), true) = (&mut self.viewer, self.wobble) {
                // A new velocity every tick.
                self.turn += 1;
                let w = self.turn % 7 - 3;
                v.2[0] += w;
                v.2[1] -= w;
            }
        }
        fn replicate(&self, world: &mut World) {
            if let Some((p, id, l)) = &self.viewer {
                let meta = EntityMeta::new(*id, 0).owned_by(*p).at(Vec2::ZERO);
                world.entity(meta, &[i64::from(p.0), l[0], l[1], 0]);
            }
            for ((id, l, _), hops) in self.dots.iter().zip(&self.hops) {
                let at = Vec2::new(l[0] as f32 / 8.0, l[1] as f32 / 8.0);
                world.entity(EntityMeta::new(*id, 0).at(at), &[0, l[0], l[1], *hops]);
            }
        }
    }

    fn room(budget: Option<u32>) -> (TestRoom<Swarm>, PlayerId) {
        let config = EngineConfig {
            checksum_interval: 1,
            client_budget: budget,
            ..EngineConfig::default()
        };
        let game = Swarm {
            viewer: None,
            dots: Vec::new(),
            hops: Vec::new(),
            wobble: true,
            rng: 7,
            turn: 0,
        };
        let mut t = TestRoom::new(config, game);
        let p = t.join("viewer");
        (t, p)
    }

    /// Whether the viewer's replica holds exactly every dot's value.
    fn exact(t: &TestRoom<Swarm>, p: PlayerId) -> bool {
        let r = &t.replicas[&p];
        t.room
            .game()
            .dots
            .iter()
            .all(|(id, l, _)| r.entities.get(id).is_some_and(|e| e.lanes[1..3] == l[..]))
    }

    #[test]
    fn a_jump_never_waits_for_the_budget() {
        let (mut t, p) = room(Some(1000));
        for _ in 0..60 {
            t.tick(); // the creation burst paid for, the budget binding
        }
        // The farthest dot, the last to go by priority, jumps 200 units and back (its `hops`
        // counts), every other tick, while everything wobbles and updates wait.
        let far = DOTS - 1;
        let id = t.room.game().dots[far].0;
        let mut held = 0;
        for k in 0..20 {
            {
                let g = t.room.game_mut();
                g.dots[far].1[1] += if k % 2 == 0 { 1600 } else { -1600 };
                g.hops[far] += 1;
            }
            let out = t.tick();
            held += out.updates_held;
            let s = &t.last[&p].0;
            assert!(
                s.updated.iter().any(|u| u.id == id),
                "jump {k} went at once"
            );
            let g = t.room.game();
            let e = &t.replicas[&p].entities[&id];
            assert_eq!(
                e.lanes[1..],
                [g.dots[far].1[0], g.dots[far].1[1], g.hops[far]],
                "and the client holds it exactly"
            );
        }
        assert!(held > 0, "the budget held other updates back meanwhile");
    }

    #[test]
    fn over_its_budget_a_client_gets_the_nearest_and_longest_waiting_first_and_catches_up_exactly()
    {
        // 1,000 B/s is 33 B a tick, less than 40 wobbling dots want (`inexact` shows it binds).
        const BUDGET: u32 = 1000;
        let (mut t, p) = room(Some(BUDGET));
        let own = t.room.game().viewer.unwrap().1;
        let ids: Vec<NetId> = t.room.game().dots.iter().map(|d| d.0).collect();
        let mut sent = vec![0u32; DOTS];
        let mut waited = [0u32; DOTS];
        let mut longest = vec![0u32; DOTS];
        let (mut own_sent, mut bytes, mut inexact) = (0, 0, 0);
        const TICKS: u32 = 300;
        for tick in 0..TICKS {
            let out = t.tick();
            let frame = out
                .messages
                .iter()
                .find(|m| m.0 == p)
                .map_or(0, |m| m.1.len());
            if tick < 30 {
                continue; // the creation burst and the bucket paying for it
            }
            bytes += frame;
            let s = &t.last[&p].0;
            assert_eq!(s.tick, t.room.tick_count(), "a frame every tick");
            own_sent += u32::from(s.updated.iter().any(|u| u.id == own));
            for (i, id) in ids.iter().enumerate() {
                if s.updated.iter().any(|u| u.id == *id) {
                    sent[i] += 1;
                    waited[i] = 0;
                } else {
                    waited[i] += 1;
                    longest[i] = longest[i].max(waited[i]);
                }
            }
            inexact += u32::from(!exact(&t, p));
        }
        let measured = TICKS - 30;
        let per_second = bytes as f64 / (f64::from(measured) / 30.0);
        eprintln!(
            "{per_second:.0} B/s for a {BUDGET} B/s budget; updates sent per dot (nearest first): {sent:?}; longest waits: {longest:?}"
        );
        // Within the budget on average (the bucket's burst aside), and it was binding.
        assert!(per_second <= f64::from(BUDGET) * 1.05, "{per_second} B/s");
        assert!(inexact > 0, "the budget held some updates back");
        // Its own entity every tick (it turns every tick).
        assert_eq!(own_sent, measured, "own entity sent {own_sent} times");
        // Nearer dots more often, and no dot starves.
        let near: u32 = sent[..10].iter().sum();
        let far: u32 = sent[DOTS - 10..].iter().sum();
        assert!(near > far * 3 / 2, "near {near}, far {far}");
        assert!(sent.iter().all(|&n| n > 0), "{sent:?}");
        assert!(longest.iter().all(|&w| w <= 30), "{longest:?}");
        // Every checksum held (`TestRoom` checks each); once the dots stop, everything held
        // catches up and the client holds exactly the room's values again.
        t.room.game_mut().wobble = false;
        for _ in 0..90 {
            t.tick();
        }
        assert!(exact(&t, p), "held entities caught up");
    }

    #[test]
    fn within_its_budget_a_client_gets_exactly_the_bytes_it_would_without_one() {
        let run = |budget| {
            let (mut t, _) = room(budget);
            (0..120).map(|_| t.tick().messages).collect::<Vec<_>>()
        };
        assert_eq!(run(None), run(Some(1 << 20)));
    }

    #[test]
    fn a_held_entity_catches_up_exactly_across_skipped_ticks() {
        let (mut t, p) = room(Some(600));
        for tick in 0..200u32 {
            // The client also skips ticks now and then: a held update spans the gap.
            t.tick_with(|_| tick % 9 > 1);
        }
        let held = t.room.client_budget(p).map_or(0, |b| b.waiting());
        assert!(held > 0, "the budget holds updates back");
        t.room.game_mut().wobble = false;
        for _ in 0..120 {
            t.tick();
        }
        assert!(exact(&t, p));
        assert_eq!(t.room.client_budget(p).map(|b| b.waiting()), Some(0));
    }

    /// How many dots the client holds.
    fn held_dots(t: &TestRoom<Swarm>, p: PlayerId) -> usize {
        let r = &t.replicas[&p];
        let dots = &t.room.game().dots;
        dots.iter()
            .filter(|d| r.entities.contains_key(&d.0))
            .count()
    }

    #[test]
    fn a_crowd_entering_the_view_is_created_over_a_few_ticks_the_near_ones_first() {
        // The far half of the dots wobbles in view all along, so the client stays over its
        // budget (a frame that would go over a full bucket goes whole: spawns wait only when
        // the client is already short). The near half leaves the view (500 units)...
        const OUT: usize = DOTS / 2;
        let (mut t, p) = room(Some(1000));
        for d in t.room.game_mut().dots[..OUT].iter_mut() {
            d.1[0] += 100_000;
        }
        for _ in 0..60 {
            t.tick();
        }
        assert_eq!(held_dots(&t, p), DOTS - OUT);
        assert!(t.room.client_budget(p).unwrap().tight(), "over its budget");
        // ...and comes back at once: 20 spawns of about 9 bytes, against 33 bytes a tick.
        for d in t.room.game_mut().dots[..OUT].iter_mut() {
            d.1[0] -= 100_000;
        }
        let mut seen = Vec::new();
        let mut first = Vec::new();
        for tick in 0..60 {
            t.tick();
            let r = &t.replicas[&p];
            let near = &t.room.game().dots[..OUT];
            let held: Vec<bool> = near.iter().map(|d| r.entities.contains_key(&d.0)).collect();
            if tick == 0 {
                first = held.clone();
            }
            seen.push(held.iter().filter(|&&h| h).count());
        }
        let n = seen[0];
        assert!(
            n > 0 && n < OUT,
            "the first tick creates part of them: {seen:?}"
        );
        // The near ones first (the dots are in order of distance; between two neighbours the
        // closeness differs by 2 %, so not strictly in order).
        assert!(
            first[OUT / 2..].iter().all(|&h| !h),
            "the nearer half first: {first:?}"
        );
        assert!(seen.windows(2).all(|w| w[0] <= w[1]), "{seen:?}");
        assert_eq!(*seen.last().unwrap(), OUT, "all of them in time: {seen:?}");
        t.room.game_mut().wobble = false;
        for _ in 0..90 {
            t.tick();
        }
        assert!(exact(&t, p), "and then the client holds them exactly");
    }
}
