// Snapshots over datagrams (acked.js, the copy of shared/src/sync/acked.rs): the stream's frames
// read in pieces and their refusals, the client datagram envelope, messages 5 and 6 through
// the codec, Replica.changesFrom, and Bases over a link that loses, repeats and reorders
// messages 5 made by a small model server that bases each one on the newest tick the client
// acknowledged (the acks go over a lossy link too), with a checksum every tick.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  Bases, FrameReader, MAX_BACK, MAX_BASES, closeFrame, decodeDatagram, encodeDatagram, messageFrame,
  peekAcked, writeFrame,
} from '../src/sdk/acked.js';
import { decodeClient, decodeServer, encodeClient, encodeServer } from '../src/sdk/codec.js';
import { Replica, ReplicaError, checksum } from '../src/sdk/replica.js';
import { WireError } from '../src/sdk/wire.js';
import { engineEvents, field, rng, toySchema, welcome } from './fakes.js';

const dir = fileURLToPath(new URL('./vectors/wire/', import.meta.url));
const doc = JSON.parse(readFileSync(dir + 'vectors.json', 'utf8'));
const bin = (name) => new Uint8Array(readFileSync(dir + name));

const concat = (...parts) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};

// ---------------------------------------------------------------- stream frames

test('frames round-trip one byte at a time, and no frame comes before it is complete', () => {
  const bytes = concat(
    messageFrame(Uint8Array.of(1, 2, 3)),
    messageFrame(new Uint8Array(300).fill(7)),
    closeFrame(4003, 'room full'),
  );
  // 300 needs the three-byte varint (251, u16 LE).
  assert.deepEqual([...bytes.subarray(5, 9)], [0, 251, 0x2c, 0x01]);
  const r = new FrameReader(1000);
  const got = [];
  for (const b of bytes) {
    r.push(Uint8Array.of(b));
    for (let f = r.next(); f !== null; f = r.next()) got.push({ ...f, at: got.length });
  }
  assert.equal(got.length, 3);
  assert.deepEqual(got[0], { kind: 'message', bytes: Uint8Array.of(1, 2, 3), at: 0 });
  assert.deepEqual(got[1], { kind: 'message', bytes: new Uint8Array(300).fill(7), at: 1 });
  assert.deepEqual(got[2], { kind: 'close', code: 4003, reason: 'room full', at: 2 });
  assert.equal(r.pending(), 0);
  assert.equal(r.next(), null);
});

test('frames split anywhere read the same as whole, two in one push as well', () => {
  const bytes = concat(messageFrame(Uint8Array.of(9)), messageFrame(new Uint8Array(70000).fill(3)), closeFrame(1000, ''));
  for (const cut of [1, 2, 3, 4, 5, 6, 9, 100, 70000, bytes.length - 1]) {
    const r = new FrameReader(1 << 20);
    const got = [];
    r.push(bytes.subarray(0, cut));
    for (let f = r.next(); f; f = r.next()) got.push(f);
    r.push(bytes.subarray(cut));
    for (let f = r.next(); f; f = r.next()) got.push(f);
    assert.deepEqual(got.map((f) => f.kind), ['message', 'message', 'close'], `cut at ${cut}`);
    assert.equal(got[1].bytes.length, 70000);
    assert.deepEqual(got[2], { kind: 'close', code: 1000, reason: '' });
  }
});

test('the frame reader refuses a frame over its limit as soon as the length is read', () => {
  const r = new FrameReader(100);
  const big = messageFrame(new Uint8Array(101));
  r.push(big.subarray(0, 3));
  assert.throws(() => r.next(), (e) => e instanceof WireError && /over the 100-byte limit/.test(e.message));
  // Exactly the limit is fine.
  const ok = new FrameReader(100);
  ok.push(messageFrame(new Uint8Array(100)));
  assert.equal(ok.next().bytes.length, 100);
});

