// End to end in headless Chromium against the real server binary playing the card game
// (`--game cards`), the page (cards/index.html, served at `/`) on the generic SDK: two pages
// join and are dealt a hand each; neither page holds the other's cards; a move out of turn
// and an illegal card are refused with the reason shown on that page only and change nothing;
// a round is played to its end by clicking (each turn: the first card that plays, else the
// draw pile; once, mid-round, a card that does not match first) and the next round is dealt; no page error, no checksum divergence.
// Screenshots go to test-results/ (cards-*.png).

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ServerProcess, SHOTS_DIR, joinPage, launchBrowser, summary, waitFor } from './harness.js';

let server;
let browser;
let pageA;
let pageB;

before(async () => {
  // Checksums every second, so a divergence of the JS replica would show.
  server = await ServerProcess.start(['--game', 'cards', '--checksum-interval', '30']);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

const dealt = (s) => s.ready && s.state !== null && s.state.turn !== 0 && s.state.hand.length > 0;

/** The page whose turn it is, and the other one. */
async function turnOrder() {
  const a = await summary(pageA);
  return a.state.turn === a.state.me ? [pageA, pageB] : [pageB, pageA];
}

test('the server serves the cards page at / and two pages are dealt their own hands', async () => {
  const res = await fetch(server.url);
  assert.match(await res.text(), /<title>tickwire eights<\/title>/);
  const rooms = await (await fetch(`${server.url}rooms`)).json();
  assert.deepEqual(rooms, []);

  pageA = await joinPage(browser, server.url, 'alice');
  pageB = await joinPage(browser, server.url, 'bob');
  const a = await waitFor(pageA, dealt, 'A to be dealt');
  const b = await waitFor(pageB, (s) => dealt(s) && s.state.round === a.state.round, 'B to be dealt');
  assert.equal(a.state.hand.length, 7, 'two players: seven cards each');
  assert.equal(b.state.hand.length, 7);
  // Each page holds only its own cards; the other's count is all it knows of their hand.
  const idsA = new Set(a.state.hand.map((c) => c.id));
  assert.ok(b.state.hand.every((c) => !idsA.has(c.id)), 'no card on both pages');
  const bobOnA = a.state.players.find((p) => p.id === b.state.me);
  assert.equal(bobOnA.name, 'bob');
  assert.equal(bobOnA.cards, 7);
  // The page shows it: two players, bob with 7 cards (backs, not faces), the top card.
  assert.equal(await pageA.locator('#opponents .player').count(), 2);
  assert.match(await pageA.locator(`#opponents .player[data-id="${b.state.me}"]`).innerText(), /7 cards/);
  assert.equal(await pageA.locator(`#opponents .player[data-id="${b.state.me}"] .backs i`).count(), 7);
  assert.equal(await pageA.locator('#hand button.card').count(), 7);
  assert.notEqual((await pageA.locator('#top-card').innerText()).trim(), '');
  const rows = await (await fetch(`${server.url}rooms`)).json();
  assert.equal(rows[0].game, 'cards');
  assert.equal(rows[0].players, 2);
});

test('a move out of turn is refused, shown on that page only, and changes nothing', async () => {
  const [on, off] = await turnOrder();
  const before = await summary(off);
  await off.click('#hand button.card');
  const s = await waitFor(off, (x) => x.shownRefusal !== null, 'the refusal on the page');
  const onName = (await summary(on)).state.players.find((p) => p.id === before.state.turn).name;
  assert.equal(s.shownRefusal, `not your turn: it is ${onName}'s`);
  assert.equal(await off.locator('#refusal').isVisible(), true);
  await off.screenshot({ path: `${SHOTS_DIR}cards-refusal.png` });
  const o = await summary(on);
  assert.equal(o.shownRefusal, null, 'the other page is not told');
  assert.deepEqual(o.stats.refusals, []);
  assert.equal(s.state.moves, before.state.moves, 'nothing moved');
  assert.deepEqual(s.state.hand.map((c) => c.id), before.state.hand.map((c) => c.id));
});

test('an illegal move on one\'s turn is refused with its reason', async () => {
  const [on] = await turnOrder();
  const before = await summary(on);
  const bad = before.state.hand.find((c) => !c.playable);
  let expected;
  if (bad) {
    // A card that matches neither suit nor rank of the top card.
    await on.click(`#hand button.card[data-id="${bad.id}"]`);
    expected = new RegExp(`^${bad.name} does not match the top card`);
  } else {
    // Every card plays: drawing is refused.
    await on.click('#draw');
    expected = /plays on .*: you may draw only when no card of yours does$/;
  }
  const s = await waitFor(on, (x) => x.shownRefusal !== null, 'the refusal on the page');
  assert.match(s.shownRefusal, expected);
  assert.equal(s.state.moves, before.state.moves);
  assert.equal(s.state.hand.length, before.state.hand.length);
});

test('a round is played to its end by clicking, and the next one is dealt', async () => {
  const start = (await summary(pageA)).state;
  let clicks = 0;
  let shot = false;
  const deadline = Date.now() + 90_000;
  for (;;) {
    assert.ok(Date.now() < deadline, 'the round ends in time');
    const a = await summary(pageA);
    if (a.stats.wins.length > 0) break;
    if (a.state.turn === 0) {
      await pageA.waitForTimeout(50);
      continue;
    }
    const [on] = await turnOrder();
    let s = await summary(on);
    const bad = s.state.hand.find((c) => !c.playable);
    if (!shot && clicks >= 6 && bad) {
      // Mid-round, a card that does not match: refused, and the reason is on the page.
      await on.click(`#hand button.card[data-id="${bad.id}"]`);
      const r = await waitFor(on, (x) => x.shownRefusal?.startsWith(`${bad.name} does not match`), 'the refusal');
      assert.equal(r.state.moves, s.state.moves);
      await on.mouse.move(0, 0);
      await on.waitForTimeout(200);
      await on.screenshot({ path: `${SHOTS_DIR}cards-play.png` });
      shot = true;
      s = r;
    }
    const card = s.state.hand.find((c) => c.playable);
    await on.click(card ? `#hand button.card[data-id="${card.id}"]` : '#draw');
    clicks++;
    // The move is seen before the next one is made.
    await waitFor(on, (x) => x.state.moves > s.state.moves || x.stats.wins.length > 0, 'the move to be played');
  }
  const a = await waitFor(pageA, (x) => x.state.winner !== 0, 'A to show the winner');
  const b = await waitFor(pageB, (x) => x.stats.wins.length > 0 && x.state.winner !== 0, 'B to see the win');
  const winner = a.state.winner;
  assert.equal(b.state.winner, winner);
  assert.equal(a.state.players.find((p) => p.id === winner).cards, 0, 'the winner emptied its hand');
  assert.equal(a.state.players.find((p) => p.id === winner).wins, 1);
  assert.match(await pageA.locator('#turn').innerText(), /won the round/);
  await pageA.screenshot({ path: `${SHOTS_DIR}cards-won.png` });
  assert.ok(clicks >= 7, `${clicks} moves`);
  assert.ok(shot, 'a mid-round refusal was shown and photographed');
  // The next round is dealt on both pages, with fresh hands.
  for (const p of [pageA, pageB]) {
    const s = await waitFor(p, (x) => dealt(x) && x.state.round === start.round + 1, 'the next round', 15_000);
    assert.equal(s.state.hand.length, 7);
    assert.equal(s.state.winner, 0);
  }
  await pageB.screenshot({ path: `${SHOTS_DIR}cards-next-round.png` });
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
