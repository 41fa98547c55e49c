// The protocol SDK (src/sdk/) against the golden vectors shared/tests/sync_golden.rs writes
// (test/vectors/wire/): every message decodes to its JSON shape and re-encodes byte for byte, the
// replica replays the snapshots to the very states (and checksums) Rust's replica reached, the
// callbacks fire, and hostile bytes throw a WireError instead of hanging or allocating.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  BitWriter,
  ENGINE_EVENTS,
  Reader,
  Replica,
  ReplicaError,
  T,
  WireError,
  Writer,
  codeOf,
  decodeClient,
  decodeSchema,
  decodeServer,
  dequantize,
  encodeClient,
  encodeSchema,
  encodeServer,
  eventIndex,
  fnv1a,
  kindIndex,
  maskBits,
  quantize,
  schemaHash,
} from '../src/sdk/index.js';

const dir = fileURLToPath(new URL('./vectors/wire/', import.meta.url));
const doc = JSON.parse(readFileSync(dir + 'vectors.json', 'utf8'));
const bin = (name) => new Uint8Array(readFileSync(dir + name));
const welcomeBytes = bin(doc.welcome.file);
const schema = doc.welcome.msg.schema;

/** Replicas after 0, 1, ..., n snapshots (index i: before snapshot i + 1). */
function replicas() {
  return Array.from({ length: doc.snapshots.length + 1 }, (_, i) => replicaAfter(i));
}

/** A replica that applied the first `n` snapshots. */
function replicaAfter(n) {
  const r = Replica.fromWelcome(welcomeBytes);
  for (const t of doc.snapshots.slice(0, n)) r.receive(bin(t.file));
  return r;
}

function hex(bytes) {
  return Buffer.from(bytes).toString('hex');
}

// A tiny deterministic PRNG for the corruption tests.
function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

/** Decoding either succeeds or throws a WireError; never another exception. */
function decodesOrWireError(fn, what) {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof WireError, `${what}: ${e?.name}: ${e?.message}`);
  }
}

// ---------------------------------------------------------------- golden vectors

test('the vector set covers every message type and section', () => {
  const types = new Set(doc.client.map((c) => c.msg.type));
  assert.deepEqual([...types].sort(), ['Action', 'Chat', 'Hello', 'Input', 'Ping']);
  assert.equal(doc.snapshots.length, 15);
  assert.ok(doc.snapshots.some((s) => s.msg.type === 'Marker'), 'no tick marker');
  // A residual in the small-number code's escape to the full width (the teleport) and one at
  // the half turn.
  assert.ok(doc.snapshots.some((s) => s.msg.updated?.some((u) => u.lanes.includes(70000))));
  assert.ok(doc.snapshots.some((s) => s.msg.updated?.some((u) => u.lanes.includes(-128))));
  const all = doc.snapshots.map((s) => s.msg).filter((m) => m.type === 'Snapshot');
  for (const key of ['removed', 'created', 'updated', 'players_left', 'players_joined',
    'players_changed', 'events']) {
    assert.ok(all.some((s) => s[key].length > 0), `no snapshot with ${key}`);
  }
  assert.ok(all.some((s) => s.room !== null) && all.some((s) => s.checksum !== null));
});

/** Each snapshot's updates as the bit stream numbers them: per update its entity, kind,
 * skip, the entities the skip passes over, and its lanes with each field's flags. */
function updatePlaces() {
  const rs = replicas();
  return doc.snapshots.map((s, i) => {
    if (s.msg.type !== 'Snapshot') return null;
    const held = rs[i].held();
    const gone = new Set(s.msg.removed);
    const created = new Map(s.msg.created.map((c) => [c.id, c.kind]));
    const view = [...held.filter(([id]) => !gone.has(id)), ...created]
      .sort((a, b) => a[0] - b[0]);
    let next = 0;
    const updates = s.msg.updated.map((u) => {
      const at = view.findIndex(([id]) => id === u.id);
      assert.ok(at >= next, `${s.file}: update of ${u.id} in view order`);
      const passed = view.slice(next, at).map(([id]) => id);
      next = at + 1;
      const kind = view[at][1];
      const fields = maskBits(u.mask).map((f) => schema.kinds[kind].fields[f]);
      return { id: u.id, kind, skip: passed.length, passed, fields, lanes: u.lanes };
    });
    return { held: held.map(([id]) => id), created: [...created.keys()], updates };
  });
}

/** The bits of the Elias-gamma code of a skip. */
const gammaBits = (skip) => 2 * Math.floor(Math.log2(skip + 1)) + 1;
const zigzag = (v) => (v < 0 ? -2 * v - 1 : 2 * v);

