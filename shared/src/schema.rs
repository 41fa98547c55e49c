//! How a game declares what it replicates, once, as data.
//!
//! A [`Schema`] lists a game's entity kinds and their fields, the per-player record fields
//! (a scoreboard), the room-level fields (a wave timer, whose turn it is), the fields of one
//! input command, and its actions and events. Each [`FieldDesc`] carries the field's wire type
//! and precision ([`FieldType`]) and what clients do with it (interpolate, predict for the
//! owner, owner only). Everything else follows from that one declaration: the snapshot codec,
//! the replica, the checksum, interpolation, and the JS decoder, which reads the same schema
//! from `Welcome`.
//!
//! Replicated values are held as `i64` lanes, one per field, already quantized (a position of
//! `Fixed(8)` holds 1/8 units), so the server's table and every client's replica hold the very
//! same integers and checksums compare exactly. Entity, player and room fields are numbers;
//! text travels only in events, actions and player names.
//!
//! Declare a kind with [`fields!`](crate::fields): it names each field once and gives both
//! the index constants the game uses and the descriptor the engine sends.

use serde::{Deserialize, Serialize};

/// How one field travels on the wire and what its `i64` lane holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum FieldType {
    /// 0 or 1, one byte.
    Bool,
    /// 0..=255, one byte.
    U8,
    /// 0..=65535, varint.
    U16,
    /// 0..=2^32-1, varint.
    U32,
    /// -128..=127, one byte (two's complement).
    I8,
    /// -32768..=32767, zigzag varint.
    I16,
    /// i32, zigzag varint.
    I32,
    /// A real number quantized to `1/scale`: the lane holds `round(value × scale)` as an i32,
    /// zigzag varint on the wire; a client's value is `lane / scale`.
    Fixed(u16),
    /// An angle, 256 steps per turn, one byte; a client's radians are `lane / 256 × 2π`.
    Angle8,
    /// An angle, 65,536 steps per turn, varint.
    Angle16,
    /// A player id (u32 varint).
    Player,
    /// A NetId of another entity (u32 varint).
    Entity,
    /// UTF-8 text of at most this many characters: varint byte length, then the bytes. Only in
    /// events and actions.
    Str(u16),
    /// A tick number (0..=2^32-1: when something happened or will, e.g. a launch or a
    /// cooldown's end), u32 varint; in an entity's creation it is coded against the
    /// snapshot's own tick, a few bits when it is recent.
    Tick,
}

impl FieldType {
    /// Whether the value is text (events and actions only).
    pub fn is_text(self) -> bool {
        matches!(self, FieldType::Str(_))
    }

    /// The lane values this type can hold, inclusive.
    pub fn range(self) -> (i64, i64) {
        match self {
            FieldType::Bool => (0, 1),
            FieldType::U8 | FieldType::Angle8 => (0, 255),
            FieldType::U16 | FieldType::Angle16 => (0, 65535),
            FieldType::U32 | FieldType::Player | FieldType::Entity | FieldType::Tick => {
                (0, i64::from(u32::MAX))
            }
            FieldType::I8 => (-128, 127),
            FieldType::I16 => (-32768, 32767),
            FieldType::I32 | FieldType::Fixed(_) => (i64::from(i32::MIN), i64::from(i32::MAX)),
            FieldType::Str(_) => (0, 0),
        }
    }

    /// Steps in a full turn for angle types (they wrap), else `None`.
    pub fn turn(self) -> Option<i64> {
        match self {
            FieldType::Angle8 => Some(256),
            FieldType::Angle16 => Some(65536),
            _ => None,
        }
    }

    /// A lane in world units: `Fixed(s)` divides by `s`, angles become radians, the rest is
    /// the number itself.
    pub fn dequantize(self, v: f64) -> f64 {
        match self {
            FieldType::Fixed(s) => v / f64::from(s.max(1)),
            FieldType::Angle8 => v / 256.0 * std::f64::consts::TAU,
            FieldType::Angle16 => v / 65536.0 * std::f64::consts::TAU,
            _ => v,
        }
    }

