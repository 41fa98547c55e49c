// Protocol v4 messages, encoded field by field from the game's schema, exactly as
// shared/src/sync/mod.rs. Messages are plain objects tagged with `type`, in the shapes of
// client-web/test/vectors/wire/vectors.json:
//
// Client → server
//   { type: 'Hello', protocol_version, name, auth_token, resume_token }   (tokens: string|null)
//   { type: 'Input', cmds: [{ seq, view_tick, lanes: [one per schema.input field] }] }
//   { type: 'Ping', client_time }
//   { type: 'Chat', text }
//   { type: 'Action', seq, kind, values: [number|string per field of schema.actions[kind]] }
// Server → client
//   { type: 'Welcome', protocol_version, player_id, tick_rate, tick, checksum_interval,
//     resume_token, resumed, schema, game_config }
//   { type: 'Snapshot', tick, ack_input_seq, removed: [id], created: [{ id, kind, lanes }],
//     updated: [{ id, mask, lanes }], players_left: [id],
//     players_joined: [{ id, name, connected, lanes }], players_changed: [{ id, connected, lanes }],
//     room: lanes|null, events: [{ kind, values }], checksum: u32|null,
//     reset?: [id] }   (only when some update carried the reset escape: those entities'
//     per-tick changes restart from 0 after it)
//   { type: 'Pong', client_time, tick }
//   { type: 'Marker', gap }   (a tick with nothing new; the replica turns it into a snapshot)
//   { type: 'Redirect', url, room, seat }   (before any Welcome: the room is on another node;
//     a close with 4007 follows, and connection.js goes there)
//   { type: 'Acked', back, snapshot }   (message 5, over WebTransport: `snapshot` is a
//     Snapshot against the replica of tick `snapshot.tick - back`, 0 meaning an empty one;
//     decode it with that replica's `held`: acked.js)
//   { type: 'Events', tick, events: [{ kind, values }] }   (message 6: events apart from the
//     snapshots, over WebTransport)
//
// An update's lanes are one per set mask bit, ascending; for a `delta` field the lane is the
// change from the value the client holds, for an `extrapolate` field the residual against the
// client's own prediction (replica.js). The `updated` section is a bit stream (bits.js) whose
// updates name their entity by its place in the client's view after the snapshot's removals and
// creations, so both directions need `held`: the `[id, kind]` pairs the client holds before the
// snapshot, ascending by id (`replica.held()`).

import { plan, readSchema, validateSchema, writeSchema } from './schema.js';
import { BitReader, BitWriter, codesOf, kindBits, spawnCodesOf } from './bits.js';
import { Reader, T, WireError, Writer, maskBits, maskOf } from './wire.js';

/** Version 4 of the protocol (schema-driven, extrapolated fields, tick markers, bit-packed updates). */
export const PROTOCOL_VERSION = 5;
/** Longest player name, in characters (shared/src/protocol.rs). */
export const MAX_NAME_CHARS = 24;
/** Longest chat line, in characters (shared/src/protocol.rs). */
export const MAX_CHAT_CHARS = 200;
/** Largest message a server accepts (shared/src/codec.rs). */
export const MAX_MESSAGE_BYTES = 1 << 20;

/** Bits of a snapshot's section byte (`sync::sections`). */
export const SECTIONS = Object.freeze({
  UPDATED: 1, CREATED: 2, REMOVED: 4, EVENTS: 8, PLAYERS_CHANGED: 16, ROOM: 32, CHECKSUM: 64,
  PLAYERS: 128,
});

const CLIENT_TYPES = ['Hello', 'Input', 'Ping', 'Chat', 'Action'];
const SERVER_TYPES = ['Welcome', 'Snapshot', 'Pong', 'Marker', 'Redirect', 'Acked', 'Events'];

const invalid = (msg) => new WireError('Invalid', msg);
const list = (v) => v ?? [];

function needSchema(schema, what) {
  if (schema === null || schema === undefined || typeof schema !== 'object') {
    throw invalid(`${what} needs the schema (from Welcome)`);
  }
  return plan(schema);
}