test('the frame reader refuses an unknown kind, a close without its code, a reason that is not UTF-8, a bad varint', () => {
  const refuse = (bytes, re) => {
    const r = new FrameReader(100);
    r.push(Uint8Array.from(bytes));
    assert.throws(() => r.next(), (e) => e instanceof WireError && re.test(e.message), `${bytes}`);
  };
  refuse([9, 0], /unknown stream frame kind 9/);
  refuse([2], /unknown stream frame kind 2/);
  refuse([1, 1, 0x03], /two-byte code/);
  refuse([1, 0], /two-byte code/);
  refuse([1, 3, 0x03, 0xe8, 0xff], /UTF-8/);
  refuse([0, 255], /varint/);
  // A length cut short is waited for, not refused.
  const r = new FrameReader(1 << 20);
  r.push(Uint8Array.of(0, 252, 1));
  assert.equal(r.next(), null);
  assert.equal(r.pending(), 3);
});

test('a close reason is cut at 123 bytes on a character boundary, and a close code is big-endian', () => {
  const bytes = closeFrame(1000, 'é'.repeat(100));
  const r = new FrameReader(1000);
  r.push(bytes);
  assert.deepEqual(r.next(), { kind: 'close', code: 1000, reason: 'é'.repeat(61) });
  assert.deepEqual([...closeFrame(4006, 'x')], [1, 3, 0x0f, 0xa6, 0x78]);
  assert.deepEqual([...writeFrame({ kind: 'close', code: 1001, reason: '' })], [1, 2, 0x03, 0xe9]);
  assert.throws(() => closeFrame(70000, ''), /close code/);
});

// ---------------------------------------------------------------- datagrams

test('a client datagram is the ack (a varint, 0 for none) then one Input or Ping, or nothing', () => {
  const schema = toySchema();
  assert.deepEqual([...encodeDatagram(0)], [0]);
  assert.deepEqual([...encodeDatagram(null)], [0]);
  assert.deepEqual([...encodeDatagram(250)], [250]);
  assert.deepEqual([...encodeDatagram(300)], [251, 0x2c, 0x01]);
  assert.deepEqual([...encodeDatagram(70000)], [252, 0x70, 0x11, 0x01, 0x00]);
  const input = { type: 'Input', cmds: [{ seq: 7, view_tick: 290, lanes: [-3] }, { seq: 8, view_tick: 291, lanes: [5] }] };
  const d = encodeDatagram(300, encodeClient(input, schema));
  assert.deepEqual([...d.subarray(0, 3)], [251, 0x2c, 0x01]);
  assert.deepEqual([...d.subarray(3)], [...encodeClient(input, schema)]);
  const back = decodeDatagram(d);
  assert.equal(back.ack, 300);
  assert.deepEqual(decodeClient(back.msg, schema), input);
  const ping = decodeDatagram(encodeDatagram(0, encodeClient({ type: 'Ping', client_time: 12345 })));
  assert.equal(ping.ack, null);
  assert.deepEqual(decodeClient(ping.msg, schema), { type: 'Ping', client_time: 12345 });
  assert.deepEqual(decodeDatagram(encodeDatagram(9)), { ack: 9, msg: null });
  // The golden Input vector rides unchanged.
  const golden = bin('client_input.bin');
  assert.deepEqual([...encodeDatagram(1, golden)], [1, ...golden]);
});

// ---------------------------------------------------------------- messages 5 and 6

test('messages 5 and 6 round-trip through the codec; peekAcked reads tick and back', () => {
  const schema = toySchema();
  const snap = {
    type: 'Snapshot', tick: 40, ack_input_seq: 3, removed: [], created: [{ id: 2, kind: 1, lanes: [-9] }],
    updated: [], players_left: [], players_joined: [], players_changed: [], room: [4], events: [], checksum: 77,
  };
  const bytes = encodeServer({ type: 'Acked', back: 0, snapshot: snap }, schema, []);
  assert.equal(bytes[0], 5);
  assert.deepEqual(peekAcked(bytes), { tick: 40, back: 0 });
  assert.deepEqual(decodeServer(bytes, schema, []), { type: 'Acked', back: 0, snapshot: snap });
  assert.equal(peekAcked(encodeServer({ type: 'Pong', client_time: 1, tick: 2 })), null);
  // back > tick: a base before tick 0.
  const bad = Uint8Array.of(5, 41, ...bytes.subarray(2));
  assert.throws(() => peekAcked(bad), /against 41 ticks before it/);
  assert.throws(() => decodeServer(bad, schema, []), /against 41 ticks before it/);
  assert.throws(() => decodeServer(bytes, null), /needs the schema/);

  const ev = { type: 'Events', tick: 41, events: [{ kind: 3, values: [2.5 * 256] }, { kind: 1, values: ['hi'] }] };
  const evBytes = encodeServer(ev, schema);
  assert.deepEqual([...evBytes.subarray(0, 3)], [6, 41, 2]);
  assert.deepEqual(decodeServer(evBytes, schema), ev);
  assert.throws(() => decodeServer(Uint8Array.of(6, 41, 1, 99), schema), /event/);
  assert.throws(() => decodeServer(Uint8Array.of(6, 41, 2, 1), schema), WireError);
});

