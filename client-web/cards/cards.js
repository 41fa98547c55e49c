// Eights' page on the generic SDK (../src/sdk/index.js, protocol version 2). The SDK joins,
// reconnects and resumes and decodes the game from the schema in Welcome; this page only draws
// what the replica holds and turns clicks into the game's actions:
//
// - the hand: the `card` entities in the replica (the server sends a card to its owner only,
//   so every card held here is ours), each a button that sends `play { card }`;
// - the table: the room fields (round, turn, top card, draw pile, winner, deadline);
// - the other players: their records (`cards`, `wins`, `dealt_in`), names from the SDK;
// - a refusal (the engine's `rejected` event, sent to this player alone) shown until our next
//   accepted move; `played`, `drew` and `won` events in the log.
//
// `window.tickwire.summary()` exposes a read-only summary for the end-to-end tests.

import { GameClient } from '../src/sdk/index.js';

const SUITS = ['♣', '♦', '♥', '♠'];
const RANKS = ['', 'A', '2', '3', '4', '5', '6', '7', '8', '9', '10', 'J', 'Q', 'K'];
const LOG_LINES = 60;

/** "7♥" for rank 7, suit 2. */
export function cardName(rank, suit) {
  return `${RANKS[rank] ?? '?'}${SUITS[suit] ?? '?'}`;
}

/** Whether a card may be played on the top card: the same suit or the same rank. */
export function playsOn(card, top) {
  return top !== null && (card.suit === top.suit || card.rank === top.rank);
}

function el(tag, className, text) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

/** Fills a `.card.face` element with a card (or empties it). */
function drawFace(node, card) {
  node.replaceChildren();
  node.classList.toggle('empty', card === null);
  node.classList.toggle('red', card !== null && (card.suit === 1 || card.suit === 2));
  if (card === null) return;
  node.append(el('span', 'rank', RANKS[card.rank]), el('span', 'suit', SUITS[card.suit]));
  node.title = cardName(card.rank, card.suit);
}