// ---------------------------------------------------------------- lanes and values

function writeLanes(w, p, lanes, what) {
  if (!Array.isArray(lanes) || lanes.length !== p.codes.length) {
    throw invalid(`${what}: ${p.codes.length} lanes expected, got ${lanes?.length}`);
  }
  for (let i = 0; i < p.codes.length; i++) w.lane(p.codes[i], lanes[i]);
}

function readLanes(r, p) {
  const n = p.codes.length;
  const out = new Array(n);
  for (let i = 0; i < n; i++) out[i] = r.lane(p.codes[i]);
  return out;
}

function writeValues(w, p, values, what) {
  if (!Array.isArray(values) || values.length !== p.codes.length) {
    throw invalid(`${what}: ${p.codes.length} values expected, got ${values?.length}`);
  }
  for (let i = 0; i < p.codes.length; i++) {
    if (p.codes[i] === T.Str) w.str(values[i], p.args[i]);
    else w.lane(p.codes[i], values[i]);
  }
}

function readValues(r, p) {
  const n = p.codes.length;
  const out = new Array(n);
  for (let i = 0; i < n; i++) {
    out[i] = p.codes[i] === T.Str ? r.str(p.args[i]) : r.lane(p.codes[i]);
  }
  return out;
}

function kindIndex(v, len, what) {
  if (typeof v === 'number' && v < len) return v;
  throw invalid(`unknown ${what} ${v}`);
}

function u32(v, what) {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw invalid(`${what}: ${v} is not a u32`);
  return v;
}

// ---------------------------------------------------------------- client messages

/**
 * Encodes a client message. `schema` (from Welcome) is needed for Input and Action.
 * @returns {Uint8Array}
 */
export function encodeClient(msg, schema) {
  const w = new Writer(64);
  const variant = CLIENT_TYPES.indexOf(msg?.type);
  if (variant < 0) throw invalid(`unknown client message ${msg?.type}`);
  w.varint(variant);
  switch (msg.type) {
    case 'Hello':
      w.serdeUint(msg.protocol_version, 0xffff);
      w.str(msg.name);
      w.optionStr(msg.auth_token);
      w.optionStr(msg.resume_token);
      break;
    case 'Input': {
      const p = needSchema(schema, 'Input').input;
      const cmds = list(msg.cmds);
      w.varint(cmds.length);
      for (const c of cmds) {
        w.varint(u32(c.seq, 'seq'));
        w.varint(u32(c.view_tick, 'view_tick'));
        writeLanes(w, p, c.lanes, 'input');
      }
      break;
    }
    case 'Ping':
      w.serdeUint(msg.client_time, 0xffffffff);
      break;
    case 'Chat':
      w.str(msg.text);
      break;
    case 'Action': {
      const p = needSchema(schema, 'Action');
      const kind = kindIndex(msg.kind, p.actions.length, 'action');
      w.varint(u32(msg.seq, 'seq'));
      w.varint(kind);
      writeValues(w, p.actions[kind], msg.values, `action ${schema.actions[kind].name}`);
      break;
    }
  }
  return w.finish();
}

/** Decodes a client message (the whole byte slice). `schema` is needed for Input and Action. */
export function decodeClient(bytes, schema) {
  const r = new Reader(bytes);
  const v = r.varint();
  let msg;
  switch (v) {
    case 0:
      msg = {
        type: 'Hello',
        protocol_version: r.serdeU16(),
        name: r.serdeStr(),
        auth_token: r.optionStr(),
        resume_token: r.optionStr(),
      };
      break;
    case 1: {
      const p = needSchema(schema, 'Input').input;
      const n = r.count();
      const cmds = [];
      for (let i = 0; i < n; i++) {
        const seq = r.varint32();
        const view_tick = r.varint32();
        cmds.push({ seq, view_tick, lanes: readLanes(r, p) });
      }
      msg = { type: 'Input', cmds };
      break;
    }
    case 2:
      msg = { type: 'Ping', client_time: r.serdeU32() };
      break;
    case 3:
      msg = { type: 'Chat', text: r.str(MAX_MESSAGE_BYTES) };
      break;
    case 4: {
      const p = needSchema(schema, 'Action');
      const seq = r.varint32();
      const kind = kindIndex(r.varint(), p.actions.length, 'action');
      msg = { type: 'Action', seq, kind, values: readValues(r, p.actions[kind]) };
      break;
    }
    default:
      throw invalid(`unknown client message ${v}`);
  }
  r.finish();
  return msg;
}

