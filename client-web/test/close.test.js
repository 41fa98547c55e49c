// The browser's close-code table is the Rust one: test/close_codes.json is written from
// shared/src/close.rs by shared/tests/close_codes.rs, and src/sdk/close.js must equal it exactly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CLOSE_CODES, UNKNOWN_CODE_RETRY, closeInfo, describeClose, retryPolicy } from '../src/sdk/close.js';

const file = fileURLToPath(new URL('./close_codes.json', import.meta.url));
const golden = JSON.parse(readFileSync(file, 'utf8'));

test('the table equals the one Rust wrote, code for code', () => {
  assert.deepEqual(
    { codes: CLOSE_CODES.map((c) => ({ ...c })), unknown_code_retry: UNKNOWN_CODE_RETRY },
    golden,
  );
});

test('retry policy follows the table', () => {
  for (const { code, retry } of golden.codes) assert.equal(retryPolicy(code), retry, String(code));
  assert.equal(retryPolicy(4006), 'never', 'a newer connection owns the player');
  assert.equal(retryPolicy(4003), 'later');
  assert.equal(retryPolicy(1006), 'reconnect');
  assert.equal(retryPolicy(4999), golden.unknown_code_retry);
  assert.equal(closeInfo(4005).name, 'TooSlow');
  assert.equal(closeInfo(4242), undefined);
});

test('close reasons read as sentences', () => {
  assert.match(describeClose(4000, 'protocol version 2 is not supported'), /different protocol versions: protocol version 2/);
  assert.equal(describeClose(1001, 'server shutting down'), 'The server is going away: server shutting down');
  assert.equal(describeClose(4005, ''), 'Could not keep up with the server');
  assert.equal(describeClose(4003, 'the room is full'), 'The room is full');
  assert.match(describeClose(4006, 'replaced by a newer connection'), /another tab or window/);
  assert.match(describeClose(1006, ''), /Lost the connection/);
  assert.match(describeClose(4242, 'odd'), /code 4242\): odd/);
});
