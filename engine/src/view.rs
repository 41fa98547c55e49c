//! Per-client views and deltas for any schema.
//!
//! Every tick the world's entities are laid out once ([`Interest::rebuild`]): sorted by id,
//! placed ones into a spatial grid. A client's view ([`Interest::view`]) is then the entities
//! within its view radius (all of them for a game without one), every unplaced entity and
//! every entity it owns, filtered by visibility, with owner-only lanes zeroed unless the
//! client owns the entity. Views are sorted by id, so a delta is one merge pass against what
//! the client holds: removals, creations and field-level updates. The previous tick's world
//! is kept, so a client that was sent it needs no copy of its own ([`crate::delta`]); a
//! client that skipped ticks holds a [`Table`], and [`diff`] merges it with its view.

use super::game::{EntityMeta, Visibility, World};
use crate::grid::SpatialGrid;
use glam::Vec2;
use tickwire_shared::schema::{FieldDesc, FieldType, Schema};
use tickwire_shared::sync::{Snapshot, Spawn, Update, wire};
use tickwire_shared::{NetId, PlayerId};

/// Entity rows with their lanes, sorted by id: a client's baseline or view.
#[derive(Debug, Default, Clone)]
pub struct Table {
    /// (id, kind, where its lanes start), ascending id.
    pub(crate) rows: Vec<(NetId, u16, u32)>,
    pub(crate) lanes: Vec<i64>,
    /// Per lane, the per-tick change the client holds for an `extrapolate` field (else 0).
    pub(crate) vel: Vec<i64>,
}

impl Table {
    /// Empties the table, keeping its buffers.
    pub fn clear(&mut self) {
        self.rows.clear();
        self.lanes.clear();
        self.vel.clear();
    }

    /// Sets the per-tick changes of the last row pushed.
    pub(crate) fn set_last_vel(&mut self, vel: &[i64]) {
        let at = self.rows.last().map_or(0, |r| r.2 as usize);
        self.vel[at..at + vel.len()].copy_from_slice(vel);
    }

    /// The per-tick changes of row `row`, which has `n` lanes.
    pub(crate) fn vel_of(&self, row: usize, n: usize) -> &[i64] {
        let at = self.rows[row].2 as usize;
        &self.vel[at..at + n]
    }

    /// Entities held.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The ids held, ascending.
    pub fn ids(&self) -> impl Iterator<Item = NetId> + '_ {
        self.rows.iter().map(|r| r.0)
    }

    /// Rows as (id, kind, lanes), ascending id.
    pub fn iter<'a>(
        &'a self,
        schema: &'a Schema,
    ) -> impl Iterator<Item = (NetId, u16, &'a [i64])> + 'a {
        self.rows.iter().map(move |&(id, kind, start)| {
            let n = schema.kinds[usize::from(kind)].fields.len();
            (id, kind, &self.lanes[start as usize..start as usize + n])
        })
    }
}

/// Which lanes of each kind only the owner receives.
#[derive(Debug, Clone)]
pub struct Masks {
    pub(crate) lens: Vec<usize>,
    owner_only: Vec<Vec<usize>>,
    /// Bit `f` set: field `f` of the kind reaches only the owner.
    pub(crate) owner_only_bits: Vec<u64>,
    /// Bit `f` set: field `f` of the kind is sent as a change.
    pub(crate) delta: Vec<u64>,
    /// Bit `f` set: field `f` of the kind is extrapolated (sent as a residual).
    pub(crate) extrapolate: Vec<u64>,
    /// Bit `f` set: field `f` is a discontinuity of a kind with extrapolated fields (its
    /// change sets their per-tick changes to 0).
    pub(crate) jumps: Vec<u64>,
    /// Each kind's field types.
    pub(crate) types: Vec<Vec<FieldType>>,
}

/// Per kind, the mask of the fields for which `pick` holds.
fn field_bits(schema: &Schema, pick: impl Fn(&FieldDesc) -> bool) -> Vec<u64> {
    schema
        .kinds
        .iter()
        .map(|k| {
            k.fields
                .iter()
                .enumerate()
                .filter(|(_, f)| pick(f))
                .fold(0, |m, (i, _)| m | 1 << i)
        })
        .collect()
}

impl Masks {
    /// Computed from a schema.
    pub fn new(schema: &Schema) -> Masks {
        Masks {
            lens: schema.kinds.iter().map(|k| k.fields.len()).collect(),
            delta: field_bits(schema, |f| f.delta),
            extrapolate: field_bits(schema, |f| f.extrapolate),
            jumps: field_bits(schema, |f| f.discontinuity)
                .into_iter()
                .zip(field_bits(schema, |f| f.extrapolate))
                .map(|(j, x)| if x != 0 { j } else { 0 })
                .collect(),
            types: schema
                .kinds
                .iter()
                .map(|k| k.fields.iter().map(|f| f.ty).collect())
                .collect(),
            owner_only_bits: field_bits(schema, |f| f.owner_only),
            owner_only: schema
                .kinds
                .iter()
                .map(|k| {
                    k.fields
                        .iter()
                        .enumerate()
                        .filter(|(_, f)| f.owner_only)
                        .map(|(i, _)| i)
                        .collect()
                })
                .collect(),
        }
    }
}