    /// Clamps (or, for angles, wraps) a lane value into the type's range.
    pub fn clamp(self, v: i64) -> i64 {
        if let Some(turn) = self.turn() {
            return v.rem_euclid(turn);
        }
        let (lo, hi) = self.range();
        v.clamp(lo, hi)
    }
}

/// How clients draw a field between snapshots.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum Interp {
    /// Shown as last received.
    #[default]
    None,
    /// Blended linearly between the two snapshots around the render time.
    Linear,
    /// Blended the short way round (angle types).
    Angle,
}

/// One replicated field.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FieldDesc {
    /// Name, for clients and tools.
    pub name: String,
    /// Wire type and precision.
    pub ty: FieldType,
    /// Whether and how clients interpolate it.
    pub interp: Interp,
    /// The owner predicts it (the game's step runs on the client too).
    pub predict: bool,
    /// Only the entity's (or player record's) owner receives it; others hold 0.
    pub owner_only: bool,
    /// Updates carry the change from the value the client holds (zigzag) instead of the value:
    /// small for positions that move a little each tick.
    pub delta: bool,
    /// A change of this field means the entity jumped (a respawn counter): clients never blend
    /// across it. In a kind with `extrapolate` fields, its change also sets their per-tick
    /// changes to 0 (the jump is not a motion to continue).
    pub discontinuity: bool,
    /// A continuous value (a position, an angle): server and client extrapolate it the same way
    /// in the quantized integers (the value plus its last per-tick change times the ticks
    /// elapsed; angles wrap) and an update carries only the residual where the truth differs
    /// from that prediction, so a body on its course costs nothing. See
    /// [`crate::sync::wire::predict`].
    pub extrapolate: bool,
}

impl FieldDesc {
    /// A plain field: sent when it changes, shown as received.
    pub fn new(name: &str, ty: FieldType) -> FieldDesc {
        FieldDesc {
            name: name.to_string(),
            ty,
            interp: Interp::None,
            predict: false,
            owner_only: false,
            delta: false,
            discontinuity: false,
            extrapolate: false,
        }
    }

    /// Clients interpolate it (the short way round for angle types).
    pub fn interpolate(mut self) -> Self {
        self.interp = if self.ty.turn().is_some() {
            Interp::Angle
        } else {
            Interp::Linear
        };
        self
    }

    /// The owner predicts it.
    pub fn predict(mut self) -> Self {
        self.predict = true;
        self
    }

    /// Only the owner receives it.
    pub fn owner_only(mut self) -> Self {
        self.owner_only = true;
        self
    }

    /// Updates carry the change, not the value.
    pub fn delta(mut self) -> Self {
        self.delta = true;
        self
    }

    /// A change means a jump: never interpolated across.
    pub fn discontinuity(mut self) -> Self {
        self.discontinuity = true;
        self
    }

    /// A continuous value: updates carry the residual against the client's own extrapolation.
    pub fn extrapolate(mut self) -> Self {
        self.extrapolate = true;
        self
    }
}

/// An entity kind: its name and fields, in wire order.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct KindDesc {
    /// Name, for clients and tools.
    pub name: String,
    /// Fields, in wire order (at most [`MAX_FIELDS`]).
    pub fields: Vec<FieldDesc>,
}

/// A message kind (an action or an event): its name and fields.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MessageDesc {
    /// Name, for clients and tools.
    pub name: String,
    /// Fields, in wire order.
    pub fields: Vec<FieldDesc>,
}

impl MessageDesc {
    /// A message kind.
    pub fn new(name: &str, fields: Vec<FieldDesc>) -> MessageDesc {
        MessageDesc {
            name: name.to_string(),
            fields,
        }
    }
}

/// Most fields an entity kind, a player record or the room may have: one bit each in an
/// update's change mask (a `u64`).
pub const MAX_FIELDS: usize = 64;

