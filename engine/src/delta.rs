//! Entity deltas at the cost of one encoding per entity, not one per client and entity.
//!
//! Nearly every client was sent the previous tick, so what it holds of an entity is that
//! tick's value (owner-only fields zeroed unless it owns the entity): the engine keeps the
//! previous tick's world instead of a copy per client ([`Baseline::Live`]). Once per tick,
//! [`Changes::compute`] compares every entity with its previous-tick self and encodes the
//! update that everyone but its owner gets; a client's delta ([`Changes::delta`]) is then a
//! merge of the ids it holds with the ids it sees that copies those bytes. Only a client's own
//! entities (and one whose owner changed) are encoded for that client alone.
//!
//! A client that skips a tick cannot use them (the world it holds is gone by its next
//! snapshot), so its baseline becomes a copy of what it holds ([`Baseline::Copied`]) and its
//! next delta is [`crate::view::diff`]'s. Both paths write the same bytes for the same state;
//! the engine's tests run every client through both and compare.
//!
//! Fields declared `extrapolate` go as residuals against the client's own prediction (its held
//! value plus its per-tick change, see `tickwire_shared::sync::wire::predict`). On consecutive
//! ticks that change is the field's own last one (`new − old`) for every client that held the
//! entity then, so it is computed once per entity and tick ([`Changes::compute`]); only an
//! entity a client was sent whole in its last snapshot (its change is 0 there, the `fresh`
//! list of a live baseline) and a copied baseline (after a gap) carry their own.

use crate::net_ids::IdLog;
use crate::view::{Interest, Masks, Table, Viewer, diff};
use tickwire_shared::schema::{FieldDesc, Schema};
use tickwire_shared::sync::bits::Bits;
use tickwire_shared::sync::replica::Checksum;
use tickwire_shared::sync::wire;
use tickwire_shared::sync::{EncodedEntities, Snapshot, write_spawn, write_update};
use tickwire_shared::{NetId, PlayerId, Tick};

/// No entity (an index that is not one).
const NONE: u32 = u32::MAX;

/// Scratch for building clients' entity sections, one per worker: the clients of a tick are
/// spread over workers, each reusing its own. Holds the spawns it encoded this tick (each
/// entity's for anyone but its owner, encoded the first time one of its clients needs it).
#[derive(Debug, Default)]
pub struct Work {
    /// Per entity of `tick`: an index into `spawns`, or `NONE`.
    spawn: Vec<u32>,
    spawns: Vec<Bits>,
    spawns_used: usize,
    /// The tick `spawn` belongs to.
    tick: Option<Tick>,
    /// Lanes with owner-only fields zeroed.
    masked: Vec<i64>,
    /// [`Interest::visible`]'s bitset.
    pub(crate) seen: Vec<u64>,
    /// Entity indices in view.
    pub(crate) visible: Vec<u32>,
    /// A view as a table (copied baselines).
    pub(crate) view: Table,
    /// The id references the snapshots built here took and dropped.
    pub(crate) ids: IdLog,
    /// This tick's sections for a client who held the whole of the last tick's world and
    /// sees the whole of this one, owning nothing.
    full: Option<(Tick, Full)>,
    /// Clients served from the shared sections since the room last counted.
    pub(crate) shared: u32,
}

/// The entity sections every client that holds and sees the whole world shares (see
/// [`Changes::delta`]): written once a tick, copied into each such client's with its own
/// entities' updates put in their places.
#[derive(Debug, Default)]
struct Full {
    /// The sections, recording where each update starts ([`EncodedEntities::marks`]: its place
    /// in the view, which is the entity's index, and where its skip and its mask start).
    out: EncodedEntities,
    /// The entities created (this tick's indices).
    created: Vec<u32>,
    /// The entities the clients it serves were sent whole last tick (the last tick's indices).
    was_fresh: Vec<u32>,
}

impl Work {
    /// The lanes of entity `i`'s spawn for anyone but its owner, as [`write_spawn`] writes
    /// them.
    fn public_spawn(
        &mut self,
        changes: &Changes,
        interest: &Interest,
        masks: &Masks,
        schema: &Schema,
        i: u32,
    ) -> &Bits {
        if self.tick != Some(changes.now) {
            self.tick = Some(changes.now);
            self.spawn.clear();
            self.spawns_used = 0;
        }
        if self.spawn.len() < changes.rows.len() {
            self.spawn.resize(changes.rows.len(), NONE);
        }
        let at = self.spawn[i as usize];
        if at != NONE {
            return &self.spawns[at as usize];
        }
        let (meta, lanes) = interest.entity(i);
        let k = usize::from(meta.kind);
        let lanes = &lanes[..masks.lens[k]];
        let hidden = masks.owner_only_bits[k];
        let lanes = if hidden == 0 {
            lanes
        } else {
            self.masked.clear();
            self.masked.extend(
                lanes
                    .iter()
                    .enumerate()
                    .map(|(f, &v)| if hidden >> f & 1 != 0 { 0 } else { v }),
            );
            &self.masked
        };
        let at = self.spawns_used;
        if at == self.spawns.len() {
            self.spawns.push(Bits::default());
        }
        self.spawns_used += 1;
        let b = &mut self.spawns[at];
        b.clear();
        write_spawn(b, &schema.kinds[k].fields, lanes, changes.now);
        self.spawn[i as usize] = at as u32;
        &self.spawns[at]
    }
}

/// Chooses which updates of a copied baseline's snapshot wait (see [`Baseline::write`]).
pub type Hold<'a> =
    &'a mut dyn FnMut(&Interest, &[u32], &Table, &mut Table, &mut Snapshot) -> usize;

/// What one client holds.
#[derive(Debug)]
pub enum Baseline {
    /// Entities of the last tick's world (their indices, ascending, so ascending id), with
    /// their values of that tick as the client may see them: nothing is copied. The client
    /// was sent that tick (or holds nothing). The second list: those of them it was sent whole
    /// that tick (ascending): their per-tick changes are 0; every other one's is the common
    /// one of [`Changes`].
    Live(Vec<u32>, Vec<u32>),
    /// A copy of what the client holds (values and per-tick changes), made when it skipped a
    /// tick, and kept while its per-tick changes are its own.
    Copied(Table),
}

impl Default for Baseline {
    fn default() -> Self {
        Baseline::Live(Vec::new(), Vec::new())
    }
}

