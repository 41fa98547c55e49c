// End to end in headless Chromium against the real server binary started with
// --admin-token: the operator's page refuses a wrong token with the server's sentence, takes
// the right one (typed, or once as ?token=, which leaves the address), shows the room and its
// two players (bots on the SDK), plots each room's tick time and bandwidth (pixels of the
// room's colour on both canvases), and its kick button removes a player: the bot's socket is
// closed with 1008 "removed by an operator" and the player leaves the list.
// Screenshot: /tmp/admin.png (and test-results/admin.png).

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync } from 'node:fs';
import { Crowd } from './bots.js';
import { SHOTS_DIR, ServerProcess, launchBrowser } from './harness.js';

const TOKEN = 'e2e-admin-token-5f1c9a2b';

let server;
let browser;
let crowd;

before(async () => {
  server = await ServerProcess.start(['--admin-token', TOKEN]);
  browser = await launchBrowser();
});

after(async () => {
  crowd?.close();
  await browser?.close();
  await server?.stop();
});

/** Waits until `pred()` (run in Node) holds. */
async function until(pred, what, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await pred()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Pixels of `color` (#rrggbb, within a small tolerance) on the canvas `selector`. */
function colorPixels(page, selector, color) {
  return page.$eval(selector, (canvas, hex) => {
    const want = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
    const { data } = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
    let n = 0;
    for (let i = 0; i < data.length; i += 4) {
      if (data[i + 3] > 200 && want.every((v, k) => Math.abs(data[i + k] - v) <= 24)) n++;
    }
    return n;
  }, color);
}

test('the operator page shows the room and its players, plots them, and kicks a player', async () => {
  crowd = await Crowd.join(`ws://${server.addr}/ws?room=ops`, 2);
  await until(() => crowd.bots.every((b) => b.pos), 'the bots to see their bodies');
  crowd.mill(250); // moving bodies: bandwidth to plot

  const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${server.url}admin`);
  await page.waitForSelector('#login-form', { state: 'visible' });
  assert.equal(await page.isHidden('#main'), true, 'no data before a token');

  // A wrong token: the server's 401 sentence, and the form again.
  await page.fill('#token', 'not-the-right-token-000');
  await page.click('#login-form button[type=submit]');
  await page.waitForFunction(() => document.getElementById('login-error').textContent.includes('token is wrong'));
  assert.equal(await page.evaluate(() => sessionStorage.getItem('tickwire-admin-token')), null);

  // The right one.
  await page.fill('#token', TOKEN);
  await page.click('#login-form button[type=submit]');
  await page.waitForSelector('#main', { state: 'visible' });
  assert.equal(await page.evaluate(() => sessionStorage.getItem('tickwire-admin-token')), TOKEN);
  assert.equal(await page.evaluate(() => document.cookie), '', 'no cookie');

  await page.waitForSelector('#rooms tr[data-room="ops"]');
  const names = () => page.$$eval('.room-players[data-room="ops"] td.name', (tds) => tds.map((t) => t.textContent).sort());
  await until(async () => JSON.stringify(await names()) === '["bot-1","bot-2"]', 'both players listed');
  const row = await page.$$eval('#rooms tr[data-room="ops"] td', (tds) => tds.map((t) => t.textContent));
  assert.equal(row[1], 'ops');
  assert.equal(row[3], 'arena');
  assert.match(row[4], /^2 \/ \d+$/);
  assert.equal(await page.textContent('#nodes tbody tr td:last-child'), 'serving');

  // A few seconds of polls: lines on both plots in the room's colour. The bandwidth line
  // starts at the second poll (a rate needs two), and a loaded machine polls late: wait for
  // the lines rather than a fixed time.
  const color = await page.getAttribute('#rooms tr[data-room="ops"] .swatch', 'data-color');
  assert.match(color, /^#[0-9a-f]{6}$/);
  let tickPixels = 0;
  let bytesPixels = 0;
  await until(async () => {
    tickPixels = await colorPixels(page, '#plot-tick', color);
    bytesPixels = await colorPixels(page, '#plot-bytes', color);
    return tickPixels > 30 && bytesPixels > 30;
  }, 'lines on both plots', 20_000).catch(() => {});
  assert.ok(tickPixels > 30, `tick-time line drawn (${tickPixels} px of ${color})`);
  assert.ok(bytesPixels > 30, `bandwidth line drawn (${bytesPixels} px of ${color})`);
  const sent = await page.textContent('#rooms tr[data-room="ops"] td:nth-child(9)');
  assert.match(sent, / · \d+\.\d KiB\/s$/, `a rate from successive polls: ${sent}`);
  await page.screenshot({ path: '/tmp/admin.png', fullPage: true });
  copyFileSync('/tmp/admin.png', `${SHOTS_DIR}admin.png`);

  // Kick bot-1: one click asks, the second kicks.
  const victim = crowd.bots.find((b) => b.name === 'bot-1');
  const id = victim.replica.playerId;
  const button = `.room-players[data-room="ops"] tr[data-player="${id}"] button.kick`;
  await page.click(button);
  assert.equal(await page.textContent(button), 'Really kick?');
  await page.click(button);
  await page.waitForFunction(() => document.getElementById('kick-result').textContent.startsWith('Removed bot-1'));
  await until(() => victim.conn.lastClose?.code === 1008, 'the kicked bot to be closed');
  assert.deepEqual(victim.conn.lastClose, { code: 1008, reason: 'removed by an operator' });
  await until(async () => JSON.stringify(await names()) === '["bot-2"]', 'bot-1 to leave the list');
  const other = crowd.bots.find((b) => b.name === 'bot-2');
  assert.equal(other.conn.lastClose, null, 'the other player is untouched');
  await page.waitForFunction(() => /^1 \//.test(document.querySelector('#rooms tr[data-room="ops"] td:nth-child(5)').textContent));

  // ?token= once: taken into sessionStorage and out of the address.
  const again = await browser.newPage();
  again.on('pageerror', (e) => errors.push(String(e)));
  await again.goto(`${server.url}admin?token=${TOKEN}`);
  await again.waitForSelector('#rooms tr[data-room="ops"]');
  assert.equal(new URL(again.url()).search, '', 'the token left the address');
  await again.click('#sign-out');
  await again.waitForSelector('#login-form', { state: 'visible' });
  assert.equal(await again.evaluate(() => sessionStorage.getItem('tickwire-admin-token')), null);

  assert.deepEqual(errors, []);
  await again.close();
  await page.close();
});
