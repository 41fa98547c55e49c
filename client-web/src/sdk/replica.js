// The client's copy of everything a game replicates, for any schema, exactly as
// shared/src/sync/replica.rs: the entities in view, every player's record and the room's fields,
// as the server sent them (quantized lanes, so checksums compare to the bit). It never predicts
// or interpolates; it extrapolates the fields declared `extrapolate` exactly as the server does
// (each snapshot moves them along their last per-tick change, `vel`, before the residuals), as
// that is how their values arrive. On top of the Rust replica: per-kind add / change / remove callbacks, player,
// room and event callbacks, and field look-ups by name.

import { decodeServer } from './codec.js';
import { dequantize, eventIndex, kindIndex, plan } from './schema.js';
import {
  Fnv1a, RANGES, TYPE_NAMES, anchor, applyResidual, maskBits, maskOf, predict, velocity,
} from './wire.js';

/** A snapshot that does not fit the replica: client and server disagree. Discard the replica. */
export class ReplicaError extends Error {
  /**
   * @param {string} code OutOfOrder, DuplicateCreate, UnknownEntity, BadPlayer, BadValue,
   *   ChecksumMismatch or MissingBase (as `ReplicaError` in Rust)
   * @param {string} message
   * @param {object} [detail]
   */
  constructor(code, message, detail = {}) {
    super(message);
    this.name = 'ReplicaError';
    this.code = code;
    Object.assign(this, detail);
  }
}

const hex = (v) => `0x${v.toString(16).padStart(8, '0')}`;

/** Two change masks or'ed (numbers below 2^53, or BigInts). */
function orMask(a, b) {
  if (typeof a === 'number' && a < 2 ** 31 && b < 2 ** 31) return a | b;
  const m = BigInt(a) | BigInt(b);
  return m <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(m) : m;
}

function inRange(code, v) {
  const r = RANGES[code];
  return typeof v === 'number' && Number.isInteger(v) && v >= r[0] && v <= r[1];
}

function badValue(code, v) {
  return new ReplicaError('BadValue', `bad value: ${v} is out of range for ${TYPE_NAMES[code]}`);
}

function checkLanes(p, lanes, what) {
  if (!Array.isArray(lanes) || lanes.length !== p.codes.length) {
    throw new ReplicaError('BadValue', `bad value: ${what} needs ${p.codes.length} lanes`);
  }
  for (let i = 0; i < lanes.length; i++) {
    if (!inRange(p.codes[i], lanes[i])) throw badValue(p.codes[i], lanes[i]);
  }
  return lanes.slice();
}

/**
 * FNV-1a (32-bit) over entities in ascending id order (id as u32 LE, kind as u16 LE, each lane
 * as i64 LE), then the room's lanes (i64 LE): `sync::replica::checksum`.
 * @param {Map<number, {kind: number, lanes: number[]}>} entities
 * @param {number[]} room
 */
export function checksum(entities, room) {
  const h = new Fnv1a();
  const ids = [...entities.keys()].sort((a, b) => a - b);
  for (const id of ids) {
    const e = entities.get(id);
    h.u32(id);
    h.u16(e.kind);
    for (const v of e.lanes) h.i64(v);
  }
  for (const v of room) h.i64(v);
  return h.value;
}

