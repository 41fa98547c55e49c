// End to end in headless Chromium against the real server binary: mirrored streams
// (docs/PROTOCOL.md, "Mirrored streams: two WebSockets for one session"). The page opened with
// `?mirror=1` plays over two WebSockets (the HUD says "WebSocket ×2", the server's /metrics
// counts the attach) while a bot walks around it. Through a TCP relay whose first connection's
// server-to-client bytes can be held (as a lost segment holds a TCP stream until its repair),
// the page's main WebSocket is held for 1.5 s: the game goes on from the mirror (snapshots keep
// coming, the bot keeps moving, ticks never go back, checksums hold), and after the release the
// held copies are dropped. The same hold on a page without the mirror stalls it, which shows
// the hold is real. A mirror that is cut leaves the session alone; a resumed session opens a
// new one. Screenshots go to test-results/.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { Crowd } from './bots.js';
import { SHOTS_DIR, ServerProcess, joinPage, launchBrowser, summary, waitFor } from './harness.js';

/** How long the main connection is held: several round trips of a lossy link's stall. */
const HOLD_MS = 1500;

let server;
let browser;
let crowd;

before(async () => {
  // No --webtransport: the page's default transport ('auto') gets a 404 from /webtransport and
  // takes the WebSocket, which is where mirrors are. Everyone sees everyone; checksums every
  // second, so a message taken twice or out of order would show as a divergence.
  server = await ServerProcess.start(['--view-radius', '5000', '--checksum-interval', '30']);
  browser = await launchBrowser();
  // A remote player that keeps walking: the page sees it move only through snapshots.
  crowd = await Crowd.join(`ws://${server.addr}/ws`, 1);
  const bot = crowd.bots[0];
  const deadline = Date.now() + 10_000;
  while (!bot.pos) {
    assert.ok(Date.now() < deadline, 'the bot never saw its own body');
    await new Promise((r) => setTimeout(r, 20));
  }
  crowd.mill(250);
});

after(async () => {
  crowd?.close();
  await browser?.close();
  await server?.stop();
});

/**
 * A TCP relay to `target` that records each connection's request line and can hold the
 * server-to-client bytes of its first connection (buffered, then sent in order on release)
 * while the later ones flow, or cut a connection.
 */
function relay(target) {
  const [host, port] = [target.slice(0, target.lastIndexOf(':')), Number(target.split(':').pop())];
  const conns = [];
  let holding = false;
  const held = [];
  let heldBytes = 0;
  const server = net.createServer((down) => {
    const up = net.connect(port, host);
    const c = { down, up, request: null };
    const first = conns.length === 0;
    conns.push(c);
    for (const s of [down, up]) {
      s.setNoDelay(true);
      s.on('error', () => {});
      s.on('close', () => {
        down.destroy();
        up.destroy();
      });
    }
    down.on('data', (d) => {
      c.request ??= d.toString('latin1').split('\r\n')[0];
      up.write(d);
    });
    up.on('data', (d) => {
      if (first && holding) {
        held.push(d);
        heldBytes += d.length;
      } else {
        down.write(d);
      }
    });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => resolve({
      port: server.address().port,
      conns,
      hold: () => {
        holding = true;
      },
      /** Lets the held bytes go, in order; returns how many there were. */
      release: () => {
        holding = false;
        const n = heldBytes;
        for (const d of held.splice(0)) conns[0].down.write(d);
        heldBytes = 0;
        return n;
      },
      cut: (i) => {
        conns[i].down.destroy();
        conns[i].up.destroy();
      },
      close: () => new Promise((r) => {
        for (const c of conns) {
          c.down.destroy();
          c.up.destroy();
        }
        server.close(r);
      }),
    }));
  });
}

/** The page's URL with its WebSocket through `link` (and never WebTransport, whose probe would be a connection too). */
const through = (link, extra = '') => `${server.url}?transport=websocket&ws=${encodeURIComponent(`ws://127.0.0.1:${link.port}/ws`)}${extra}`;

async function mirrorsAttached() {
  const text = await (await fetch(`${server.url}metrics`)).text();
  const m = text.match(/^tickwire_mirrors_attached_total (\d+)/m);
  assert.ok(m, 'the server exports tickwire_mirrors_attached_total');
  return Number(m[1]);
}

const playing = (s) => s.connection === 'connected' && s.server !== null && s.others.length >= 1;
const dist = (a, b) => Math.hypot(a.x - b.x, a.y - b.y);
const brief = ({ connection, transport, hudTransport, mirror, welcomes, faults, replicaErrors, lastClose, lastFault, tick }) =>
  JSON.stringify({ connection, transport, hudTransport, mirror, welcomes, faults, replicaErrors, lastClose, lastFault, tick });

/**
 * Samples the page's replica tick every 10 ms from now on (in the page, so no poll of the test
 * misses a step back): `stop()` returns the samples `[ms, tick]` and how often the tick fell.
 */
