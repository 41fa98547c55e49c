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

use crate::net_ids::NetIds;
use crate::view::{Interest, Masks, Table, Viewer};
use tickwire_shared::schema::{FieldDesc, Schema};
use tickwire_shared::sync::replica::Checksum;
use tickwire_shared::sync::wire::Writer;
use tickwire_shared::sync::{EncodedEntities, write_spawn, write_update};
use tickwire_shared::{NetId, PlayerId};

/// No entity (an index that is not one).
const NONE: u32 = u32::MAX;

/// What one client holds.
#[derive(Debug)]
pub enum Baseline {
    /// Entities of the last tick's world (their indices, ascending, so ascending id), with
    /// their values of that tick as the client may see them: nothing is copied. The client
    /// was sent that tick (or holds nothing).
    Live(Vec<u32>),
    /// A copy of what the client holds, made when it skipped a tick.
    Copied(Table),
}

impl Default for Baseline {
    fn default() -> Self {
        Baseline::Live(Vec::new())
    }
}

impl Baseline {
    /// The ids held, ascending (between ticks: a live baseline indexes the last tick's
    /// world).
    pub fn ids<'a>(&'a self, interest: &'a Interest) -> impl Iterator<Item = NetId> + 'a {
        let (live, copied) = match self {
            Baseline::Live(rows) => (Some(rows.iter().map(|&i| interest.entity(i).0.id)), None),
            Baseline::Copied(t) => (None, Some(t.ids())),
        };
        live.into_iter()
            .flatten()
            .chain(copied.into_iter().flatten())
    }

    /// Holds nothing (keeps the buffer of a live baseline).
    pub fn clear(&mut self) {
        match self {
            Baseline::Live(rows) => rows.clear(),
            Baseline::Copied(_) => *self = Baseline::default(),
        }
    }

    /// The client skips this tick: the previous tick's world it holds is about to go, so a
    /// live baseline becomes a copy of what it holds (call after [`Interest::rebuild`]).
    pub fn keep_through_skip(&mut self, interest: &Interest, masks: &Masks, viewer: &Viewer) {
        let Baseline::Live(rows) = self else { return };
        if rows.is_empty() {
            return;
        }
        let mut copy = Table::default();
        for &i in rows.iter() {
            let (meta, lanes) = interest.prev_entity(i);
            copy.push_for(meta, lanes, viewer, masks);
        }
        *self = Baseline::Copied(copy);
    }
}

/// Per-entity work done once per tick: which entity of the previous tick each one is, and the
/// bytes of its update and its spawn for viewers other than its owner.
#[derive(Debug, Default)]
pub struct Changes {
    /// Per entity of this tick, what a client's merge reads.
    rows: Vec<Row>,
    updates: Vec<u8>,
    /// Per entity: its spawn for anyone but its owner, as a range of `spawns`, encoded the
    /// first time a client needs it this tick (`NONE` until then).
    spawn: Vec<(u32, u32)>,
    spawns: Vec<u8>,
    /// Lanes with owner-only fields zeroed.
    masked: Vec<i64>,
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
    /// Its update for anyone but its owner, as a range of `updates` (empty: no change they
    /// can see).
    from: u32,
    to: u32,
    /// The same bytes when they fit (nearly always): copied as one fixed-size block, then cut
    /// to length, which is cheaper than a copy of variable length.
    short: [u8; SHORT],
}

/// Updates up to this many bytes ride in their [`Row`].
const SHORT: usize = 16;

fn owner_id(p: Option<PlayerId>) -> u32 {
    p.map_or(0, |p| p.0)
}

/// Writes the update that turns `old` into `new` of one entity (each seen by its owner or
/// not, as the flags say); false when the viewer sees no change.
#[allow(clippy::too_many_arguments)]
#[inline]
fn write_change(
    w: &mut Writer<'_>,
    fields: &[FieldDesc],
    masks: &Masks,
    (id, kind): (NetId, u16),
    old: &[i64],
    old_own: bool,
    new: &[i64],
    new_own: bool,
) -> bool {
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
    let mut mask = 0u64;
    for f in 0..n {
        mask |= u64::from(lane(old, old_own, f) != lane(new, new_own, f)) << f;
    }
    if mask == 0 {
        return false;
    }
    let delta = masks.delta[k];
    write_update(w, fields, id, mask, |f| {
        let v = lane(new, new_own, f);
        if delta >> f & 1 != 0 {
            v.wrapping_sub(lane(old, old_own, f))
        } else {
            v
        }
    });
    true
}

impl Changes {
    /// Compares this tick's world with the previous one and encodes every entity's update
    /// for viewers other than its owner (call after [`Interest::rebuild`]).
    pub fn compute(&mut self, interest: &Interest, masks: &Masks, schema: &Schema) {
        self.rows.clear();
        self.updates.clear();
        self.spawn.clear();
        self.spawns.clear();
        let prev = interest.prev_entities();
        let mut p = 0;
        for i in 0..interest.len() as u32 {
            let (meta, new) = interest.entity(i);
            while p < prev.len() && prev[p].0.id < meta.id {
                p += 1;
            }
            let from = self.updates.len() as u32;
            let mut prev_owner = 0;
            let at = if prev
                .get(p)
                .is_some_and(|e| e.0.id == meta.id && e.0.kind == meta.kind)
            {
                let (old_meta, old) = interest.prev_entity(p as u32);
                prev_owner = owner_id(old_meta.owner);
                let fields = &schema.kinds[usize::from(meta.kind)].fields;
                let mut w = Writer::new(&mut self.updates);
                write_change(
                    &mut w,
                    fields,
                    masks,
                    (meta.id, meta.kind),
                    old,
                    false,
                    new,
                    false,
                );
                p as u32
            } else {
                NONE
            };
            let to = self.updates.len() as u32;
            let mut short = [0; SHORT];
            if let Some(s) = short.get_mut(..(to - from) as usize) {
                s.copy_from_slice(&self.updates[from as usize..to as usize]);
            }
            self.rows.push(Row {
                id: meta.id,
                kind: meta.kind,
                prev: at,
                owner: owner_id(meta.owner),
                prev_owner,
                from,
                to,
                short,
            });
            self.spawn.push((NONE, 0));
        }
    }

