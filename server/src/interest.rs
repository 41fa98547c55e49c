//! Interest management: which entities each client is sent.
//!
//! Every tick the room lays the world's entities into a [`SpatialGrid`] once; each client's
//! view is then a circle query around its body. A client always sees its own body. The cost
//! per client is proportional to what it sees, not to the size of the world.

use crate::grid::SpatialGrid;
use glam::Vec2;
use tickwire_shared::NetId;
use tickwire_shared::replica::EntityState;

/// One entity as the interest layer sees it: where it is and what a client would hold.
#[derive(Debug, Clone, Copy)]
pub struct ViewEntity {
    /// Wire id.
    pub id: NetId,
    /// Current position.
    pub pos: Vec2,
    /// Quantized state.
    pub state: EntityState,
}

/// The world laid out for view queries; rebuilt every tick.
pub struct InterestGrid {
    /// Sorted by id, so sorting a view's indices sorts it by id.
    entities: Vec<ViewEntity>,
    grid: SpatialGrid<u32>,
    view_radius: f32,
    /// One bit per entity: a view marks what it sees, then reads the bits in order, which
    /// yields the view sorted by id without sorting.
    seen: Vec<u64>,
}

impl InterestGrid {
    /// An empty grid for an arena, sized for the view radius.
    pub fn new(width: f32, height: f32, view_radius: f32) -> Self {
        InterestGrid {
            entities: Vec::new(),
            // Cells of half the view radius: a query touches about 5×5 cells, few of them
            // mostly outside the circle.
            grid: SpatialGrid::new(width, height, view_radius * 0.5),
            view_radius,
            seen: Vec::new(),
        }
    }

    /// Replaces the world with `entities`.
    pub fn rebuild(&mut self, entities: impl IntoIterator<Item = ViewEntity>) {
        self.entities.clear();
        self.entities.extend(entities);
        // Sorting once here lets every view sort plain indices instead of whole states.
        self.entities.sort_unstable_by_key(|e| e.id);
        self.seen.clear();
        self.seen.resize(self.entities.len().div_ceil(64), 0);
        self.grid.clear();
        for (i, e) in self.entities.iter().enumerate() {
            self.grid.insert(e.pos, i as u32);
        }
    }

    /// What a client centred at `center` whose own body is `own` sees, sorted by id, into `out`.
    pub fn view(&mut self, center: Vec2, own: Option<NetId>, out: &mut Vec<(NetId, EntityState)>) {
        let seen = &mut self.seen;
        self.grid.for_each_within(center, self.view_radius, |_, i| {
            seen[i as usize / 64] |= 1 << (i % 64);
        });
        if let Some(own) = own
            && let Ok(i) = self.entities.binary_search_by_key(&own, |e| e.id)
        {
            seen[i / 64] |= 1 << (i % 64);
        }
        out.clear();
        for (w, word) in seen.iter_mut().enumerate() {
            let mut bits = std::mem::take(word);
            while bits != 0 {
                let e = &self.entities[w * 64 + bits.trailing_zeros() as usize];
                out.push((e.id, e.state));
                bits &= bits - 1;
            }
        }
    }

    /// Number of entities in the world.
    pub fn len(&self) -> usize {
        self.entities.len()
    }

    /// Whether the world is empty.
    pub fn is_empty(&self) -> bool {
        self.entities.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tickwire_shared::PlayerId;
    use tickwire_shared::protocol::PlayerState;

    fn ent(id: u32, x: f32, y: f32) -> ViewEntity {
        ViewEntity {
            id: NetId(id),
            pos: Vec2::new(x, y),
            state: EntityState::Player {
                player: PlayerId(id),
                state: PlayerState::default(),
            },
        }
    }

    #[test]
    fn sees_what_is_in_radius_sorted_and_always_itself() {
        let mut g = InterestGrid::new(2000.0, 2000.0, 300.0);
        g.rebuild([
            ent(5, 100.0, 100.0),
            ent(2, 350.0, 100.0),
            ent(9, 500.0, 100.0),
            ent(1, 1900.0, 1900.0),
        ]);
        let mut out = Vec::new();
        g.view(Vec2::new(100.0, 100.0), Some(NetId(5)), &mut out);
        assert_eq!(out.iter().map(|e| e.0.0).collect::<Vec<_>>(), vec![2, 5]);
        // A body far outside its own view centre is still included (e.g. the camera is elsewhere).
        g.view(Vec2::new(100.0, 100.0), Some(NetId(1)), &mut out);
        assert_eq!(out.iter().map(|e| e.0.0).collect::<Vec<_>>(), vec![1, 2, 5]);
    }

    #[test]
    fn views_equal_brute_force_for_many_entities_in_any_order() {
        let mut g = InterestGrid::new(3000.0, 2000.0, 400.0);
        // Ids deliberately not in insertion order, more than one bitset word.
        let ents: Vec<ViewEntity> = (0..500u32)
            .map(|i| {
                let id = (i * 7919) % 1009;
                ent(id, (i * 37 % 3000) as f32, (i * 91 % 2000) as f32)
            })
            .collect();
        g.rebuild(ents.iter().copied());
        let mut out = Vec::new();
        for (cx, cy, own) in [(1500.0, 1000.0, 5), (0.0, 0.0, 0), (2999.0, 1999.0, 1008)] {
            let c = Vec2::new(cx, cy);
            let own = ents[own % ents.len()].id;
            g.view(c, Some(own), &mut out);
            let mut want: Vec<u32> = ents
                .iter()
                .filter(|e| e.pos.distance(c) <= 400.0 || e.id == own)
                .map(|e| e.id.0)
                .collect();
            want.sort();
            assert_eq!(out.iter().map(|e| e.0.0).collect::<Vec<_>>(), want);
            assert!(want.len() > 5);
        }
        // A second build with fewer entities leaves nothing behind.
        g.rebuild(ents[..10].iter().copied());
        g.view(Vec2::new(1500.0, 1000.0), None, &mut out);
        assert!(out.iter().all(|e| ents[..10].iter().any(|x| x.id == e.0)));
    }
}
