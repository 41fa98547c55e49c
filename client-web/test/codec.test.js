// Codec conformance: every golden vector the Rust suite writes (shared/tests/golden.rs) decodes
// to its JSON description, and re-encodes to the very same bytes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  CodecError,
  decodeClient,
  decodeServer,
  encodeClient,
  encodeServer,
} from '../src/codec.js';

const dir = fileURLToPath(new URL('./vectors/', import.meta.url));
const vectors = JSON.parse(readFileSync(dir + 'messages.json', 'utf8'));

// Fields that are f32 on the wire: JSON holds their shortest f32 text, the decoder the exact value.
const FLOAT_KEYS = new Set([
  'view_radius', 'width', 'height', 'min_x', 'min_y', 'max_x', 'max_y', 'player_radius',
  'player_speed', 'projectile_speed', 'projectile_radius', 'hitscan_range',
]);

function sameShape(actual, expected, path = 'msg') {
  if (typeof expected === 'number') {
    const key = path.split('.').pop();
    const want = FLOAT_KEYS.has(key) ? Math.fround(expected) : expected;
    assert.ok(Object.is(actual, want), `${path}: got ${actual}, want ${want}`);
  } else if (Array.isArray(expected)) {
    assert.ok(Array.isArray(actual), `${path} is not an array`);
    assert.equal(actual.length, expected.length, `${path}.length`);
    expected.forEach((e, i) => sameShape(actual[i], e, `${path}[${i}]`));
  } else if (expected !== null && typeof expected === 'object') {
    assert.deepEqual(Object.keys(actual).sort(), Object.keys(expected).sort(), `${path} keys`);
    for (const k of Object.keys(expected)) sameShape(actual[k], expected[k], `${path}.${k}`);
  } else {
    assert.equal(actual, expected, path);
  }
}

test('the vector set covers every message and event type', () => {
  const types = new Set(vectors.map((v) => `${v.direction}:${v.message.type}`));
  for (const t of ['client:Hello', 'client:Input', 'client:Ping', 'client:Chat',
    'server:Welcome', 'server:Snapshot', 'server:Pong']) {
    assert.ok(types.has(t), `no vector for ${t}`);
  }
  const events = new Set(vectors.flatMap((v) => (v.message.events ?? []).map((e) => e.type)));
  assert.equal(events.size, 7);
});

for (const v of vectors) {
  test(`golden vector ${v.name} decodes and re-encodes byte for byte`, () => {
    const bytes = new Uint8Array(readFileSync(`${dir}${v.name}.bin`));
    const decode = v.direction === 'client' ? decodeClient : decodeServer;
    const encode = v.direction === 'client' ? encodeClient : encodeServer;
    const msg = decode(bytes);
    sameShape(msg, v.message);
    assert.deepEqual(encode(msg), bytes, 're-encoding the decoded message');
    assert.deepEqual(encode(v.message), bytes, 'encoding the JSON description');
    // Cutting the message anywhere, or adding a byte, is refused.
    for (let cut = 0; cut < bytes.length; cut++) {
      assert.throws(() => decode(bytes.subarray(0, cut)), CodecError, `cut at ${cut}`);
    }
    const longer = new Uint8Array(bytes.length + 1);
    longer.set(bytes);
    assert.throws(() => decode(longer), /trailing bytes/);
  });
}

test('the worked example of docs/PROTOCOL.md', () => {
  const bytes = encodeClient({
    type: 'Input',
    cmds: [{ seq: 1, move_x: 127, move_y: 0, aim: 16384, buttons: 1, view_tick: 300 }],
  });
  assert.deepEqual([...bytes], [0x01, 0x01, 0x01, 0x7f, 0x00, 0xfb, 0x00, 0x40, 0x01, 0xfb, 0x2c, 0x01]);
});

test('longer varint forms decode, values too large for the field do not', () => {
  assert.deepEqual(decodeClient(Uint8Array.of(0x02, 0xfb, 0x05, 0x00)), { type: 'Ping', client_time: 5 });
  assert.deepEqual(decodeServer(Uint8Array.of(0x02, 0x05, 0xfd, 7, 0, 0, 0, 0, 0, 0, 0)),
    { type: 'Pong', client_time: 5, tick: 7 });
  assert.throws(() => decodeServer(Uint8Array.of(0x02, 0x05, 0xfd, 0, 0, 0, 0, 1, 0, 0, 0)), CodecError);
  assert.throws(() => decodeServer(Uint8Array.of(0x02, 0xfe)), /invalid varint tag/);
});

test('hostile server bytes are refused, never trusted', () => {
  // Unknown variant, mask with unknown bits, bad option tag, a count larger than the message.
  assert.throws(() => decodeServer(Uint8Array.of(3)), /unknown variant/);
  assert.throws(() => decodeServer(Uint8Array.of(1, 1, 0, 0, 0, 1, 5, 0x10, 0, 0)), /mask/);
  assert.throws(() => decodeServer(Uint8Array.of(1, 1, 0, 0, 0, 0, 0, 2)), /option tag/);
  assert.throws(() => decodeServer(Uint8Array.of(1, 1, 0, 0xfc, 0xff, 0xff, 0xff, 0xff)), /cannot fit/);
  // Invalid UTF-8 in a notice.
  assert.throws(() => decodeServer(Uint8Array.of(1, 1, 0, 0, 0, 0, 1, 5, 1, 0xff, 0)), /UTF-8/);
});
