// The wire codec: bincode 2 "standard" configuration (little-endian, varints, zigzag), exactly
// as docs/PROTOCOL.md describes and shared/src/codec.rs implements. Messages are plain objects
// tagged with `type`; test/codec.test.js checks every message type against the golden vectors
// the Rust test suite writes, byte for byte.

export const PROTOCOL_VERSION = 1;

/** Largest message the decoder accepts (matches `MAX_MESSAGE_BYTES` in Rust). */
export const MAX_MESSAGE_BYTES = 1 << 20;

/** Bits of `InputCmd.buttons`. */
export const BUTTONS = Object.freeze({ FIRE: 1, ALT_FIRE: 2 });

/** Bits of `EntityUpdate.mask`. */
export const FIELDS = Object.freeze({ POS: 1, AIM: 2, HEALTH: 4, STATUS: 8, ALL: 15 });

const CLIENT_VARIANTS = ['Hello', 'Input', 'Ping', 'Chat'];
const SERVER_VARIANTS = ['Welcome', 'Snapshot', 'Pong'];
const EVENT_VARIANTS = ['Join', 'Leave', 'Kill', 'Respawn', 'Chat', 'Notice', 'Hitscan'];
const SPAWN_VARIANTS = ['Player', 'Projectile'];

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8', { fatal: true });

/** Why bytes could not be decoded. */
export class CodecError extends Error {
  constructor(message) {
    super(message);
    this.name = 'CodecError';
  }
}

// ---------------------------------------------------------------- writing

class Writer {
  constructor(capacity = 64) {
    this.buf = new Uint8Array(capacity);
    this.view = new DataView(this.buf.buffer);
    this.len = 0;
  }

  reserve(n) {
    if (this.len + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.len + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  u8(v) {
    this.reserve(1);
    this.buf[this.len++] = v & 0xff;
  }

  i8(v) {
    this.u8(v);
  }

  /** Unsigned varint: < 251 in one byte, else 251 + u16, 252 + u32 (smallest form that fits). */
  varint(v) {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) {
      throw new CodecError(`varint out of range: ${v}`);
    }
    this.reserve(5);
    if (v < 251) {
      this.buf[this.len++] = v;
    } else if (v <= 0xffff) {
      this.buf[this.len++] = 251;
      this.view.setUint16(this.len, v, true);
      this.len += 2;
    } else {
      this.buf[this.len++] = 252;
      this.view.setUint32(this.len, v, true);
      this.len += 4;
    }
  }

  /** Signed integer (i16/i32): zigzag, then varint. */
  zigzag(v) {
    this.varint(v >= 0 ? v * 2 : -v * 2 - 1);
  }

  f32(v) {
    this.reserve(4);
    this.view.setFloat32(this.len, v, true);
    this.len += 4;
  }

  string(s) {
    const bytes = utf8Encoder.encode(s);
    this.varint(bytes.length);
    this.reserve(bytes.length);
    this.buf.set(bytes, this.len);
    this.len += bytes.length;
  }

  option(v, write) {
    if (v === null || v === undefined) {
      this.u8(0);
    } else {
      this.u8(1);
      write(v);
    }
  }

  vec(items, write) {
    this.varint(items.length);
    for (const item of items) write(item);
  }

  variant(names, name) {
    const i = names.indexOf(name);
    if (i < 0) throw new CodecError(`unknown variant ${name}`);
    this.varint(i);
  }

  finish() {
    return this.buf.slice(0, this.len);
  }
}

// ---------------------------------------------------------------- reading

class Reader {
  constructor(bytes) {
    this.bytes = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
    this.view = new DataView(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength);
    this.pos = 0;
    if (this.bytes.length > MAX_MESSAGE_BYTES) {
      throw new CodecError(`message of ${this.bytes.length} bytes is over the limit`);
    }
  }

  need(n) {
    if (this.pos + n > this.bytes.length) throw new CodecError('unexpected end of message');
  }

  u8() {
    this.need(1);
    return this.bytes[this.pos++];
  }

  i8() {
    const v = this.u8();
    return v >= 128 ? v - 256 : v;
  }

