// End to end in headless Chromium against the real server binary, the page speaking protocol
// version 2 through the SDK: two pages join, page A's keyboard moves A and page B sees it; A
// shoots B (projectile, then hitscan) and the hit registers on both pages; A kills B and both
// scoreboards (the players' replicated records) and the kill feed show it; chat works; a
// dropped connection resumes the same player; the server is killed and restarted and the
// page reconnects by itself; a wrong protocol version shows its message.
// Screenshots go to test-results/.

import { after, before, test } from 'node:test';
import net from 'node:net';
import assert from 'node:assert/strict';
import { ServerProcess, SHOTS_DIR, joinPage, launchBrowser, summary, waitFor } from './harness.js';
import { PROTOCOL_VERSION } from '../../src/sdk/codec.js';

let server;
let browser;
let pageA;
let pageB;

before(async () => {
  // Everyone sees everyone (view radius larger than the arena), checksums every second so a
  // replica divergence in the JS client would show up as an error.
  server = await ServerProcess.start(['--view-radius', '5000', '--checksum-interval', '30']);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

const connected = (s) => s.connection === 'connected' && s.server !== null;

/** Where page `s` draws world point (x, y) on its canvas. */
function toScreen(s, x, y) {
  return [x - s.camera.x + s.viewport.width / 2, y - s.camera.y + s.viewport.height / 2];
}

test('the page joins and both players see each other', async () => {
  pageA = await joinPage(browser, server.url, 'alice');
  pageB = await joinPage(browser, server.url, 'bob');
  const a = await waitFor(pageA, (s) => connected(s) && s.others.length === 1, 'A to see B');
  const b = await waitFor(pageB, (s) => connected(s) && s.others.length === 1, 'B to see A');
  assert.equal(a.others[0].name, 'bob');
  assert.equal(b.others[0].name, 'alice');
  for (const s of [a, b]) {
    assert.equal(s.protocol, PROTOCOL_VERSION, `the page speaks protocol version ${PROTOCOL_VERSION}`);
    assert.equal(s.game, 'arena', "the schema in Welcome is the arena's");
  }
  assert.equal(await pageA.isHidden('#join'), true, 'the join form is gone once playing');
});

test("page A's keyboard moves A, and page B sees A move", async () => {
  const before = await summary(pageA);
  const seenBefore = (await summary(pageB)).others[0];
  // Move away from the nearer side wall so the walk is not stopped by it.
  const key = before.server.x < 1200 ? 'KeyD' : 'KeyA';
  const dir = key === 'KeyD' ? 1 : -1;
  await pageA.keyboard.down(key);
  try {
    // Prediction moves A at once, before the server has answered.
    await waitFor(pageA, (s) => (s.predicted.x - before.predicted.x) * dir > 20, 'A to move locally', 5000);
    await waitFor(pageB, (s) => s.others[0] && (s.others[0].x - seenBefore.x) * dir > 100, 'B to see A move', 10_000);
  } finally {
    await pageA.keyboard.up(key);
  }
  // Once A stops, the prediction and the server agree exactly. (The page sends a command
  // every tick, so `ackSeq` equals `seq` only between an acknowledgement and the next
  // command: wait for the commands up to the key's release instead.)
  const released = (await summary(pageA)).seq;
  const settled = await waitFor(
    pageA,
    (s) => s.ackSeq >= released && released > 0,
    'the commands up to the release acknowledged',
    5000,
  );
  const again = await waitFor(
    pageA,
    (s) => s.ackSeq >= settled.seq && s.server.x === s.predicted.x && s.server.y === s.predicted.y,
    'prediction to equal the server',
    5000,
  );
  assert.equal(Math.abs(again.server.y - before.server.y) < 1, true, 'moved horizontally only');
  await pageA.screenshot({ path: `${SHOTS_DIR}moved.png` });
});

test('A shoots B with the mouse and the hit registers', async () => {
  const deadline = Date.now() + 45_000;
  let sidestep = 0;
  for (;;) {
    assert.ok(Date.now() < deadline, 'A never landed a hit on B');
    const a = await summary(pageA);
    const bob = a.others.find((o) => o.name === 'bob');
    assert.ok(bob, 'B is in view');
    if (bob.health < 100) break;
    const dx = bob.x - a.predicted.x;
    const dy = bob.y - a.predicted.y;
    if (Math.hypot(dx, dy) > 300 || sidestep > 0) {
      // Walk towards B with the keyboard; if an obstacle stops us, sidestep for a while.
      const keys = [];
      if (sidestep > 0) {
        keys.push(Math.abs(dx) > Math.abs(dy) ? (sidestep % 2 ? 'KeyW' : 'KeyS') : sidestep % 2 ? 'KeyA' : 'KeyD');
        sidestep--;
      }
      if (Math.abs(dx) > 40) keys.push(dx > 0 ? 'KeyD' : 'KeyA');
      if (Math.abs(dy) > 40) keys.push(dy > 0 ? 'KeyS' : 'KeyW');
      for (const k of keys) await pageA.keyboard.down(k);
      await pageA.waitForTimeout(250);
      for (const k of keys) await pageA.keyboard.up(k);
      const moved = await summary(pageA);
      const progress = Math.hypot(moved.predicted.x - a.predicted.x, moved.predicted.y - a.predicted.y);
      if (progress < 10 && sidestep === 0) {
        sidestep = 6 + (Date.now() % 2);
      }
      continue;
    }
    // Close enough: aim at B on screen and fire a projectile (left button).
    const [sx, sy] = toScreen(a, bob.x, bob.y);
    await pageA.mouse.move(sx, sy);
    await pageA.mouse.down();
    await pageA.waitForTimeout(60);
    await pageA.mouse.up();
    try {
      await waitFor(pageA, (s) => s.others.some((o) => o.name === 'bob' && o.health < 100), 'the shot to land', 1500);
    } catch {
      // Blocked by an obstacle or B moved: walk a bit and try again.
      sidestep = 3;
    }
  }
  const b = await waitFor(pageB, (s) => s.server.health < 100, 'B to see its own health drop');
  assert.ok(b.server.health < 100);
  await pageA.screenshot({ path: `${SHOTS_DIR}hit.png` });
});

test('the hitscan weapon (right button) hits B and both pages get the tracer', async () => {
  // A is within range of B with a clear line (the projectile just got through).
  const deadline = Date.now() + 20_000;
  for (;;) {
    assert.ok(Date.now() < deadline, 'no hitscan hit');
    const a = await summary(pageA);
    if (a.hitsLanded > 0) break;
    const bob = a.others.find((o) => o.name === 'bob');
    const [sx, sy] = toScreen(a, bob.x, bob.y);
    await pageA.mouse.move(sx, sy);
    await pageA.mouse.down({ button: 'right' });
    await pageA.mouse.up({ button: 'right' });
    try {
      await waitFor(pageA, (s) => s.hitsLanded > 0, 'the hitscan event', 1000); // cooldown 0.8 s
    } catch {
      // Cooling down or B moved: aim again.
    }
  }
  await pageA.screenshot({ path: `${SHOTS_DIR}hitscan.png` });
  await waitFor(pageB, (s) => s.hitsTaken > 0, 'B to get the tracer that hit it');
});

test('A kills B: the kill feed and both scoreboards (replicated player records) show it', async () => {
  const deadline = Date.now() + 40_000;
  for (;;) {
    assert.ok(Date.now() < deadline, 'A never killed B');
    const a = await summary(pageA);
    if (a.kills > 0) break;
    const bob = a.others.find((o) => o.name === 'bob');
    if (bob?.alive) {
      const [sx, sy] = toScreen(a, bob.x, bob.y);
      await pageA.mouse.move(sx, sy);
      await pageA.mouse.down({ button: 'right' });
      await pageA.mouse.up({ button: 'right' });
    }
    await pageA.waitForTimeout(300);
  }
  const row = (s, name) => s.scoreboard.find((p) => p.name === name);
  for (const page of [pageA, pageB]) {
    const s = await waitFor(page, (x) => row(x, 'alice')?.score === 1 && row(x, 'bob')?.deaths === 1, 'the scoreboard to show the kill', 5000);
    assert.equal(row(s, 'alice').deaths, 0);
    assert.equal(row(s, 'bob').score, 0);
  }
  assert.match(await pageB.textContent('#killfeed'), /alice ✕ bob/);
  await pageB.screenshot({ path: `${SHOTS_DIR}killed.png` });
});

test('chat and the scoreboard', async () => {
  await pageA.keyboard.press('Enter');
  await pageA.keyboard.type('hello from alice');
  await pageA.keyboard.press('Enter');
  await waitFor(pageB, (s) => s.chats.includes('hello from alice'), 'B to receive the chat line');
  await pageB.keyboard.down('Tab');
  await pageB.waitForSelector('#scoreboard:not([hidden])');
  const rows = await pageB.$$eval('#scoreboard tbody tr', (trs) => trs.map((tr) => tr.textContent));
  await pageB.screenshot({ path: `${SHOTS_DIR}scoreboard.png` });
  await pageB.keyboard.up('Tab');
  await pageB.waitForSelector('#scoreboard', { state: 'hidden' });
  assert.equal(rows.length, 2);
  assert.ok(rows.some((r) => r.startsWith('alice')) && rows.some((r) => r.startsWith('bob')), rows.join('|'));
  const cells = await pageB.$$eval('#scoreboard tbody tr', (trs) => trs.map((tr) => [...tr.cells].map((c) => c.textContent)));
  assert.deepEqual(cells[0], ['alice', '1', '0'], 'the killer on top, from the replicated records');
});

/** A TCP relay to the server whose connections the test can cut, like a network drop. */
function relay(target) {
  const sockets = new Set();
  const server = net.createServer((down) => {
    const up = net.connect(Number(target.split(':')[1]), target.split(':')[0]);
    for (const s of [down, up]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {});
    }
    down.pipe(up);
    up.pipe(down);
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => resolve({
      port: server.address().port,
      cut: () => { for (const s of sockets) s.destroy(); },
      close: () => new Promise((r) => { for (const s of sockets) s.destroy(); server.close(r); }),
    }));
  });
}