/// Events every game has, at the start of [`Schema::events`].
pub mod engine_events {
    /// `chat { player: Player, text: Str(200) }`: a chat line, to everyone in the room.
    pub const CHAT: u16 = 0;
    /// `notice { text: Str(200) }`: a message from the server.
    pub const NOTICE: u16 = 1;
    /// `rejected { seq: U32, reason: Str(120) }`: the game refused one of your actions.
    pub const REJECTED: u16 = 2;
    /// How many there are; a game's own events follow.
    pub const COUNT: u16 = 3;
}

/// Everything a game replicates, as sent in `Welcome`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Schema {
    /// The game's name (`--game NAME`).
    pub game: String,
    /// Entity kinds; an entity's kind is its index here.
    pub kinds: Vec<KindDesc>,
    /// Fields of every player's record (besides the engine's name and connected flag).
    pub player_fields: Vec<FieldDesc>,
    /// Fields of the room itself.
    pub room_fields: Vec<FieldDesc>,
    /// Fields of one input command (besides the engine's seq and view tick).
    pub input: Vec<FieldDesc>,
    /// Reliable discrete actions a client may send; an action's kind is its index here.
    pub actions: Vec<MessageDesc>,
    /// Events, the engine's ([`engine_events`]) first; an event's kind is its index here.
    pub events: Vec<MessageDesc>,
}

/// A schema that breaks a rule the codec relies on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchemaError {
    /// More than [`MAX_FIELDS`] fields in one list.
    #[error("{0} has more than {MAX_FIELDS} fields")]
    TooManyFields(String),
    /// A text field where only numbers may be.
    #[error("{0} has a text field; entity, player, room and input fields are numbers")]
    TextField(String),
    /// `delta` on a type it makes no sense for.
    #[error("{0}: delta encoding needs an integer or fixed-point type")]
    BadDelta(String),
    /// More kinds than a u16 can name.
    #[error("too many kinds")]
    TooManyKinds,
    /// `Fixed(0)` has no precision.
    #[error("{0}: Fixed needs a scale of at least 1")]
    ZeroScale(String),
    /// `extrapolate` where it cannot be.
    #[error("{0}: {1}")]
    BadExtrapolate(String, &'static str),
}

impl Schema {
    /// A schema with the engine's events and nothing else; add to it with the builder methods.
    pub fn new(game: &str) -> Schema {
        use FieldType::{Player, Str, U32};
        Schema {
            game: game.to_string(),
            kinds: Vec::new(),
            player_fields: Vec::new(),
            room_fields: Vec::new(),
            input: Vec::new(),
            actions: Vec::new(),
            events: vec![
                MessageDesc::new(
                    "chat",
                    vec![
                        FieldDesc::new("player", Player),
                        FieldDesc::new("text", Str(crate::sync::MAX_CHAT_CHARS as u16)),
                    ],
                ),
                MessageDesc::new(
                    "notice",
                    vec![FieldDesc::new(
                        "text",
                        Str(crate::sync::MAX_CHAT_CHARS as u16),
                    )],
                ),
                MessageDesc::new(
                    "rejected",
                    vec![
                        FieldDesc::new("seq", U32),
                        FieldDesc::new("reason", Str(120)),
                    ],
                ),
            ],
        }
    }

    /// Adds an entity kind (its index is the number of kinds before it).
    pub fn kind(mut self, kind: KindDesc) -> Self {
        self.kinds.push(kind);
        self
    }

    /// Sets the player record's fields.
    pub fn player_fields(mut self, fields: Vec<FieldDesc>) -> Self {
        self.player_fields = fields;
        self
    }

    /// Sets the room's fields.
    pub fn room_fields(mut self, fields: Vec<FieldDesc>) -> Self {
        self.room_fields = fields;
        self
    }

    /// Sets the input command's fields.
    pub fn input(mut self, fields: Vec<FieldDesc>) -> Self {
        self.input = fields;
        self
    }

    /// Adds an action kind.
    pub fn action(mut self, action: MessageDesc) -> Self {
        self.actions.push(action);
        self
    }

    /// Adds an event kind (after the engine's).
    pub fn event(mut self, event: MessageDesc) -> Self {
        self.events.push(event);
        self
    }