// ---------------------------------------------------------------- server messages

/**
 * Encodes a server message (a test server, a replay tool). A snapshot's updates are numbered in
 * the client's view, so `held` is what the client holds before it: `[id, kind]` pairs, ascending
 * by id (`replica.held()`); updates must name entities of that view after the snapshot's
 * removals and creations, in ascending id order.
 * @returns {Uint8Array}
 */
export function encodeServer(msg, schema, held = []) {
  const w = new Writer(128);
  const variant = SERVER_TYPES.indexOf(msg?.type);
  if (variant < 0) throw invalid(`unknown server message ${msg?.type}`);
  w.varint(variant);
  switch (msg.type) {
    case 'Welcome':
      w.serdeUint(msg.protocol_version, 0xffff);
      w.serdeUint(msg.player_id, 0xffffffff);
      w.serdeUint(msg.tick_rate, 0xffff);
      w.serdeUint(msg.tick, 0xffffffff);
      w.serdeUint(msg.checksum_interval, 0xffff);
      w.str(msg.resume_token);
      w.bool(msg.resumed);
      writeSchema(w, msg.schema);
      w.str(msg.game_config);
      break;
    case 'Snapshot':
      encodeSnapshot(w, msg, needSchema(schema, 'a snapshot'), held);
      break;
    case 'Pong':
      w.serdeUint(msg.client_time, 0xffffffff);
      w.serdeUint(msg.tick, 0xffffffff);
      break;
    case 'Marker':
      if (!Number.isInteger(msg.gap) || msg.gap < 1) throw invalid(`a tick marker's gap: ${msg.gap}`);
      w.varint(u32(msg.gap, 'gap'));
      break;
    case 'Redirect':
      // serde's three strings, as Welcome's resume_token.
      w.str(msg.url);
      w.str(msg.room);
      w.str(msg.seat);
      break;
    case 'Acked': {
      const back = u32(msg.back, 'back');
      if (back > msg.snapshot.tick) throw invalid(`a snapshot of tick ${msg.snapshot.tick} against ${back} ticks before it`);
      w.varint(back);
      encodeSnapshot(w, msg.snapshot, needSchema(schema, 'a snapshot'), held);
      break;
    }
    case 'Events': {
      const p = needSchema(schema, 'events');
      w.varint(u32(msg.tick, 'tick'));
      writeEvents(w, p, list(msg.events));
      break;
    }
  }
  return w.finish();
}

