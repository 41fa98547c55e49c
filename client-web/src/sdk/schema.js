// The game's schema as it arrives in Welcome (shared/src/schema.rs), in the JSON shape
// serde_json gives it, plus what the codec needs from it.
//
// Schema      = { game, kinds: [KindDesc], player_fields: [FieldDesc], room_fields, input,
//                 actions: [MessageDesc], events: [MessageDesc] }
// KindDesc    = MessageDesc = { name, fields: [FieldDesc] }
// FieldDesc   = { name, ty, interp, predict, owner_only, delta, discontinuity, extrapolate }
// ty          = "Bool" | "U8" | "U16" | "U32" | "I8" | "I16" | "I32" | { Fixed: scale }
//               | "Angle8" | "Angle16" | "Player" | "Entity" | { Str: max_chars } | "Tick"
// interp      = "None" | "Linear" | "Angle"
//
// On the wire (bincode 2 + serde): a Vec is a varint length then its items, a String a varint
// byte length then UTF-8, u16/u32 varints, a bool one byte, an enum its variant index (varint)
// then the variant's payload (Fixed and Str: a u16).

import { Fnv1a, RANGES, Reader, T, TYPE_NAMES, WireError, Writer } from './wire.js';

/** Most fields one kind, the player record, the room or the input may have (mask bits). */
export const MAX_FIELDS = 64;

/** Interpolation modes by variant index. */
export const INTERP_NAMES = Object.freeze(['None', 'Linear', 'Angle']);

/** Events every game has, first in `schema.events` (shared/src/schema.rs `engine_events`). */
export const ENGINE_EVENTS = Object.freeze({ CHAT: 0, NOTICE: 1, REJECTED: 2, COUNT: 3 });

const PAYLOAD = new Set([T.Fixed, T.Str]);

/** The type code of a `ty` (0..=13, see `T`); throws on anything else. */
export function typeCode(ty) {
  if (typeof ty === 'string') {
    const c = TYPE_NAMES.indexOf(ty);
    if (c >= 0 && !PAYLOAD.has(c)) return c;
  } else if (ty !== null && typeof ty === 'object') {
    const keys = Object.keys(ty);
    if (keys.length === 1) {
      const c = TYPE_NAMES.indexOf(keys[0]);
      if (PAYLOAD.has(c)) return c;
    }
  }
  throw new WireError('Invalid', `unknown field type ${JSON.stringify(ty)}`);
}

/** The payload of `{Fixed: scale}` or `{Str: max}`, else undefined. */
export function typeArg(ty) {
  return typeof ty === 'object' && ty !== null ? Object.values(ty)[0] : undefined;
}

// ---------------------------------------------------------------- bytes

function readField(r) {
  const name = r.serdeStr();
  const code = r.variant(TYPE_NAMES.length, 'FieldType');
  const ty = PAYLOAD.has(code) ? { [TYPE_NAMES[code]]: r.serdeU16() } : TYPE_NAMES[code];
  const interp = INTERP_NAMES[r.variant(INTERP_NAMES.length, 'Interp')];
  return {
    name,
    ty,
    interp,
    predict: r.bool(),
    owner_only: r.bool(),
    delta: r.bool(),
    discontinuity: r.bool(),
    extrapolate: r.bool(),
  };
}

function readList(r, item) {
  const n = r.serdeLen();
  const out = new Array(n);
  for (let i = 0; i < n; i++) out[i] = item(r);
  return out;
}

const readFields = (r) => readList(r, readField);
const readMessage = (r) => ({ name: r.serdeStr(), fields: readFields(r) });

/** Reads a Schema (bincode/serde) at the reader's position. Does not validate it. */
export function readSchema(r) {
  return {
    game: r.serdeStr(),
    kinds: readList(r, readMessage),
    player_fields: readFields(r),
    room_fields: readFields(r),
    input: readFields(r),
    actions: readList(r, readMessage),
    events: readList(r, readMessage),
  };
}

function writeField(w, f) {
  w.str(f.name);
  const code = typeCode(f.ty);
  w.varint(code);
  if (PAYLOAD.has(code)) w.serdeUint(typeArg(f.ty), 0xffff);
  const interp = INTERP_NAMES.indexOf(f.interp ?? 'None');
  if (interp < 0) throw new WireError('Invalid', `unknown interp ${f.interp}`);
  w.varint(interp);
  w.bool(!!f.predict);
  w.bool(!!f.owner_only);
  w.bool(!!f.delta);
  w.bool(!!f.discontinuity);
  w.bool(!!f.extrapolate);
}