class CardsPage {
  constructor() {
    /** @type {GameClient | null} */
    this.client = null;
    this.dirty = true;
    this.names = new Map();
    this.refusal = null;
    this.log = [];
    this.stats = { refusals: [], played: 0, drew: 0, wins: [] };
    this.dom = {
      join: document.getElementById('join'),
      form: document.getElementById('join-form'),
      name: document.getElementById('name'),
      table: document.getElementById('table'),
      round: document.getElementById('round'),
      status: document.getElementById('status-text'),
      opponents: document.getElementById('opponents'),
      draw: document.getElementById('draw'),
      pile: document.getElementById('pile'),
      top: document.getElementById('top-card'),
      turn: document.getElementById('turn'),
      timer: document.getElementById('timer'),
      refusal: document.getElementById('refusal'),
      hand: document.getElementById('hand'),
      myName: document.getElementById('my-name'),
      logList: document.getElementById('log'),
    };
    this.dom.form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      this.start(this.dom.name.value.trim() || 'anonymous');
    });
    this.dom.draw.addEventListener('click', () => this.client?.action('draw', []));
    this.dom.hand.addEventListener('click', (ev) => {
      const button = ev.target.closest('button.card');
      if (button) this.client?.action('play', [Number(button.dataset.id)]);
    });
    window.tickwire = { summary: () => this.summary() };
    requestAnimationFrame(() => this.frame());
  }

  start(name) {
    const params = new URLSearchParams(location.search);
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const wsParams = new URLSearchParams();
    for (const key of ['room', 'token']) if (params.has(key)) wsParams.set(key, params.get(key));
    const query = wsParams.size ? `?${wsParams}` : '';
    const client = new GameClient({
      url: params.get('ws') || `${proto}//${location.host}/ws${query}`,
      name,
      onWelcome: (replica, welcome) => this.onWelcome(replica, welcome),
      onState: (state, detail) => this.showConnection(state, detail),
      onFault: (reason) => console.warn(`tickwire: ${reason}`),
    });
    this.client = client;
    const touch = () => {
      this.dirty = true;
    };
    client.on('card', { add: touch, change: touch, remove: touch });
    client.onPlayer({
      join: (id, p) => {
        this.names.set(id, p.name);
        touch();
      },
      change: touch,
      leave: touch,
    });
    client.onRoom(touch);
    client.onEvent('rejected', ({ reason }) => this.refuse(reason));
    client.onEvent('played', ({ player, rank, suit }) => {
      if (player === this.me) {
        this.stats.played++;
        this.refusal = null;
      }
      this.addLog(`${this.nameOf(player)} played ${cardName(rank, suit)}`);
    });
    client.onEvent('drew', ({ player, got }) => {
      if (player === this.me) {
        this.stats.drew++;
        this.refusal = null;
      }
      this.addLog(got ? `${this.nameOf(player)} drew a card` : `${this.nameOf(player)} passed: nothing left to draw`);
    });
    client.onEvent('won', ({ player, round }) => {
      this.stats.wins.push({ player, round });
      const text = player === 0 ? `Round ${round} ended with no winner` : `${this.nameOf(player)} won round ${round}!`;
      this.addLog(text, 'win');
    });
    client.onEvent('notice', ({ text }) => this.addLog(text));
    client.onEvent('chat', ({ player, text }) => this.addLog(`${this.nameOf(player)}: ${text}`));
    this.dom.join.hidden = true;
    this.dom.table.hidden = false;
    client.start();
  }

  onWelcome(replica, welcome) {
    this.config = JSON.parse(welcome.game_config || '{}');
    this.tickRate = welcome.tick_rate;
    this.refusal = null;
    this.dirty = true;
    this.addLog(welcome.resumed ? 'Reconnected: same seat, same hand' : 'Joined the table');
  }

  get me() {
    return this.client?.replica?.playerId ?? null;
  }

  nameOf(id) {
    return this.client?.replica?.players.get(id)?.name ?? this.names.get(id) ?? `player-${id}`;
  }

  refuse(reason) {
    this.refusal = reason;
    this.stats.refusals.push(reason);
    this.dirty = true;
  }

  addLog(text, className = '') {
    this.log.push({ text, className });
    if (this.log.length > LOG_LINES) this.log.shift();
    this.dirty = true;
  }

  showConnection(state, detail) {
    document.body.dataset.connection = state;
    this.dom.status.textContent = state === 'connected' ? 'connected' : `${state}${detail ? `: ${detail}` : ''}`;
    this.dirty = true;
  }

  /** What the replica says about the table, in plain values. */
  state() {
    const r = this.client?.replica;
    if (!r || r.snapshotsApplied === 0) return null;
    const rank = r.roomValue('top_rank');
    const top = rank === 0 ? null : { rank, suit: r.roomValue('top_suit') };
    const turn = r.roomValue('turn');
    const hand = [];
    for (const [id] of r.ofKind('card')) {
      const card = { id, rank: r.value(id, 'rank'), suit: r.value(id, 'suit') };
      card.playable = turn === r.playerId && playsOn(card, top);
      hand.push(card);
    }
    hand.sort((a, b) => a.suit - b.suit || a.rank - b.rank || a.id - b.id);
    const players = [];
    for (const [id, p] of r.players) {
      players.push({
        id, name: p.name, connected: p.connected,
        cards: r.playerValue(id, 'cards'), wins: r.playerValue(id, 'wins'), dealtIn: r.playerValue(id, 'dealt_in'),
      });
    }
    return {
      me: r.playerId, tick: r.tick, round: r.roomValue('round'), turn, top, pile: r.roomValue('pile'),
      winner: r.roomValue('winner'), moves: r.roomValue('moves'), deadline: r.roomValue('deadline'), hand, players,
    };
  }

  frame() {
    requestAnimationFrame(() => this.frame());
    const s = this.state();
    if (!s) return;
    this.drawTimer(s);
    if (!this.dirty) return;
    this.dirty = false;
    this.render(s);
  }

  drawTimer(s) {
    const left = Math.max(0, Math.ceil((s.deadline - s.tick) / (this.tickRate || 30)));
    const text = s.turn !== 0 ? `${left} s to move` : s.winner !== 0 || s.round > 0 ? (s.deadline ? `next round in ${left} s` : '') : '';
    if (this.dom.timer.textContent !== text) this.dom.timer.textContent = text;
  }

  render(s) {
    const d = this.dom;
    d.round.textContent = s.round === 0 ? 'no round yet' : `round ${s.round}`;
    d.myName.textContent = this.nameOf(s.me);
    const mine = s.turn === s.me;
    const dealtIn = s.players.find((p) => p.id === s.me)?.dealtIn ?? false;
    let turn;
    if (s.turn === 0 && s.winner !== 0) turn = s.winner === s.me ? 'You won the round!' : `${this.nameOf(s.winner)} won the round`;
    else if (s.turn === 0 && s.round > 0) turn = 'Round over';
    else if (s.turn === 0) turn = 'Waiting for a second player…';
    else if (mine) turn = s.hand.some((c) => c.playable) ? 'Your turn: play a card' : 'Your turn: nothing plays, draw';
    else turn = `${this.nameOf(s.turn)}'s turn${dealtIn ? '' : ' (you are watching: dealt in next round)'}`;
    d.turn.textContent = turn;
    d.turn.classList.toggle('mine', mine);
    d.pile.textContent = String(s.pile);
    d.draw.disabled = !mine;
    drawFace(d.top, s.top);
    d.refusal.hidden = this.refusal === null;
    d.refusal.textContent = this.refusal ?? '';

    d.opponents.replaceChildren(...s.players.map((p) => {
      const box = el('div', 'player');
      box.classList.toggle('on-turn', p.id === s.turn);
      box.classList.toggle('me', p.id === s.me);
      box.dataset.id = String(p.id);
      box.append(el('div', 'name', p.id === s.me ? `${p.name} (you)` : p.name));
      const status = p.dealtIn ? `${p.cards} card${p.cards === 1 ? '' : 's'}` : 'watching';
      box.append(el('div', 'meta', `${status} · ${p.wins} win${p.wins === 1 ? '' : 's'}${p.connected ? '' : ' · away'}`));
      const backs = el('div', 'backs');
      for (let i = 0; i < Math.min(p.cards, 20); i++) backs.append(el('i'));
      box.append(backs);
      return box;
    }));

    d.hand.replaceChildren(...s.hand.map((c) => {
      const b = el('button', 'card face');
      b.type = 'button';
      b.dataset.id = String(c.id);
      b.dataset.rank = String(c.rank);
      b.dataset.suit = String(c.suit);
      drawFace(b, c);
      b.classList.toggle('playable', c.playable);
      return b;
    }));

    d.logList.replaceChildren(...this.log.map((l) => el('li', l.className, l.text)));
    d.logList.scrollTop = d.logList.scrollHeight;
  }

  summary() {
    const s = this.state();
    return {
      connection: document.body.dataset.connection,
      ready: this.client?.ready ?? false,
      divergences: this.client?.stats.divergences ?? 0,
      faults: this.client?.stats.faults ?? 0,
      state: s && { ...s, hand: s.hand.map((c) => ({ ...c, name: cardName(c.rank, c.suit) })) },
      refusal: this.refusal,
      shownRefusal: this.dom.refusal.hidden ? null : this.dom.refusal.textContent,
      stats: this.stats,
      log: this.log.map((l) => l.text),
    };
  }
}

new CardsPage();
