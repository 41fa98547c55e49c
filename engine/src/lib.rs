//! The tickwire engine: authoritative rooms on a fixed tick, for any game.
//!
//! A game is one Rust type implementing [`Game`]. It declares what it replicates as a
//! [`Schema`](tickwire_shared::schema::Schema) (entity kinds and their fields with wire type
//! and precision, player record fields, room fields, input fields, actions and events, each
//! field named once with [`fields!`](tickwire_shared::fields)), and provides join, leave,
//! input, action and step; each tick it writes its entities, player records and room fields
//! into a [`World`]. The engine owns everything else:
//!
//! - the tick loop and the order of things in it ([`Room::tick`]);
//! - inputs applied in seq order with redundancy and bounds ([`InputQueue`]);
//! - interest: a view radius around [`Game::view_center`], unplaced entities for everyone,
//!   owned entities always in their owner's view, visibility by owner or team, owner-only
//!   fields zeroed for everyone else ([`view::Interest`]);
//! - per-client, field-level deltas against exactly what that client holds, NetIds counted
//!   so none is reused while a client holds it, slow clients skipping ticks with nothing lost;
//! - player records and room fields as replicated state, events routed to their audience and
//!   riding in snapshots, engine events (chat, notices, rejected actions), checksums, resume.
//!
//! Nothing here knows what the game is about. The wire format is protocol version 5
//! ([`tickwire_shared::sync`]), so any client that reads the schema in `Welcome` plays any
//! game.

#![warn(missing_docs)]

mod acks;
pub mod budget;
pub mod delta;
mod events;
pub mod game;
pub mod grid;
pub mod input_queue;
pub mod limits;
pub mod net_ids;
mod players;
pub mod room;
pub mod testing;
pub mod text;
pub mod view;

pub use game::{
    Audience, Ctx, EntityMeta, Game, MatchEnd, MatchResult, ResultRow, Standing, Visibility, World,
};
pub use input_queue::{InputQueue, Push, Sequenced};
pub use net_ids::NetIds;
pub use room::{
    ChatOutcome, EngineConfig, InputOutcome, JoinError, Joined, Room, TickOutput, clean_text,
};

#[cfg(test)]
mod tests;