/// The world laid out for view queries; rebuilt every tick.
pub struct Interest {
    pub(crate) radius: Option<f32>,
    /// The area the grid covers, grown when entities are placed beyond it.
    pub(crate) size: (f32, f32),
    /// (meta, lane start) sorted by id.
    pub(super) entities: Vec<(EntityMeta, u32)>,
    lanes: Vec<i64>,
    /// The previous tick's `entities` and `lanes`: what every client sent that tick holds.
    prev_entities: Vec<(EntityMeta, u32)>,
    prev_lanes: Vec<i64>,
    grid: SpatialGrid<u32>,
    unplaced: Vec<u32>,
    /// (owner, index) sorted.
    owned: Vec<(PlayerId, u32)>,
    /// Bit `i` set: entity `i` is visible to everyone (no visibility check needed).
    everyone: Vec<u64>,
}

/// Who is looking.
#[derive(Debug, Clone, Copy)]
pub struct Viewer {
    /// The player.
    pub player: PlayerId,
    /// The view's centre, if it has one.
    pub center: Option<Vec2>,
    /// The player's team.
    pub team: Option<u16>,
}

/// Whether visibility lets `viewer` see an entity at all.
fn allowed(meta: &EntityMeta, viewer: &Viewer) -> bool {
    match meta.visibility {
        Visibility::Everyone => true,
        Visibility::Owner => meta.owner == Some(viewer.player),
        Visibility::Team(t) => viewer.team == Some(t),
    }
}

impl Table {
    /// Appends an entity's row as `viewer` may hold it: owner-only lanes are 0 unless it is
    /// the owner.
    pub(crate) fn push_for(
        &mut self,
        meta: &EntityMeta,
        lanes: &[i64],
        viewer: &Viewer,
        masks: &Masks,
    ) {
        let k = usize::from(meta.kind);
        let at = self.lanes.len();
        self.rows.push((meta.id, meta.kind, at as u32));
        self.lanes.extend_from_slice(&lanes[..masks.lens[k]]);
        self.vel.resize(self.lanes.len(), 0);
        if meta.owner != Some(viewer.player) {
            for &f in &masks.owner_only[k] {
                self.lanes[at + f] = 0;
            }
        }
    }
}

impl Interest {
    /// Interest over an area of `width × height` (placed entities outside it fall into the
    /// border cells), with a view radius or none (everyone sees everything).
    pub fn new(width: f32, height: f32, radius: Option<f32>) -> Interest {
        let cell = radius.map_or(width.max(height).max(1.0), |r| (r * 0.5).max(1.0));
        Interest {
            size: (width.max(1.0), height.max(1.0)),
            radius,
            entities: Vec::new(),
            lanes: Vec::new(),
            prev_entities: Vec::new(),
            prev_lanes: Vec::new(),
            grid: SpatialGrid::new(width.max(1.0), height.max(1.0), cell),
            unplaced: Vec::new(),
            owned: Vec::new(),
            everyone: Vec::new(),
        }
    }

    /// Takes this tick's entities from the world (the world's entity buffers are swapped
    /// in, not copied); the last tick's become the previous world.
    pub fn rebuild(&mut self, world: &mut World) {
        std::mem::swap(&mut self.prev_entities, &mut self.entities);
        std::mem::swap(&mut self.prev_lanes, &mut self.lanes);
        std::mem::swap(&mut self.entities, &mut world.entities);
        std::mem::swap(&mut self.lanes, &mut world.lanes);
        world.entities.clear();
        world.lanes.clear();
        self.entities.sort_unstable_by_key(|e| e.0.id);
        if let Some(r) = self.radius {
            // Entities beyond the grid would pile into its border cells and make every query
            // near the edge scan them all: grow the grid to cover the world instead.
            let (mut w, mut h) = self.size;
            for (meta, _) in &self.entities {
                if let Some(p) = meta.pos {
                    w = w.max(p.x + 1.0);
                    h = h.max(p.y + 1.0);
                }
            }
            if (w, h) != self.size {
                self.size = (w * 1.25, h * 1.25);
                self.grid = SpatialGrid::new(self.size.0, self.size.1, (r * 0.5).max(1.0));
            }
        }
        self.grid.clear();
        self.unplaced.clear();
        self.owned.clear();
        self.everyone.clear();
        self.everyone.resize(self.entities.len().div_ceil(64), 0);
        for (i, (meta, _)) in self.entities.iter().enumerate() {
            if meta.visibility == Visibility::Everyone {
                self.everyone[i / 64] |= 1 << (i % 64);
            }
            match (meta.pos, self.radius) {
                (Some(p), Some(_)) => self.grid.insert(p, i as u32),
                _ => self.unplaced.push(i as u32),
            }
            if let Some(o) = meta.owner {
                self.owned.push((o, i as u32));
            }
        }
        self.owned.sort_unstable();
    }