/** The client's view of a room, for any game. Build it from a decoded Welcome. */
export class Replica {
  /** @param {object} welcome a decoded Welcome message (`decodeServer`) */
  constructor(welcome) {
    if (welcome?.type !== undefined && welcome.type !== 'Welcome') {
      throw new Error(`a replica is built from a Welcome, not a ${welcome.type}`);
    }
    /** What the game replicates. */
    this.schema = welcome.schema;
    this.plan = plan(this.schema);
    /** This client's player. */
    this.playerId = welcome.player_id;
    /** Ticks per second. */
    this.tickRate = welcome.tick_rate;
    /** Snapshots whose tick is a multiple of this carry a checksum (0: never). */
    this.checksumInterval = welcome.checksum_interval;
    /** The game's own constants (JSON text). */
    this.gameConfig = welcome.game_config;
    /** Tick of the last applied snapshot (the Welcome's tick before any). */
    this.tick = welcome.tick;
    /** The last input command the server has applied. */
    this.ackInputSeq = 0;
    /** @type {Map<number, {kind: number, lanes: number[]}>} entities in view, by id */
    this.entities = new Map();
    /** `held()`'s list, or null when the entities changed since. */
    this.heldList = null;
    /** @type {Map<number, {name: string, connected: boolean, lanes: number[]}>} players, by id */
    this.players = new Map();
    /** The room's lanes (zero until the first snapshot that carries them). */
    this.room = new Array(this.schema.room_fields.length).fill(0);
    /** Snapshots applied so far. */
    this.snapshotsApplied = 0;
    this.kindHandlers = this.schema.kinds.map(() => []);
    this.playerHandlers = [];
    this.roomHandlers = [];
    this.eventHandlers = this.schema.events.map(() => []);
  }

  /** A replica from the bytes of a Welcome. */
  static fromWelcome(bytes) {
    const msg = decodeServer(bytes, null);
    if (msg.type !== 'Welcome') throw new Error(`expected a Welcome, got a ${msg.type}`);
    return new Replica(msg);
  }

  /**
   * Decodes a server message against this replica (a snapshot's updates name held entities).
   * A tick marker comes back as the empty snapshot it stands for.
   */
  decode(bytes) {
    const msg = decodeServer(bytes, this.schema, this.held());
    return msg.type === 'Marker' ? this.marker(msg) : msg;
  }

  /**
   * The entities held, as `[id, kind]` pairs ascending by id: what a snapshot's updates are
   * numbered against (`decodeServer`'s `held`). Kept until the next creation or removal.
   */
  held() {
    if (this.heldList === null) {
      this.heldList = [...this.entities].map(([id, e]) => [id, e.kind]).sort((a, b) => a[0] - b[0]);
    }
    return this.heldList;
  }

  /** The empty snapshot a tick marker `{ type: 'Marker', gap }` stands for. */
  marker(m) {
    return {
      type: 'Snapshot', tick: this.tick + m.gap, ack_input_seq: this.ackInputSeq, removed: [],
      created: [], updated: [], players_left: [], players_joined: [], players_changed: [],
      room: null, events: [], checksum: null,
    };
  }

  /**
   * Whether no extrapolated lane held moves by itself: then a silence from the server means
   * nothing changed (a heartbeat comes at least once a second); otherwise a frame comes every
   * tick, and a silence means the frames are late.
   */
  isStill() {
    for (const e of this.entities.values()) if (e.vel.some((v) => v !== 0)) return false;
    return true;
  }

  /**
   * Decodes a server message and applies it when it is a snapshot.
   * @returns {{msg: object, changes: object | null}}
   */
  receive(bytes) {
    const msg = this.decode(bytes);
    return { msg, changes: msg.type === 'Snapshot' ? this.apply(msg) : null };
  }