test('a golden snapshot body prefixed with [5, back] decodes exactly as the message 1 it came from', () => {
  const schema = doc.welcome.msg.schema;
  let r = Replica.fromWelcome(bin(doc.welcome.file));
  for (const [i, t] of doc.snapshots.slice(0, 3).entries()) {
    const one = bin(t.file);
    const five = concat(Uint8Array.of(5, i === 0 ? 0 : 1), one.subarray(1));
    const m1 = decodeServer(one, schema, r.held());
    const m5 = decodeServer(five, schema, r.held());
    assert.deepEqual(m5, { type: 'Acked', back: i === 0 ? 0 : 1, snapshot: m1 });
    r.apply(m1);
  }
});

// ---------------------------------------------------------------- changesFrom

test('changesFrom says what apply would have said from the old replica', () => {
  const schema = toySchema();
  const a = new Replica(welcome(schema));
  a.apply({
    type: 'Snapshot', tick: 1, ack_input_seq: 0, removed: [],
    created: [{ id: 1, kind: 0, lanes: [1, 80, 0, 100, 0] }, { id: 2, kind: 1, lanes: [5] }, { id: 3, kind: 1, lanes: [6] }],
    updated: [], players_left: [], players_joined: [{ id: 1, name: 'ann', connected: true, lanes: [0] }, { id: 2, name: 'bob', connected: true, lanes: [3] }],
    players_changed: [], room: [2], events: [], checksum: null,
  });
  // b: 1 moved (x and hp), 2 unchanged, 3 gone, 4 new, 5 new; bob's score changed, ann left,
  // carl joined; the room the same.
  const b = a.clone();
  b.apply({
    type: 'Snapshot', tick: 2, ack_input_seq: 0, removed: [3],
    created: [{ id: 4, kind: 1, lanes: [1] }, { id: 5, kind: 0, lanes: [2, 8, 0, 1, 0] }],
    updated: [{ id: 1, mask: 0b1010, lanes: [8, 90] }], players_left: [1],
    players_joined: [{ id: 3, name: 'carl', connected: false, lanes: [0] }],
    players_changed: [{ id: 2, connected: true, lanes: [4] }], room: null, events: [], checksum: null,
  });
  assert.deepEqual(b.changesFrom(a), {
    removed: [{ id: 3, kind: 1 }], created: [4, 5], updated: [{ id: 1, mask: 0b1010 }],
    players_left: [1], players_changed: [2, 3], room_changed: false,
  });
  assert.deepEqual(a.changesFrom(a.clone()), {
    removed: [], created: [], updated: [], players_left: [], players_changed: [], room_changed: false,
  });
  // An id held by both with another kind is a removal and a creation; a room change shows.
  const c = a.clone();
  c.entities.set(2, { kind: 0, lanes: [0, 0, 0, 0, 0], vel: [0, 0, 0, 0, 0] });
  c.room = [3];
  const ch = c.changesFrom(a);
  assert.deepEqual(ch.removed, [{ id: 2, kind: 1 }]);
  assert.deepEqual(ch.created, [2]);
  assert.equal(ch.room_changed, true);
  // A clone shares no mutable part and no callback.
  let calls = 0;
  a.on('rock', { add: () => calls++ });
  const d = a.clone();
  d.entities.get(2).lanes[0] = 99;
  d.players.get(2).lanes[0] = 99;
  d.room[0] = 99;
  assert.equal(a.entities.get(2).lanes[0], 5);
  assert.equal(a.players.get(2).lanes[0], 3);
  assert.equal(a.room[0], 2);
  d.apply({ type: 'Snapshot', tick: 3, ack_input_seq: 0, created: [{ id: 9, kind: 1, lanes: [1] }] });
  assert.equal(calls, 0);
});

