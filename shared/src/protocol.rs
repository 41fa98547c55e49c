//! The wire messages. `docs/PROTOCOL.md` describes their byte layout for writers of clients in
//! other languages; keep the two in step, and bump [`PROTOCOL_VERSION`] on any change.
//!
//! One WebSocket binary frame carries exactly one message: a [`ClientMsg`] from client to server,
//! a [`ServerMsg`] from server to client.

use crate::ids::{InputSeq, NetId, PlayerId, Tick};
use crate::rules::{Arena, Rules};
use serde::de::{self, SeqAccess, Visitor};
use serde::ser::SerializeTuple;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Version of this protocol. A client whose `Hello` carries another version is closed with
/// [`crate::close::CloseCode::VersionMismatch`].
pub const PROTOCOL_VERSION: u16 = 1;

/// Longest player name, in characters; longer names are cut.
pub const MAX_NAME_CHARS: usize = 24;
/// Longest chat message, in characters; longer messages are cut.
pub const MAX_CHAT_CHARS: usize = 200;

/// A message from a client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ClientMsg {
    /// Must be the first message on a connection, and only the first.
    Hello(Hello),
    /// One or more input commands, oldest first. Clients may repeat recent unacknowledged
    /// commands; the server ignores sequence numbers it has already processed.
    Input(Vec<InputCmd>),
    /// Application-level ping; answered at once with [`ServerMsg::Pong`].
    Ping(Ping),
    /// A chat line for everyone in the room.
    Chat(String),
}

/// The handshake.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// Must equal [`PROTOCOL_VERSION`].
    pub protocol_version: u16,
    /// Display name (cut to [`MAX_NAME_CHARS`]; an empty name becomes `player-<id>`).
    pub name: String,
    /// Authentication token, when the server requires one.
    pub auth_token: Option<String>,
    /// Token from an earlier `Welcome`, to take back the same player after a reconnect.
    pub resume_token: Option<String>,
}

/// Bits of [`InputCmd::buttons`].
pub mod buttons {
    /// Fire the primary weapon (projectile).
    pub const FIRE: u8 = 1;
    /// Fire the secondary weapon (hitscan).
    pub const ALT_FIRE: u8 = 2;
}

/// What a player wants to do during one tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct InputCmd {
    /// 1 for the first command, then +1 for each command.
    pub seq: InputSeq,
    /// Movement intent on x, -127..=127 (the vector is clamped to length 1 after scaling by 1/127).
    pub move_x: i8,
    /// Movement intent on y (down is positive), -127..=127.
    pub move_y: i8,
    /// Aim angle, 65,536 steps per turn (see [`crate::quant`]).
    pub aim: u16,
    /// Bit set of [`buttons`].
    pub buttons: u8,
    /// The server tick the client was displaying when it made this command (for lag
    /// compensation); 0 when unknown.
    pub view_tick: Tick,
}

/// Application-level ping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ping {
    /// Opaque to the server, echoed back in the pong (clients put a timestamp here).
    pub client_time: u32,
}

/// A message from the server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ServerMsg {
    /// Answer to `Hello`: who you are and what the world looks like.
    Welcome(Welcome),
    /// What changed in your view since the last snapshot you were sent.
    Snapshot(Snapshot),
    /// Answer to [`ClientMsg::Ping`].
    Pong(Pong),
}

/// The answer to `Hello`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Welcome {
    /// The server's protocol version.
    pub protocol_version: u16,
    /// Your player.
    pub player_id: PlayerId,
    /// The entity that is your player's body.
    pub entity_id: NetId,
    /// Simulation ticks per second.
    pub tick_rate: u16,
    /// The server's current tick.
    pub tick: Tick,
    /// Radius around your player inside which you are sent entities.
    pub view_radius: f32,
    /// Snapshots carry a state checksum every this many ticks (0 = never).
    pub checksum_interval: u16,
    /// The arena (bounds and obstacles).
    pub arena: Arena,
    /// Game constants, including the movement rules clients predict with.
    pub rules: Rules,
    /// Everyone in the room, you included.
    pub players: Vec<PlayerInfo>,
    /// Present this in a later `Hello` to take this player back after a disconnect.
    pub resume_token: String,
}

/// A player in the room (for the scoreboard and name tags).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlayerInfo {
    /// Player id.
    pub id: PlayerId,
    /// Display name.
    pub name: String,
    /// Kills.
    pub score: u32,
    /// Deaths.
    pub deaths: u32,
}