impl Baseline {
    /// The ids held, ascending (between ticks: a live baseline indexes the last tick's
    /// world).
    pub fn ids<'a>(&'a self, interest: &'a Interest) -> impl Iterator<Item = NetId> + 'a {
        let (live, copied) = match self {
            Baseline::Live(rows, _) => (Some(rows.iter().map(|&i| interest.entity(i).0.id)), None),
            Baseline::Copied(t) => (None, Some(t.ids())),
        };
        live.into_iter()
            .flatten()
            .chain(copied.into_iter().flatten())
    }

    /// Holds nothing (keeps the buffer of a live baseline).
    pub fn clear(&mut self) {
        match self {
            Baseline::Live(rows, fresh) => {
                rows.clear();
                fresh.clear();
            }
            Baseline::Copied(_) => *self = Baseline::default(),
        }
    }

    /// The client skips this tick: the previous tick's world it holds is about to go, so a
    /// live baseline becomes a copy of what it holds (call after [`Changes::compute`]).
    pub fn keep_through_skip(
        &mut self,
        interest: &Interest,
        masks: &Masks,
        changes: &Changes,
        viewer: &Viewer,
    ) {
        let Baseline::Live(rows, fresh) = self else {
            return;
        };
        if rows.is_empty() {
            return;
        }
        let mut copy = Table::default();
        let mut f = fresh.iter().peekable();
        for &i in rows.iter() {
            let (meta, lanes) = interest.prev_entity(i);
            copy.push_for(meta, lanes, viewer, masks);
            while f.next_if(|&&x| x < i).is_some() {}
            if f.next_if(|&&x| x == i).is_none() {
                let n = masks.lens[usize::from(meta.kind)];
                let at = interest.prev_start(i);
                copy.set_last_vel(&changes.prev_vel[at..at + n]);
            }
        }
        *self = Baseline::Copied(copy);
    }

    /// Writes this client's entity sections for this tick (`gap` ticks after its last
    /// snapshot): into `out` from a live baseline, else into `snap` ([`diff`] against the
    /// copy); returns which. The client then holds what it sees now, except for the updates
    /// `hold` takes out of a copied baseline's snapshot (given the entity indices in view,
    /// the copy before, the view after, and the snapshot; it returns how many it held, whose
    /// rows it set to what the client then holds: see [`crate::budget::hold`]). `work` is the
    /// scratch of the worker building it; the id references it takes and drops go into
    /// `work.ids`, for the room to apply.
    #[allow(clippy::too_many_arguments)]
    pub fn write(
        &mut self,
        interest: &Interest,
        masks: &Masks,
        schema: &Schema,
        changes: &Changes,
        viewer: &Viewer,
        gap: u32,
        work: &mut Work,
        out: &mut EncodedEntities,
        snap: &mut Snapshot,
        hold: Option<Hold<'_>>,
    ) -> bool {
        // Across a gap, an entity sent whole at the last snapshot has no per-tick change in
        // the client (0) but may have one in the common changes: its prediction is the
        // client's own, so the client goes by its copy this once.
        if changes.gap() > 1 && matches!(self, Baseline::Live(_, fresh) if !fresh.is_empty()) {
            self.keep_through_skip(interest, masks, changes, viewer);
        }
        let mut visible = std::mem::take(&mut work.visible);
        let live = match self {
            Baseline::Live(held, fresh) => {
                interest.visible(viewer, &mut work.seen, &mut visible);
                let mut now_fresh = Vec::new();
                changes.delta(
                    interest,
                    masks,
                    schema,
                    viewer.player,
                    (held, fresh),
                    &visible,
                    out,
                    work,
                    &mut now_fresh,
                );
                std::mem::swap(held, &mut visible);
                *fresh = now_fresh;
                true
            }
            Baseline::Copied(copy) => {
                let mut view = std::mem::take(&mut work.view);
                interest.view(viewer, masks, &mut work.seen, &mut visible, &mut view);
                diff(masks, copy, &mut view, gap, snap);
                let held = hold.map_or(0, |h| h(interest, &visible, copy, &mut view, snap));
                for s in &snap.created {
                    work.ids.retain(s.id);
                }
                for nid in &snap.removed {
                    work.ids.release(*nid);
                }
                // Live again as soon as it holds this tick's world (no update held back) and
                // every per-tick change it holds is the common one (entities just created: 0).
                let mut fresh = Vec::new();
                let mut created = snap.created.iter().peekable();
                let mut live = held == 0;
                for (row, &i) in visible.iter().enumerate().take_while(|_| live) {
                    let (meta, _) = interest.entity(i);
                    if created.next_if(|c| c.id == meta.id).is_some() {
                        fresh.push(i);
                        continue;
                    }
                    let n = masks.lens[usize::from(meta.kind)];
                    let at = interest.start(i);
                    if view.vel_of(row, n) != &changes.vel[at..at + n] {
                        live = false;
                        break;
                    }
                }
                *self = if live {
                    Baseline::Live(std::mem::take(&mut visible), fresh)
                } else {
                    Baseline::Copied(std::mem::take(&mut view))
                };
                work.view = view;
                false
            }
        };
        work.visible = visible;
        live
    }

    /// The whole of a tick in which nothing changed ([`Changes::still`]) for a client that was
    /// sent the last tick and whose view is where it was: it sees what it holds, so nothing is
    /// written and nothing is walked. `false` (do the full [`Baseline::write`]) for a copied
    /// baseline.
    pub fn stay(&mut self, out: &mut EncodedEntities) -> bool {
        let Baseline::Live(_, fresh) = self else {
            return false;
        };
        // Every per-tick change of a still tick is 0, the common ones too: the entities sent
        // whole last tick are no longer apart.
        fresh.clear();
        out.clear();
        true
    }

    /// The checksum of what the client holds, with the room's lanes.
    pub fn checksum(
        &self,
        interest: &Interest,
        masks: &Masks,
        schema: &Schema,
        viewer: PlayerId,
        room: &[i64],
    ) -> u32 {
        match self {
            Baseline::Live(rows, _) => checksum(interest, masks, viewer, rows, room),
            Baseline::Copied(t) => tickwire_shared::sync::replica::checksum(t.iter(schema), room),
        }
    }
}