test('the vectors cover the corners of the bit stream of the updated section', () => {
  const places = updatePlaces();
  const snaps = places.map((p, i) => p && { ...p, s: doc.snapshots[i] }).filter(Boolean);
  // An update whose skip passes over an entity created in the same snapshot between two
  // held ids, with updates on both sides of it; and an update of an entity in the snapshot
  // that creates it.
  assert.ok(snaps.some((p) => p.updates.some((u) => u.passed.some((id) => p.created.includes(id)
    && p.held.some((h) => h < id) && p.held.some((h) => h > id)
    && p.updates.some((v) => v.id < id) && p.updates.some((v) => v.id > id)))),
  'no update skipping over an entity created between held ids');
  assert.ok(snaps.some((p) => p.updates.some((u) => p.created.includes(u.id))),
    'no update of an entity created in the same snapshot');
  // A skip over five or more entities: a gamma code of 7 bits or more (skip 1 is `0 1 0`).
  assert.equal(gammaBits(0), 1);
  assert.equal(gammaBits(1), 3);
  assert.equal(gammaBits(3), 5);
  const longest = Math.max(...snaps.flatMap((p) => p.updates.map((u) => u.skip)));
  assert.ok(longest >= 5 && gammaBits(longest) >= 7, `the longest skip is ${longest}`);
  // The small-number code's escape to the full width: a change or residual of zigzag >= 256.
  const small = (f) => f.delta || f.extrapolate;
  assert.ok(snaps.some((p) => p.updates.some((u) => u.fields.some((f, j) => small(f)
    && zigzag(u.lanes[j]) >= 256))), 'no small-number escape');
  // A delta field's change (not 0) and a plain value lane in the same update.
  assert.ok(snaps.some((p) => p.updates.some((u) => u.fields.some((f, j) => f.delta && u.lanes[j] !== 0)
    && u.fields.some((f) => !small(f)))), 'no delta change beside a plain lane');
  // A budget-held entity: moving on its course (d != 0), not sent for three consecutive
  // snapshots of gap 1 in which other entities are updated, then one update with residuals
  // against the client's prediction, in a snapshot whose checksum (the server's) holds.
  const tick = (i) => doc.snapshots[i].replica.tick;
  const gap1 = (i) => i > 0 && tick(i) - tick(i - 1) === 1;
  const caughtUp = places.findIndex((p, i) => p && i >= 4 && gap1(i)
    && doc.snapshots[i].msg.checksum !== null
    && p.updates.some((u) => u.fields.some((f, j) => f.extrapolate && u.lanes[j] !== 0)
      && [1, 2, 3].every((k) => {
        const q = places[i - k];
        const before = doc.snapshots[i - k - 1].replica.entities.find((e) => e.id === u.id);
        return q && gap1(i - k) && before?.vel.some((d) => d !== 0)
          && q.updates.length > 0 && !q.updates.some((v) => v.id === u.id);
      })));
  assert.equal(doc.snapshots[caughtUp]?.file, 'snapshot_13.bin', 'no budget-held entity caught up');
  // Its catch-up carries the reset escape: the replica restarts its courses from 0, and the
  // follow-up the tick after sets them.
  const caught = doc.snapshots[caughtUp];
  assert.deepEqual(caught.msg.reset, [400]);
  assert.deepEqual(caught.replica.entities.find((e) => e.id === 400).vel.slice(1, 3), [0, 0]);
  assert.deepEqual(doc.snapshots[caughtUp + 1].replica.entities.find((e) => e.id === 400).vel.slice(1, 3),
    [-2, 4]);
  assert.equal(doc.snapshots.filter((x) => x.msg.reset).length, 1, 'one snapshot names a reset');
});

test('redirects decode to their JSON without a schema and re-encode byte for byte', () => {
  assert.equal(doc.server.length, 2);
  for (const m of doc.server) {
    const bytes = bin(m.file);
    assert.deepEqual(decodeServer(bytes, null), m.msg, m.file);
    assert.equal(hex(encodeServer(m.msg, null)), hex(bytes), m.file);
  }
  // The long seat token takes the wide length prefix (251, then a u16).
  assert.ok(doc.server.some((m) => m.msg.seat.length > 250));
  assert.ok(doc.server.some((m) => m.msg.seat === ''), 'a resume redirect carries no seat');
});

test('Welcome decodes to its JSON, re-encodes byte for byte, and its schema too', () => {
  const msg = decodeServer(welcomeBytes, null);
  assert.deepEqual(msg, doc.welcome.msg);
  assert.equal(hex(encodeServer(msg, null)), hex(welcomeBytes));
  assert.equal(hex(encodeServer(doc.welcome.msg, null)), hex(welcomeBytes));
  // The schema alone: its bytes are a slice of the Welcome's, and decode back.
  const bytes = encodeSchema(schema);
  assert.ok(hex(welcomeBytes).includes(hex(bytes)));
  assert.deepEqual(decodeSchema(bytes), schema);
});

test('the schema hash is FNV-1a of the schema encoding, as Rust computes it', () => {
  assert.equal(schemaHash(schema), doc.schema_hash);
  assert.equal(fnv1a(encodeSchema(decodeServer(welcomeBytes, null).schema)), doc.schema_hash);
  assert.equal(fnv1a(new TextEncoder().encode('a')), 0xe40c292c); // the FNV-1a test vector
});

test('snapshots decode to their JSON and re-encode byte for byte', () => {
  const r = new Replica(decodeServer(welcomeBytes, null));
  for (const s of doc.snapshots) {
    const bytes = bin(s.file);
    if (s.msg.type === 'Marker') {
      assert.deepEqual(decodeServer(bytes, schema), s.msg, s.file);
      assert.equal(hex(encodeServer(s.msg, schema)), hex(bytes), `${s.file} from JSON`);
      const msg = r.decode(bytes);
      assert.equal(msg.type, 'Snapshot');
      assert.equal(msg.tick, r.tick + s.msg.gap);
      r.apply(msg);
      continue;
    }
    const msg = r.decode(bytes);
    assert.deepEqual(msg, s.msg, s.file);
    assert.equal(hex(encodeServer(msg, schema, r.held())), hex(bytes), `${s.file} re-encoded`);
    assert.equal(hex(encodeServer(s.msg, schema, r.held())), hex(bytes), `${s.file} from JSON`);
    r.apply(msg);
  }
});

test('the replica replays the snapshots to the states and checksums Rust reached', () => {
  const r = Replica.fromWelcome(welcomeBytes);
  assert.equal(r.tick, doc.welcome.msg.tick);
  assert.equal(r.playerId, 1);
  assert.deepEqual(r.room, [0, 0]);
  for (const s of doc.snapshots) {
    const { msg, changes } = r.receive(bin(s.file));
    assert.equal(msg.type, 'Snapshot');
    assert.ok(changes);
    assert.deepEqual(r.toJSON(), s.replica, s.file);
    assert.equal(r.checksum(), s.replica.checksum);
    if ((s.msg.checksum ?? null) !== null) assert.equal(r.checksum(), s.msg.checksum);
  }
  assert.equal(r.snapshotsApplied, 15);
});