test('a dropped connection resumes the same player, and the others are told', async () => {
  const link = await relay(server.addr);
  const pageC = await joinPage(browser, `${server.url}?ws=ws://127.0.0.1:${link.port}/ws`, 'carol');
  try {
    const first = await waitFor(pageC, (s) => connected(s), 'C to join through the relay');
    await waitFor(pageA, (s) => s.scoreboard.some((p) => p.name === 'carol'), 'A to see carol on the scoreboard');
    link.cut();
    await waitFor(pageC, (s) => s.connection === 'reconnecting', 'C to notice the drop', 10_000);
    const back = await waitFor(pageC, (s) => s.welcomes === 2 && connected(s), 'C to resume', 20_000);
    assert.equal(back.resumed, true, 'the server took the player back');
    assert.equal(back.playerId, first.playerId, 'the same player');
    assert.equal(back.entityId, first.entityId, 'the same body (NetId)');
    const log = await pageA.textContent('#chat-log');
    assert.match(log, /carol lost connection/);
    assert.doesNotMatch(log, /carol left/);
    await pageA.waitForFunction(() => document.getElementById('chat-log').textContent.includes('carol is back'), null, { timeout: 5000 });
    assert.deepEqual(pageC.errors, []);
    assert.equal(back.faults, 0);
  } finally {
    // The relay first: closing the tab would send a close frame, which is a leave.
    await link.close();
    await pageC.close();
  }
  // The tab and its relay are gone without a close frame: carol keeps her seat for the resume
  // grace, shown as away (the record's replicated `connected` flag).
  await waitFor(pageA, (s) => s.scoreboard.some((p) => p.name === 'carol' && p.connected === false), 'carol to show as away', 5000);
});