function encodeSnapshot(w, s, p, held) {
  const removed = list(s.removed);
  const created = list(s.created);
  const updated = list(s.updated);
  const left = list(s.players_left);
  const joined = list(s.players_joined);
  const changed = list(s.players_changed);
  const events = list(s.events);
  const room = s.room ?? null;
  const checksum = s.checksum ?? null;
  w.varint(u32(s.tick, 'tick'));
  w.varint(u32(s.ack_input_seq, 'ack_input_seq'));
  let bits = 0;
  if (updated.length) bits |= SECTIONS.UPDATED;
  if (created.length) bits |= SECTIONS.CREATED;
  if (removed.length) bits |= SECTIONS.REMOVED;
  if (events.length) bits |= SECTIONS.EVENTS;
  if (changed.length) bits |= SECTIONS.PLAYERS_CHANGED;
  if (room !== null) bits |= SECTIONS.ROOM;
  if (checksum !== null) bits |= SECTIONS.CHECKSUM;
  if (left.length || joined.length) bits |= SECTIONS.PLAYERS;
  w.u8(bits);
  if (removed.length) {
    // Each removal's skip over what the client held before (ascending).
    w.varint(removed.length);
    const b = new BitWriter();
    let rank = 0;
    let next = 0;
    for (const id of removed) {
      while (rank < held.length && held[rank][0] < id) rank++;
      if (rank >= held.length || held[rank][0] !== id) {
        throw invalid(`a removal of entity ${id} that the client does not hold (or out of order)`);
      }
      b.gamma(rank - next + 1);
      next = rank + 1;
      rank++;
    }
    w.bytes(Uint8Array.from(b.finish()));
  }
  if (created.length) {
    // Each creation's id (a gap from the last), kind, and lanes in their spawn codes.
    w.varint(created.length);
    const b = new BitWriter();
    const kb = kindBits(p.kinds.length);
    let last = -1;
    for (const c of created) {
      const kind = kindIndex(c.kind, p.kinds.length, 'entity kind');
      const id = u32(c.id, 'created id');
      if (id <= last) throw invalid(`creations in ascending id order (entity ${id})`);
      b.gamma(id - last);
      last = id;
      b.put(kind, kb);
      const k = p.kinds[kind];
      if (!Array.isArray(c.lanes) || c.lanes.length !== k.codes.length) {
        throw invalid(`entity ${id}: ${k.codes.length} lanes expected`);
      }
      const codes = spawnCodesOf(k);
      c.lanes.forEach((v, f) => b.spawnLane(codes[f], k.codes[f], v, s.tick));
    }
    w.bytes(Uint8Array.from(b.finish()));
  }
  if (updated.length) {
    w.varint(updated.length);
    const view = viewAfter(held, removed, created);
    const reset = new Set(list(s.reset));
    const b = new BitWriter();
    let rank = 0;
    let next = 0;
    for (const u of updated) {
      while (rank < view.length && view[rank][0] < u.id) rank++;
      if (rank >= view.length || view[rank][0] !== u.id) {
        throw invalid(`an update of entity ${u.id} that the client does not hold (or out of order)`);
      }
      const kind = view[rank][1];
      const k = p.kinds[kind];
      const codes = codesOf(k);
      const set = maskBits(u.mask);
      if (set.length && set[set.length - 1] >= k.codes.length) {
        throw invalid(`mask bits beyond kind ${kind}`);
      }
      if (!Array.isArray(u.lanes) || u.lanes.length !== set.length) {
        throw invalid(`entity ${u.id}: one lane per mask bit expected`);
      }
      b.gamma(rank - next + 1);
      next = rank + 1;
      rank++;
      const courses = k.extrap.some((x) => x === 1);
      if (reset.has(u.id)) {
        if (!courses) throw invalid(`a reset of entity ${u.id}, whose kind has no extrapolated field`);
        b.mask(k, []); // the escape: this update resets the entity's courses
      } else if (set.length === 0 && courses) {
        throw invalid(`an empty update of entity ${u.id} (it would read as a reset)`);
      }
      b.mask(k, set);
      set.forEach((f, i) => b.lane(codes[f], u.lanes[i]));
    }
    w.bytes(Uint8Array.from(b.finish()));
  }
  if (bits & SECTIONS.PLAYERS) {
    w.varint(left.length);
    for (const id of left) w.varint(u32(id, 'player id'));
    w.varint(joined.length);
    for (const j of joined) {
      w.varint(u32(j.id, 'player id'));
      w.str(j.name, MAX_NAME_CHARS);
      w.lane(T.Bool, j.connected ? 1 : 0);
      writeLanes(w, p.player, j.lanes, `player ${j.id}`);
    }
  }
  if (changed.length) {
    w.varint(changed.length);
    for (const c of changed) {
      w.varint(u32(c.id, 'player id'));
      w.lane(T.Bool, c.connected ? 1 : 0);
      writeLanes(w, p.player, c.lanes, `player ${c.id}`);
    }
  }
  if (room !== null) writeLanes(w, p.room, room, 'room');
  if (events.length) writeEvents(w, p, events);
  if (checksum !== null) w.u32le(checksum);
}