test('apply returns the same Changes as Rust', () => {
  const r = Replica.fromWelcome(welcomeBytes);
  const ch = doc.snapshots.map((s) => r.apply(r.decode(bin(s.file))));
  doc.snapshots.forEach((s, i) => assert.deepEqual(ch[i], s.changes, s.file));
  assert.deepEqual(ch[0], {
    removed: [], created: [0, 3, 7, 300], updated: [], players_left: [],
    players_changed: [1, 2], room_changed: true,
  });
  assert.deepEqual(ch[1], {
    removed: [], created: [], updated: [{ id: 0, mask: 6 }, { id: 3, mask: 78 }, { id: 300, mask: 255 }],
    players_left: [], players_changed: [2], room_changed: false,
  });
  // Ship 0 on its course: changed by itself, no update on the wire (and the same after the
  // tick marker).
  for (const i of [2, 3]) {
    assert.deepEqual(ch[i], {
      removed: [], created: [], updated: [{ id: 0, mask: 6 }], players_left: [], players_changed: [],
      room_changed: false,
    });
  }
  assert.deepEqual(ch[4], {
    removed: [{ id: 3, kind: 0 }, { id: 7, kind: 2 }], created: [], updated: [{ id: 0, mask: 14 }],
    players_left: [2], players_changed: [], room_changed: true,
  });
});

test('client messages decode to their JSON and re-encode byte for byte', () => {
  for (const c of doc.client) {
    const bytes = bin(c.file);
    const msg = decodeClient(bytes, schema);
    assert.deepEqual(msg, c.msg, c.file);
    assert.equal(hex(encodeClient(msg, schema)), hex(bytes), `${c.file} re-encoded`);
    assert.equal(hex(encodeClient(c.msg, schema)), hex(bytes), `${c.file} from JSON`);
  }
});

test('Pong round trips', () => {
  const pong = { type: 'Pong', client_time: 123456, tick: 70000 };
  const bytes = encodeServer(pong, null);
  assert.deepEqual([...bytes], [2, 252, 0x40, 0xe2, 0x01, 0x00, 252, 0x70, 0x11, 0x01, 0x00]);
  assert.deepEqual(decodeServer(bytes, null), pong);
});

test('the idle snapshot and a small move are as small as in Rust', () => {
  const empty = {
    type: 'Snapshot', tick: 100, ack_input_seq: 7, removed: [], created: [], updated: [],
    players_left: [], players_joined: [], players_changed: [], room: null, events: [],
    checksum: null,
  };
  assert.deepEqual([...encodeServer(empty, schema)], [1, 100, 7, 0]);
  // Skip 0 (`1`), the mask (`0`, the courses x, y, heading `1 1 0`, no other field `0`), x +3
  // (zigzag 6: `0` + 3 bits), y −2 (zigzag 3): 14 bits in two bytes, after the count.
  const move = { ...empty, updated: [{ id: 5, mask: 0b110, lanes: [3, -2] }] };
  const held = [[2, 0], [5, 0]];
  assert.deepEqual([...encodeServer(move, schema, [[5, 0]])], [1, 100, 7, 1, 1, 0x0d, 0x1b]);
  assert.deepEqual(decodeServer(Uint8Array.of(1, 100, 7, 1, 1, 0x0d, 0x1b), schema, [[5, 0]]), move);
  // Behind entity 2 the same update skips one: `0 1 0` instead of `1`, two bits more.
  const far = encodeServer(move, schema, held);
  assert.deepEqual(decodeServer(far, schema, held), move);
  assert.equal(far.length, 7);
  assert.throws(() => decodeServer(far, schema, [[5, 0]]), /past the 1 entities/);
});

// ---------------------------------------------------------------- callbacks and helpers

