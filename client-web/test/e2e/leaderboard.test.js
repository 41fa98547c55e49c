// End to end in headless Chromium against the real server binary with an SQLite file in a temp
// dir: a page plays a round of the arena (rounds of 3 s here), the round's result is kept under
// the browser's guest id (localStorage), and after a reload the scoreboard's All-time tab shows
// the player on the leaderboard, its own row marked. Screenshot: test-results/leaderboard.png.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ServerProcess, SHOTS_DIR, joinPage, launchBrowser, summary, waitFor } from './harness.js';

let server;
let browser;
const dir = mkdtempSync(join(tmpdir(), 'tickwire-e2e-board-'));

before(async () => {
  server = await ServerProcess.start(['--db', join(dir, 'board.db'), '--round-time', '3s']);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const connected = (s) => s.connection === 'connected' && s.server !== null;

test('a page plays a round and, after a reload, sees itself on the all-time leaderboard', async () => {
  const page = await joinPage(browser, server.url, 'zoe');
  const first = await waitFor(page, connected, 'the page to join');
  assert.match(first.guest, /^[0-9a-f]{32}$/, 'a guest id in localStorage');
  // Walk a little while the round runs out (3 s), so it is a round played.
  await page.keyboard.down('KeyD');
  await page.waitForTimeout(600);
  await page.keyboard.up('KeyD');
  // The round's end reaches the page as a notice in the chat log.
  await page.waitForFunction(() => document.getElementById('chat-log').textContent.includes('Round over'), null, {
    timeout: 15_000,
  });

  await page.reload();
  await page.click('#join-form button[type=submit]'); // the name is remembered
  const again = await waitFor(page, connected, 'the page to join again');
  assert.equal(again.guest, first.guest, 'the same guest id after the reload');
  await page.keyboard.down('Tab');
  try {
    await page.click('#tab-alltime');
    const s = await waitFor(
      page,
      (x) => x.allTime && x.allTime.rows.some((r) => r.name === 'zoe' && r.player === x.allTime.you),
      'zoe on the all-time leaderboard',
      15_000,
    );
    assert.equal(s.boardTab, 'alltime');
    assert.ok(s.allTime.you.startsWith('guest:'), s.allTime.you);
    assert.ok(!JSON.stringify(s.allTime).includes(first.guest), 'the guest id itself is never shown');
    const own = await page.$$eval('#board-alltime tbody tr.own td', (tds) => tds.map((t) => t.textContent));
    assert.equal(own[1], 'zoe', `own row marked: ${own}`);
    assert.equal(await page.isHidden('#board-round'), true);
    await page.screenshot({ path: `${SHOTS_DIR}leaderboard.png` });
  } finally {
    await page.keyboard.up('Tab');
  }
  assert.deepEqual(page.errors, []);
  // The same board over plain HTTP.
  const res = await fetch(`${server.url}leaderboard/arena/matches?limit=5`);
  const board = await res.json();
  assert.ok(board.rows.some((r) => r.name === 'zoe' && r.value >= 1), JSON.stringify(board));
  await page.close();
});