/// Per-entity work done once per tick: which entity of the previous tick each one is, and the
/// bytes of its update and its spawn for viewers other than its owner.
#[derive(Debug, Default)]
pub struct Changes {
    /// Per entity of this tick, what a client's merge reads.
    rows: Vec<Row>,
    /// Updates longer than a [`Row`] holds (more than 64 bits), each whole.
    long: Vec<Bits>,
    /// Where an update is written before it goes into its row.
    scratch: Bits,
    /// This tick (a spawn's `Tick` lanes are coded against it).
    now: Tick,
    /// Ticks since the world it was compared with (1 but when the room sends a snapshot only
    /// every few ticks: `Room::set_snapshot_interval`). Extrapolated lanes are predicted
    /// across it, as a client's replica does.
    gap: u32,
    /// Whether clients that hold and see the whole world share one encoding of it (no entity
    /// changed owner this tick, and the room allows it).
    share: bool,
    /// Per lane of this tick's world (the layout of its lanes): the per-tick change every
    /// client that holds the entity after this tick's snapshot has for an `extrapolate` field
    /// (its `new − old`, or 0 for an entity new to the world or that jumped), 0 elsewhere.
    pub(crate) vel: Vec<i64>,
    /// The same for the previous tick's world.
    pub(crate) prev_vel: Vec<i64>,
    /// Per entity of this tick: whether any of its per-tick changes is not 0.
    moving: Vec<bool>,
    /// Whether this tick's world is the previous one's exactly: the same entities in the same
    /// places (ids, kinds, owners, positions, visibility, lanes), none of them moving.
    still: bool,
}

/// What the merge needs of one entity of this tick, in one place.
#[derive(Debug, Clone, Copy)]
struct Row {
    id: NetId,
    kind: u16,
    /// The index of the same entity (id and kind) in the previous tick's world, or `NONE`.
    prev: u32,
    /// Its owner's id now and in the previous tick (0: none; no player has id 0).
    owner: u32,
    prev_owner: u32,
    /// Its update for anyone but its owner (mask and lanes, without the skip), `len` bits
    /// (0: no change they can see): in `bits` when it fits 64 (nearly always), else
    /// `long[bits]`.
    bits: u64,
    len: u32,
}

fn owner_id(p: Option<PlayerId>) -> u32 {
    p.map_or(0, |p| p.0)
}

/// Writes the update (mask and lanes) that turns `old` into `new` of one entity (each seen by
/// its owner or not, as the flags say) one tick later, its `extrapolate` fields as residuals
/// against `old` moved by `vel` (none: 0), into the stream `to` gives; returns the mask (0:
/// the viewer sees no change, `to` is not called).
#[allow(clippy::too_many_arguments)]
#[inline]
fn write_change<'b>(
    to: impl FnOnce() -> &'b mut Bits,
    fields: &[FieldDesc],
    masks: &Masks,
    kind: u16,
    old: &[i64],
    old_own: bool,
    new: &[i64],
    new_own: bool,
    vel: Option<&[i64]>,
    gap: u32,
) -> u64 {
    let k = usize::from(kind);
    let n = masks.lens[k];
    let hidden = masks.owner_only_bits[k];
    let (old, new) = (&old[..n], &new[..n]);
    let lane = |l: &[i64], own: bool, f: usize| {
        if !own && hidden >> f & 1 != 0 {
            0
        } else {
            l[f]
        }
    };
    let x = masks.extrapolate[k];
    // Extrapolated fields are never owner-only (the schema's rule).
    let residual = |f: usize| {
        let ty = fields[f].ty;
        let d = vel.map_or(0, |v| v[f]);
        wire::residual(ty, wire::predict(ty, old[f], d, gap), new[f])
    };
    let mut mask = 0u64;
    for f in 0..n {
        let changed = if x >> f & 1 != 0 {
            residual(f) != 0
        } else {
            lane(old, old_own, f) != lane(new, new_own, f)
        };
        mask |= u64::from(changed) << f;
    }
    if mask == 0 {
        return 0;
    }
    let delta = masks.delta[k];
    write_update(to(), fields, mask, |f| {
        let v = lane(new, new_own, f);
        if x >> f & 1 != 0 {
            residual(f)
        } else if delta >> f & 1 != 0 {
            v.wrapping_sub(lane(old, old_own, f))
        } else {
            v
        }
    });
    mask
}

impl Changes {
    /// Compares this tick's world with the previous one, `gap` ticks before (1 on every tick
    /// but in a room sending every few ticks), and encodes every entity's update for viewers
    /// other than its owner (call after [`Interest::rebuild`]).
    pub fn compute(
        &mut self,
        interest: &Interest,
        masks: &Masks,
        schema: &Schema,
        now: Tick,
        gap: u32,
        share: bool,
    ) {
        let gap = gap.max(1);
        self.rows.clear();
        self.long.clear();
        self.now = now;
        self.gap = gap;
        std::mem::swap(&mut self.vel, &mut self.prev_vel);
        self.vel.clear();
        self.vel.resize(interest.lanes_len(), 0);
        self.moving.clear();
        let prev = interest.prev_entities();
        let mut still = prev.len() == interest.len();
        let mut p = 0;
        let mut scratch = std::mem::take(&mut self.scratch);
        for i in 0..interest.len() as u32 {
            let (meta, new) = interest.entity(i);
            while p < prev.len() && prev[p].0.id < meta.id {
                p += 1;
            }
            scratch.clear();
            let mut prev_owner = 0;
            let at = if prev
                .get(p)
                .is_some_and(|e| e.0.id == meta.id && e.0.kind == meta.kind)
            {
                let (old_meta, old) = interest.prev_entity(p as u32);
                prev_owner = owner_id(old_meta.owner);
                let k = usize::from(meta.kind);
                let fields = &schema.kinds[k].fields;
                let (n, x) = (masks.lens[k], masks.extrapolate[k]);
                let ps = interest.prev_start(p as u32);
                let mask = write_change(
                    || &mut scratch,
                    fields,
                    masks,
                    meta.kind,
                    old,
                    false,
                    new,
                    false,
                    (x != 0).then(|| &self.prev_vel[ps..ps + n]),
                    gap,
                );
                if x != 0 && mask & masks.jumps[k] == 0 {
                    let at = interest.start(i);
                    let mut m = x;
                    while m != 0 {
                        let f = m.trailing_zeros() as usize;
                        let ty = fields[f].ty;
                        // Measured from where its course put it a tick before, as the
                        // replica does (on consecutive ticks simply `new − old`).
                        let from = wire::anchor(ty, old[f], self.prev_vel[ps + f], gap);
                        self.vel[at + f] = wire::velocity(ty, from, new[f]);
                        m &= m - 1;
                    }
                }
                p as u32
            } else {
                NONE
            };
            let len = scratch.len() as u32;
            let row_at = at;
            let bits = scratch.to_u64().unwrap_or_else(|| {
                self.long.push(scratch.clone());
                self.long.len() as u64 - 1
            });
            self.rows.push(Row {
                id: meta.id,
                kind: meta.kind,
                prev: at,
                owner: owner_id(meta.owner),
                prev_owner,
                bits,
                len,
            });
            let k = usize::from(meta.kind);
            let at = interest.start(i);
            let moving = self.vel[at..at + masks.lens[k]].iter().any(|&v| v != 0);
            self.moving.push(moving);
            // Owner-only lanes are not in `len` (the update for anyone else): compare lanes.
            still = still && !moving && len == 0 && row_at == i && {
                let (old_meta, old) = interest.prev_entity(i);
                let n = masks.lens[k];
                old_meta == meta && old[..n] == new[..n]
            };
        }
        self.still = still;
        self.scratch = scratch;
        self.share = share
            && self
                .rows
                .iter()
                .all(|r| r.prev == NONE || r.owner == r.prev_owner);
    }