test('callbacks fire per kind, for players, the room and events', () => {
  const r = Replica.fromWelcome(welcomeBytes);
  const log = [];
  const counts = {};
  const count = (key) => {
    counts[key] = (counts[key] ?? 0) + 1;
  };
  for (const kind of ['ship', 'rock', 'marker']) {
    r.on(kind, {
      add: (id, e) => {
        count(`${kind}.add`);
        log.push(['add', kind, id, e.lanes.length]);
        assert.equal(r.entities.get(id), e);
      },
      change: (id, e, mask) => {
        count(`${kind}.change`);
        log.push(['change', kind, id, mask]);
      },
      remove: (id) => {
        count(`${kind}.remove`);
        log.push(['remove', kind, id]);
        assert.equal(r.entities.has(id), false);
      },
    });
  }
  r.onPlayer({
    join: (id, p) => log.push(['join', id, p.name]),
    change: (id, p) => log.push(['player', id, p.connected]),
    leave: (id) => log.push(['leave', id]),
  });
  r.onRoom((room) => log.push(['room', ...room]));
  r.onEvent('shout', (v) => log.push(['shout', v.at_x, v.word, v.loud]));
  r.onEvent('chat', (v) => log.push(['chat', v.player, v.text]));
  const off = r.onEvent('rejected', () => log.push(['never']));
  off();
  const perSnapshot = [];
  for (const s of doc.snapshots) {
    const before = log.length;
    r.receive(bin(s.file));
    perSnapshot.push(log.slice(before));
  }
  assert.deepEqual(counts, {
    'ship.add': 3, 'rock.add': 3, 'marker.add': 7,
    'ship.change': 22, 'rock.change': 5,
    'ship.remove': 1, 'marker.remove': 1,
  });
  assert.deepEqual(perSnapshot[0], [
    ['add', 'ship', 0, 7], ['add', 'ship', 3, 7], ['add', 'marker', 7, 0], ['add', 'rock', 300, 8],
    ['join', 1, 'ann'], ['join', 2, 'bö😀'], ['room', 1, 4000],
  ]);
  assert.deepEqual(perSnapshot[1], [
    ['change', 'ship', 0, 6], ['change', 'ship', 3, 78], ['change', 'rock', 300, 255],
    ['player', 2, true], ['chat', 2, 'hi there'], ['shout', -12345 / 8, 'ÿo', true],
  ]);
  // Ship 0 moves on its course with no update on the wire: its change still fires.
  assert.deepEqual(perSnapshot[2], [['change', 'ship', 0, 6]]);
  assert.deepEqual(perSnapshot[3], [['change', 'ship', 0, 6]]);
  assert.deepEqual(perSnapshot[4], [
    ['remove', 'ship', 3], ['remove', 'marker', 7], ['change', 'ship', 0, 14], ['leave', 2],
    ['room', 2, 4600],
  ]);
  // Rock 50, created and updated in the same snapshot: `add`, then `change`.
  assert.deepEqual(perSnapshot[7], [
    ['add', 'rock', 50, 8], ['add', 'rock', 150, 8],
    ...[310, 311, 312, 313, 314, 315].map((id) => ['add', 'marker', id, 0]),
    ['add', 'ship', 400, 7],
    ['change', 'ship', 0, 0b11110], ['change', 'rock', 50, 0b110], ['change', 'rock', 300, 0b10011],
  ]);
  // Ship 400, its update held: it changes by its course alone.
  for (const i of [9, 10, 11]) assert.ok(perSnapshot[i].some((l) => l[2] === 400 && l[3] === 6));
});

test('fields by name, dequantized values and quantization', () => {
  const r = Replica.fromWelcome(welcomeBytes);
  for (const s of doc.snapshots.slice(0, 2)) r.receive(bin(s.file));
  assert.equal(r.field('ship', 'x'), 1);
  assert.equal(r.field('rock', 'scale'), 7);
  assert.equal(r.playerField('team'), 3);
  assert.equal(r.roomField('ends_at'), 1);
  assert.throws(() => r.field('ship', 'nope'), /no field "nope"/);
  assert.throws(() => r.on('boat', {}), /no entity kind "boat"/);
  assert.equal(r.value(0, 'x'), 803 / 8);
  assert.equal(r.value(0, 'heading'), (64 / 256) * 2 * Math.PI);
  assert.equal(r.value(300, 'spin'), 0);
  assert.equal(r.value(300, 'scale'), -1 / 100);
  assert.equal(r.value(300, 'alive'), false);
  assert.equal(r.value(12345, 'x'), undefined);
  assert.equal(r.playerValue(1, 'gold'), 250);
  assert.equal(r.roomValue('wave'), 1);
  assert.deepEqual(r.ofKind('ship').map(([id]) => id), [0, 3]);
  assert.equal(kindIndex(schema, 'marker'), 2);
  assert.equal(eventIndex(schema, 'shout'), ENGINE_EVENTS.COUNT + 1);
  assert.equal(dequantize('Angle16', 16384), Math.PI / 2);
  assert.equal(quantize({ Fixed: 8 }, 100.4), 803);
  assert.equal(quantize({ Fixed: 8 }, -0.0625), -1); // half away from zero, as Rust's round
  assert.equal(quantize('Angle8', -Math.PI / 2), 192);
  assert.equal(quantize('Angle16', 2 * Math.PI), 0);
  assert.equal(quantize('U8', 300), 255);
  assert.equal(quantize('I8', -300), -128);
  assert.equal(quantize('Bool', 7), 1);
});

// ---------------------------------------------------------------- hostile bytes

test('every truncation of every vector throws a WireError, and so does a trailing byte', () => {
  const rs = replicas();
  const cases = [
    [welcomeBytes, (b) => decodeServer(b, null), 'welcome'],
    ...doc.snapshots.map((s, i) => [bin(s.file), (b) => rs[i].decode(b), s.file]),
    ...doc.client.map((c) => [bin(c.file), (b) => decodeClient(b, schema), c.file]),
  ];
  for (const [bytes, decode, name] of cases) {
    decode(bytes);
    for (let cut = 0; cut < bytes.length; cut++) {
      assert.throws(() => decode(bytes.subarray(0, cut)), WireError, `${name} cut at ${cut}`);
    }
    const longer = new Uint8Array(bytes.length + 1);
    longer.set(bytes);
    assert.throws(() => decode(longer), (e) => e instanceof WireError && e.code === 'TrailingBytes',
      `${name} with a trailing byte`);
  }
});

test('random corruptions of every vector decode or throw a WireError, quickly', () => {
  const rs = replicas();
  const rand = rng(7);
  const cases = [
    [welcomeBytes, (b) => decodeServer(b, null), 'welcome'],
    ...doc.snapshots.map((s, i) => [bin(s.file), (b) => rs[i].decode(b), s.file]),
    ...doc.client.map((c) => [bin(c.file), (b) => decodeClient(b, schema), c.file]),
  ];
  const start = Date.now();
  for (const [bytes, decode, name] of cases) {
    for (let n = 0; n < 400; n++) {
      const b = bytes.slice();
      const flips = 1 + Math.floor(rand() * 3);
      for (let k = 0; k < flips; k++) {
        const at = Math.floor(rand() * b.length);
        b[at] = rand() < 0.3 ? [0xfb, 0xfc, 0xfd, 0xfe, 0xff][Math.floor(rand() * 5)]
          : Math.floor(rand() * 256);
      }
      let msg = null;
      decodesOrWireError(() => {
        msg = decode(b);
      }, `${name} corruption ${n}`);
      // A snapshot that still decodes either applies or throws a ReplicaError.
      const at = doc.snapshots.findIndex((s) => s.file === name);
      if (msg?.type === 'Snapshot' && at >= 0) {
        const r = replicaAfter(at);
        try {
          r.apply(msg);
        } catch (e) {
          assert.ok(e instanceof ReplicaError, `${name} corruption ${n} applied: ${e}`);
        }
      }
    }
  }
  assert.ok(Date.now() - start < 5000, 'decoding corrupted messages took too long');
});