async function traceTicks(page) {
  await page.evaluate(() => {
    const t = { samples: [], backwards: 0 };
    let last = null;
    t.timer = setInterval(() => {
      const { tick } = window.tickwire.summary();
      if (tick === null) return;
      if (last !== null && tick < last) t.backwards++;
      last = tick;
      t.samples.push([performance.now(), tick]);
    }, 10);
    window.tickTrace = t;
  });
  return {
    stop: () => page.evaluate(() => {
      const t = window.tickTrace;
      clearInterval(t.timer);
      return { samples: t.samples, backwards: t.backwards, now: performance.now() };
    }),
    now: () => page.evaluate(() => performance.now()),
  };
}

/** The longest time between two changes of the tick within [from, to] (page ms). */
function longestStall(samples, from, to) {
  let longest = 0;
  let since = from;
  let last = null;
  for (const [at, tick] of samples) {
    if (at < from || at > to) continue;
    if (last !== null && tick !== last) {
      longest = Math.max(longest, at - since);
      since = at;
    }
    last = tick;
  }
  return Math.max(longest, to - since);
}

test('?mirror=1: the page plays over two WebSockets, the HUD says so, /metrics counts the attach', async (t) => {
  const attachedBefore = await mirrorsAttached();
  const page = await joinPage(browser, `${server.url}?mirror=1`, 'mia');
  try {
    const s = await waitFor(page, (x) => playing(x) && x.mirror?.attached, 'playing with an attached mirror', 20_000);
    assert.equal(s.transport, 'websocket', brief(s));
    assert.equal(s.hudTransport, 'WebSocket ×2', 'the HUD shows the mirrored transport');
    assert.equal(s.welcomes, 1);
    // The bot is seen moving: snapshots arrive and apply.
    const seen = s.others[0];
    await waitFor(page, (x) => x.others[0] && dist(x.others[0], seen) > 40, 'the bot to be seen moving', 10_000);
    assert.ok(await mirrorsAttached() >= attachedBefore + 1, 'tickwire_mirrors_attached_total counts the attach');
    // The page's own player moves and its inputs are acknowledged (they go on the main socket).
    const start = await summary(page);
    const key = start.server.x < 1200 ? 'KeyD' : 'KeyA';
    const dir = key === 'KeyD' ? 1 : -1;
    await page.keyboard.down(key);
    try {
      await waitFor(page, (x) => (x.server.x - start.server.x) * dir > 60, 'the server to move the player', 10_000);
    } finally {
      await page.keyboard.up(key);
    }
    const end = await waitFor(page, (x) => x.ackSeq >= start.seq + 10, 'the inputs acknowledged', 5000);
    assert.equal(end.replicaErrors, 0, brief(end));
    assert.equal(end.faults, 0, brief(end));
    assert.equal(end.welcomes, 1);
    // On loopback both sockets bring every message: the later copy of each is dropped.
    const last = await waitFor(page, (x) => x.mirror.duplicates > 30, 'the later copies to be dropped', 5000);
    assert.deepEqual(page.errors, []);
    const title = await page.getAttribute('#hud-transport', 'title');
    assert.match(title, /Mirrored over a second WebSocket: \d+ messages came first on it, \d+ copies dropped/);
    t.diagnostic(`mirror: ${JSON.stringify(last.mirror)}; HUD tooltip: ${title}`);
    await page.screenshot({ path: `${SHOTS_DIR}mirror.png` });
  } finally {
    await page.close();
  }
});