    /// Whether nothing changed since the last tick ([`Baseline::stay`]).
    pub fn still(&self) -> bool {
        self.still
    }

    /// Ticks between the world this tick's changes were measured from and this one.
    pub fn gap(&self) -> u32 {
        self.gap
    }

    /// Whether entity `i` of this tick moves by itself in a client's prediction (any of its
    /// common per-tick changes is not 0).
    pub fn moving(&self, i: u32) -> bool {
        self.moving[i as usize]
    }

    /// Writes into `out` the entity sections that turn what a live baseline holds (`held`,
    /// indices into the previous tick's world) into what `viewer` sees now (`visible`, from
    /// [`Interest::visible`], which the client then holds), and counts the ids it now holds
    /// and no longer holds in `ids`.
    /// `held` is the live baseline's two lists; the entities created go into `fresh`.
    #[allow(clippy::too_many_arguments)]
    pub fn delta(
        &self,
        interest: &Interest,
        masks: &Masks,
        schema: &Schema,
        viewer: PlayerId,
        (held, was_fresh): (&[u32], &[u32]),
        visible: &[u32],
        out: &mut EncodedEntities,
        work: &mut Work,
        fresh: &mut Vec<u32>,
    ) {
        // A client that holds the whole of the last tick's world and sees the whole of this
        // one gets what every such client gets but for its own entities: encoded once a tick,
        // then copied, its own entities' updates put in.
        let whole = self.share
            && held.len() == interest.prev_entities().len()
            && visible.len() == self.rows.len();
        if whole
            && self.shared_whole(
                interest,
                masks,
                schema,
                viewer,
                (held, was_fresh),
                visible,
                out,
                work,
                fresh,
            )
        {
            return;
        }
        self.delta_each(
            interest,
            masks,
            schema,
            viewer,
            (held, was_fresh),
            visible,
            out,
            work,
            fresh,
        );
    }

    /// [`Changes::delta`] for a client that holds and sees the whole world, from the shared
    /// sections (built on first use this tick); false when they cannot serve it (an entity of
    /// its own is new this tick: its spawn is its own; or it was sent other entities whole
    /// last tick than the client they were built for), and `out` is then untouched.
    #[allow(clippy::too_many_arguments)]
    fn shared_whole(
        &self,
        interest: &Interest,
        masks: &Masks,
        schema: &Schema,
        viewer: PlayerId,
        (held, was_fresh): (&[u32], &[u32]),
        visible: &[u32],
        out: &mut EncodedEntities,
        work: &mut Work,
        fresh: &mut Vec<u32>,
    ) -> bool {
        if interest
            .owned_by(viewer)
            .any(|i| self.rows[i as usize].prev == NONE)
        {
            return false;
        }
        // Built for the first such client of the tick; one sent other entities whole last
        // tick (it joined, or skipped) walks the world itself.
        let full = match work.full.take() {
            Some((t, full)) if t == self.now => full,
            _ => self.build_whole(interest, masks, schema, (held, was_fresh), visible, work),
        };
        if full.was_fresh != was_fresh {
            work.full = Some((self.now, full));
            return false;
        }
        out.clear();
        out.removed.clone_from(&full.out.removed);
        out.removed_bits.clone_from(&full.out.removed_bits);
        out.created = full.out.created;
        out.created_bits.clone_from(&full.out.created_bits);
        fresh.clear();
        for &i in &full.created {
            fresh.push(i);
            work.ids.retain(self.rows[i as usize].id);
        }
        for id in &full.out.removed {
            work.ids.release(*id);
        }
        // The shared updates in runs between the viewer's own entities: a run's first update
        // gets its skip anew (the update before it may be another), the rest are copied as
        // they are.
        let (src, entries) = (&full.out.updated_bits, full.out.marks());
        let end = |k: usize| entries.get(k + 1).map_or(src.len(), |e| e.1);
        let copy = |out: &mut EncodedEntities, from: usize, to: usize| {
            if from == to {
                return;
            }
            let (rank, _, mask_at) = entries[from];
            out.update_at(rank).append_range(src, mask_at, end(from));
            if to > from + 1 {
                let span = (entries[from + 1].1, end(to - 1));
                out.append_updates(src, span, (to - from - 1) as u32, entries[to - 1].0);
            }
        };
        let mut e = 0;
        for i in interest.owned_by(viewer) {
            let upto = e + entries[e..].partition_point(|x| x.0 < i);
            copy(out, e, upto);
            e = upto + usize::from(entries.get(upto).is_some_and(|x| x.0 == i));
            let h = self.rows[i as usize].prev;
            let new = was_fresh.binary_search(&h).is_ok();
            self.update(interest, masks, schema, viewer, (h, new), (i, i), out);
        }
        copy(out, e, entries.len());
        work.full = Some((self.now, full));
        work.shared += 1;
        true
    }

    /// The sections of a viewer who owns nothing and holds and sees the whole world (`held`
    /// and `visible` are that), with where each update starts (its place in the view is its
    /// entity's index: the view is the whole world).
    fn build_whole(
        &self,
        interest: &Interest,
        masks: &Masks,
        schema: &Schema,
        (held, was_fresh): (&[u32], &[u32]),
        visible: &[u32],
        work: &mut Work,
    ) -> Full {
        let mut full = Full {
            was_fresh: was_fresh.to_vec(),
            ..Full::default()
        };
        full.out.record_updates();
        // The viewer's id references are not this viewer's: set aside, then put back.
        let ids = std::mem::take(&mut work.ids);
        self.delta_each(
            interest,
            masks,
            schema,
            PlayerId(u32::MAX),
            (held, was_fresh),
            visible,
            &mut full.out,
            work,
            &mut full.created,
        );
        work.ids = ids;
        full
    }