  /** Unsigned varint of at most `max`; accepts a longer form of a value that fits. */
  varint(max) {
    const tag = this.u8();
    let v;
    if (tag < 251) {
      v = tag;
    } else if (tag === 251) {
      this.need(2);
      v = this.view.getUint16(this.pos, true);
      this.pos += 2;
    } else if (tag === 252) {
      this.need(4);
      v = this.view.getUint32(this.pos, true);
      this.pos += 4;
    } else if (tag === 253) {
      this.need(8);
      const lo = this.view.getUint32(this.pos, true);
      const hi = this.view.getUint32(this.pos + 4, true);
      this.pos += 8;
      if (hi !== 0) throw new CodecError('varint too large');
      v = lo;
    } else {
      throw new CodecError(`invalid varint tag ${tag}`);
    }
    if (v > max) throw new CodecError(`varint ${v} over ${max}`);
    return v;
  }

  u16() {
    return this.varint(0xffff);
  }

  u32() {
    return this.varint(0xffffffff);
  }

  /** Zigzag-decoded signed integer whose zigzag form is at most `max`. */
  zigzag(max) {
    const z = this.varint(max);
    return z % 2 === 0 ? z / 2 : -(z + 1) / 2;
  }

  i32() {
    return this.zigzag(0xffffffff);
  }

  f32() {
    this.need(4);
    const v = this.view.getFloat32(this.pos, true);
    this.pos += 4;
    return v;
  }

  string() {
    const len = this.varint(0xffffffff);
    this.need(len);
    let s;
    try {
      s = utf8Decoder.decode(this.bytes.subarray(this.pos, this.pos + len));
    } catch {
      throw new CodecError('string is not valid UTF-8');
    }
    this.pos += len;
    return s;
  }

  option(read) {
    const tag = this.u8();
    if (tag === 0) return null;
    if (tag === 1) return read();
    throw new CodecError(`invalid option tag ${tag}`);
  }

  vec(read) {
    const n = this.varint(0xffffffff);
    // Every element takes at least one byte: a count beyond what is left is a lie.
    if (n > this.bytes.length - this.pos) throw new CodecError(`vector of ${n} cannot fit`);
    const out = new Array(n);
    for (let i = 0; i < n; i++) out[i] = read();
    return out;
  }

  variant(names) {
    const i = this.u32();
    if (i >= names.length) throw new CodecError(`unknown variant index ${i}`);
    return names[i];
  }