test('specific hostile snapshots throw clear errors', () => {
  const rs = replicas();
  const after1 = rs[1];
  const dec = (bytes) => after1.decode(Uint8Array.from(bytes));
  const throwsCode = (bytes, code, re) => assert.throws(() => dec(bytes),
    (e) => e instanceof WireError && e.code === code && (!re || re.test(e.message)),
    `${code}: ${bytes}`);
  // A count of 2^32 - 1 removals in a 9-byte message: refused before any loop or allocation
  // (more than the client holds).
  throwsCode([1, 1, 0, 4, 252, 0xff, 0xff, 0xff, 0xff], 'Invalid', /removals of 4 entities held/);
  // The same with the 8-byte form, and a count that is not even a safe integer.
  throwsCode([1, 1, 0, 4, 253, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], 'Invalid');
  // As many creations: more than the bits left could hold.
  throwsCode([1, 1, 0, 2, 252, 0xff, 0xff, 0xff, 0xff], 'Invalid', /creations in 0 bytes/);
  // A varint marker that does not exist.
  throwsCode([1, 254, 0, 0], 'BadVarint');
  throwsCode([1, 255, 0, 0], 'BadVarint');
  // A tick wider than u32.
  throwsCode([1, 253, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0], 'BadVarint');
  // Unknown message type; a tick marker with a gap of 0, or none.
  // (5 and 6 are the WebTransport messages: a message 5 with nothing after it ends early.)
  throwsCode([7], 'Invalid', /unknown server message/);
  throwsCode([5], 'Eof');
  // A redirect cut short, or with a byte after its three strings.
  throwsCode([4, 2, 0x77, 0x73], 'Eof');
  throwsCode([4, 0, 0, 0, 0], 'TrailingBytes');
  throwsCode([3, 0], 'Invalid', /gap of 0/);
  throwsCode([3], 'Eof');
  // The updated section, a bit stream. After snapshot 1 the view is ships 0 and 3, marker 7,
  // rock 300 (places 0..3); `upd` writes the count, then the bits `f` puts.
  const stream = (f) => {
    const b = new BitWriter();
    f(b);
    return b.finish();
  };
  const upd = (count, f) => [1, 120, 0, 1, count, ...stream(f)];
  const heading = codeOf(T.Angle8, false, true);
  // An angle residual of half a turn has no code (+128 is outside [-128, 128)): the encoder
  // refuses it; -128 (zigzag 255, the 8-bit class) applies.
  assert.throws(() => stream((b) => b.lane(heading, 128)), (e) => e instanceof WireError);
  const r2 = replicaAfter(2);
  // The mask in the course code: `0`, the courses x, y, heading `0 0 1`, no other field `0`.
  const onlyHeading = (b) => {
    b.put(0, 1);
    b.put(0b100, 3);
    b.put(0, 1);
  };
  r2.apply(r2.decode(Uint8Array.from(upd(1, (b) => {
    b.gamma(1);
    onlyHeading(b);
    b.lane(heading, -128);
  }))));
  assert.equal(r2.entities.get(0).lanes[3], 192);
  // A created entity of an unknown kind.
  // (Its id 9: gamma(10); its kind in 2 bits, three kinds: 3.)
  throwsCode([1, 120, 0, 2, 1, ...stream((b) => {
    b.gamma(10);
    b.put(3, 2);
  })], 'Invalid', /unknown entity kind 3/);
  // Creations out of id order cannot be written.
  const first = doc.snapshots[0].msg;
  assert.doesNotThrow(() => encodeServer(first, schema, []));
  const backwards = { ...first, created: [...first.created].reverse() };
  assert.throws(() => encodeServer(backwards, schema, []), /ascending id order/);
  // An update past the view (place 4 of 4), and more updates than entities in view.
  throwsCode(upd(1, (b) => b.gamma(5)), 'Invalid', /past the 4 entities/);
  throwsCode(upd(5, (b) => b.gamma(1)), 'Invalid', /5 updates in a view of 4/);
  throwsCode([1, 120, 0, 1, 0], 'Invalid', /0 updates/);
  // A skip code of 33 zeros; a stream cut short (ship 0's mask names x, whose lane is not
  // there: the skip and mask fill the one byte).
  throwsCode(upd(1, (b) => b.put(0, 33)), 'Invalid', /longer than 32 bits/);
  throwsCode(upd(1, (b) => {
    b.gamma(1);
    b.put(0, 1);
    b.put(0b001, 3);
    b.put(0, 1);
  }), 'Eof');
  // Padding bits that are not 0: the marker's update (no fields) is the single bit `1` after
  // a skip of 2 (`0 1 1`); a stray bit after it.
  assert.deepEqual(dec(upd(1, (b) => b.gamma(3))).updated, [{ id: 7, mask: 0, lanes: [] }]);
  throwsCode(upd(1, (b) => {
    b.gamma(3);
    b.put(1, 1);
  }), 'Invalid', /padding/);
  // The mask {x} in the course code: `0`, the courses x, y, heading `1 0 0`, no other `0`.
  const onlyX = (b) => {
    b.put(0, 1);
    b.put(0b001, 3);
    b.put(0, 1);
  };
  // The reset escape: ship 0's mask empty (`0`, `0 0 0`, `0`), then its mask proper (x,
  // residual 3).
  const esc = dec(upd(1, (b) => {
    b.gamma(1);
    b.put(0, 5);
    onlyX(b);
    b.lane(codeOf(T.Fixed, false, true), 3);
  }));
  assert.deepEqual([esc.reset, esc.updated], [[0], [{ id: 0, mask: 0b10, lanes: [3] }]]);
  // The rock has no extrapolated field: an empty mask is an empty update, no escape.
  const plain = dec(upd(1, (b) => {
    b.gamma(4);
    b.put(0, 8);
  }));
  assert.deepEqual([plain.reset, plain.updated], [undefined, [{ id: 300, mask: 0, lanes: [] }]]);
  // A number in a wider class than it needs: ship 0's x residual 3 (zigzag 6) in the last
  // class (30 one bits, then 33 bits), where only zigzags from 2^33 − 8 belong.
  throwsCode(upd(1, (b) => {
    b.gamma(1);
    onlyX(b);
    b.put(2 ** 30 - 1, 30);
    b.put(6, 33);
  }), 'Invalid', /wider code/);
  // A mask in a longer code than it needs: every course after a `0`.
  throwsCode(upd(1, (b) => {
    b.gamma(1);
    b.put(0, 1);
    b.put(0b111, 3);
    b.put(0, 1);
  }), 'Invalid', /longer code/);
  // A value lane beyond its type cannot be written (a Bool takes 1 bit, a U16 16): what is
  // left is a U32 value past 2^32 − 1, which the 32 bits cannot hold either, so the encoder
  // refuses it.
  assert.throws(() => stream((b) => b.lane(codeOf(T.U32, false, false), 2 ** 32)), WireError);
  // A joined player whose name is not UTF-8, or longer than 24 characters.
  throwsCode([1, 120, 0, 128, 0, 1, 9, 2, 0xc3, 0x28, 1, 0, 0, 0, 0], 'BadText');
  throwsCode([1, 120, 0, 128, 0, 1, 9, 25, ...Array(25).fill(97), 1, 0, 0, 0, 0], 'BadText');
  throwsCode([1, 120, 0, 128, 0, 1, 9, 200, ...Array(200).fill(97), 1, 0, 0, 0, 0], 'BadText');
  // A connected flag of 2.
  throwsCode([1, 120, 0, 16, 1, 1, 2, 0, 0, 0, 0], 'OutOfRange');
  // An unknown event, and an event text over its limit (notice: 200 characters).
  throwsCode([1, 120, 0, 8, 1, 5], 'Invalid', /unknown event 5/);
  throwsCode([1, 120, 0, 8, 1, 1, 251, 201, 0, ...Array(201).fill(97)], 'BadText');
  // The checksum cut short.
  throwsCode([1, 120, 0, 64, 1, 2, 3], 'Eof');
  // A snapshot before the welcome.
  assert.throws(() => decodeServer(Uint8Array.of(1, 1, 0, 0), null),
    (e) => e instanceof WireError && /before the welcome|needs the schema/.test(e.message));
  // Bytes given as an ArrayBuffer work too.
  assert.equal(after1.decode(Uint8Array.of(1, 120, 0, 0).buffer).tick, 120);
});