    /// [`Changes::delta`], entity by entity.
    #[allow(clippy::too_many_arguments)]
    fn delta_each(
        &self,
        interest: &Interest,
        masks: &Masks,
        schema: &Schema,
        viewer: PlayerId,
        (held, was_fresh): (&[u32], &[u32]),
        visible: &[u32],
        out: &mut EncodedEntities,
        work: &mut Work,
        fresh: &mut Vec<u32>,
    ) {
        out.clear();
        fresh.clear();
        let me = viewer.0;
        let (mut a, mut b) = (0, 0);
        let mut was = was_fresh.iter().peekable();
        let mut is_fresh = |h: u32| {
            while was.next_if(|&&x| x < h).is_some() {}
            was.next_if(|&&x| x == h).is_some()
        };
        while let (Some(&h), Some(&i)) = (held.get(a), visible.get(b)) {
            let r = &self.rows[i as usize];
            if r.prev == h {
                let new = is_fresh(h);
                if r.owner != me && r.prev_owner != me && !new {
                    // What everyone but the owner gets: encoded once this tick.
                    if r.len != 0 {
                        let bits = out.update_at(b as u32);
                        if r.len <= 64 {
                            bits.put(r.bits, r.len);
                        } else {
                            bits.append(&self.long[r.bits as usize]);
                        }
                    }
                } else {
                    self.update(
                        interest,
                        masks,
                        schema,
                        viewer,
                        (h, new),
                        (i, b as u32),
                        out,
                    );
                }
                a += 1;
                b += 1;
                continue;
            }
            // Not the same entity as last tick: order by id.
            let (old, _) = interest.prev_entity(h);
            if old.id == r.id && old.kind == r.kind {
                // Only if the game replicated an id twice.
                let new = is_fresh(h);
                self.update(
                    interest,
                    masks,
                    schema,
                    viewer,
                    (h, new),
                    (i, b as u32),
                    out,
                );
                a += 1;
                b += 1;
            } else if old.id <= r.id {
                // Same id with another kind cannot happen (ids are not reused while held),
                // but if it did, removal then creation keeps the client exact.
                out.remove_at(a as u32, old.id);
                a += 1;
            } else {
                self.create(interest, masks, schema, viewer, i, out, work);
                fresh.push(i);
                b += 1;
            }
        }
        for (rank, &h) in held.iter().enumerate().skip(a) {
            out.remove_at(rank as u32, interest.prev_entity(h).0.id);
        }
        for &i in &visible[b..] {
            self.create(interest, masks, schema, viewer, i, out, work);
            fresh.push(i);
        }
        for id in &out.removed {
            work.ids.release(*id);
        }
    }

    /// Entity `i` stays in view (it was entity `h` of the previous tick) and the viewer
    /// owns it now or owned it then, or was sent it whole last tick (`fresh`: its per-tick
    /// changes are 0), or the game replicated its id twice: its update for this viewer alone,
    /// if it sees a change (`rank`: its place in the viewer's new view).
    #[allow(clippy::too_many_arguments)]
    #[inline(never)]
    fn update(
        &self,
        interest: &Interest,
        masks: &Masks,
        schema: &Schema,
        viewer: PlayerId,
        (h, fresh): (u32, bool),
        (i, rank): (u32, u32),
        out: &mut EncodedEntities,
    ) {
        let r = &self.rows[i as usize];
        let (new_meta, new) = interest.entity(i);
        let (old_meta, old) = interest.prev_entity(h);
        let (old_own, new_own) = (
            old_meta.owner == Some(viewer),
            new_meta.owner == Some(viewer),
        );
        let fields = &schema.kinds[usize::from(r.kind)].fields;
        let n = masks.lens[usize::from(r.kind)];
        let ps = interest.prev_start(h);
        let vel = (!fresh).then(|| &self.prev_vel[ps..ps + n]);
        write_change(
            || out.update_at(rank),
            fields,
            masks,
            r.kind,
            old,
            old_own,
            new,
            new_own,
            vel,
            self.gap,
        );
    }

    /// Entity `i` enters the view.
    #[allow(clippy::too_many_arguments)]
    #[inline(never)]
    fn create(
        &self,
        interest: &Interest,
        masks: &Masks,
        schema: &Schema,
        viewer: PlayerId,
        i: u32,
        out: &mut EncodedEntities,
        work: &mut Work,
    ) {
        let r = &self.rows[i as usize];
        let (id, kind, own) = (r.id, r.kind, r.owner == viewer.0);
        work.ids.retain(id);
        let k = usize::from(kind);
        if own {
            let (_, lanes) = interest.entity(i);
            let b = out.create(id, kind, schema.kinds.len());
            write_spawn(
                b,
                &schema.kinds[k].fields,
                &lanes[..masks.lens[k]],
                self.now,
            );
        } else {
            let lanes = work.public_spawn(self, interest, masks, schema, i);
            out.create(id, kind, schema.kinds.len()).append(lanes);
        }
    }
}

/// The checksum (see [`tickwire_shared::sync::replica::checksum`]) of what `viewer` holds
/// when it holds `rows` of this tick's world, with the room's lanes.
pub fn checksum(
    interest: &Interest,
    masks: &Masks,
    viewer: PlayerId,
    rows: &[u32],
    room: &[i64],
) -> u32 {
    let mut h = Checksum::default();
    for &i in rows {
        let (meta, lanes) = interest.entity(i);
        let k = usize::from(meta.kind);
        let hidden = if meta.owner == Some(viewer) {
            0
        } else {
            masks.owner_only_bits[k]
        };
        let lanes = lanes[..masks.lens[k]].iter().enumerate();
        h.entity(
            meta.id,
            meta.kind,
            lanes.map(|(f, &v)| if hidden >> f & 1 != 0 { 0 } else { v }),
        );
    }
    h.finish(room)
}

#[cfg(test)]
mod tests {
    //! Extrapolated fields over the real bytes: a body on its course costs nothing, a turn its
    //! residual, gaps and jumps stay exact; the live path and the copied one write the same.
    use crate::game::{Ctx, EntityMeta, Game, World};
    use crate::room::EngineConfig;
    use crate::testing::TestRoom;
    use std::collections::BTreeMap;
    use tickwire_shared::schema::{KindDesc, Schema};
    use tickwire_shared::sync::InputCmd;
    use tickwire_shared::{NetId, PlayerId, fields};

    fields! {
        mod mover {
            owner: Player;
            x: Fixed(8), interpolate, extrapolate;
            y: Fixed(8), interpolate, extrapolate;
            aim: Angle8, interpolate, extrapolate;
            life: U8, discontinuity;
        }
    }

    /// Bodies that move by their velocity every tick; tests steer them through `game_mut`.
    #[derive(Default)]
    struct Movers {
        bodies: BTreeMap<PlayerId, (NetId, [i64; 5], [i64; 3])>,
    }