test(`the main WebSocket held for ${HOLD_MS / 1000} s: the game goes on from the mirror, then the held copies are dropped`, async (t) => {
  const link = await relay(server.addr);
  const page = await joinPage(browser, through(link, '&mirror=1'), 'stella');
  try {
    const joined = await waitFor(page, (x) => playing(x) && x.mirror?.attached, 'playing through the relay with a mirror', 20_000);
    assert.equal(joined.hudTransport, 'WebSocket ×2');
    assert.equal(link.conns.length, 2, 'the main socket and its mirror');
    // The relay's first connection, the one it holds, is the session's main socket.
    assert.match(link.conns[0].request, /^GET \/ws\?.*mirror=1[& ]/);
    assert.match(link.conns[1].request, /^GET \/ws\?.*mirror=attach[& ]/);
    await page.waitForTimeout(500);
    const trace = await traceTicks(page);
    await page.waitForTimeout(300);
    const before = await summary(page);
    const holdFrom = await trace.now();
    link.hold();
    await page.waitForTimeout(HOLD_MS);
    const during = await summary(page);
    const holdTo = await trace.now();
    const heldBytes = link.release();
    await page.waitForTimeout(1500);
    const afterwards = await summary(page);
    const { samples, backwards } = await trace.stop();

    const ticks = during.tick - before.tick;
    const fromMirror = during.mirror.fromMirror - before.mirror.fromMirror;
    const stall = longestStall(samples, holdFrom, holdTo);
    const dropped = afterwards.mirror.duplicates - during.mirror.duplicates;
    const botMoved = dist(during.others[0], before.others[0]);
    t.diagnostic(`held ${heldBytes} bytes of the main socket for ${Math.round(holdTo - holdFrom)} ms: the replica went from tick ${before.tick} to ${during.tick} (${ticks} ticks), ${fromMirror} messages taken from the mirror, longest time without a new tick ${Math.round(stall)} ms, the bot seen moving ${botMoved.toFixed(0)} units; after the release ${dropped} copies dropped, tick ${afterwards.tick}, ${backwards} steps back in ${samples.length} samples`);
    assert.ok(heldBytes > 0, 'the hold held something back');
    assert.ok(ticks >= 30, `the replica kept advancing during the hold (${ticks} ticks): ${brief(during)}`);
    assert.ok(fromMirror >= 30, `the mirror brought them (${fromMirror})`);
    assert.ok(stall < 500, `no stall during the hold: longest ${Math.round(stall)} ms without a new tick`);
    assert.ok(botMoved > 20, `the bot kept moving on the page (${botMoved.toFixed(1)} units)`);
    // Every message the mirror brought also came on the main socket once released: dropped.
    assert.ok(dropped >= fromMirror, `the held copies were dropped (${dropped} of at least ${fromMirror})`);
    assert.ok(afterwards.tick > during.tick);
    assert.equal(backwards, 0, 'the tick never went back');
    assert.ok(samples.length > 200, `sampled throughout (${samples.length})`);
    for (const s of [during, afterwards]) {
      assert.equal(s.connection, 'connected', brief(s));
      assert.equal(s.welcomes, 1, `one session all along: ${brief(s)}`);
      assert.equal(s.replicaErrors, 0, `no divergence: the checksums every 30 ticks hold (${brief(s)})`);
      assert.equal(s.faults, 0, brief(s));
      assert.equal(s.mirror.attached, true, brief(s));
    }
    assert.deepEqual(page.errors, []);
  } finally {
    await page.close();
    await link.close();
  }
});

test(`without the mirror the same ${HOLD_MS / 1000} s hold stalls the page (the hold is real)`, async (t) => {
  const link = await relay(server.addr);
  const page = await joinPage(browser, through(link), 'nora');
  try {
    const joined = await waitFor(page, playing, 'playing through the relay', 20_000);
    assert.equal(joined.mirror, null);
    assert.equal(joined.hudTransport, 'WebSocket');
    assert.equal(link.conns.length, 1);
    await page.waitForTimeout(500);
    const trace = await traceTicks(page);
    await page.waitForTimeout(300);
    const holdFrom = await trace.now();
    link.hold();
    await page.waitForTimeout(HOLD_MS);
    const holdTo = await trace.now();
    link.release();
    const afterwards = await waitFor(page, (x) => x.tick !== null, 'the page after the release');
    await page.waitForTimeout(500);
    const { samples, backwards } = await trace.stop();
    const stall = longestStall(samples, holdFrom, holdTo);
    t.diagnostic(`longest time without a new tick during the hold: ${Math.round(stall)} ms`);
    assert.ok(stall > HOLD_MS * 0.8, `the page stalled (${Math.round(stall)} ms)`);
    assert.equal(backwards, 0);
    assert.equal(afterwards.replicaErrors, 0, brief(afterwards));
    assert.equal(afterwards.welcomes, 1);
  } finally {
    await page.close();
    await link.close();
  }
});

test('a cut mirror leaves the session alone; a resumed session opens a new mirror', async () => {
  const link = await relay(server.addr);
  const page = await joinPage(browser, through(link, '&mirror=1'), 'rosa');
  try {
    await waitFor(page, (x) => playing(x) && x.mirror?.attached, 'playing with a mirror', 20_000);
    const attachedBefore = await mirrorsAttached();
    link.cut(1);
    const alone = await waitFor(page, (x) => x.mirror && !x.mirror.attached && x.hudTransport === 'WebSocket', 'the page to see its mirror gone', 10_000);
    assert.equal(alone.connection, 'connected', brief(alone));
    assert.equal(alone.mirror.lastClose.code, 1006);
    const later = await waitFor(page, (x) => x.tick > alone.tick + 30, 'snapshots over the main socket alone', 5000);
    assert.equal(later.welcomes, 1, brief(later));
    assert.equal(later.faults, 0, brief(later));
    assert.equal(link.conns.length, 2, 'no new mirror within the session');
    // The main socket dropped: the session resumes, and the new one has a mirror of its own.
    link.cut(0);
    const back = await waitFor(page, (x) => x.welcomes === 2 && playing(x) && x.mirror?.attached && x.hudTransport === 'WebSocket ×2', 'the page to resume with a new mirror', 20_000);
    assert.equal(back.resumed, true, brief(back));
    assert.equal(back.mirror.opened, 2);
    assert.match(link.conns[2].request, /mirror=1[& ]/);
    assert.match(link.conns[3].request, /mirror=attach[& ]/);
    assert.equal(await mirrorsAttached(), attachedBefore + 1, 'the server attached the new mirror');
    assert.equal(back.replicaErrors, 0);
    assert.deepEqual(page.errors, []);
  } finally {
    await page.close();
    await link.close();
  }
});