test('hostile welcomes and client messages throw clear errors', () => {
  const bad = (bytes, re) => assert.throws(() => decodeServer(Uint8Array.from(bytes), null),
    (e) => e instanceof WireError && re.test(e.message), String(re));
  const head = [0, 2, 1, 30, 100, 2, 0, 0]; // version, player, rate, tick, interval, token "", resumed
  const tail = (schemaBytes) => [...head, ...schemaBytes, 0];
  const sch = (kinds) => [0, ...kinds, 0, 0, 0, 0, 0]; // game "", kinds, then empty lists
  const field = (ty, delta = 0, extrapolate = 0) => [1, 97, ...ty, 0, 0, 0, delta, 0, extrapolate];
  // A minimal valid welcome decodes.
  const ok = decodeServer(Uint8Array.from(tail(sch([0]))), null);
  assert.equal(ok.schema.kinds.length, 0);
  // A bool of 2 (resumed), an option tag of 2, a u16 in the 4-byte form (bincode refuses it).
  bad([0, 2, 1, 30, 100, 2, 0, 2], /not a bool/);
  bad([0, 252, 2, 0, 0, 0], /too wide/);
  // A huge Vec length: refused at once.
  bad(tail([0, 253, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]), /length/);
  bad(tail(sch([1, 1, 107, 252, 0xff, 0xff, 0xff, 0x7f])), /length/);
  // An unknown FieldType or Interp variant.
  bad(tail(sch([1, 1, 107, 1, 1, 97, 14, 0, 0, 0, 0, 0, 0])), /FieldType variant 14/);
  bad(tail(sch([1, 1, 107, 1, 1, 97, 0, 3, 0, 0, 0, 0])), /Interp variant 3/);
  // Schemas the codec cannot work with: text in an entity, delta on an angle, Fixed(0),
  // more than 64 fields.
  bad(tail(sch([1, 1, 107, 1, ...field([12, 5])])), /is text/);
  bad(tail(sch([1, 1, 107, 1, ...field([8], 1)])), /delta/);
  // Extrapolation of a Bool, or together with delta.
  bad(tail(sch([1, 1, 107, 1, ...field([0], 0, 1)])), /extrapolation needs/);
  bad(tail(sch([1, 1, 107, 1, ...field([6], 1, 1)])), /neither delta/);
  assert.doesNotThrow(() => decodeServer(Uint8Array.from(tail(sch([1, 1, 107, 1, ...field([8], 0, 1)]))), null));
  bad(tail(sch([1, 1, 107, 1, ...field([7, 0])])), /Fixed\(0\)/);
  bad(tail(sch([1, 1, 107, 65, ...Array(65).fill(field([1])).flat()])), /more than 64/);
  assert.doesNotThrow(() => decodeServer(Uint8Array.from(
    tail(sch([1, 1, 107, 64, ...Array(64).fill(field([1])).flat()]))), null));
  // Invalid UTF-8 in the game name.
  bad([...head, 1, 0xff, 0, 0, 0, 0, 0, 0, 0], /UTF-8/);
  // Client side: an unknown action, an Input before the schema, Chat not UTF-8.
  const badClient = (bytes, re, s = schema) => assert.throws(
    () => decodeClient(Uint8Array.from(bytes), s),
    (e) => e instanceof WireError && re.test(e.message), String(re));
  badClient([4, 1, 2], /unknown action 2/);
  badClient([1, 0], /needs the schema/, null);
  badClient([3, 1, 0xff], /UTF-8/);
  badClient([5], /unknown client message 5/);
  assert.deepEqual(decodeClient(Uint8Array.of(1, 1, 1, 0, 0x80, 0, 0, 0), schema).cmds[0].lanes,
    [-128, 0, 0, 0]);
  badClient([1, 1, 1, 0, 0x80, 0, 0, 0, 0], /trailing/);
});