/** A count, then each event: its kind (varint) and its values (a snapshot's events section). */
function writeEvents(w, p, events) {
  w.varint(events.length);
  for (const e of events) {
    const kind = kindIndex(e.kind, p.events.length, 'event');
    w.varint(kind);
    writeValues(w, p.events[kind], e.values, `event ${kind}`);
  }
}

/**
 * Decodes a server message (the whole byte slice). A snapshot needs the schema (from Welcome)
 * and `held`, the `[id, kind]` pairs the client holds before it, ascending by id
 * (`replica.held()`), since its updates name entities by their place in the client's view;
 * without a schema only Welcome, Pong, Marker and Redirect decode. A Welcome's schema is
 * validated. Throws a WireError for anything malformed.
 */
export function decodeServer(bytes, schema, held = []) {
  const r = new Reader(bytes);
  const v = r.varint();
  let msg;
  switch (v) {
    case 0:
      msg = {
        type: 'Welcome',
        protocol_version: r.serdeU16(),
        player_id: r.serdeU32(),
        tick_rate: r.serdeU16(),
        tick: r.serdeU32(),
        checksum_interval: r.serdeU16(),
        resume_token: r.serdeStr(),
        resumed: r.bool(),
        schema: readSchema(r),
        game_config: r.serdeStr(),
      };
      r.finish();
      validateSchema(msg.schema);
      return msg;
    case 1:
      msg = decodeSnapshot(r, needSchema(schema, 'a snapshot'), held);
      break;
    case 2:
      msg = { type: 'Pong', client_time: r.serdeU32(), tick: r.serdeU32() };
      break;
    case 3: {
      const gap = r.varint32();
      if (gap === 0) throw invalid('a tick marker with a gap of 0');
      msg = { type: 'Marker', gap };
      break;
    }
    case 4:
      msg = { type: 'Redirect', url: r.serdeStr(), room: r.serdeStr(), seat: r.serdeStr() };
      break;
    case 5: {
      const p = needSchema(schema, 'a snapshot');
      const back = r.varint32();
      const snapshot = decodeSnapshot(r, p, held);
      if (back > snapshot.tick) {
        throw invalid(`a snapshot of tick ${snapshot.tick} against ${back} ticks before it`);
      }
      msg = { type: 'Acked', back, snapshot };
      break;
    }
    case 6: {
      const p = needSchema(schema, 'events');
      const tick = r.varint32();
      const events = [];
      const n = r.count();
      for (let i = 0; i < n; i++) {
        const kind = kindIndex(r.varint(), p.events.length, 'event');
        events.push({ kind, values: readValues(r, p.events[kind]) });
      }
      msg = { type: 'Events', tick, events };
      break;
    }
    default:
      throw invalid(`unknown server message ${v}`);
  }
  r.finish();
  return msg;
}

