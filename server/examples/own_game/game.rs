//! `Dots`, a game of a few dozen lines: every player is a dot on a line, and an input pushes
//! it. What a developer writes for a game of their own: a schema, and a `Game` impl.

use std::collections::BTreeMap;
use tickwire_server::engine::{Ctx, EntityMeta, Game, World};
use tickwire_shared::schema::{KindDesc, Schema};
use tickwire_shared::sync::InputCmd;
use tickwire_shared::{NetId, PlayerId, fields};

fields! { pub mod dot { x: I32, delta; } }
fields! { pub mod push { dx: I8; } }

/// Every player is a dot on a line.
#[derive(Default)]
pub struct Dots {
    dots: BTreeMap<PlayerId, (NetId, i64)>,
}

impl Game for Dots {
    fn schema(&self) -> Schema {
        Schema::new("dots")
            .kind(KindDesc {
                name: "dot".into(),
                fields: dot::fields(),
            })
            .input(push::fields())
    }

    fn join(&mut self, ctx: &mut Ctx<'_>, player: PlayerId, _name: &str) -> Result<(), String> {
        self.dots.insert(player, (ctx.spawn(), 0));
        Ok(())
    }

    fn leave(&mut self, ctx: &mut Ctx<'_>, player: PlayerId) {
        if let Some((id, _)) = self.dots.remove(&player) {
            ctx.despawn(id);
        }
    }

    fn input(&mut self, _ctx: &mut Ctx<'_>, player: PlayerId, cmd: &InputCmd) {
        if let Some(d) = self.dots.get_mut(&player) {
            d.1 += cmd.lanes[push::dx];
        }
    }

    fn step(&mut self, _ctx: &mut Ctx<'_>) {}

    fn replicate(&self, world: &mut World) {
        for (p, (id, x)) in &self.dots {
            world.entity(EntityMeta::new(*id, 0).owned_by(*p), &[*x]);
        }
    }
}