  /**
   * Applies a decoded snapshot, then checks its checksum if it carries one, then calls the
   * callbacks. Returns what changed: `{ removed: [{id, kind}], created: [id],
   * updated: [{id, mask}], players_left: [id], players_changed: [id] (joined or changed),
   * room_changed }`. Throws a ReplicaError when the snapshot does not fit; the replica may then
   * be partly updated and should be discarded (reconnect for a fresh one). Callbacks run only
   * after a snapshot applied cleanly.
   */
  apply(s) {
    if (s?.type === 'Marker') s = this.marker(s);
    if (s.tick <= this.tick && this.snapshotsApplied > 0) {
      throw new ReplicaError('OutOfOrder', `snapshot for tick ${s.tick} after tick ${this.tick}`,
        { have: this.tick, got: s.tick });
    }
    const p = this.plan;
    const ch = {
      removed: [], created: [], updated: [], players_left: [], players_changed: [],
      room_changed: false,
    };
    // Extrapolated lanes move along their course over the gap first; `vel` holds the anchor
    // the new per-tick change is measured from until the residuals are in.
    const gap = Math.max(1, s.tick - this.tick);
    const moved = new Map();
    for (const [id, e] of this.entities) {
      const k = p.kinds[e.kind];
      let m = 0;
      for (const f of k.xs) {
        const code = k.codes[f];
        const x = e.lanes[f];
        const d = e.vel[f];
        e.lanes[f] = predict(code, x, d, gap);
        e.vel[f] = anchor(code, x, d, gap);
        if (e.lanes[f] !== x) m += 2 ** f;
      }
      if (m !== 0) moved.set(id, m);
    }
    const gone = [];
    for (const id of s.removed ?? []) {
      const e = this.entities.get(id);
      if (e === undefined) throw new ReplicaError('UnknownEntity', `entity ${id} is unknown`, { id });
      this.entities.delete(id);
      this.heldList = null;
      moved.delete(id);
      ch.removed.push({ id, kind: e.kind });
      gone.push(e);
    }
    const fresh = new Set();
    for (const c of s.created ?? []) {
      const k = p.kinds[c.kind];
      if (k === undefined) throw new ReplicaError('BadValue', `bad value: unknown kind ${c.kind}`);
      const e = {
        kind: c.kind, lanes: checkLanes(k, c.lanes, `entity ${c.id}`), vel: new Array(k.codes.length).fill(0),
      };
      if (this.entities.has(c.id)) {
        throw new ReplicaError('DuplicateCreate', `entity ${c.id} created twice`, { id: c.id });
      }
      this.entities.set(c.id, e);
      this.heldList = null;
      fresh.add(c.id);
      ch.created.push(c.id);
    }
    const jumped = [];
    const resets = new Set(s.reset ?? []);
    for (const u of s.updated ?? []) {
      const e = this.entities.get(u.id);
      if (e === undefined) {
        throw new ReplicaError('UnknownEntity', `entity ${u.id} is unknown`, { id: u.id });
      }
      const k = p.kinds[e.kind];
      let bits;
      try {
        bits = maskBits(u.mask);
      } catch (err) {
        throw new ReplicaError('BadValue', `bad value: ${err.message}`);
      }
      if (bits.length !== (u.lanes?.length ?? -1)
        || (bits.length && bits[bits.length - 1] >= k.codes.length)) {
        throw new ReplicaError('BadValue', `bad value: update of entity ${u.id} does not fit its kind`);
      }
      let jump = false;
      for (let j = 0; j < bits.length; j++) {
        const i = bits[j];
        let v;
        if (k.extrap[i]) {
          v = applyResidual(k.codes[i], e.lanes[i], u.lanes[j]);
          if (v === null) throw badValue(k.codes[i], u.lanes[j]);
        } else {
          v = k.delta[i] ? e.lanes[i] + u.lanes[j] : u.lanes[j];
          if (!inRange(k.codes[i], v)) throw badValue(k.codes[i], v);
        }
        e.lanes[i] = v;
        if (k.jumps[i]) jump = true;
      }
      // A reset (a catch-up) restarts the courses from 0, as a discontinuity does.
      if (jump || resets.has(u.id)) jumped.push(e);
      const m = moved.get(u.id);
      moved.delete(u.id);
      ch.updated.push({ id: u.id, mask: m === undefined ? u.mask : orMask(u.mask, m) });
    }
    for (const [id, mask] of moved) ch.updated.push({ id, mask });
    // The new per-tick changes: from the anchors; 0 for what was created now and for an
    // entity that jumped (a discontinuity field changed, or a reset).
    for (const [id, e] of this.entities) {
      const k = p.kinds[e.kind];
      if (k.xs.length === 0) continue;
      if (fresh.has(id)) {
        e.vel.fill(0);
        continue;
      }
      for (const f of k.xs) e.vel[f] = velocity(k.codes[f], e.vel[f], e.lanes[f]);
    }
    for (const e of jumped) e.vel.fill(0);
    for (const id of s.players_left ?? []) {
      if (!this.players.delete(id)) {
        throw new ReplicaError('BadPlayer', `player ${id} is unknown or joined twice`, { id });
      }
      ch.players_left.push(id);
    }
    const joined = [];
    for (const j of s.players_joined ?? []) {
      const rec = {
        name: j.name,
        connected: j.connected,
        lanes: checkLanes(p.player, j.lanes, `player ${j.id}`),
      };
      if (this.players.has(j.id)) {
        throw new ReplicaError('BadPlayer', `player ${j.id} is unknown or joined twice`, { id: j.id });
      }
      this.players.set(j.id, rec);
      ch.players_changed.push(j.id);
      joined.push(j.id);
    }
    for (const c of s.players_changed ?? []) {
      const rec = this.players.get(c.id);
      if (rec === undefined) {
        throw new ReplicaError('BadPlayer', `player ${c.id} is unknown or joined twice`, { id: c.id });
      }
      rec.connected = c.connected;
      rec.lanes = checkLanes(p.player, c.lanes, `player ${c.id}`);
      ch.players_changed.push(c.id);
    }
    if (s.room !== null && s.room !== undefined) {
      this.room = checkLanes(p.room, s.room, 'room');
      ch.room_changed = true;
    }
    this.tick = s.tick;
    this.ackInputSeq = s.ack_input_seq;
    this.snapshotsApplied++;
    if (s.checksum !== null && s.checksum !== undefined) {
      const replica = this.checksum();
      if (replica !== s.checksum) {
        throw new ReplicaError('ChecksumMismatch',
          `checksum mismatch at tick ${s.tick}: server ${hex(s.checksum)}, replica ${hex(replica)}`,
          { tick: s.tick, server: s.checksum, replica });
      }
    }
    this.dispatch(s, ch, gone, joined);
    return ch;
  }

