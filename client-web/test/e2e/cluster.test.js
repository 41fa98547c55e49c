// End to end in headless Chromium against two real server nodes coordinated through a real
// redis-server (docs/SCALING.md): page 1 opens node A's page and quick-matches (the page's
// default: plain /ws, no room); page 2 opens the page of the node that does NOT run that room
// and quick-matches too. The room fills before another opens, so both play in the same room,
// page 2 sent there by a Redirect; each sees the other on its scoreboard and the HUD tooltip
// names the room's node. Page 2 is then reloaded: its resume token (sessionStorage) reaches the
// node that served the page, which redirects it to the room's node, where it is taken back as
// the same player. Screenshots of both pages after the reload go to /tmp/cluster-*.png.
//
// Needs redis-server on the PATH (Debian: apt-get install redis-server).

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import net from 'node:net';
import { ServerProcess, launchBrowser, joinPage, waitFor } from './harness.js';

const SECRET = 'cluster-e2e-secret-of-at-least-32-bytes';

/** A free loopback TCP port (bound, read, released). */
function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Whether something accepts connections on 127.0.0.1:port. */
function listening(port) {
  return new Promise((resolve) => {
    const c = net.connect(port, '127.0.0.1');
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}

/** A real redis-server on a free port, no persistence; fails clearly when it is not installed. */
async function startRedis() {
  const port = await freePort();
  const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const exitHandler = () => proc.kill('SIGKILL');
  process.on('exit', exitHandler);
  const failed = new Promise((_, reject) => {
    proc.once('error', (e) => reject(new Error(
      e.code === 'ENOENT'
        ? 'redis-server is not installed: this test needs a real Redis (apt-get install redis-server)'
        : `redis-server did not start: ${e.message}`,
    )));
    proc.once('exit', (code) => reject(new Error(`redis-server exited with ${code} before listening`)));
  });
  failed.catch(() => {}); // raced below; a later exit is the stop
  const up = (async () => {
    const deadline = Date.now() + 10_000;
    while (!(await listening(port))) {
      if (Date.now() > deadline) throw new Error(`redis-server did not listen on ${port} in 10 s`);
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  await Promise.race([up, failed]);
  return {
    url: `redis://127.0.0.1:${port}/0`,
    async stop() {
      process.off('exit', exitHandler);
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const gone = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await gone;
    },
  };
}

let redis;
let nodeA;
let nodeB;
let browser;

before(async () => {
  redis = await startRedis();
  const node = (id) => ServerProcess.start([
    '--db', 'off', '--node', id, '--redis', redis.url, '--cluster-secret', SECRET, '--lease-ttl', '1500ms',
    // Everyone in everyone's view; a stopped node waits at most 1 s for its players to go.
    '--view-radius', '5000', '--drain-timeout', '1s',
  ]);
  nodeA = await node('ea');
  nodeB = await node('eb');
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await nodeA?.stop();
  await nodeB?.stop();
  await redis?.stop();
});

const connected = (s) => s.connection === 'connected' && s.server !== null;

/** The room of the page's resume token (`ROOM.SECRET`, kept in sessionStorage). */
async function roomOf(page) {
  const token = await page.evaluate(() => sessionStorage.getItem('tickwire.resume'));
  assert.ok(token, 'the page keeps its resume token in sessionStorage');
  return token.split('.')[0];
}

/** `/rooms` of `node`, as JSON rows. */
async function rooms(node) {
  const res = await fetch(`${node.url}rooms`);
  assert.equal(res.status, 200);
  return res.json();
}

test('two pages on two nodes quick-match into one room; a reload resumes on the room\'s node', async () => {
  const nodes = { ea: nodeA, eb: nodeB };
  const page1 = await joinPage(browser, nodeA.url, 'ada');
  const first1 = await waitFor(page1, connected, 'page 1 to join');
  const room = await roomOf(page1);
  // A matchmade room id names its node (`NODE-N`); the directory says the same.
  const ownerId = room.slice(0, room.lastIndexOf('-'));
  assert.ok(ownerId in nodes, `room ${room} is on one of the two nodes`);
  const owner = nodes[ownerId];
  const other = owner === nodeA ? nodeB : nodeA;
  assert.equal(new URL(first1.url).host, owner.addr, 'page 1 plays on the room\'s node');

  // Page 2 opens the page of the node that does not run the room.
  const page2 = await joinPage(browser, other.url, 'bea');
  const first2 = await waitFor(page2, connected, 'page 2 to join');
  assert.equal(await roomOf(page2), room, 'the room fills before another opens: the same room');
  assert.ok(first2.redirects >= 1, `page 2 was redirected to the room's node: ${JSON.stringify(first2)}`);
  assert.equal(new URL(first2.url).host, owner.addr, 'page 2 plays on the room\'s node');
  assert.equal(new URL(first2.url).searchParams.get('room'), room);

  // Each page sees the other player: on its scoreboard (every player's replicated record)
  // and as a body in the world.
  const names = (s) => s.scoreboard.map((p) => p.name).sort();
  const sees = (name) => (s) => names(s).join() === 'ada,bea' && s.others.some((o) => o.name === name);
  await waitFor(page1, sees('bea'), 'page 1 to see bea');
  await waitFor(page2, sees('ada'), 'page 2 to see ada');
  // Both nodes list exactly that one room, with two players, on its node.
  for (const n of [nodeA, nodeB]) {
    const deadline = Date.now() + 10_000;
    let rows;
    for (;;) {
      rows = await rooms(n);
      if (rows.length === 1 && rows[0].players === 2) break;
      assert.ok(Date.now() < deadline, `${n.url}rooms lists one room with 2 players: ${JSON.stringify(rows)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(rows[0].id, room);
    assert.equal(rows[0].node, ownerId);
  }
  assert.match(await page2.getAttribute('#hud', 'title'), new RegExp(`${owner.addr}/ws room ${room}`), 'the HUD names the room\'s node');

  // Reload page 2: the page is served by the other node again, the resume token goes there
  // and is redirected to the room's node, which takes the same player back.
  await page2.reload();
  assert.equal(new URL(page2.url()).host, other.addr, 'the reloaded page comes from the other node');
  await page2.click('#join-form button[type=submit]'); // the name is remembered
  const back = await waitFor(page2, (s) => connected(s) && s.welcomes === 1, 'page 2 to come back', 20_000);
  assert.equal(back.resumed, true, `the room's node took the player back: ${JSON.stringify(back.lastClose)}`);
  assert.equal(back.playerId, first2.playerId, 'the same player');
  assert.ok(back.redirects >= 1, 'the resume was sent on to the room\'s node');
  assert.equal(new URL(back.url).host, owner.addr, `the WebSocket ends on the room's node (${back.url})`);
  assert.equal(await roomOf(page2), room);
  await waitFor(page2, (s) => sees('ada')(s) && s.snapshots > 5, 'page 2 to play on with ada');
  const after1 = await waitFor(page1, (s) => s.scoreboard.some((p) => p.name === 'bea' && p.connected), 'page 1 to see bea back');
  assert.equal(after1.scoreboard.length, 2, 'no second bea');
  // The reload was a drop and a return, not a leave and a new player.
  await page1.waitForFunction(() => document.getElementById('chat-log').textContent.includes('bea is back'), null, { timeout: 5000 });
  assert.doesNotMatch(await page1.textContent('#chat-log'), /bea left/);
  assert.match(await page2.getAttribute('#hud', 'title'), new RegExp(`${owner.addr}/ws room ${room}`));

  // With the scoreboard held open (Tab): both players listed on both pages.
  for (const [i, page] of [page1, page2].entries()) {
    await page.keyboard.down('Tab');
    await page.waitForTimeout(200);
    await page.screenshot({ path: `/tmp/cluster-page${i + 1}.png` });
    await page.keyboard.up('Tab');
  }
  assert.deepEqual(page1.errors, []);
  assert.deepEqual(page2.errors, []);
  await page1.close();
  await page2.close();
});