    /// Entities in the world.
    pub fn len(&self) -> usize {
        self.entities.len()
    }

    /// Whether the world has no entity.
    pub fn is_empty(&self) -> bool {
        self.entities.is_empty()
    }

    /// Whether a point is inside a viewer's view.
    pub fn sees_point(&self, viewer: &Viewer, p: Vec2) -> bool {
        match (self.radius, viewer.center) {
            (None, _) => true,
            (Some(r), Some(c)) => c.distance_squared(p) <= r * r,
            (Some(_), None) => false,
        }
    }

    /// Entity `i` of this tick (ascending id): its meta and lanes.
    #[inline]
    pub(crate) fn entity(&self, i: u32) -> (&EntityMeta, &[i64]) {
        let (meta, start) = &self.entities[i as usize];
        (meta, &self.lanes[*start as usize..])
    }

    /// Entity `i` of the previous tick.
    #[inline]
    pub(crate) fn prev_entity(&self, i: u32) -> (&EntityMeta, &[i64]) {
        let (meta, start) = &self.prev_entities[i as usize];
        (meta, &self.prev_lanes[*start as usize..])
    }

    /// Where entity `i` of this tick starts in the lanes (and in per-lane tables laid out
    /// like them).
    #[inline]
    pub(crate) fn start(&self, i: u32) -> usize {
        self.entities[i as usize].1 as usize
    }

    /// Where entity `i` of the previous tick starts in its lanes.
    #[inline]
    pub(crate) fn prev_start(&self, i: u32) -> usize {
        self.prev_entities[i as usize].1 as usize
    }

    /// How many lanes this tick's world has.
    pub(crate) fn lanes_len(&self) -> usize {
        self.lanes.len()
    }

    /// The previous tick's entities (meta, lane start), ascending id.
    pub(crate) fn prev_entities(&self) -> &[(EntityMeta, u32)] {
        &self.prev_entities
    }

    /// This tick's entities `player` owns (their indices, ascending).
    pub(crate) fn owned_by(&self, player: PlayerId) -> impl Iterator<Item = u32> + '_ {
        let from = self.owned.partition_point(|o| o.0 < player);
        self.owned[from..]
            .iter()
            .take_while(move |o| o.0 == player)
            .map(|o| o.1)
    }

    /// What `viewer` sees: indices of this tick's entities, ascending (so ascending id).
    pub fn visible(&self, viewer: &Viewer, seen: &mut Vec<u64>, out: &mut Vec<u32>) {
        // `seen` is all 0 between calls (this clears every word it marks); it grows with the
        // world.
        if seen.len() < self.everyone.len() {
            seen.resize(self.everyone.len(), 0);
        }
        let mark = |seen: &mut Vec<u64>, i: u32| seen[i as usize / 64] |= 1 << (i % 64);
        if let (Some(r), Some(c)) = (self.radius, viewer.center) {
            self.grid.for_each_within(c, r, |_, i| mark(seen, i));
        }
        for &i in &self.unplaced {
            mark(seen, i);
        }
        let from = self.owned.partition_point(|o| o.0 < viewer.player);
        for &(o, i) in &self.owned[from..] {
            if o != viewer.player {
                break;
            }
            mark(seen, i);
        }
        out.clear();
        for (w, (word, everyone)) in seen.iter_mut().zip(&self.everyone).enumerate() {
            let mut bits = std::mem::take(word);
            let checked = bits & !everyone;
            while bits != 0 {
                let b = bits.trailing_zeros();
                bits &= bits - 1;
                let i = w * 64 + b as usize;
                if checked >> b & 1 == 0 || allowed(&self.entities[i].0, viewer) {
                    out.push(i as u32);
                }
            }
        }
    }

    /// What `viewer` sees, sorted by id, into `out`; `visible` gets the entities' indices.
    pub fn view(
        &self,
        viewer: &Viewer,
        masks: &Masks,
        seen: &mut Vec<u64>,
        visible: &mut Vec<u32>,
        out: &mut Table,
    ) {
        self.visible(viewer, seen, visible);
        out.clear();
        for &i in visible.iter() {
            let (meta, start) = &self.entities[i as usize];
            out.push_for(meta, &self.lanes[*start as usize..], viewer, masks);
        }
    }

    /// The brute-force view (no grid, no bitset), for tests to compare against.
    pub fn brute_force_view(&self, viewer: &Viewer, masks: &Masks) -> Table {
        let mut out = Table::default();
        for (meta, start) in &self.entities {
            let own = meta.owner == Some(viewer.player);
            let in_range = match (meta.pos, self.radius, viewer.center) {
                (_, None, _) | (None, _, _) => true,
                (Some(p), Some(r), Some(c)) => p.distance_squared(c) <= r * r,
                (Some(_), Some(_), None) => false,
            };
            if (in_range || own) && allowed(meta, viewer) {
                out.push_for(meta, &self.lanes[*start as usize..], viewer, masks);
            }
        }
        out
    }
}