function decodeSnapshot(r, p, held) {
  const s = {
    type: 'Snapshot',
    tick: r.varint32(),
    ack_input_seq: r.varint32(),
    removed: [],
    created: [],
    updated: [],
    players_left: [],
    players_joined: [],
    players_changed: [],
    room: null,
    events: [],
    checksum: null,
  };
  const bits = r.u8();
  if (bits & SECTIONS.REMOVED) {
    const n = r.varint();
    // Every removal names a distinct entity held.
    if (typeof n !== 'number' || n > held.length) throw invalid(`${n} removals of ${held.length} entities held`);
    const b = new BitReader(r.bytes, r.pos);
    let next = 0;
    for (let i = 0; i < n; i++) {
      const at = next + b.gamma() - 1;
      if (at >= held.length) throw invalid(`a removal past the ${held.length} entities held`);
      next = at + 1;
      s.removed.push(held[at][0]);
    }
    r.pos += b.finish();
  }
  if (bits & SECTIONS.CREATED) {
    const n = r.varint();
    // Each creation takes at least a bit (its id's gamma code).
    const left = r.bytes.length - r.pos;
    if (typeof n !== 'number' || n > left * 8) throw invalid(`${n} creations in ${left} bytes`);
    const b = new BitReader(r.bytes, r.pos);
    const kb = kindBits(p.kinds.length);
    let last = -1;
    for (let i = 0; i < n; i++) {
      const id = last + b.gamma();
      if (id > 0xffffffff) throw invalid(`a created id of ${id}`);
      last = id;
      const kind = kindIndex(b.get(kb), p.kinds.length, 'entity kind');
      const k = p.kinds[kind];
      const codes = spawnCodesOf(k);
      const lanes = new Array(k.codes.length);
      for (let f = 0; f < k.codes.length; f++) lanes[f] = b.spawnLane(codes[f], k.codes[f], s.tick);
      s.created.push({ id, kind, lanes });
    }
    r.pos += b.finish();
  }
  if (bits & SECTIONS.UPDATED) {
    const n = r.varint();
    const view = viewAfter(held, s.removed, s.created);
    // Every update names a distinct entity of the view.
    if (typeof n !== 'number' || n === 0 || n > view.length) {
      throw invalid(`${n} updates in a view of ${view.length} entities`);
    }
    const b = new BitReader(r.bytes, r.pos);
    let next = 0;
    for (let i = 0; i < n; i++) {
      const at = next + b.gamma() - 1;
      if (at >= view.length) throw invalid(`an update past the ${view.length} entities in view`);
      next = at + 1;
      const [id, kind] = view[at];
      const k = p.kinds[kind];
      if (k === undefined) throw invalid(`unknown entity kind ${kind} for entity ${id}`);
      const codes = codesOf(k);
      let set = b.mask(k);
      if (set.length === 0 && k.extrap.some((x) => x === 1)) {
        // The escape: this update resets the entity's courses; its mask follows.
        (s.reset ??= []).push(id);
        set = b.mask(k);
      }
      const lanes = new Array(set.length);
      for (let j = 0; j < set.length; j++) lanes[j] = b.lane(codes[set[j]], k.codes[set[j]]);
      s.updated.push({ id, mask: maskOf(set), lanes });
    }
    r.pos += b.finish();
  }
  if (bits & SECTIONS.PLAYERS) {
    let n = r.count();
    for (let i = 0; i < n; i++) s.players_left.push(r.varint32());
    n = r.count();
    for (let i = 0; i < n; i++) {
      const id = r.varint32();
      const name = r.str(MAX_NAME_CHARS);
      const connected = r.lane(T.Bool) === 1;
      s.players_joined.push({ id, name, connected, lanes: readLanes(r, p.player) });
    }
  }
  if (bits & SECTIONS.PLAYERS_CHANGED) {
    const n = r.count();
    for (let i = 0; i < n; i++) {
      const id = r.varint32();
      const connected = r.lane(T.Bool) === 1;
      s.players_changed.push({ id, connected, lanes: readLanes(r, p.player) });
    }
  }
  if (bits & SECTIONS.ROOM) s.room = readLanes(r, p.room);
  if (bits & SECTIONS.EVENTS) {
    const n = r.count();
    for (let i = 0; i < n; i++) {
      const kind = kindIndex(r.varint(), p.events.length, 'event');
      s.events.push({ kind, values: readValues(r, p.events[kind]) });
    }
  }
  if (bits & SECTIONS.CHECKSUM) s.checksum = r.u32le();
  return s;
}

/**
 * The `[id, kind]` pairs a client holds after a snapshot's removals and creations (`held` before
 * it, ascending by id), ascending: the view its updates are numbered in (`view_after` in Rust).
 * An id created twice, or created while still held, is an error.
 */
export function viewAfter(held, removed, created) {
  const gone = new Set(removed);
  const out = [];
  for (const h of held) if (!gone.has(h[0])) out.push(h);
  for (const c of created) out.push([c.id, c.kind]);
  if (created.length) out.sort((x, y) => x[0] - y[0]);
  for (let i = 1; i < out.length; i++) {
    if (out[i][0] === out[i - 1][0]) throw invalid(`entity ${out[i][0]} created while held`);
  }
  return out;
}