  dispatch(s, ch, gone, joined) {
    ch.removed.forEach(({ id, kind }, i) => {
      for (const h of this.kindHandlers[kind]) h.remove?.(id, gone[i]);
    });
    for (const id of ch.created) {
      // Removals come before creations, so the entity is still held; `add` sees its state after
      // the whole snapshot (an update in the same snapshot then also calls `change`).
      const e = this.entities.get(id);
      for (const h of this.kindHandlers[e.kind]) h.add?.(id, e);
    }
    for (const { id, mask } of ch.updated) {
      const e = this.entities.get(id);
      for (const h of this.kindHandlers[e.kind]) h.change?.(id, e, mask);
    }
    if (this.playerHandlers.length) {
      const isJoin = new Set(joined);
      for (const id of ch.players_left) for (const h of this.playerHandlers) h.leave?.(id);
      for (const id of ch.players_changed) {
        const rec = this.players.get(id);
        for (const h of this.playerHandlers) {
          if (isJoin.has(id)) h.join?.(id, rec);
          else h.change?.(id, rec);
        }
        isJoin.delete(id);
      }
    }
    if (ch.room_changed) for (const f of this.roomHandlers) f(this.room, this);
    this.dispatchEvents(s.events ?? []);
  }

  /** Calls the event callbacks for `events` (`[{kind, values}]`: a message 6's, in order). */
  dispatchEvents(events) {
    for (const e of events) {
      const hs = this.eventHandlers[e.kind];
      if (hs === undefined || hs.length === 0) continue;
      const named = this.eventValues(e);
      for (const f of hs) f(named, e);
    }
  }