/// The per-client delta for one tick. Apply `removed`, then `created`, then `updated`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// The tick this snapshot describes.
    pub tick: Tick,
    /// The last of your input commands the server has applied.
    pub ack_input_seq: InputSeq,
    /// Entities that left your view (or were destroyed).
    pub removed: Vec<NetId>,
    /// Entities that entered your view (or were created), with their full state.
    pub created: Vec<EntitySpawn>,
    /// Entities still in view whose fields changed; only changed fields are present.
    pub updated: Vec<EntityUpdate>,
    /// What happened since the previous snapshot you were sent, in order.
    pub events: Vec<Event>,
    /// Checksum of your whole entity table after applying this snapshot (see
    /// [`crate::replica::Replica::checksum`]); present every `checksum_interval` ticks.
    pub checksum: Option<u32>,
}

impl Snapshot {
    /// A snapshot in which nothing changed: the fixed header alone.
    pub fn empty(tick: Tick, ack_input_seq: InputSeq) -> Snapshot {
        Snapshot {
            tick,
            ack_input_seq,
            removed: Vec::new(),
            created: Vec::new(),
            updated: Vec::new(),
            events: Vec::new(),
            checksum: None,
        }
    }
}

/// A new entity in a client's view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntitySpawn {
    /// Its wire id.
    pub id: NetId,
    /// Its kind and full state.
    pub kind: SpawnKind,
}

/// The kind and full state of a new entity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SpawnKind {
    /// A player's body.
    Player {
        /// Whose body.
        player: PlayerId,
        /// Its state.
        state: PlayerState,
    },
    /// A projectile. It flies in a straight line at `rules.projectile_speed`, so it is never
    /// updated: its position at tick `t` is `origin + heading16(heading) * speed * (t - spawn_tick) / tick_rate`.
    Projectile(ProjectileState),
}

/// Quantized state of a player's body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PlayerState {
    /// x in 1/8 units.
    pub x: i32,
    /// y in 1/8 units.
    pub y: i32,
    /// Facing, 256 steps per turn.
    pub aim: u8,
    /// Health, 0..=rules.max_health.
    pub health: u8,
    /// Bit 0: alive. Bits 1..7: respawn counter (mod 128); a change means the body teleported.
    pub status: u8,
}

impl PlayerState {
    /// Whether the player is alive.
    pub fn alive(&self) -> bool {
        self.status & 1 != 0
    }

    /// The respawn counter (changes on every respawn).
    pub fn respawn_counter(&self) -> u8 {
        self.status >> 1
    }
}

/// Immutable state of a projectile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectileState {
    /// Who fired it.
    pub owner: PlayerId,
    /// Start x in 1/8 units.
    pub origin_x: i32,
    /// Start y in 1/8 units.
    pub origin_y: i32,
    /// Heading, 65,536 steps per turn.
    pub heading: u16,
    /// The tick at which it was at its origin.
    pub spawn_tick: Tick,
}

/// Bits of [`EntityUpdate::mask`]: which fields follow.
pub mod fields {
    /// `dx` and `dy` (position change since the last state sent).
    pub const POS: u8 = 1;
    /// `aim`.
    pub const AIM: u8 = 2;
    /// `health`.
    pub const HEALTH: u8 = 4;
    /// `status`.
    pub const STATUS: u8 = 8;
    /// Every bit in use.
    pub const ALL: u8 = POS | AIM | HEALTH | STATUS;
}

/// Changed fields of a player body. On the wire: `id`, `mask`, then only the fields whose bit
/// is set, in bit order. Position is sent as the change from the last position sent to this
/// client (usually one byte per axis).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EntityUpdate {
    /// Which entity.
    pub id: NetId,
    /// Which fields are present ([`fields`]).
    pub mask: u8,
    /// Change of x in 1/8 units (present with `fields::POS`).
    pub dx: i32,
    /// Change of y in 1/8 units (present with `fields::POS`).
    pub dy: i32,
    /// New facing (present with `fields::AIM`).
    pub aim: u8,
    /// New health (present with `fields::HEALTH`).
    pub health: u8,
    /// New status (present with `fields::STATUS`).
    pub status: u8,
}

impl EntityUpdate {
    /// The update that turns `old` into `new`, or `None` when nothing changed.
    pub fn diff(id: NetId, old: &PlayerState, new: &PlayerState) -> Option<EntityUpdate> {
        let mut u = EntityUpdate {
            id,
            ..Default::default()
        };
        if old.x != new.x || old.y != new.y {
            u.mask |= fields::POS;
            u.dx = new.x.wrapping_sub(old.x);
            u.dy = new.y.wrapping_sub(old.y);
        }
        if old.aim != new.aim {
            u.mask |= fields::AIM;
            u.aim = new.aim;
        }
        if old.health != new.health {
            u.mask |= fields::HEALTH;
            u.health = new.health;
        }
        if old.status != new.status {
            u.mask |= fields::STATUS;
            u.status = new.status;
        }
        (u.mask != 0).then_some(u)
    }