test('the replica refuses snapshots that do not fit, as Rust does', () => {
  const fresh = () => {
    const r = Replica.fromWelcome(welcomeBytes);
    r.receive(bin(doc.snapshots[0].file));
    return r;
  };
  const snap = (over) => ({
    type: 'Snapshot', tick: 200, ack_input_seq: 0, removed: [], created: [], updated: [],
    players_left: [], players_joined: [], players_changed: [], room: null, events: [],
    checksum: null, ...over,
  });
  const code = (r, s, c) => assert.throws(() => r.apply(s),
    (e) => e instanceof ReplicaError && e.code === c, c);
  code(fresh(), snap({ tick: 101 }), 'OutOfOrder');
  code(fresh(), snap({ tick: 50 }), 'OutOfOrder');
  code(fresh(), snap({ created: [{ id: 3, kind: 2, lanes: [] }] }), 'DuplicateCreate');
  code(fresh(), snap({ removed: [9] }), 'UnknownEntity');
  code(fresh(), snap({ updated: [{ id: 9, mask: 0, lanes: [] }] }), 'UnknownEntity');
  code(fresh(), snap({ players_left: [9] }), 'BadPlayer');
  code(fresh(), snap({ players_joined: [{ id: 1, name: 'x', connected: true, lanes: [0, 0, 0, 0] }] }), 'BadPlayer');
  code(fresh(), snap({ players_changed: [{ id: 9, connected: true, lanes: [0, 0, 0, 0] }] }), 'BadPlayer');
  // Delta lanes that leave the field's range: ship.x (Fixed, i32) and rock.y (I16).
  code(fresh(), snap({ updated: [{ id: 0, mask: 2, lanes: [2 ** 31] }] }), 'BadValue');
  code(fresh(), snap({ updated: [{ id: 300, mask: 2, lanes: [-1] }] }), 'BadValue');
  assert.doesNotThrow(() => fresh().apply(snap({ updated: [{ id: 300, mask: 2, lanes: [65535] }] })));
  // The same through the bytes: a delta of -1 on rock.y held at -32768. The rock is place 3
  // of the view (skip 3: `0 0 1 0 0`), mask 0b10 in 8 bits, zigzag 1 in the 4-bit class.
  const r = fresh();
  const bytes = Uint8Array.of(1, 120, 0, 1, 1, 0x44, 0x40, 0x00);
  assert.deepEqual([...encodeServer(snap({ tick: 120, updated: [{ id: 300, mask: 2, lanes: [-1] }] }),
    schema, r.held())], [...bytes]);
  const s = r.decode(bytes);
  assert.deepEqual(s.updated, [{ id: 300, mask: 2, lanes: [-1] }]);
  code(r, s, 'BadValue');
  // A checksum that differs: the message names both values.
  const m = fresh();
  assert.throws(() => m.apply(snap({ checksum: 0x12345678 })),
    (e) => e instanceof ReplicaError && e.code === 'ChecksumMismatch' && e.server === 0x12345678
      && /server 0x12345678, replica 0x[0-9a-f]{8}/.test(e.message));
  // The first snapshot may be at or before the Welcome's tick (as in Rust).
  const first = Replica.fromWelcome(welcomeBytes);
  assert.doesNotThrow(() => first.apply(snap({ tick: 1 })));
  // No callback fires for a snapshot that failed.
  const cb = fresh();
  let calls = 0;
  cb.on('ship', { add: () => calls++, change: () => calls++, remove: () => calls++ });
  assert.throws(() => cb.apply(snap({ removed: [0], checksum: 1 })), ReplicaError);
  assert.equal(calls, 0);
});

// ---------------------------------------------------------------- wire details