  /**
   * A deep copy of the state (entities with their courses, players, room, tick, counts),
   * sharing the schema, without any callback: a base kept for snapshots over datagrams
   * (acked.js), as the Rust replica's `clone`.
   */
  clone() {
    const r = Object.create(Replica.prototype);
    Object.assign(r, this);
    r.entities = new Map();
    for (const [id, e] of this.entities) r.entities.set(id, { kind: e.kind, lanes: e.lanes.slice(), vel: e.vel.slice() });
    r.heldList = null;
    r.players = new Map();
    for (const [id, p] of this.players) r.players.set(id, { name: p.name, connected: p.connected, lanes: p.lanes.slice() });
    r.room = this.room.slice();
    r.kindHandlers = this.schema.kinds.map(() => []);
    r.playerHandlers = [];
    r.roomHandlers = [];
    r.eventHandlers = this.schema.events.map(() => []);
    return r;
  }

  /**
   * Takes the state of `other` (a replica of the same Welcome), keeping this one's callbacks:
   * the replica a page holds becomes the one a snapshot over datagrams was applied to. Copies,
   * so `other` (a kept base) and this one never share a mutable part.
   */
  assume(other) {
    const c = other.clone();
    this.entities = c.entities;
    this.heldList = null;
    this.players = c.players;
    this.room = c.room;
    this.tick = c.tick;
    this.ackInputSeq = c.ackInputSeq;
    this.snapshotsApplied = c.snapshotsApplied;
  }

  /**
   * What differs from `old` to this replica, in `apply`'s shape, as `apply` would have said had
   * it applied one snapshot from `old` (`Replica::changes_from`): over datagrams a snapshot
   * applies to an older base (acked.js). An id held by both with another kind counts as a
   * removal and a creation; a player whose record differs in any way is in `players_changed`.
   */
  changesFrom(old) {
    const ch = {
      removed: [], created: [], updated: [], players_left: [], players_changed: [],
      room_changed: false,
    };
    const asc = (m) => [...m.keys()].sort((a, b) => a - b);
    for (const id of asc(old.entities)) {
      const e = old.entities.get(id);
      const n = this.entities.get(id);
      if (n === undefined || n.kind !== e.kind) ch.removed.push({ id, kind: e.kind });
    }
    for (const id of asc(this.entities)) {
      const e = this.entities.get(id);
      const o = old.entities.get(id);
      if (o === undefined || o.kind !== e.kind) {
        ch.created.push(id);
        continue;
      }
      const bits = [];
      for (let i = 0; i < e.lanes.length; i++) if (e.lanes[i] !== o.lanes[i]) bits.push(i);
      if (bits.length) ch.updated.push({ id, mask: maskOf(bits) });
    }
    for (const id of asc(old.players)) if (!this.players.has(id)) ch.players_left.push(id);
    for (const id of asc(this.players)) {
      const p = this.players.get(id);
      const o = old.players.get(id);
      const same = o !== undefined && o.name === p.name && o.connected === p.connected
        && o.lanes.length === p.lanes.length && o.lanes.every((v, i) => v === p.lanes[i]);
      if (!same) ch.players_changed.push(id);
    }
    ch.room_changed = this.room.length !== old.room.length || this.room.some((v, i) => v !== old.room[i]);
    return ch;
  }

  /** Checksum of the entity table and the room fields (see `checksum`). */
  checksum() {
    return checksum(this.entities, this.room);
  }

  // ---------------------------------------------------------------- callbacks

  /**
   * Calls `handlers.add(id, entity)`, `handlers.change(id, entity, mask)` and
   * `handlers.remove(id, entity)` for entities of the kind called `kindName`, after each
   * snapshot applies. Entities already held are not replayed. Returns a function that
   * unsubscribes.
   */
  on(kindName, handlers) {
    const list = this.kindHandlers[kindIndex(this.schema, kindName)];
    list.push(handlers);
    return () => remove(list, handlers);
  }