    /// The bytes of entity `i`'s spawn for anyone but its owner.
    fn public_spawn(
        &mut self,
        interest: &Interest,
        masks: &Masks,
        schema: &Schema,
        i: u32,
    ) -> &[u8] {
        let (from, to) = self.spawn[i as usize];
        if from != NONE {
            return &self.spawns[from as usize..to as usize];
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
        let from = self.spawns.len();
        let mut w = Writer::new(&mut self.spawns);
        write_spawn(&mut w, &schema.kinds[k].fields, meta.id, meta.kind, lanes);
        self.spawn[i as usize] = (from as u32, self.spawns.len() as u32);
        &self.spawns[from..]
    }

    /// Writes into `out` the entity sections that turn what a live baseline holds (`held`,
    /// indices into the previous tick's world) into what `viewer` sees now (`visible`, from
    /// [`Interest::visible`], which the client then holds), and counts the ids it now holds
    /// and no longer holds in `ids`.
    #[allow(clippy::too_many_arguments)]
    pub fn delta(
        &mut self,
        interest: &Interest,
        masks: &Masks,
        schema: &Schema,
        viewer: PlayerId,
        held: &[u32],
        visible: &[u32],
        out: &mut EncodedEntities,
        ids: &mut NetIds,
    ) {
        out.clear();
        let me = viewer.0;
        let (mut a, mut b) = (0, 0);
        while let (Some(&h), Some(&i)) = (held.get(a), visible.get(b)) {
            let r = &self.rows[i as usize];
            if r.prev == h {
                if r.owner != me && r.prev_owner != me {
                    // What everyone but the owner gets: encoded once this tick.
                    let len = (r.to - r.from) as usize;
                    if len != 0 {
                        out.updated += 1;
                        let bytes = &mut out.updated_bytes;
                        if len <= SHORT {
                            let end = bytes.len() + len;
                            bytes.extend_from_slice(&r.short);
                            bytes.truncate(end);
                        } else {
                            bytes.extend_from_slice(&self.updates[r.from as usize..r.to as usize]);
                        }
                    }
                } else {
                    self.update(interest, masks, schema, viewer, h, i, out);
                }
                a += 1;
                b += 1;
                continue;
            }
            // Not the same entity as last tick: order by id.
            let (old, _) = interest.prev_entity(h);
            if old.id == r.id && old.kind == r.kind {
                // Only if the game replicated an id twice.
                self.update(interest, masks, schema, viewer, h, i, out);
                a += 1;
                b += 1;
            } else if old.id <= r.id {
                // Same id with another kind cannot happen (ids are not reused while held),
                // but if it did, removal then creation keeps the client exact.
                out.removed.push(old.id);
                a += 1;
            } else {
                self.create(interest, masks, schema, viewer, i, out, ids);
                b += 1;
            }
        }
        for &h in &held[a..] {
            out.removed.push(interest.prev_entity(h).0.id);
        }
        for &i in &visible[b..] {
            self.create(interest, masks, schema, viewer, i, out, ids);
        }
        for id in &out.removed {
            ids.release(*id);
        }
    }

    /// Entity `i` stays in view (it was entity `h` of the previous tick) and the viewer
    /// owns it now or owned it then (or the game replicated its id twice): its update for
    /// this viewer alone, if it sees a change.
    #[allow(clippy::too_many_arguments)]
    #[inline(never)]
    fn update(
        &self,
        interest: &Interest,
        masks: &Masks,
        schema: &Schema,
        viewer: PlayerId,
        h: u32,
        i: u32,
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
        let mut w = Writer::new(&mut out.updated_bytes);
        if write_change(
            &mut w,
            fields,
            masks,
            (r.id, r.kind),
            old,
            old_own,
            new,
            new_own,
        ) {
            out.updated += 1;
        }
    }

    /// Entity `i` enters the view.
    #[allow(clippy::too_many_arguments)]
    #[inline(never)]
    fn create(
        &mut self,
        interest: &Interest,
        masks: &Masks,
        schema: &Schema,
        viewer: PlayerId,
        i: u32,
        out: &mut EncodedEntities,
        ids: &mut NetIds,
    ) {
        let r = &self.rows[i as usize];
        let (id, kind, own) = (r.id, r.kind, r.owner == viewer.0);
        out.created += 1;
        ids.retain(id);
        if own {
            let (_, lanes) = interest.entity(i);
            let k = usize::from(kind);
            let mut w = Writer::new(&mut out.created_bytes);
            write_spawn(
                &mut w,
                &schema.kinds[k].fields,
                id,
                kind,
                &lanes[..masks.lens[k]],
            );
        } else {
            let bytes = self.public_spawn(interest, masks, schema, i);
            out.created_bytes.extend_from_slice(bytes);
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
