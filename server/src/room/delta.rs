//! The per-client delta: what changed between what a client holds (its baseline, exactly what
//! it was last sent) and what it should now see.
//!
//! Both lists are sorted by id, so one merge pass yields removals, creations and field-level
//! updates. An entity that did not change costs nothing.

use tickwire_shared::NetId;
use tickwire_shared::protocol::{EntitySpawn, EntityUpdate, PlayerState};
use tickwire_shared::replica::EntityState;

/// Entity changes for one client and one snapshot.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct EntityDelta {
    /// Ids the client holds that it no longer sees.
    pub removed: Vec<NetId>,
    /// Entities the client sees but does not hold.
    pub created: Vec<EntitySpawn>,
    /// Entities in both whose fields changed.
    pub updated: Vec<EntityUpdate>,
}

impl EntityDelta {
    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.removed.is_empty() && self.created.is_empty() && self.updated.is_empty()
    }
}

/// Compares a baseline with a view (both sorted by id, ids unique).
pub fn diff(baseline: &[(NetId, EntityState)], view: &[(NetId, EntityState)]) -> EntityDelta {
    diff_with(baseline, &mut view.to_vec(), |_, _, _| {})
}

/// Like [`diff`], but first lets `hold(id, old, new)` rewrite the new state of each player
/// present in both (to hold back an update that is not due); `view` keeps the rewritten
/// states, so it is exactly what the client holds once the delta is applied. One pass over
/// both lists.
pub fn diff_with(
    baseline: &[(NetId, EntityState)],
    view: &mut [(NetId, EntityState)],
    hold: impl FnMut(NetId, &PlayerState, &mut PlayerState),
) -> EntityDelta {
    let mut d = EntityDelta::default();
    diff_into(&mut d, baseline, view, hold);
    d
}

/// Like [`diff_with`], writing into `d` (cleared first) so its buffers are reused.
pub fn diff_into(
    d: &mut EntityDelta,
    baseline: &[(NetId, EntityState)],
    view: &mut [(NetId, EntityState)],
    mut hold: impl FnMut(NetId, &PlayerState, &mut PlayerState),
) {
    d.removed.clear();
    d.created.clear();
    d.updated.clear();
    let (mut i, mut j) = (0, 0);
    while i < baseline.len() || j < view.len() {
        match (baseline.get(i), view.get_mut(j)) {
            (Some(old), Some(new)) if old.0 == new.0 => {
                if let (
                    EntityState::Player { state: a, .. },
                    EntityState::Player { state: b, .. },
                ) = (&old.1, &mut new.1)
                {
                    hold(new.0, a, b);
                    d.updated.extend(EntityUpdate::diff(new.0, a, b));
                }
                i += 1;
                j += 1;
            }
            (Some(old), Some(new)) if old.0 < new.0 => {
                d.removed.push(old.0);
                i += 1;
            }
            (Some(old), None) => {
                d.removed.push(old.0);
                i += 1;
            }
            (_, Some(new)) => {
                d.created.push(EntitySpawn {
                    id: new.0,
                    kind: new.1.to_spawn(),
                });
                j += 1;
            }
            (None, None) => unreachable!("loop condition"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tickwire_shared::PlayerId;
    use tickwire_shared::protocol::fields;

    fn p(id: u32, x: i32, health: u8) -> (NetId, EntityState) {
        (
            NetId(id),
            EntityState::Player {
                player: PlayerId(id),
                state: PlayerState {
                    x,
                    y: 0,
                    aim: 0,
                    health,
                    status: 1,
                },
            },
        )
    }

    #[test]
    fn unchanged_is_empty_and_changes_are_field_level() {
        let base = vec![p(1, 0, 100), p(3, 0, 100), p(4, 0, 100)];
        assert!(diff(&base, &base).is_empty());
        let view = vec![p(2, 0, 100), p(3, 0, 90), p(4, 16, 100)];
        let d = diff(&base, &view);
        assert_eq!(d.removed, vec![NetId(1)]);
        assert_eq!(d.created.len(), 1);
        assert_eq!(d.created[0].id, NetId(2));
        assert_eq!(d.updated.len(), 2);
        assert_eq!(
            (d.updated[0].id, d.updated[0].mask, d.updated[0].health),
            (NetId(3), fields::HEALTH, 90)
        );
        assert_eq!(
            (d.updated[1].id, d.updated[1].mask, d.updated[1].dx),
            (NetId(4), fields::POS, 16)
        );
    }
}