    /// Checks the rules the codec relies on.
    pub fn validate(&self) -> Result<(), SchemaError> {
        if self.kinds.len() > usize::from(u16::MAX)
            || self.actions.len() > usize::from(u16::MAX)
            || self.events.len() > usize::from(u16::MAX)
        {
            return Err(SchemaError::TooManyKinds);
        }
        let numeric = self
            .kinds
            .iter()
            .map(|k| (format!("kind {}", k.name), &k.fields))
            .chain([
                ("player fields".to_string(), &self.player_fields),
                ("room fields".to_string(), &self.room_fields),
                ("input".to_string(), &self.input),
            ]);
        for (what, fields) in numeric {
            if fields.len() > MAX_FIELDS {
                return Err(SchemaError::TooManyFields(what));
            }
            for f in fields {
                if f.ty == FieldType::Fixed(0) {
                    return Err(SchemaError::ZeroScale(format!("{what}.{}", f.name)));
                }
                if f.ty.is_text() {
                    return Err(SchemaError::TextField(format!("{what}.{}", f.name)));
                }
                if f.delta
                    && matches!(
                        f.ty,
                        FieldType::Bool | FieldType::Angle8 | FieldType::Angle16
                    )
                {
                    return Err(SchemaError::BadDelta(format!("{what}.{}", f.name)));
                }
                if f.extrapolate {
                    let bad = |why| {
                        Err(SchemaError::BadExtrapolate(
                            format!("{what}.{}", f.name),
                            why,
                        ))
                    };
                    if !what.starts_with("kind ") {
                        return bad("only entity fields are extrapolated");
                    }
                    if matches!(
                        f.ty,
                        FieldType::Bool | FieldType::Player | FieldType::Entity | FieldType::Tick
                    ) {
                        return bad("extrapolation needs an integer, fixed-point or angle type");
                    }
                    if f.delta || f.owner_only || f.discontinuity {
                        return bad(
                            "an extrapolated field is neither delta, owner_only nor discontinuity",
                        );
                    }
                }
            }
            if fields.iter().any(|f| f.extrapolate)
                && let Some(f) = fields.iter().find(|f| f.discontinuity && f.owner_only)
            {
                return Err(SchemaError::BadExtrapolate(
                    format!("{what}.{}", f.name),
                    "a kind with extrapolated fields has no owner_only discontinuity field",
                ));
            }
        }
        for m in self.actions.iter().chain(&self.events) {
            if m.fields.len() > MAX_FIELDS {
                return Err(SchemaError::TooManyFields(m.name.clone()));
            }
            if let Some(f) = m.fields.iter().find(|f| f.ty == FieldType::Fixed(0)) {
                return Err(SchemaError::ZeroScale(format!("{}.{}", m.name, f.name)));
            }
        }
        Ok(())
    }

    /// The index of the entity kind called `name`.
    pub fn kind_index(&self, name: &str) -> Option<u16> {
        self.kinds
            .iter()
            .position(|k| k.name == name)
            .map(|i| i as u16)
    }

    /// The index of the event called `name`.
    pub fn event_index(&self, name: &str) -> Option<u16> {
        self.events
            .iter()
            .position(|k| k.name == name)
            .map(|i| i as u16)
    }

    /// The index of the action called `name`.
    pub fn action_index(&self, name: &str) -> Option<u16> {
        self.actions
            .iter()
            .position(|k| k.name == name)
            .map(|i| i as u16)
    }

    /// FNV-1a of the schema's encoding: two sides with the same hash decode each other.
    pub fn hash(&self) -> u32 {
        let mut bytes = Vec::new();
        crate::sync::wire::encode_serde(self, &mut bytes);
        crate::sync::wire::fnv1a(&bytes)
    }
}