    impl Game for Movers {
        fn schema(&self) -> Schema {
            Schema::new("movers").kind(KindDesc {
                name: "mover".into(),
                fields: mover::fields(),
            })
        }
        fn join(&mut self, ctx: &mut Ctx<'_>, p: PlayerId, _: &str) -> Result<(), String> {
            let at = i64::from(p.0) * 800;
            self.bodies
                .insert(p, (ctx.spawn(), [i64::from(p.0), at, at, 0, 0], [0; 3]));
            Ok(())
        }
        fn leave(&mut self, ctx: &mut Ctx<'_>, p: PlayerId) {
            if let Some((id, ..)) = self.bodies.remove(&p) {
                ctx.despawn(id);
            }
        }
        fn input(&mut self, _: &mut Ctx<'_>, _: PlayerId, _: &InputCmd) {}
        fn step(&mut self, _: &mut Ctx<'_>) {
            for (_, l, v) in self.bodies.values_mut() {
                for f in 0..3 {
                    l[1 + f] += v[f];
                }
                l[mover::aim] = l[mover::aim].rem_euclid(256);
            }
        }
        fn replicate(&self, world: &mut World) {
            for (p, (id, l, _)) in &self.bodies {
                world.entity(EntityMeta::new(*id, 0).owned_by(*p), l);
            }
        }
    }

    fn room(checksums: u16) -> (TestRoom<Movers>, PlayerId, PlayerId) {
        let config = EngineConfig {
            checksum_interval: checksums,
            // Every tick a snapshot, so `last` is this tick's (quiet ticks: their own test).
            quiet_ticks: false,
            ..EngineConfig::default()
        };
        let mut t = TestRoom::new(config, Movers::default());
        let (a, b) = (t.join("ann"), t.join("bob"));
        (t, a, b)
    }

    fn steer(t: &mut TestRoom<Movers>, p: PlayerId, v: [i64; 3]) {
        t.room.game_mut().bodies.get_mut(&p).unwrap().2 = v;
    }

    /// What `viewer` was sent of `p`'s body in its last snapshot: the update's mask and lanes.
    fn update_of(t: &TestRoom<Movers>, viewer: PlayerId, p: PlayerId) -> Option<(u64, Vec<i64>)> {
        let id = t.room.game().bodies[&p].0;
        let (s, _) = &t.last[&viewer];
        let mut lanes = s.updated_lanes.iter();
        for u in &s.updated {
            let n = u.mask.count_ones() as usize;
            let mine: Vec<i64> = lanes.by_ref().take(n).copied().collect();
            if u.id == id {
                return Some((u.mask, mine));
            }
        }
        None
    }

    /// Every replica sent this tick holds exactly the room's lanes.
    fn exact(t: &TestRoom<Movers>) {
        let now = t.room.tick_count();
        for r in t.replicas.values().filter(|r| r.tick == now) {
            for (id, l, _) in t.room.game().bodies.values() {
                assert_eq!(
                    r.entities[id].lanes,
                    l.to_vec(),
                    "player {}'s replica at tick {}",
                    r.player_id.0,
                    r.tick.0
                );
            }
        }
    }

    #[test]
    fn a_body_on_its_course_costs_nothing_after_its_first_two_updates_and_a_turn_its_residual() {
        let (mut t, a, b) = room(0);
        steer(&mut t, a, [24, -16, 3]);
        t.tick(); // created (at rest in the replica's eyes)
        t.tick(); // the first residual: its course
        assert_eq!(update_of(&t, b, a), Some((0b1110, vec![24, -16, 3])));
        for _ in 0..40 {
            t.tick();
            exact(&t);
            assert_eq!(update_of(&t, b, a), None, "on its course: not even its id");
            // The snapshot is the header alone: tick (varint), ack, sections.
            assert!(t.last[&b].1 <= 6, "{} bytes", t.last[&b].1);
        }
        // A turn: the residual is the change of course, once.
        steer(&mut t, a, [10, -16, 253]);
        t.tick();
        assert_eq!(update_of(&t, b, a), Some((0b1010, vec![-14, -6])));
        t.tick();
        assert_eq!(update_of(&t, b, a), None);
        exact(&t);
        // Angles wrap: 40 more ticks of -3 round the turn and past 0.
        for _ in 0..40 {
            t.tick();
            assert_eq!(update_of(&t, b, a), None);
        }
        exact(&t);
        // Stopping is a residual too, then nothing.
        steer(&mut t, a, [0, 0, 0]);
        t.tick();
        assert_eq!(update_of(&t, b, a), Some((0b1110, vec![-10, 16, 3])));
        t.tick();
        assert_eq!(update_of(&t, b, a), None);
        exact(&t);
    }

    #[test]
    fn a_client_that_skipped_ticks_gets_the_prediction_across_the_gap() {
        let (mut t, a, b) = room(1);
        steer(&mut t, a, [24, -16, 0]);
        for _ in 0..3 {
            t.tick();
        }
        // bob skips 5 ticks while ann's body stays on its course: its next snapshot carries
        // nothing of it, and every checksum (one a tick) still matches.
        for _ in 0..5 {
            t.tick_with(|p| p != b);
        }
        t.tick();
        assert_eq!(update_of(&t, b, a), None);
        exact(&t);
        // Skipped again, and ann turns in the middle of the gap: one residual brings bob to
        // the exact truth; the change measured over the gap needs one more, then nothing.
        t.tick_with(|p| p != b);
        t.tick_with(|p| p != b);
        steer(&mut t, a, [-8, 0, 0]);
        t.tick_with(|p| p != b);
        t.tick_with(|p| p != b);
        t.tick();
        assert!(update_of(&t, b, a).is_some());
        exact(&t);
        t.tick();
        exact(&t);
        for _ in 0..3 {
            t.tick();
            assert_eq!(update_of(&t, b, a), None);
            exact(&t);
        }
    }