  /** Calls `handlers.join(id, record)`, `change(id, record)`, `leave(id)` for player records. */
  onPlayer(handlers) {
    this.playerHandlers.push(handlers);
    return () => remove(this.playerHandlers, handlers);
  }

  /** Calls `fn(roomLanes, replica)` whenever the room's fields change. */
  onRoom(fn) {
    this.roomHandlers.push(fn);
    return () => remove(this.roomHandlers, fn);
  }

  /** Calls `fn(values, event)` for each event called `name`; `values` is keyed by field name. */
  onEvent(name, fn) {
    const list = this.eventHandlers[eventIndex(this.schema, name)];
    list.push(fn);
    return () => remove(list, fn);
  }

  // ---------------------------------------------------------------- reading fields

  /** The lane index of field `fieldName` of the kind called `kindName`. */
  field(kindName, fieldName) {
    const i = this.plan.kinds[kindIndex(this.schema, kindName)].index.get(fieldName);
    if (i === undefined) throw new Error(`kind "${kindName}" has no field "${fieldName}"`);
    return i;
  }

  /** The lane index of the player record's field `fieldName`. */
  playerField(fieldName) {
    return fieldIn(this.plan.player, fieldName, 'the player record');
  }

  /** The lane index of the room's field `fieldName`. */
  roomField(fieldName) {
    return fieldIn(this.plan.room, fieldName, 'the room');
  }

  /** The entity's field `fieldName`, dequantized (`dequantize`); undefined if not held. */
  value(id, fieldName) {
    const e = this.entities.get(id);
    if (e === undefined) return undefined;
    const p = this.plan.kinds[e.kind];
    const i = fieldIn(p, fieldName, `kind "${this.schema.kinds[e.kind].name}"`);
    return dequantize(p.fields[i].ty, e.lanes[i]);
  }

  /** The player's field `fieldName`, dequantized; undefined if the player is unknown. */
  playerValue(id, fieldName) {
    const rec = this.players.get(id);
    if (rec === undefined) return undefined;
    const i = this.playerField(fieldName);
    return dequantize(this.plan.player.fields[i].ty, rec.lanes[i]);
  }

  /** The room's field `fieldName`, dequantized. */
  roomValue(fieldName) {
    const i = this.roomField(fieldName);
    return dequantize(this.plan.room.fields[i].ty, this.room[i]);
  }

  /** An event's values keyed by field name (numbers dequantized, text as is). */
  eventValues(e) {
    const p = this.plan.events[e.kind];
    const out = {};
    p.fields.forEach((f, i) => {
      out[f.name] = typeof e.values[i] === 'string' ? e.values[i] : dequantize(f.ty, e.values[i]);
    });
    return out;
  }

  /** The held entities of the kind called `kindName`, in id order: `[id, entity]` pairs. */
  ofKind(kindName) {
    const k = kindIndex(this.schema, kindName);
    return [...this.entities].filter(([, e]) => e.kind === k).sort((a, b) => a[0] - b[0]);
  }

  /** A plain summary (the shape of vectors.json's `replica`): entities and players by ascending id. */
  toJSON() {
    const byId = (m, f) => [...m].sort((a, b) => a[0] - b[0]).map(([id, v]) => f(id, v));
    return {
      tick: this.tick,
      ack_input_seq: this.ackInputSeq,
      entities: byId(this.entities, (id, e) => ({ id, kind: e.kind, lanes: [...e.lanes], vel: [...e.vel] })),
      players: byId(this.players, (id, p) => ({
        id, name: p.name, connected: p.connected, lanes: [...p.lanes],
      })),
      room: [...this.room],
      checksum: this.checksum(),
    };
  }
}

function fieldIn(p, name, what) {
  const i = p.index.get(name);
  if (i === undefined) throw new Error(`${what} has no field "${name}"`);
  return i;
}

function remove(list, item) {
  const i = list.indexOf(item);
  if (i >= 0) list.splice(i, 1);
}