test('varints take the shortest form and accept longer ones', () => {
  const values = [0, 250, 251, 65535, 65536, 0xffffffff, 2 ** 32, 2 ** 53 - 1];
  const w = new Writer(4);
  for (const v of values) w.varint(v);
  w.varint(0xffffffffffffffffn);
  const out = w.finish();
  assert.equal(out.length, 1 + 1 + 3 + 3 + 5 + 5 + 9 + 9 + 9);
  const r = new Reader(out);
  for (const v of values) assert.equal(r.varint(), v);
  assert.equal(r.varint(), 0xffffffffffffffffn);
  r.finish();
  assert.equal(new Reader(Uint8Array.of(251, 5, 0)).varint(), 5);
  assert.equal(new Reader(Uint8Array.of(253, 5, 0, 0, 0, 0, 0, 0, 0)).varint32(), 5);
  assert.equal(new Reader(Uint8Array.of(252, 7, 0, 0, 0)).lane(T.U16), 7);
  // bincode's serde parts: a u16 may use 251 but not 252; a u32 not 253.
  assert.equal(new Reader(Uint8Array.of(251, 5, 0)).serdeU16(), 5);
  assert.throws(() => new Reader(Uint8Array.of(252, 5, 0, 0, 0)).serdeU16(), WireError);
  assert.throws(() => new Reader(Uint8Array.of(253, 5, 0, 0, 0, 0, 0, 0, 0)).serdeU32(), WireError);
});

test('zigzag matches bincode for i32 and every lane type keeps its range', () => {
  const cases = [[0, [0]], [-1, [1]], [1, [2]], [-64, [127]], [63, [126]], [1000, [251, 0xd0, 0x07]],
    [-2147483648, [252, 0xff, 0xff, 0xff, 0xff]], [2147483647, [252, 0xfe, 0xff, 0xff, 0xff]]];
  for (const [v, bytes] of cases) {
    const w = new Writer();
    w.zigzag(v);
    assert.deepEqual([...w.finish()], bytes, String(v));
    assert.equal(new Reader(Uint8Array.from(bytes)).zigzag(), v);
  }
  const w = new Writer();
  w.zigzag(-(2n ** 63n));
  assert.deepEqual([...w.finish()], [253, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
  const edges = {
    [T.Bool]: [0, 1], [T.U8]: [0, 255], [T.U16]: [0, 65535], [T.U32]: [0, 0xffffffff],
    [T.I8]: [-128, 127], [T.I16]: [-32768, 32767], [T.I32]: [-(2 ** 31), 2 ** 31 - 1],
    [T.Fixed]: [-(2 ** 31), 2 ** 31 - 1], [T.Angle8]: [0, 255], [T.Angle16]: [0, 65535],
    [T.Player]: [0, 0xffffffff], [T.Entity]: [0, 0xffffffff],
  };
  for (const [code, [lo, hi]] of Object.entries(edges)) {
    const c = Number(code);
    for (const v of [lo, hi]) {
      const lw = new Writer();
      lw.lane(c, v);
      assert.equal(new Reader(lw.finish()).lane(c), v, `type ${c} value ${v}`);
    }
    assert.throws(() => new Writer().lane(c, hi + 1), WireError);
    assert.throws(() => new Writer().lane(c, lo - 1), WireError);
  }
  assert.throws(() => new Writer().lane(T.U8, 1.5), WireError);
});

test('text is counted in characters and bounded in bytes', () => {
  const w = new Writer();
  w.str('héllo');
  const b = w.finish();
  assert.equal(new Reader(b).str(5), 'héllo');
  assert.throws(() => new Reader(b).str(4), (e) => e.code === 'BadText');
  const emoji = new Writer();
  emoji.str('😀😀');
  assert.equal(new Reader(emoji.finish()).str(2), '😀😀');
  assert.throws(() => new Writer().str('abc', 2), WireError);
  assert.throws(() => encodeClient({ type: 'Action', seq: 1, kind: 0, values: [1, 'x'.repeat(21)] }, schema),
    WireError);
});

test('masks above 2^53 are BigInts and round trip', () => {
  const bits = [0, 5, 31, 32, 52, 53, 63];
  const mask = bits.reduce((m, b) => m | (1n << BigInt(b)), 0n);
  assert.deepEqual(maskBits(mask), bits);
  assert.deepEqual(maskBits(2 ** 52 + 2 ** 32 + 1), [0, 32, 52]);
  const w = new Writer();
  w.varint(mask);
  assert.equal(new Reader(w.finish()).varint(), mask);
  // A 64-field kind, updated with bits 0 and 63.
  const wide = {
    ...schema,
    kinds: [{ name: 'wide', fields: Array.from({ length: 64 }, (_, i) => ({
      name: `f${i}`, ty: 'U8', interp: 'None', predict: false, owner_only: false, delta: false,
      discontinuity: false,
    })) }],
  };
  const s = {
    type: 'Snapshot', tick: 1, ack_input_seq: 0, removed: [], created: [],
    updated: [{ id: 1, mask: (1n << 63n) | 1n, lanes: [4, 5] }], players_left: [],
    players_joined: [], players_changed: [], room: null, events: [], checksum: null,
  };
  const bytes = encodeServer(s, wide, [[1, 0]]);
  assert.deepEqual(decodeServer(bytes, wide, [[1, 0]]), s);
});

test('encoders refuse what the decoder would refuse', () => {
  assert.throws(() => encodeClient({ type: 'Input', cmds: [{ seq: 1, view_tick: 0, lanes: [0, 0, 0] }] },
    schema), /4 lanes expected/);
  assert.throws(() => encodeClient({ type: 'Input', cmds: [{ seq: 1, view_tick: 0, lanes: [128, 0, 0, 0] }] },
    schema), /out of range for I8/);
  assert.throws(() => encodeClient({ type: 'Action', seq: 1, kind: 9, values: [] }, schema), /unknown action/);
  assert.throws(() => encodeClient({ type: 'Nope' }, schema), /unknown client message/);
  assert.throws(() => encodeServer({ type: 'Snapshot', tick: 1, ack_input_seq: 0,
    updated: [{ id: 77, mask: 1, lanes: [1] }] }, schema), /entity 77 that the client does not hold/);
});