    #[test]
    fn every_third_tick_the_snapshots_measured_across_the_gap_keep_every_replica_exact() {
        let (mut t, a, b) = room(1);
        steer(&mut t, a, [24, -16, 3]);
        for _ in 0..3 {
            t.tick();
        }
        t.room.set_snapshot_interval(3);
        let mut built = 0;
        let mut cy = None;
        for k in 0..60u32 {
            // Turns on and between snapshot ticks, a stop, a newcomer, a skip.
            match k {
                7 => steer(&mut t, a, [-8, 40, -5]),
                13 => steer(&mut t, b, [16, 0, 1]),
                20 => steer(&mut t, a, [0, 0, 0]),
                25 => cy = Some(t.join("cy")),
                31 => steer(&mut t, cy.unwrap(), [-24, 8, 2]),
                44 => steer(&mut t, a, [32, 32, 7]),
                _ => {}
            }
            let out = if (40..43).contains(&k) {
                t.tick_with(|p| p != b)
            } else {
                t.tick()
            };
            let now = t.room.tick_count();
            if out.between {
                assert!(out.messages.is_empty(), "tick {}: no frame between", now.0);
                continue;
            }
            built += 1;
            for (p, r) in &t.replicas {
                if !(40..43).contains(&k) || *p != b {
                    assert_eq!(r.tick, now, "player {} was sent tick {}", p.0, now.0);
                }
            }
            // Checksums matched on the way (every snapshot carries one); the bodies too.
            exact(&t);
        }
        assert_eq!(built, 20, "a snapshot every third tick");
        // Back to every tick, from any phase.
        t.room.set_snapshot_interval(1);
        for _ in 0..5 {
            assert!(!t.tick().between);
            exact(&t);
        }
    }

    #[test]
    fn a_respawn_is_a_residual_and_the_jump_is_not_continued() {
        let (mut t, a, b) = room(1);
        steer(&mut t, a, [24, 8, 0]);
        for _ in 0..4 {
            t.tick();
        }
        // Teleport with the discontinuity field: residuals plus `life`; then it stands still
        // in the prediction, so standing still costs nothing.
        {
            let body = t.room.game_mut().bodies.get_mut(&a).unwrap();
            body.1[mover::x] = 40_000;
            body.1[mover::life] += 1;
            body.2 = [0, 0, 0];
        }
        t.tick();
        let (mask, _) = update_of(&t, b, a).unwrap();
        assert_eq!(mask, 0b10110);
        exact(&t);
        t.tick();
        assert_eq!(update_of(&t, b, a), None);
        // A teleport without it is a residual like any other, and its jump is taken back by
        // the next one.
        t.room.game_mut().bodies.get_mut(&a).unwrap().1[mover::y] = 9_000;
        t.tick();
        exact(&t);
        t.tick();
        assert!(update_of(&t, b, a).is_some());
        exact(&t);
        t.tick();
        assert_eq!(update_of(&t, b, a), None);
    }

    #[test]
    fn quiet_ticks_send_a_two_byte_marker_while_bodies_move_on_course_and_nothing_when_still() {
        let (mut t, a, b) = room(0);
        t.room = crate::room::Room::new(EngineConfig::default(), Movers::default());
        t.replicas.clear();
        let (a2, b2) = (t.join("ann"), t.join("bob"));
        assert_eq!((a2, b2), (a, b));
        steer(&mut t, a, [24, -16, 0]);
        t.tick();
        t.tick();
        // On its course: a marker (message 3, gap 1) to each client, every tick, and the
        // replicas (fed the markers) stay exact.
        for _ in 0..10 {
            let out = t.tick();
            assert_eq!(out.messages.len(), 2);
            for (_, bytes) in &out.messages {
                assert_eq!(bytes[..], [3, 1]);
            }
            exact(&t);
        }
        // Still: after the stop's residual, no frame at all, one marker a second (30 ticks)
        // with the gap since the last frame.
        steer(&mut t, a, [0, 0, 0]);
        t.tick();
        let mut frames = Vec::new();
        for i in 0..65 {
            let out = t.tick();
            frames.extend(out.messages.iter().map(|(p, m)| (i, *p, m.clone())));
        }
        let to_b: Vec<_> = frames.iter().filter(|f| f.1 == b).collect();
        assert_eq!(to_b.len(), 2, "{to_b:?}");
        assert_eq!(to_b[0].2, [3, 30]);
        assert_eq!(to_b[1].2, [3, 30]);
        exact(&t);
        // The first change after a silence is a snapshot over the gap, exact as ever.
        steer(&mut t, a, [8, 0, 0]);
        let out = t.tick();
        assert_eq!(out.messages.len(), 2);
        exact(&t);
    }

    /// One tick of `room`: the messages it sent `player`.
    fn frames_of(room: &mut crate::room::Room<Movers>, player: PlayerId) -> Vec<Vec<u8>> {
        room.tick(|_| true)
            .messages
            .into_iter()
            .filter(|(id, _)| *id == player)
            .map(|(_, m)| m)
            .collect()
    }

    #[test]
    fn over_datagrams_a_snapshot_too_large_for_one_waits_for_the_acknowledgement_of_the_last() {
        use tickwire_shared::sync::acked::{Applied, Bases, peek_acked};
        use tickwire_shared::sync::{Replica, ServerMsg, decode_server};
        // Every complete snapshot of this room is over 12 bytes; a delta of bodies on their
        // course is under.
        let config = EngineConfig {
            datagram_bytes: 12,
            ..EngineConfig::default()
        };
        let mut room = crate::room::Room::new(config, Movers::default());
        let a = room.handle_join("ann", None).unwrap().player_id;
        let b = room.handle_join("bob", None).unwrap();
        room.set_unreliable(b.player_id);
        room.game_mut().bodies.get_mut(&a).unwrap().2 = [24, -16, 0];
        let Ok(ServerMsg::Welcome(w)) = decode_server(&b.welcome, None, &[]) else {
            panic!("a welcome")
        };
        let mut replica = Replica::new(&w);
        let mut bases = Bases::new(&replica);
        let frames = |room: &mut crate::room::Room<Movers>| frames_of(room, b.player_id);
        let first = frames(&mut room);
        assert_eq!(first.len(), 1);
        assert!(first[0].len() > 12, "the complete state");
        // Unacknowledged: no second copy of the complete state for a second.
        let held: usize = (0..29).map(|_| frames(&mut room).len()).sum();
        assert_eq!(held, 0, "nothing queues behind the large one");
        // Its acknowledgement makes it the base: the next snapshot is a small delta.
        let Applied::New(s, _) = bases.apply(&mut replica, &first[0]).unwrap() else {
            panic!("new")
        };
        assert!(room.handle_ack(b.player_id, s.tick));
        let next = frames(&mut room);
        assert_eq!(next.len(), 1);
        assert!(next[0].len() <= 12, "{} bytes", next[0].len());
        let Some((_, back)) = peek_acked(&next[0]).unwrap() else {
            panic!("a message 5")
        };
        assert_eq!(back, 30, "tick 31 against the acknowledged tick 1");
        assert!(matches!(
            bases.apply(&mut replica, &next[0]).unwrap(),
            Applied::New(..)
        ));
        // Never acknowledged at all: the large state goes again once a second.
        let mut room2 = crate::room::Room::new(
            EngineConfig {
                datagram_bytes: 12,
                ..EngineConfig::default()
            },
            Movers::default(),
        );
        room2.handle_join("ann", None).unwrap();
        let c = room2.handle_join("cy", None).unwrap().player_id;
        room2.set_unreliable(c);
        let sent: Vec<usize> = (0..61)
            .filter(|_| room2.tick(|_| true).messages.iter().any(|(id, _)| *id == c))
            .collect();
        assert_eq!(sent, [0, 30, 60], "ticks 1, 31 and 61");
        // Deltas too large for a datagram (every one, at 3 bytes) go one per 4 ticks while
        // unacknowledged, and at once again after an acknowledgement.
        let mut room3 = crate::room::Room::new(
            EngineConfig {
                datagram_bytes: 3,
                ..EngineConfig::default()
            },
            Movers::default(),
        );
        let d = room3.handle_join("dee", None).unwrap().player_id;
        let e = room3.handle_join("eve", None).unwrap().player_id;
        room3.set_unreliable(e);
        room3.game_mut().bodies.get_mut(&d).unwrap().2 = [24, -16, 0];
        let mut ticks_sent = Vec::new();
        for t in 0..13u32 {
            let out = room3.tick(|_| true);
            if out.messages.iter().any(|(id, _)| *id == e) {
                ticks_sent.push(t);
                if t == 0 {
                    // Acknowledge the complete state: deltas from here on.
                    room3.handle_ack(e, room3.tick_count());
                }
            }
        }
        assert_eq!(ticks_sent, [0, 1, 5, 9], "one large delta per 4 ticks");
    }