// ---------------------------------------------------------------- Bases

test('Bases over the golden snapshots as messages 5: duplicates and overtaken ones dropped, a lost base refused', () => {
  const five = (i, back) => concat(Uint8Array.of(5, back), bin(doc.snapshots[i].file).subarray(1));
  const fresh = () => Replica.fromWelcome(bin(doc.welcome.file));
  const cur = fresh();
  const bases = new Bases(cur);
  const seen = [];
  for (const [i, back] of [[0, 0], [1, 1], [1, 1], [0, 0], [2, 1], [1, 1], [2, 1]]) {
    const got = bases.apply(cur, five(i, back));
    seen.push(got.stale ? 'stale' : got.snapshot.tick);
  }
  assert.deepEqual(seen, [101, 102, 'stale', 'stale', 103, 'stale', 'stale']);
  const want = doc.snapshots[2].replica;
  assert.deepEqual(cur.toJSON(), want);
  // The bases from 102 on are kept (103's base was 102); 101 is pruned.
  assert.deepEqual(bases.ticks(), [102, 103]);

  // Snapshot 2 lost: snapshot 3 against it has no base.
  const cur2 = fresh();
  const b2 = new Bases(cur2);
  b2.apply(cur2, five(0, 0));
  assert.throws(() => b2.apply(cur2, five(2, 1)), (e) => e instanceof ReplicaError && e.code === 'MissingBase' && e.tick === 102);
  assert.equal(cur2.tick, 101, 'a refused snapshot leaves the replica as it was');
  assert.throws(() => b2.apply(cur2, bin(doc.snapshots[1].file)), /not a message 5/);
});

test('Bases keeps at most 128 replicas, and prunes below the base only when back > 0', () => {
  const schema = toySchema();
  const cur = new Replica(welcome(schema));
  const bases = new Bases(cur);
  const full = (tick) => encodeServer({
    type: 'Acked', back: 0,
    snapshot: { type: 'Snapshot', tick, ack_input_seq: 0, created: [{ id: 1, kind: 1, lanes: [tick] }], room: [tick % 7] },
  }, schema, []);
  for (let t = 1; t <= 200; t++) assert.equal(bases.apply(cur, full(t)).stale, false);
  assert.equal(bases.length, MAX_BASES);
  assert.equal(bases.ticks()[0], 200 - MAX_BASES + 1);
  assert.equal(cur.entities.get(1).lanes[0], 200);
  // A snapshot against tick 150 (back 51): everything before 150 goes.
  const held = [[1, 1]];
  const d = encodeServer({
    type: 'Acked', back: 51,
    snapshot: { type: 'Snapshot', tick: 201, ack_input_seq: 0, updated: [{ id: 1, mask: 1, lanes: [151] }] },
  }, schema, held);
  const got = bases.apply(cur, d);
  assert.equal(got.stale, false);
  // From tick 200's replica (x 200) to 201 (151 from base 150): an update of x.
  assert.deepEqual(got.changes.updated, [{ id: 1, mask: 1 }]);
  assert.equal(cur.entities.get(1).lanes[0], 151);
  assert.deepEqual(bases.ticks(), [...Array.from({ length: 51 }, (_, i) => 150 + i), 201]);
  assert.equal(cur.snapshotsApplied, 201);
});

// A small game for the model server: no extrapolated field (the server's prediction is not
// modelled), one delta field.
function modelSchema() {
  return {
    game: 'model',
    kinds: [
      { name: 'dot', fields: [field('owner', 'Player'), field('x', 'I32', 'delta'), field('hp', 'U8')] },
      { name: 'rock', fields: [field('x', 'I32')] },
    ],
    player_fields: [field('score', 'U32')],
    room_fields: [field('round', 'U16')],
    input: [field('dx', 'I8')],
    actions: [],
    events: engineEvents(),
  };
}