test('the page reconnects by itself after the server is killed and restarted', async () => {
  const before = await summary(pageA);
  assert.equal(before.welcomes, 1);
  await server.stop('SIGKILL');
  const lost = await waitFor(pageA, (s) => s.connection === 'reconnecting', 'A to notice the lost connection', 10_000);
  assert.match(lost.detail, /retrying in/);
  assert.equal(await pageA.isVisible('#status'), true, 'the player is told');
  await pageA.screenshot({ path: `${SHOTS_DIR}reconnecting.png` });
  await server.restart();
  const back = await waitFor(pageA, (s) => s.welcomes === 2 && connected(s), 'A to rejoin', 30_000);
  assert.equal(await pageA.isVisible('#status'), false, 'the banner goes away');
  await waitFor(pageB, (s) => s.welcomes === 2 && connected(s), 'B to rejoin', 30_000);
  await waitFor(pageA, (s) => s.others.length === 1, 'A to see B again after the restart');
  assert.equal(back.replicaErrors, 0);
});

test('a wrong protocol version shows its reason and does not retry', async () => {
  const page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
  await page.goto(`${server.url}?protocol=999`);
  await page.fill('#name', 'time traveller');
  await page.click('#join-form button[type=submit]');
  const s = await waitFor(page, (x) => x.connection === 'closed', 'the version close');
  assert.equal(s.lastClose.code, 4000);
  const text = await page.textContent('#status-text');
  assert.match(text, /different protocol versions/);
  assert.match(text, /999/);
  assert.equal(await page.isVisible('#retry'), true);
  await page.screenshot({ path: `${SHOTS_DIR}version-mismatch.png` });
  await page.close();
});

test('no page script errors and no replica divergence', async () => {
  for (const p of [pageA, pageB]) {
    assert.deepEqual(p.errors, []);
    const s = await summary(p);
    assert.equal(s.replicaErrors, 0, 'no checksum mismatch');
    assert.equal(s.faults, 0, 'nothing the server sent was refused');
  }
});
