// Takes the README screenshot (docs/screenshots/web.png): the page plays among a dozen bots,
// fires at the nearest one until the kill feed shows a kill, chats, and is captured mid-fight.
// Run by hand: `node test/e2e/readme-screenshot.js [OUT.png]` (after `npm ci`; builds and starts
// the server), or against a server already running: `TICKWIRE_URL=http://127.0.0.1:7000/ node
// test/e2e/readme-screenshot.js OUT.png`. The page and the bots speak protocol v2.

import { Crowd } from './bots.js';
import { REPO_DIR, ServerProcess, joinPage, launchBrowser, summary, waitFor } from './harness.js';

const out = process.argv[2] || `${REPO_DIR}docs/screenshots/web.png`;
const running = process.env.TICKWIRE_URL ? new URL(process.env.TICKWIRE_URL) : null;
const server = running ? { url: running.href, addr: running.host, stop: async () => {} } : await ServerProcess.start([]);
const browser = await launchBrowser();
let crowd;
try {
  const page = await joinPage(browser, server.url, 'you');
  const me = await waitFor(page, (s) => s.connection === 'connected' && s.server, 'join');
  crowd = await Crowd.join(`ws://${server.addr}/ws`, 12);
  crowd.gatherAround(me.server.x, me.server.y, 420, 230);
  await waitFor(page, (s) => s.others.length >= 10, 'the bots', 60_000);
  crowd.mill(40);
  await page.keyboard.press('Enter');
  await page.keyboard.type('gg, nice aim');
  await page.keyboard.press('Enter');
  const deadline = Date.now() + 40_000;
  let shots = 0;
  while (Date.now() < deadline) {
    const s = await summary(page);
    if (s.kills > 0 && shots % 2 === 1) break;
    const target = s.others
      .filter((o) => o.alive)
      .sort((a, b) => Math.hypot(a.x - s.camera.x, a.y - s.camera.y) - Math.hypot(b.x - s.camera.x, b.y - s.camera.y))[0];
    if (!target) continue;
    const sx = target.x - s.camera.x + s.viewport.width / 2;
    const sy = target.y - s.camera.y + s.viewport.height / 2;
    await page.mouse.move(sx, sy);
    const right = shots++ % 4 === 3;
    await page.mouse.down({ button: right ? 'right' : 'left' });
    await page.waitForTimeout(right ? 40 : 260);
    await page.mouse.up({ button: right ? 'right' : 'left' });
  }
  // The last volley goes at a bot farther away, so the shots are in flight in the picture.
  const s = await summary(page);
  const far = s.others
    .filter((o) => o.alive && Math.hypot(o.x - s.camera.x, o.y - s.camera.y) > 250)
    .sort((a, b) => Math.hypot(a.x - s.camera.x, a.y - s.camera.y) - Math.hypot(b.x - s.camera.x, b.y - s.camera.y))[0];
  if (far) await page.mouse.move(far.x - s.camera.x + s.viewport.width / 2, far.y - s.camera.y + s.viewport.height / 2);
  await page.mouse.down();
  await page.waitForTimeout(400);
  await page.screenshot({ path: out });
  await page.mouse.up();
  console.log(`saved ${out}`);
} finally {
  crowd?.close();
  await browser.close();
  await server.stop();
}