/** The world at one tick: entities {kind, lanes}, players {name, connected, lanes}, room. */
function emptyWorld() {
  return { entities: new Map(), players: new Map(), room: [0] };
}

function copyWorld(w) {
  return {
    entities: new Map([...w.entities].map(([id, e]) => [id, { kind: e.kind, lanes: e.lanes.slice() }])),
    players: new Map([...w.players].map(([id, p]) => [id, { ...p, lanes: p.lanes.slice() }])),
    room: w.room.slice(),
  };
}

/** The message 5 from world `base` (at tick - back; back 0: empty) to world `cur` at `tick`. */
function delta(schema, base, cur, tick, back) {
  const asc = (m) => [...m.keys()].sort((a, b) => a - b);
  const s = {
    type: 'Snapshot', tick, ack_input_seq: 0, removed: [], created: [], updated: [], players_left: [],
    players_joined: [], players_changed: [], room: null, events: [], checksum: checksum(cur.entities, cur.room),
  };
  for (const id of asc(base.entities)) if (!cur.entities.has(id)) s.removed.push(id);
  for (const id of asc(cur.entities)) {
    const e = cur.entities.get(id);
    const b = base.entities.get(id);
    if (!b) {
      s.created.push({ id, kind: e.kind, lanes: e.lanes.slice() });
      continue;
    }
    const bits = [];
    const lanes = [];
    e.lanes.forEach((v, i) => {
      if (v === b.lanes[i]) return;
      bits.push(i);
      lanes.push(schema.kinds[e.kind].fields[i].delta ? v - b.lanes[i] : v);
    });
    if (bits.length) s.updated.push({ id, mask: bits.reduce((m, i) => m | (1 << i), 0), lanes });
  }
  for (const id of asc(base.players)) if (!cur.players.has(id)) s.players_left.push(id);
  for (const id of asc(cur.players)) {
    const p = cur.players.get(id);
    const b = base.players.get(id);
    if (!b) s.players_joined.push({ id, name: p.name, connected: p.connected, lanes: p.lanes.slice() });
    else if (b.connected !== p.connected || b.lanes[0] !== p.lanes[0]) s.players_changed.push({ id, connected: p.connected, lanes: p.lanes.slice() });
  }
  if (cur.room[0] !== base.room[0]) s.room = cur.room.slice();
  const held = asc(base.entities).map((id) => [id, base.entities.get(id).kind]);
  return encodeServer({ type: 'Acked', back, snapshot: s }, schema, held);
}