    #[test]
    fn over_datagrams_a_join_stays_due_until_the_first_acknowledgement_arrives() {
        use tickwire_shared::sync::acked::{Applied, Bases};
        use tickwire_shared::sync::{Replica, ServerMsg, decode_server};
        let mut room = crate::room::Room::new(EngineConfig::default(), Movers::default());
        room.handle_join("ann", None).unwrap();
        let b = room.handle_join("bob", None).unwrap();
        room.set_unreliable(b.player_id);
        let Ok(ServerMsg::Welcome(w)) = decode_server(&b.welcome, None, &[]) else {
            panic!("a welcome")
        };
        let mut replica = Replica::new(&w);
        let mut bases = Bases::new(&replica);
        let frames = |room: &mut crate::room::Room<Movers>| frames_of(room, b.player_id);
        let first = frames(&mut room);
        // Cy joins while bob's acknowledgement of his first snapshot is on its way.
        let cy = room.handle_join("cy", None).unwrap().player_id;
        for _ in 0..3 {
            frames(&mut room);
        }
        let Applied::New(s, _) = bases.apply(&mut replica, &first[0]).unwrap() else {
            panic!("new")
        };
        assert!(room.handle_ack(b.player_id, s.tick));
        // Measured from that first snapshot, the next one still brings cy's join.
        let next = frames(&mut room);
        assert!(matches!(
            bases.apply(&mut replica, &next[0]).unwrap(),
            Applied::New(..)
        ));
        assert!(
            replica.players.contains_key(&cy),
            "{:?}",
            replica.players.keys()
        );
    }

    #[test]
    fn over_datagrams_a_still_view_gets_a_heartbeat_a_second_and_a_moving_one_every_tick() {
        use tickwire_shared::sync::acked::{Applied, Bases};
        use tickwire_shared::sync::{Replica, ServerMsg, decode_server};
        let mut room = crate::room::Room::new(EngineConfig::default(), Movers::default());
        let a = room.handle_join("ann", None).unwrap().player_id;
        let b = room.handle_join("bob", None).unwrap();
        assert!(room.set_unreliable(b.player_id));
        let Ok(ServerMsg::Welcome(w)) = decode_server(&b.welcome, None, &[]) else {
            panic!("a welcome")
        };
        let mut replica = Replica::new(&w);
        let mut bases = Bases::new(&replica);
        // Every frame to bob is applied against its base and acknowledged at once.
        let mut tick = |room: &mut crate::room::Room<Movers>, replica: &mut Replica| {
            let out = room.tick(|_| true);
            let mut frames = 0;
            for (id, bytes) in &out.messages {
                if *id != b.player_id {
                    continue;
                }
                frames += 1;
                assert_eq!(bytes[0], 5, "snapshots only: no event here");
                let Applied::New(s, _) = bases.apply(replica, bytes).unwrap() else {
                    panic!("nothing is stale on a perfect link");
                };
                room.handle_ack(b.player_id, s.tick);
            }
            frames
        };
        room.game_mut().bodies.get_mut(&a).unwrap().2 = [24, -16, 0];
        for _ in 0..5 {
            tick(&mut room, &mut replica);
        }
        // Moving on its course: a frame every tick (a few bytes: header only).
        let moving: u32 = (0..30).map(|_| tick(&mut room, &mut replica)).sum();
        assert_eq!(moving, 30);
        // Still: after the stop, a frame a second (the heartbeat), and the replica exact.
        room.game_mut().bodies.get_mut(&a).unwrap().2 = [0; 3];
        for _ in 0..3 {
            tick(&mut room, &mut replica);
        }
        let still: u32 = (0..90).map(|_| tick(&mut room, &mut replica)).sum();
        assert_eq!(still, 3, "one heartbeat a second over 3 s");
        let truth = room.game().bodies[&a].1;
        let (_, held) = replica
            .entities
            .iter()
            .find(|(_, e)| e.lanes[mover::owner] == i64::from(a.0))
            .expect("bob holds ann's mover");
        assert_eq!(held.lanes[..], truth[..], "exact after the silence");
        // Moving again: a frame at once.
        room.game_mut().bodies.get_mut(&a).unwrap().2 = [8, 0, 0];
        assert_eq!(tick(&mut room, &mut replica), 1);
    }

    #[test]
    fn the_live_path_and_the_copied_one_write_the_same_bytes() {
        let run = |copy: bool| {
            let (mut t, a, b) = room(3);
            t.room.always_copy = copy;
            let c = t.join("cy");
            let mut out = Vec::new();
            for tick in 0..120u32 {
                let v = |k: u32| i64::from((tick / 7 + k) % 5) * 8 - 16;
                steer(&mut t, a, [v(0), v(1), v(2)]);
                steer(&mut t, b, [v(3), 0, 1]);
                if tick % 17 == 0 {
                    t.room.game_mut().bodies.get_mut(&c).unwrap().1[mover::life] += 1;
                }
                // cy skips now and then (its copies cross gaps either way).
                let o = t.tick_with(|p| p != c || tick % 11 > 2);
                exact(&t);
                out.push(o.messages);
            }
            out
        };
        assert_eq!(run(false), run(true));
    }
}