/// Declares the fields of an entity kind, a player record, the room or an input command once.
/// It expands to a module with one `usize` constant per field (its lane index), `COUNT`, and
/// `fields()`, the descriptors in that order. Flags are [`FieldDesc`]'s builder methods.
///
/// ```
/// tickwire_shared::fields! {
///     /// A ball.
///     pub mod ball {
///         x: Fixed(8), interpolate, delta;
///         y: Fixed(8), interpolate, delta;
///         spin: Angle8, interpolate;
///     }
/// }
/// assert_eq!(ball::y, 1);
/// assert_eq!(ball::COUNT, 3);
/// assert_eq!(ball::fields()[2].name, "spin");
/// ```
#[macro_export]
macro_rules! fields {
    ($(#[$meta:meta])* $vis:vis mod $name:ident {
        $($field:ident : $ty:ident $(($arg:expr))? $(, $flag:ident)* ;)*
    }) => {
        $(#[$meta])*
        #[allow(non_upper_case_globals)]
        $vis mod $name {
            #[allow(non_camel_case_types, dead_code)]
            #[repr(usize)]
            enum Index { $($field,)* __Count }
            $(
                #[doc = concat!("Lane of `", stringify!($field), "`.")]
                pub const $field: usize = Index::$field as usize;
            )*
            /// Number of fields.
            pub const COUNT: usize = Index::__Count as usize;
            /// The descriptors, in lane order.
            pub fn fields() -> ::std::vec::Vec<$crate::schema::FieldDesc> {
                ::std::vec![$(
                    $crate::schema::FieldDesc::new(
                        stringify!($field),
                        $crate::schema::FieldType::$ty $(($arg))?,
                    )$(.$flag())*
                ),*]
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    crate::fields! {
        mod body {
            x: Fixed(8), interpolate, predict, delta;
            aim: Angle8, interpolate;
            ammo: U8, owner_only;
        }
    }

    #[test]
    fn the_macro_names_each_field_once() {
        assert_eq!((body::x, body::aim, body::ammo, body::COUNT), (0, 1, 2, 3));
        let f = body::fields();
        assert_eq!(f[0].interp, Interp::Linear);
        assert!(f[0].predict && f[0].delta);
        assert_eq!(f[1].interp, Interp::Angle);
        assert!(f[2].owner_only);
    }

    #[test]
    fn validation_rejects_text_in_entities_and_delta_angles() {
        let ok = Schema::new("t").kind(KindDesc {
            name: "k".into(),
            fields: body::fields(),
        });
        assert_eq!(ok.validate(), Ok(()));
        let bad = Schema::new("t").room_fields(vec![FieldDesc::new("s", FieldType::Str(3))]);
        assert!(matches!(bad.validate(), Err(SchemaError::TextField(_))));
        let bad = Schema::new("t").input(vec![FieldDesc::new("a", FieldType::Angle8).delta()]);
        assert!(matches!(bad.validate(), Err(SchemaError::BadDelta(_))));
        let kind = |f: FieldDesc| {
            Schema::new("t").kind(KindDesc {
                name: "k".into(),
                fields: vec![f],
            })
        };
        let ok = kind(FieldDesc::new("a", FieldType::Angle8).extrapolate());
        assert_eq!(ok.validate(), Ok(()));
        for bad in [
            kind(FieldDesc::new("b", FieldType::Bool).extrapolate()),
            kind(FieldDesc::new("p", FieldType::Player).extrapolate()),
            kind(FieldDesc::new("x", FieldType::I32).extrapolate().delta()),
            kind(
                FieldDesc::new("x", FieldType::I32)
                    .extrapolate()
                    .owner_only(),
            ),
            Schema::new("t").room_fields(vec![FieldDesc::new("x", FieldType::I32).extrapolate()]),
        ] {
            assert!(
                matches!(bad.validate(), Err(SchemaError::BadExtrapolate(..))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn clamp_wraps_angles_and_saturates_the_rest() {
        assert_eq!(FieldType::Angle8.clamp(-1), 255);
        assert_eq!(FieldType::Angle16.clamp(65536), 0);
        assert_eq!(FieldType::U8.clamp(300), 255);
        assert_eq!(FieldType::I8.clamp(-300), -128);
        assert_eq!(FieldType::Bool.clamp(7), 1);
    }
}