/// Writes into `snap` the entity delta that turns `baseline` into `view`, `gap` ticks later:
/// removals, creations with all lanes, and updates with a bit per changed field (the change,
/// for `delta` fields; for `extrapolate` fields a bit where the value is not the prediction,
/// with the residual). Sets the per-tick changes the client then holds in `view`.
pub fn diff(masks: &Masks, baseline: &Table, view: &mut Table, gap: u32, snap: &mut Snapshot) {
    let lanes_of = |row: &(NetId, u16, u32)| -> (usize, usize) {
        let start = row.2 as usize;
        (start, start + masks.lens[usize::from(row.1)])
    };
    let (mut i, mut j) = (0, 0);
    while i < baseline.rows.len() || j < view.rows.len() {
        let old = baseline.rows.get(i);
        let new = view.rows.get(j);
        match (old, new) {
            (Some(o), Some(n)) if o.0 == n.0 && o.1 == n.1 => {
                let (a0, a1) = lanes_of(o);
                let (b0, b1) = lanes_of(n);
                let (a, b) = (&baseline.lanes[a0..a1], &view.lanes[b0..b1]);
                let k = usize::from(n.1);
                let x = masks.extrapolate[k];
                if x != 0 {
                    let (av, types) = (&baseline.vel[a0..a1], &masks.types[k]);
                    let predicted = |f: usize| wire::predict(types[f], a[f], av[f], gap);
                    let mut mask = 0u64;
                    for f in 0..a.len() {
                        mask |= u64::from(if x >> f & 1 != 0 {
                            predicted(f) != b[f]
                        } else {
                            a[f] != b[f]
                        }) << f;
                    }
                    let delta = masks.delta[k];
                    let mut m = mask;
                    while m != 0 {
                        let f = m.trailing_zeros() as usize;
                        snap.updated_lanes.push(if x >> f & 1 != 0 {
                            wire::residual(types[f], predicted(f), b[f])
                        } else if delta >> f & 1 != 0 {
                            b[f].wrapping_sub(a[f])
                        } else {
                            b[f]
                        });
                        m &= m - 1;
                    }
                    if mask != 0 {
                        snap.updated.push(Update {
                            id: n.0,
                            kind: n.1,
                            mask,
                        });
                    }
                    if mask & masks.jumps[k] == 0 {
                        let mut m = x;
                        while m != 0 {
                            let f = m.trailing_zeros() as usize;
                            let anchor = wire::anchor(types[f], a[f], av[f], gap);
                            view.vel[b0 + f] = wire::velocity(types[f], anchor, view.lanes[b0 + f]);
                            m &= m - 1;
                        }
                    }
                } else if a != b {
                    let mut mask = 0u64;
                    for (f, (x, y)) in a.iter().zip(b).enumerate() {
                        mask |= u64::from(x != y) << f;
                    }
                    let delta = masks.delta[usize::from(n.1)];
                    let mut m = mask;
                    while m != 0 {
                        let f = m.trailing_zeros() as usize;
                        snap.updated_lanes.push(if delta >> f & 1 != 0 {
                            b[f].wrapping_sub(a[f])
                        } else {
                            b[f]
                        });
                        m &= m - 1;
                    }
                    snap.updated.push(Update {
                        id: n.0,
                        kind: n.1,
                        mask,
                    });
                }
                i += 1;
                j += 1;
            }
            (Some(o), Some(n)) if o.0 <= n.0 => {
                // Same id with another kind cannot happen (ids are not reused while held),
                // but if it did, removal then creation keeps the client exact.
                snap.removed.push(o.0);
                i += 1;
            }
            (Some(o), None) => {
                snap.removed.push(o.0);
                i += 1;
            }
            (_, Some(n)) => {
                snap.created.push(Spawn { id: n.0, kind: n.1 });
                let (b0, b1) = lanes_of(n);
                snap.created_lanes.extend_from_slice(&view.lanes[b0..b1]);
                j += 1;
            }
            (None, None) => unreachable!("loop condition"),
        }
    }
}
