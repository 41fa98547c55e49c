// End to end in headless Chromium against the real server binary started with `--webtransport`:
// (a) the page plays over WebTransport: the HUD says so, snapshots arrive as messages 5 and
// apply (checksums every second hold), the inputs go as datagrams carrying the ack and the
// server acknowledges them, the player moves, the server's /metrics counts the session; with
// `?mirror=1` it plays over WebTransport just the same (mirrors are for WebSockets);
// (b) with the server's UDP port dropped by the firewall (iptables DROP, as a real firewall
// does, not a closed port), a page falls back to the WebSocket within the 2 s bound and plays;
// after a server restart the page comes back over WebTransport; a server without the flag
// answers 404 and the page goes straight to the WebSocket.
// Needs root and iptables for (b): it fails saying so when iptables cannot be used.
// Screenshots go to test-results/.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { ServerProcess, SHOTS_DIR, joinPage, launchBrowser, summary, waitFor } from './harness.js';

let server;
let browser;

before(async () => {
  server = await ServerProcess.start(['--webtransport', '--view-radius', '5000', '--checksum-interval', '30']);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

const port = () => Number(server.addr.split(':').pop());

/** Walks the page's player with `key` until its server position moved, then checks prediction. */
async function walk(page, what) {
  const start = await summary(page);
  const key = start.server.x < 1200 ? 'KeyD' : 'KeyA';
  const dir = key === 'KeyD' ? 1 : -1;
  await page.keyboard.down(key);
  try {
    await waitFor(page, (s) => (s.predicted.x - start.predicted.x) * dir > 20, `${what}: to move locally`, 5000);
    await waitFor(page, (s) => (s.server.x - start.server.x) * dir > 60, `${what}: the server to move the player`, 10_000);
  } finally {
    await page.keyboard.up(key);
  }
  const released = (await summary(page)).seq;
  const settled = await waitFor(page, (s) => s.ackSeq >= released && released > 0, `${what}: the commands up to the release acknowledged`, 5000);
  return waitFor(
    page,
    (s) => s.ackSeq >= settled.seq && s.server.x === s.predicted.x && s.server.y === s.predicted.y,
    `${what}: prediction to equal the server`,
    5000,
  );
}

test('GET /webtransport answers the port, the path and a certificate hash', async () => {
  const res = await fetch(`${server.url}webtransport`);
  assert.equal(res.status, 200);
  const info = await res.json();
  assert.equal(info.port, port());
  assert.equal(info.path, '/ws');
  assert.ok(info.cert_hashes.length >= 1 && info.cert_hashes.every((h) => /^[0-9a-f]{64}$/i.test(h)), JSON.stringify(info));
});

test('(a) the page plays over WebTransport: HUD, messages 5 applied, checksums hold, inputs acknowledged, the player moves', async (t) => {
  const page = await joinPage(browser, server.url, 'wendy');
  try {
    const s = await waitFor(
      page,
      (x) => x.connection === 'connected' && x.server !== null && x.acked >= 100,
      '100 messages 5 applied over WebTransport',
      20_000,
    );
    const brief = ({ transport, fallbacks, fallbackReason, welcomes, faults, lastClose, lastFault, acked }) => ({ transport, fallbacks, fallbackReason, welcomes, faults, lastClose, lastFault, acked });
    assert.equal(s.transport, 'webtransport');
    assert.equal(s.hudTransport, 'WebTransport', 'the HUD shows the transport');
    assert.equal(s.fallbacks, 0, JSON.stringify(brief(s)));
    assert.equal(s.replicaErrors, 0, `no divergence: the checksums every 30 ticks hold (${JSON.stringify(brief(s))})`);
    assert.equal(s.faults, 0, JSON.stringify(brief(s)));
    assert.ok(s.inputDatagrams > 30, `inputs went as datagrams (${s.inputDatagrams})`);
    assert.ok(s.ackTick > 0 && s.ackTick <= s.tick, `acknowledging tick ${s.ackTick}`);
    assert.equal(s.snapshots, s.acked, 'every snapshot came as a message 5');
    // The server bases them on the ticks this page acknowledged: it has the acks.
    assert.ok(s.againstBase > s.acked / 2, `${s.againstBase} of ${s.acked} against an acknowledged tick`);
    t.diagnostic(`${s.acked} messages 5 applied (${s.againstBase} against an acknowledged tick), ${s.stale} stale, ${s.early} before the Welcome, ${s.inputDatagrams} input datagrams, ${s.loneAcks} lone acks, acknowledging tick ${s.ackTick}`);
    const moved = await walk(page, 'over WebTransport');
    assert.equal(moved.transport, 'webtransport');
    assert.equal(moved.replicaErrors, 0, JSON.stringify(brief(moved)));
    assert.equal(moved.faults, 0, JSON.stringify(brief(moved)));
    assert.equal(moved.welcomes, 1, 'one session all along');
    assert.deepEqual(page.errors, []);
    const metrics = await (await fetch(`${server.url}metrics`)).text();
    const line = metrics.split('\n').find((l) => l.startsWith('tickwire_connections_by_transport{transport="webtransport"}'));
    assert.ok(line && Number(line.split(' ').pop()) >= 1, `the server counts the session: ${line}`);
    await page.waitForTimeout(300);
    await page.screenshot({ path: `${SHOTS_DIR}webtransport.png` });
  } finally {
    await page.close();
  }
});

test('?mirror=1 changes nothing over WebTransport: no mirror, no fallback', async () => {
  const page = await joinPage(browser, `${server.url}?mirror=1`, 'wim');
  try {
    const s = await waitFor(page, (x) => x.connection === 'connected' && x.server !== null && x.acked >= 30, '30 messages 5 applied', 20_000);
    // The server refuses `mirror` over WebTransport (1008): the session URL must not carry it.
    assert.equal(s.transport, 'webtransport', JSON.stringify({ fallbackReason: s.fallbackReason, lastClose: s.lastClose }));
    assert.equal(s.hudTransport, 'WebTransport');
    assert.equal(s.fallbacks, 0);
    assert.equal(s.mirror, null);
    assert.equal(s.replicaErrors, 0);
    assert.deepEqual(page.errors, []);
  } finally {
    await page.close();
  }
});

/** Runs iptables with `args`, or throws saying what is needed. */
function iptables(args) {
  try {
    execFileSync('iptables', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const why = e.code === 'ENOENT' ? 'iptables is not installed' : String(e.stderr || e.message).trim();
    throw new Error(`this test blocks the server's UDP port with iptables and cannot (${why}): `
      + 'install it with `apt-get install -y iptables` and run the test as root (CAP_NET_ADMIN)');
  }
}

test('(b) with the UDP port dropped by a firewall, the page falls back to the WebSocket within the bound and plays', async (t) => {
  const rule = ['INPUT', '-p', 'udp', '--dport', String(port()), '-j', 'DROP'];
  iptables(['-I', ...rule]);
  let page;
  try {
    const t0 = Date.now();
    page = await joinPage(browser, server.url, 'wanda');
    const s = await waitFor(page, (x) => x.connection === 'connected' && x.server !== null, 'connected over the fallback', 15_000);
    const took = Date.now() - t0;
    t.diagnostic(`connected over the WebSocket ${took} ms after the join (${s.fallbackReason})`);
    assert.equal(s.transport, 'websocket');
    assert.equal(s.hudTransport, 'WebSocket');
    assert.equal(s.fallbacks, 1);
    assert.equal(s.webTransportAttempts, 1);
    assert.match(s.fallbackReason, /within 2 s/);
    // The bound (2 s) plus the page's load, the join click and the WebSocket's handshake.
    assert.ok(took < 4500, `connected ${took} ms after the join`);
    const played = await walk(page, 'over the fallback WebSocket');
    assert.equal(played.transport, 'websocket');
    assert.equal(played.acked, 0, 'no message 5 over a WebSocket');
    // (Over a WebSocket a still world sends no frame on quiet ticks: fewer snapshots than ticks.)
    assert.ok(played.snapshots > 0 && played.tick > s.tick, `snapshots ${played.snapshots}, tick ${s.tick} → ${played.tick}`);
    assert.equal(played.replicaErrors, 0);
    assert.equal(played.faults, 0);
    assert.deepEqual(page.errors, []);
    await page.screenshot({ path: `${SHOTS_DIR}webtransport-fallback.png` });
  } finally {
    await page?.close();
    iptables(['-D', ...rule]);
  }
});

test('the server restarts: the page reconnects by itself, over WebTransport again', async () => {
  const page = await joinPage(browser, server.url, 'rita');
  try {
    const first = await waitFor(page, (x) => x.connection === 'connected' && x.transport === 'webtransport' && x.acked > 10, 'playing over WebTransport');
    await server.stop();
    await waitFor(page, (x) => x.connection === 'reconnecting', 'the page to notice the server is gone', 10_000);
    await server.restart();
    const back = await waitFor(
      page,
      (x) => x.connection === 'connected' && x.welcomes >= 2 && x.acked > first.acked + 10,
      'back over WebTransport',
      30_000,
    );
    assert.equal(back.transport, 'webtransport', JSON.stringify({ fallbackReason: back.fallbackReason, lastClose: back.lastClose }));
    assert.equal(back.hudTransport, 'WebTransport');
    assert.ok(back.webTransportAttempts >= 2);
    assert.equal(back.replicaErrors, 0);
    assert.deepEqual(page.errors, []);
  } finally {
    await page.close();
  }
});

test('a server without --webtransport: 404, and the page goes straight to the WebSocket', async () => {
  const plain = await ServerProcess.start(['--view-radius', '5000']);
  let page;
  try {
    assert.equal((await fetch(`${plain.url}webtransport`)).status, 404);
    page = await joinPage(browser, plain.url, 'walt');
    const s = await waitFor(page, (x) => x.connection === 'connected' && x.server !== null, 'connected', 10_000);
    assert.equal(s.transport, 'websocket');
    assert.equal(s.hudTransport, 'WebSocket');
    assert.equal(s.webTransportAttempts, 0, 'no session tried');
    assert.equal(s.fallbacks, 0);
    assert.equal(s.fallbackReason, null);
    assert.equal(s.welcomes, 1);
  } finally {
    await page?.close();
    await plain.stop();
  }
});
