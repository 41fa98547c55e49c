// End to end in headless Chromium against the real server binary playing the co-op survival
// game (`--game survival`), the page (survival/index.html, served at `/`) on the generic SDK:
// two pages join and each sees the other's hero; each holds its own ammo and reserve and 0 in
// the other hero's (owner-only fields); one walks (WASD) and its hero moves on the other page
// while its camera follows it; one fires (a click) and its ammo counter drops, reloads (R) and
// the round comes from its reserve; the wave number and the countdown to the next wave
// (`next_wave_tick − tick`) show; the first wave's zombies reach the heroes and are shot at; no
// page error, no checksum divergence. Screenshots go to test-results/ (survival-*.png;
// docs/screenshots/survival.png is a survival-fight.png).

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ServerProcess, SHOTS_DIR, joinPage, launchBrowser, summary, waitFor } from './harness.js';

let server;
let browser;
let pageA;
let pageB;

before(async () => {
  // Checksums every second, so a divergence of the JS replica would show.
  server = await ServerProcess.start(['--game', 'survival', '--checksum-interval', '30']);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

const joined = (s) => s.ready && s.own !== null && s.others.length === 1 && s.room !== null;
const otherOf = (s) => s.others[0];

test('the server serves the survival page at / and two pages join and see each other', async () => {
  const res = await fetch(server.url);
  assert.match(await res.text(), /<title>tickwire survival<\/title>/);
  assert.deepEqual(await (await fetch(`${server.url}rooms`)).json(), []);

  pageA = await joinPage(browser, server.url, 'alice');
  pageB = await joinPage(browser, server.url, 'bob');
  const a = await waitFor(pageA, joined, 'A to see both heroes');
  const b = await waitFor(pageB, joined, 'B to see both heroes');
  assert.equal(a.game, 'survival');
  assert.equal(otherOf(a).player, b.me);
  assert.equal(otherOf(a).name, 'bob');
  assert.equal(otherOf(b).name, 'alice');
  // Owner-only: each page holds its own clip and reserve, and 0 in the other hero's lanes.
  for (const s of [a, b]) {
    assert.deepEqual([s.own.ammo, s.own.reserve], [12, 36]);
    assert.deepEqual([otherOf(s).ammo, otherOf(s).reserve], [0, 0], 'the other hero\'s ammo is not sent');
    assert.equal(s.hud.ammo, '12 / 36');
    assert.equal(s.hud.hp, '100');
    assert.ok(s.pickups.crates > 0 && s.pickups.coins > 0, JSON.stringify(s.pickups));
  }
  const rows = await (await fetch(`${server.url}rooms`)).json();
  assert.equal(rows[0].game, 'survival');
  assert.equal(rows[0].players, 2);
});

test('one walks and its hero moves on the other page, the camera on it', async () => {
  const a0 = await summary(pageA);
  const b0 = await summary(pageB);
  const startX = a0.server.x;
  const seenX = otherOf(b0).x;
  await pageA.keyboard.down('KeyD');
  await pageA.waitForTimeout(1000);
  await pageA.keyboard.up('KeyD');
  const a = await waitFor(pageA, (s) => s.server.x > startX + 150, 'A\'s hero to walk right');
  const b = await waitFor(pageB, (s) => otherOf(s) && otherOf(s).x > seenX + 150, 'B to see A walk');
  assert.ok(Math.abs(otherOf(b).y - a0.server.y) < 1, 'straight right');
  // The own hero is predicted (exactly, with nothing pushing it) and the camera follows it.
  const still = await waitFor(pageA, (s) => Math.abs(s.predicted.x - s.server.x) < 0.01, 'A to settle');
  assert.ok(Math.abs(still.camera.x - still.own.x) < 0.5 && Math.abs(still.camera.y - still.own.y) < 0.5);
  assert.ok(still.camera.x > startX + 150, 'the camera moved with the hero');
  assert.equal(still.netcode.mispredicted, 0, JSON.stringify(still.netcode));
  assert.ok(a.own.x > startX + 150);
});

test('one fires and its ammo counter drops; R reloads from the reserve', async () => {
  const b0 = await waitFor(pageB, (s) => s.hud.ammo === '12 / 36', 'B\'s full clip');
  const heard = (await summary(pageA)).stats.shotsHeard;
  const { width, height } = b0.viewport;
  await pageB.mouse.move(width / 2 + 150, height / 2 - 60);
  await pageB.mouse.down();
  await pageB.waitForTimeout(20);
  await pageB.mouse.up();
  const b = await waitFor(pageB, (s) => s.hud.ammo === '11 / 36', 'the ammo counter to drop');
  assert.equal(b.own.ammo, 11);
  assert.equal(await pageB.locator('#ammo').innerText(), '11 / 36');
  const a = await waitFor(pageA, (s) => s.stats.shotsHeard > heard, 'A to hear the shot');
  assert.deepEqual([otherOf(a).ammo, otherOf(a).reserve], [0, 0], 'still hidden from A');
  assert.match(a.hud.ammo, /^12 \/ \d+$/, 'A\'s own clip is full still');
  await pageB.keyboard.press('KeyR');
  await waitFor(pageB, (s) => s.hud.ammo === '12 / 35', 'the reload to take a round from the reserve', 5000);
});

test('the wave number and the countdown to the next wave show', async () => {
  const s = await waitFor(pageA, (x) => x.room.wave >= 1, 'the first wave', 10_000);
  assert.equal(s.hud.wave, `Wave ${s.room.wave}`);
  assert.equal(s.countdown.ticks, s.room.nextWaveTick - s.room.tick);
  assert.ok(s.countdown.ticks > 0);
  const m = s.hud.countdown.match(/^wave (\d+) in (\d+) s$/);
  assert.ok(m, s.hud.countdown);
  assert.equal(Number(m[1]), s.room.wave + 1);
  assert.ok(Math.abs(Number(m[2]) - s.countdown.seconds) <= 1, `${m[2]} vs ${s.countdown.seconds}`);
  assert.ok(s.stats.waves.includes(1), 'the wave event was heard');
  assert.ok(s.room.zombiesLeft > 0);
  assert.match(await pageA.locator('#wave').innerText(), /^Wave \d+$/);
  // The countdown runs down.
  const later = await waitFor(pageA, (x) => x.countdown.seconds < s.countdown.seconds, 'the countdown to run');
  assert.match(later.hud.countdown, /^wave \d+ in \d+ s$/);
});

test('the zombies reach the heroes and are shot at', async () => {
  // Zombies walk in from the edges of a 3000-unit map at 80 units a second.
  const near = (s) => s.own && s.zombies > 0 && s.server?.alive;
  let s = await waitFor(pageA, near, 'a zombie in A\'s view', 40_000);
  // Wait until one is close (on screen), then aim at the nearest and hold fire.
  const dist = (z, h) => Math.hypot(z.x - h.x, z.y - h.y);
  s = await waitFor(pageA, (x) => near(x) && x.nearestZombie && dist(x.nearestZombie, x.own) < 300, 'a zombie close to A', 30_000);
  const target = s.nearestZombie;
  // For the picture: a few more of the wave on screen, if they come within seconds.
  try {
    s = await waitFor(pageA, (x) => near(x) && x.zombiesOnScreen >= 4, 'zombies on screen', 8000);
  } catch {
    s = await summary(pageA);
  }
  assert.ok(target, 'a zombie came close');
  const before = s.stats.ownShots;
  const { width, height } = s.viewport;
  for (let i = 0; i < 8; i++) {
    s = await summary(pageA);
    const z = s.nearestZombie ?? target;
    await pageA.mouse.move(width / 2 + (z.x - s.camera.x), height / 2 + (z.y - s.camera.y));
    await pageA.mouse.down();
    await pageA.waitForTimeout(120);
  }
  await pageA.screenshot({ path: `${SHOTS_DIR}survival-fight.png` });
  await pageA.mouse.up();
  s = await summary(pageA);
  assert.ok(s.stats.ownShots > before, 'A fired at the zombies');
  await pageB.screenshot({ path: `${SHOTS_DIR}survival-other.png` });
});

test('no page error and no divergence', async () => {
  for (const p of [pageA, pageB]) {
    const s = await summary(p);
    assert.deepEqual(p.errors, []);
    assert.equal(s.divergences, 0);
    assert.equal(s.faults, 0);
    assert.equal(s.connection, 'connected');
  }
});