    /// Applies this update to a state.
    pub fn apply(&self, s: &mut PlayerState) {
        if self.mask & fields::POS != 0 {
            s.x = s.x.wrapping_add(self.dx);
            s.y = s.y.wrapping_add(self.dy);
        }
        if self.mask & fields::AIM != 0 {
            s.aim = self.aim;
        }
        if self.mask & fields::HEALTH != 0 {
            s.health = self.health;
        }
        if self.mask & fields::STATUS != 0 {
            s.status = self.status;
        }
    }
}

impl Serialize for EntityUpdate {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let m = self.mask;
        let len = 2
            + 2 * usize::from(m & fields::POS != 0)
            + usize::from(m & fields::AIM != 0)
            + usize::from(m & fields::HEALTH != 0)
            + usize::from(m & fields::STATUS != 0);
        let mut t = s.serialize_tuple(len)?;
        t.serialize_element(&self.id)?;
        t.serialize_element(&m)?;
        if m & fields::POS != 0 {
            t.serialize_element(&self.dx)?;
            t.serialize_element(&self.dy)?;
        }
        if m & fields::AIM != 0 {
            t.serialize_element(&self.aim)?;
        }
        if m & fields::HEALTH != 0 {
            t.serialize_element(&self.health)?;
        }
        if m & fields::STATUS != 0 {
            t.serialize_element(&self.status)?;
        }
        t.end()
    }
}

impl<'de> Deserialize<'de> for EntityUpdate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = EntityUpdate;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an entity update (id, mask, fields)")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<EntityUpdate, A::Error> {
                fn next<'de, T: Deserialize<'de>, A: SeqAccess<'de>>(
                    seq: &mut A,
                ) -> Result<T, A::Error> {
                    seq.next_element()?
                        .ok_or_else(|| de::Error::custom("entity update ended early"))
                }
                let id = next(&mut seq)?;
                let mask: u8 = next(&mut seq)?;
                if mask & !fields::ALL != 0 {
                    return Err(de::Error::custom("unknown bits in entity update mask"));
                }
                let mut u = EntityUpdate {
                    id,
                    mask,
                    ..Default::default()
                };
                if mask & fields::POS != 0 {
                    u.dx = next(&mut seq)?;
                    u.dy = next(&mut seq)?;
                }
                if mask & fields::AIM != 0 {
                    u.aim = next(&mut seq)?;
                }
                if mask & fields::HEALTH != 0 {
                    u.health = next(&mut seq)?;
                }
                if mask & fields::STATUS != 0 {
                    u.status = next(&mut seq)?;
                }
                Ok(u)
            }
        }
        // The longest form has 7 elements; a non-self-describing format reads only as many as
        // the visitor asks for.
        d.deserialize_tuple(7, V)
    }
}

/// Something that happened in the room. Events ride in snapshots, so a client that skipped
/// ticks still receives every event, in order, with the state they belong to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Event {
    /// A player joined.
    Join {
        /// Who.
        player: PlayerId,
        /// Their display name.
        name: String,
    },
    /// A player left.
    Leave {
        /// Who.
        player: PlayerId,
    },
    /// `killer` brought `victim`'s health to zero: killer's score +1, victim's deaths +1.
    Kill {
        /// The shooter.
        killer: PlayerId,
        /// The player who died.
        victim: PlayerId,
    },
    /// A dead player is back in play at a new spot.
    Respawn {
        /// Who.
        player: PlayerId,
    },
    /// A chat line.
    Chat {
        /// Who said it.
        player: PlayerId,
        /// What they said.
        text: String,
    },
    /// A message from the server itself.
    Notice {
        /// The text.
        text: String,
    },
    /// A hitscan shot, for drawing its tracer: from the shooter's muzzle to where it stopped
    /// (a wall, the end of its range, or the player it hit).
    Hitscan {
        /// Who fired.
        shooter: PlayerId,
        /// Start x in 1/8 units.
        from_x: i32,
        /// Start y in 1/8 units.
        from_y: i32,
        /// End x in 1/8 units.
        to_x: i32,
        /// End y in 1/8 units.
        to_y: i32,
        /// The player hit, if any.
        victim: Option<PlayerId>,
    },
}

/// Answer to a ping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pong {
    /// The ping's `client_time`, echoed.
    pub client_time: u32,
    /// The server's latest completed tick when the pong was sent.
    pub tick: Tick,
}