function writeFields(w, fields) {
  w.varint(fields.length);
  for (const f of fields) writeField(w, f);
}

function writeMessages(w, list) {
  w.varint(list.length);
  for (const m of list) {
    w.str(m.name);
    writeFields(w, m.fields);
  }
}

/** Appends a Schema (bincode/serde), byte for byte what Rust writes. */
export function writeSchema(w, s) {
  w.str(s.game);
  writeMessages(w, s.kinds);
  writeFields(w, s.player_fields);
  writeFields(w, s.room_fields);
  writeFields(w, s.input);
  writeMessages(w, s.actions);
  writeMessages(w, s.events);
}

/** A schema's bincode bytes. */
export function encodeSchema(schema) {
  const w = new Writer(512);
  writeSchema(w, schema);
  return w.finish();
}

/** Decodes a schema from its bincode bytes alone (the whole slice). */
export function decodeSchema(bytes) {
  const r = new Reader(bytes);
  const s = readSchema(r);
  r.finish();
  return s;
}

/** FNV-1a of the schema's encoding (`Schema::hash`): two sides with the same hash agree. */
export function schemaHash(schema) {
  const h = new Fnv1a();
  h.bytes(encodeSchema(schema));
  return h.value;
}

// ---------------------------------------------------------------- rules

/**
 * Throws unless the schema keeps the rules the codec relies on (`Schema::validate`, plus a
 * non-zero Fixed scale and well-formed descriptors).
 */
export function validateSchema(s) {
  const bad = (msg) => {
    throw new WireError('Invalid', `bad schema: ${msg}`);
  };
  if (s === null || typeof s !== 'object') bad('not an object');
  for (const key of ['kinds', 'player_fields', 'room_fields', 'input', 'actions', 'events']) {
    if (!Array.isArray(s[key])) bad(`${key} is not a list`);
  }
  if (s.kinds.length > 0xffff || s.actions.length > 0xffff || s.events.length > 0xffff) {
    bad('too many kinds');
  }
  const check = (what, fields, numeric) => {
    if (!Array.isArray(fields)) bad(`${what} has no field list`);
    if (fields.length > MAX_FIELDS) bad(`${what} has more than ${MAX_FIELDS} fields`);
    for (const f of fields) {
      const code = typeCode(f.ty);
      if (PAYLOAD.has(code)) {
        const arg = typeArg(f.ty);
        if (!Number.isInteger(arg) || arg < 0 || arg > 0xffff) bad(`${what}.${f.name}: bad ${TYPE_NAMES[code]}`);
        if (code === T.Fixed && arg === 0) bad(`${what}.${f.name}: Fixed(0) has no scale`);
      }
      if (numeric && code === T.Str) {
        bad(`${what}.${f.name} is text; entity, player, room and input fields are numbers`);
      }
      if (numeric && f.delta && (code === T.Bool || code === T.Angle8 || code === T.Angle16)) {
        bad(`${what}.${f.name}: delta encoding needs an integer or fixed-point type`);
      }
      if (numeric && f.extrapolate) {
        if (!what.startsWith('kind ')) bad(`${what}.${f.name}: only entity fields are extrapolated`);
        if (code === T.Bool || code === T.Player || code === T.Entity || code === T.Tick) {
          bad(`${what}.${f.name}: extrapolation needs an integer, fixed-point or angle type`);
        }
        if (f.delta || f.owner_only || f.discontinuity) {
          bad(`${what}.${f.name}: an extrapolated field is neither delta, owner_only nor discontinuity`);
        }
      }
    }
    if (numeric && fields.some((f) => f.extrapolate)) {
      const f = fields.find((g) => g.discontinuity && g.owner_only);
      if (f) bad(`${what}.${f.name}: a kind with extrapolated fields has no owner_only discontinuity field`);
    }
  };
  s.kinds.forEach((k) => check(`kind ${k.name}`, k.fields, true));
  check('player fields', s.player_fields, true);
  check('room fields', s.room_fields, true);
  check('input', s.input, true);
  for (const m of s.actions) check(`action ${m.name}`, m.fields, false);
  for (const m of s.events) check(`event ${m.name}`, m.fields, false);
}

// ---------------------------------------------------------------- compiled form

/**
 * @typedef {object} FieldPlan
 * @property {Int8Array} codes type code per field
 * @property {Uint8Array} delta 1 where the field is delta-encoded in updates
 * @property {Uint8Array} extrap 1 where the field is extrapolated (residuals in updates)
 * @property {number[]} xs the extrapolated fields' indices
 * @property {boolean[]} jumps per field: a discontinuity of a kind with extrapolated fields
 * @property {Int32Array} args Str max chars (or Fixed scale) per field
 * @property {Map<string, number>} index field name → lane index
 */