  end() {
    if (this.pos !== this.bytes.length) {
      throw new CodecError(`${this.bytes.length - this.pos} trailing bytes after the message`);
    }
  }
}

// ---------------------------------------------------------------- client messages

function writeCmd(w, c) {
  w.varint(c.seq);
  w.i8(c.move_x);
  w.i8(c.move_y);
  w.varint(c.aim);
  w.u8(c.buttons);
  w.varint(c.view_tick);
}

function readCmd(r) {
  return {
    seq: r.u32(),
    move_x: r.i8(),
    move_y: r.i8(),
    aim: r.u16(),
    buttons: r.u8(),
    view_tick: r.u32(),
  };
}

/** Encodes a `ClientMsg` object (`{type: 'Hello' | 'Input' | 'Ping' | 'Chat', ...}`). */
export function encodeClient(msg) {
  const w = new Writer(32);
  w.variant(CLIENT_VARIANTS, msg.type);
  switch (msg.type) {
    case 'Hello':
      w.varint(msg.protocol_version);
      w.string(msg.name);
      w.option(msg.auth_token, (s) => w.string(s));
      w.option(msg.resume_token, (s) => w.string(s));
      break;
    case 'Input':
      w.vec(msg.cmds, (c) => writeCmd(w, c));
      break;
    case 'Ping':
      w.varint(msg.client_time);
      break;
    case 'Chat':
      w.string(msg.text);
      break;
  }
  return w.finish();
}

/** Decodes a `ClientMsg` (used by tests and the load bots' self-checks). */
export function decodeClient(bytes) {
  const r = new Reader(bytes);
  const type = r.variant(CLIENT_VARIANTS);
  let msg;
  switch (type) {
    case 'Hello':
      msg = {
        type,
        protocol_version: r.u16(),
        name: r.string(),
        auth_token: r.option(() => r.string()),
        resume_token: r.option(() => r.string()),
      };
      break;
    case 'Input':
      msg = { type, cmds: r.vec(() => readCmd(r)) };
      break;
    case 'Ping':
      msg = { type, client_time: r.u32() };
      break;
    case 'Chat':
      msg = { type, text: r.string() };
      break;
  }
  r.end();
  return msg;
}

// ---------------------------------------------------------------- server messages

const RECT_FIELDS = ['min_x', 'min_y', 'max_x', 'max_y'];

// Rules fields in wire order with their types.
const RULES_LAYOUT = [
  ['tick_rate', 'u16'],
  ['player_radius', 'f32'],
  ['player_speed', 'f32'],
  ['max_health', 'u8'],
  ['respawn_ticks', 'u16'],
  ['projectile_speed', 'f32'],
  ['projectile_radius', 'f32'],
  ['projectile_lifetime_ticks', 'u16'],
  ['projectile_damage', 'u8'],
  ['fire_cooldown_ticks', 'u16'],
  ['hitscan_damage', 'u8'],
  ['hitscan_range', 'f32'],
  ['hitscan_cooldown_ticks', 'u16'],
];

function readRules(r) {
  const rules = {};
  for (const [name, ty] of RULES_LAYOUT) {
    rules[name] = ty === 'u16' ? r.u16() : ty === 'u8' ? r.u8() : r.f32();
  }
  return rules;
}

function writeRules(w, rules) {
  for (const [name, ty] of RULES_LAYOUT) {
    if (ty === 'u16') w.varint(rules[name]);
    else if (ty === 'u8') w.u8(rules[name]);
    else w.f32(rules[name]);
  }
}

function readArena(r) {
  return {
    width: r.f32(),
    height: r.f32(),
    obstacles: r.vec(() => {
      const o = {};
      for (const f of RECT_FIELDS) o[f] = r.f32();
      return o;
    }),
  };
}

function writeArena(w, a) {
  w.f32(a.width);
  w.f32(a.height);
  w.vec(a.obstacles, (o) => {
    for (const f of RECT_FIELDS) w.f32(o[f]);
  });
}

function readPlayerState(r) {
  return { x: r.i32(), y: r.i32(), aim: r.u8(), health: r.u8(), status: r.u8() };
}

function writePlayerState(w, s) {
  w.zigzag(s.x);
  w.zigzag(s.y);
  w.u8(s.aim);
  w.u8(s.health);
  w.u8(s.status);
}

function readSpawn(r) {
  const id = r.u32();
  const type = r.variant(SPAWN_VARIANTS);
  if (type === 'Player') {
    return { id, kind: { type, player: r.u32(), state: readPlayerState(r) } };
  }
  return {
    id,
    kind: {
      type,
      owner: r.u32(),
      origin_x: r.i32(),
      origin_y: r.i32(),
      heading: r.u16(),
      spawn_tick: r.u32(),
    },
  };
}

function writeSpawn(w, s) {
  w.varint(s.id);
  const k = s.kind;
  w.variant(SPAWN_VARIANTS, k.type);
  if (k.type === 'Player') {
    w.varint(k.player);
    writePlayerState(w, k.state);
  } else {
    w.varint(k.owner);
    w.zigzag(k.origin_x);
    w.zigzag(k.origin_y);
    w.varint(k.heading);
    w.varint(k.spawn_tick);
  }
}

function readUpdate(r) {
  const id = r.u32();
  const mask = r.u8();
  if (mask & ~FIELDS.ALL) throw new CodecError('unknown bits in entity update mask');
  const u = { id, mask, dx: 0, dy: 0, aim: 0, health: 0, status: 0 };
  if (mask & FIELDS.POS) {
    u.dx = r.i32();
    u.dy = r.i32();
  }
  if (mask & FIELDS.AIM) u.aim = r.u8();
  if (mask & FIELDS.HEALTH) u.health = r.u8();
  if (mask & FIELDS.STATUS) u.status = r.u8();
  return u;
}

function writeUpdate(w, u) {
  w.varint(u.id);
  w.u8(u.mask);
  if (u.mask & FIELDS.POS) {
    w.zigzag(u.dx);
    w.zigzag(u.dy);
  }
  if (u.mask & FIELDS.AIM) w.u8(u.aim);
  if (u.mask & FIELDS.HEALTH) w.u8(u.health);
  if (u.mask & FIELDS.STATUS) w.u8(u.status);
}

function readEvent(r) {
  const type = r.variant(EVENT_VARIANTS);
  switch (type) {
    case 'Join':
      return { type, player: r.u32(), name: r.string() };
    case 'Leave':
    case 'Respawn':
      return { type, player: r.u32() };
    case 'Kill':
      return { type, killer: r.u32(), victim: r.u32() };
    case 'Chat':
      return { type, player: r.u32(), text: r.string() };
    case 'Notice':
      return { type, text: r.string() };
    case 'Hitscan':
      return {
        type,
        shooter: r.u32(),
        from_x: r.i32(),
        from_y: r.i32(),
        to_x: r.i32(),
        to_y: r.i32(),
        victim: r.option(() => r.u32()),
      };
  }
  throw new CodecError(`unhandled event ${type}`);
}

function writeEvent(w, e) {
  w.variant(EVENT_VARIANTS, e.type);
  switch (e.type) {
    case 'Join':
      w.varint(e.player);
      w.string(e.name);
      break;
    case 'Leave':
    case 'Respawn':
      w.varint(e.player);
      break;
    case 'Kill':
      w.varint(e.killer);
      w.varint(e.victim);
      break;
    case 'Chat':
      w.varint(e.player);
      w.string(e.text);
      break;
    case 'Notice':
      w.string(e.text);
      break;
    case 'Hitscan':
      w.varint(e.shooter);
      w.zigzag(e.from_x);
      w.zigzag(e.from_y);
      w.zigzag(e.to_x);
      w.zigzag(e.to_y);
      w.option(e.victim, (v) => w.varint(v));
      break;
  }
}

/** Decodes a `ServerMsg`; throws `CodecError` on anything that is not exactly one message. */
export function decodeServer(bytes) {
  const r = new Reader(bytes);
  const type = r.variant(SERVER_VARIANTS);
  let msg;
  switch (type) {
    case 'Welcome':
      msg = {
        type,
        protocol_version: r.u16(),
        player_id: r.u32(),
        entity_id: r.u32(),
        tick_rate: r.u16(),
        tick: r.u32(),
        view_radius: r.f32(),
        checksum_interval: r.u16(),
        arena: readArena(r),
        rules: readRules(r),
        players: r.vec(() => ({ id: r.u32(), name: r.string(), score: r.u32(), deaths: r.u32() })),
        resume_token: r.string(),
      };
      break;
    case 'Snapshot':
      msg = {
        type,
        tick: r.u32(),
        ack_input_seq: r.u32(),
        removed: r.vec(() => r.u32()),
        created: r.vec(() => readSpawn(r)),
        updated: r.vec(() => readUpdate(r)),
        events: r.vec(() => readEvent(r)),
        checksum: r.option(() => r.u32()),
      };
      break;
    case 'Pong':
      msg = { type, client_time: r.u32(), tick: r.u32() };
      break;
  }
  r.end();
  return msg;
}

/** Encodes a `ServerMsg` (used by tests to prove the decoder reads every byte as Rust wrote it). */
export function encodeServer(msg) {
  const w = new Writer(128);
  w.variant(SERVER_VARIANTS, msg.type);
  switch (msg.type) {
    case 'Welcome':
      w.varint(msg.protocol_version);
      w.varint(msg.player_id);
      w.varint(msg.entity_id);
      w.varint(msg.tick_rate);
      w.varint(msg.tick);
      w.f32(msg.view_radius);
      w.varint(msg.checksum_interval);
      writeArena(w, msg.arena);
      writeRules(w, msg.rules);
      w.vec(msg.players, (p) => {
        w.varint(p.id);
        w.string(p.name);
        w.varint(p.score);
        w.varint(p.deaths);
      });
      w.string(msg.resume_token);
      break;
    case 'Snapshot':
      w.varint(msg.tick);
      w.varint(msg.ack_input_seq);
      w.vec(msg.removed, (id) => w.varint(id));
      w.vec(msg.created, (s) => writeSpawn(w, s));
      w.vec(msg.updated, (u) => writeUpdate(w, u));
      w.vec(msg.events, (e) => writeEvent(w, e));
      w.option(msg.checksum, (c) => w.varint(c));
      break;
    case 'Pong':
      w.varint(msg.client_time);
      w.varint(msg.tick);
      break;
  }
  return w.finish();
}