test('Bases over a link that loses, repeats and reorders messages 5 and loses acks: every applied tick matches the server, callbacks track it', (t) => {
  const schema = modelSchema();
  const next = rng(12345);
  const cur = new Replica(welcome(schema, { tick: 0 }));
  const bases = new Bases(cur);
  // What the callbacks say the client holds.
  const mirror = new Map();
  const players = new Set();
  for (const kind of ['dot', 'rock']) {
    cur.on(kind, {
      add: (id) => { assert.ok(!mirror.has(id), `add of held ${id}`); mirror.set(id, kind); },
      remove: (id, e) => { assert.equal(mirror.get(id), kind); assert.ok(e && e.lanes, 'remove gets the entity'); mirror.delete(id); },
      change: (id) => assert.equal(mirror.get(id), kind),
    });
  }
  cur.onPlayer({ join: (id) => players.add(id), leave: (id) => players.delete(id) });

  const worlds = new Map(); // tick → world
  let world = emptyWorld();
  let nextId = 1;
  let nextPlayer = 1;
  let serverAck = 0; // the newest tick the server has an acknowledgement for
  const toClient = []; // [arriveTick, bytes]
  const toServer = []; // [arriveTick, ack]
  let applied = 0;
  let stale = 0;
  let full = 0;
  let maxBack = 0;
  let ack = 0;
  const TICKS = 1500;
  for (let tick = 1; tick <= TICKS; tick++) {
    // The world moves.
    world = copyWorld(world);
    for (const [id, e] of world.entities) {
      if (e.kind === 0) {
        e.lanes[1] += Math.floor(next() * 21) - 10;
        if (next() < 0.05) e.lanes[2] = Math.floor(next() * 256);
      } else if (next() < 0.1) {
        e.lanes[0] = Math.floor(next() * 2000) - 1000;
      }
      if (next() < 0.01) world.entities.delete(id);
    }
    if (next() < 0.08 || world.entities.size < 3) {
      const kind = next() < 0.5 ? 0 : 1;
      world.entities.set(nextId++, { kind, lanes: kind === 0 ? [1, Math.floor(next() * 100), 100] : [Math.floor(next() * 50)] });
    }
    if (next() < 0.02 || world.players.size === 0) world.players.set(nextPlayer, { name: `p${nextPlayer++}`, connected: true, lanes: [0] });
    for (const [id, p] of world.players) {
      if (next() < 0.05) p.lanes[0]++;
      if (next() < 0.01) p.connected = !p.connected;
      if (next() < 0.005) world.players.delete(id);
    }
    if (next() < 0.03) world.room[0] = (world.room[0] + 1) % 65536;
    worlds.set(tick, world);

    // Acks that arrive now; the server's base only moves forward.
    for (let i = toServer.length - 1; i >= 0; i--) {
      if (toServer[i][0] <= tick) {
        serverAck = Math.max(serverAck, toServer[i][1]);
        toServer.splice(i, 1);
      }
    }
    // 200 ticks in, every ack is lost for 120 ticks: the server falls back to back 0.
    const acksLost = tick > 200 && tick < 320;
    let back = serverAck === 0 ? 0 : tick - serverAck;
    if (back > MAX_BACK) back = 0;
    if (back === 0) full++;
    maxBack = Math.max(maxBack, back);
    const bytes = delta(schema, back === 0 ? emptyWorld() : worlds.get(tick - back), world, tick, back);
    // The link: 20% lost, 10% repeated, 0–3 ticks late (so overtaken).
    if (next() >= 0.2) toClient.push([tick + Math.floor(next() * 4), bytes]);
    if (next() < 0.1) toClient.push([tick + Math.floor(next() * 4), bytes]);

    // The client reads what arrived, in arrival order (ties: a random order).
    const due = toClient.filter(([at]) => at <= tick).sort((a, b) => a[0] - b[0] || next() - 0.5);
    for (const d of due) toClient.splice(toClient.indexOf(d), 1);
    for (const [, b] of due) {
      const got = bases.apply(cur, b);
      if (got.stale) {
        stale++;
        continue;
      }
      applied++;
      ack = got.snapshot.tick;
      const w = worlds.get(ack);
      assert.deepEqual(
        cur.toJSON().entities.map((e) => [e.id, e.kind, e.lanes]),
        [...w.entities].sort((a, b2) => a[0] - b2[0]).map(([id, e]) => [id, e.kind, e.lanes]),
        `tick ${ack}`,
      );
      assert.deepEqual([...cur.players.keys()].sort((a, b2) => a - b2), [...w.players.keys()].sort((a, b2) => a - b2));
      assert.deepEqual(cur.room, w.room);
      assert.deepEqual([...mirror.keys()].sort((a, b2) => a - b2), [...w.entities.keys()].sort((a, b2) => a - b2), `callbacks at ${ack}`);
      assert.deepEqual([...players].sort((a, b2) => a - b2), [...w.players.keys()].sort((a, b2) => a - b2));
      assert.ok(bases.length <= MAX_BASES);
    }
    // Its ack goes back each tick (an input datagram's), 20% lost, 0–2 ticks late.
    if (ack > 0 && !acksLost && next() >= 0.2) toServer.push([tick + Math.floor(next() * 3), ack]);
  }
  t.diagnostic(`applied ${applied}, stale ${stale}, against nothing ${full}, deepest base ${maxBack} ticks back`);
  assert.equal(cur.snapshotsApplied, applied);
  // 20% lost, and some of the rest overtaken by a newer one on the way.
  assert.ok(applied > TICKS * 0.5, `applied ${applied}`);
  assert.ok(stale > 100, `stale ${stale}`);
  assert.ok(full > 2, `snapshots against nothing: ${full}`);
  assert.ok(maxBack > 5, `the deepest base: ${maxBack} ticks back`);
  assert.ok(cur.tick > TICKS - 10);
});