const plans = new WeakMap();

function planFields(fields) {
  const n = fields.length;
  const p = {
    fields,
    codes: new Int8Array(n),
    delta: new Uint8Array(n),
    extrap: new Uint8Array(n),
    xs: [],
    jumps: [],
    args: new Int32Array(n),
    index: new Map(),
  };
  const anyX = fields.some((f) => f.extrapolate);
  fields.forEach((f, i) => {
    p.codes[i] = typeCode(f.ty);
    p.delta[i] = f.delta ? 1 : 0;
    p.extrap[i] = f.extrapolate ? 1 : 0;
    if (f.extrapolate) p.xs.push(i);
    p.jumps[i] = anyX && !!f.discontinuity;
    p.args[i] = typeArg(f.ty) ?? 0;
    if (!p.index.has(f.name)) p.index.set(f.name, i);
  });
  return p;
}

function byName(list) {
  const m = new Map();
  list.forEach((k, i) => {
    if (!m.has(k.name)) m.set(k.name, i);
  });
  return m;
}

/**
 * The schema in the form the codec reads (type codes in typed arrays, name indexes), built
 * once per schema object. Treat a schema as immutable once used.
 */
export function plan(schema) {
  let p = plans.get(schema);
  if (p === undefined) {
    p = {
      kinds: schema.kinds.map((k) => planFields(k.fields)),
      player: planFields(schema.player_fields),
      room: planFields(schema.room_fields),
      input: planFields(schema.input),
      actions: schema.actions.map((m) => planFields(m.fields)),
      events: schema.events.map((m) => planFields(m.fields)),
      kindIndex: byName(schema.kinds),
      actionIndex: byName(schema.actions),
      eventIndex: byName(schema.events),
    };
    plans.set(schema, p);
  }
  return p;
}

/** The index of the entity kind called `name`, or throws. */
export function kindIndex(schema, name) {
  const i = plan(schema).kindIndex.get(name);
  if (i === undefined) throw new Error(`the schema has no entity kind "${name}"`);
  return i;
}

/** The index of the action called `name`, or throws. */
export function actionIndex(schema, name) {
  const i = plan(schema).actionIndex.get(name);
  if (i === undefined) throw new Error(`the schema has no action "${name}"`);
  return i;
}

/** The index of the event called `name`, or throws. */
export function eventIndex(schema, name) {
  const i = plan(schema).eventIndex.get(name);
  if (i === undefined) throw new Error(`the schema has no event "${name}"`);
  return i;
}

// ---------------------------------------------------------------- values

const TAU = 2 * Math.PI;

/**
 * A lane as the value the game means: Fixed → lane / scale, Angle8 → radians (lane / 256 · 2π),
 * Angle16 → radians (lane / 65536 · 2π), Bool → true/false, anything else the lane itself.
 */
export function dequantize(ty, lane) {
  return dequantizeCode(typeCode(ty), typeArg(ty), lane);
}

/** `dequantize` by type code and argument (a plan's `codes[i]`, `args[i]`): no look-ups. */
export function dequantizeCode(code, arg, lane) {
  switch (code) {
    case T.Fixed: return lane / arg;
    case T.Angle8: return (lane / 256) * TAU;
    case T.Angle16: return (lane / 65536) * TAU;
    case T.Bool: return lane !== 0;
    default: return lane;
  }
}

// Rust's f64::round: half away from zero.
const roundHalfAway = (v) => (v < 0 ? -Math.round(-v) : Math.round(v));

/**
 * The lane for a value (the inverse of `dequantize`, in f64): Fixed rounds value × scale, angles
 * wrap radians into one turn, Bool takes truthiness; everything clamps to the type's range.
 */
export function quantize(ty, value) {
  const code = typeCode(ty);
  if (code === T.Str) throw new WireError('Invalid', 'text has no lane');
  let v;
  switch (code) {
    case T.Bool: return value ? 1 : 0;
    case T.Fixed: v = roundHalfAway(value * typeArg(ty)); break;
    case T.Angle8: case T.Angle16: {
      const turn = code === T.Angle8 ? 256 : 65536;
      const r = roundHalfAway((((value % TAU) + TAU) % TAU / TAU) * turn);
      return ((r % turn) + turn) % turn;
    }
    default: v = roundHalfAway(Number(value));
  }
  if (Number.isNaN(v)) v = 0;
  const [lo, hi] = RANGES[code];
  return Math.min(hi, Math.max(lo, v));
}
