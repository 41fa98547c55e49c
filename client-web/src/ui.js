// The DOM around the canvas: name entry, connection status banner, HUD, scoreboard (Tab), kill
// feed and chat box (Enter). Shows what the game hands it; holds no game state of its own.

const $ = (id) => document.getElementById(id);

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

/** How the HUD names each transport. */
const TRANSPORT_NAMES = { webtransport: 'WebTransport', websocket: 'WebSocket' };

export class Ui {
  constructor() {
    this.join = $('join');
    this.nameInput = $('name');
    this.status = $('status');
    this.statusText = $('status-text');
    this.retry = $('retry');
    this.hud = $('hud');
    this.scoreboard = $('scoreboard');
    this.killfeed = $('killfeed');
    this.chatLog = $('chat-log');
    this.chatInput = $('chat-input');
    this.deathBanner = $('death');
    this.nameInput.value = localStorage.getItem('tickwire.name') || '';
    /** Which scoreboard tab shows: 'round' (the replicated records) or 'alltime'. */
    this.boardTab = 'round';
    this.boardNote = $('board-note');
    $('tab-round').addEventListener('click', () => this.setBoardTab('round'));
    $('tab-alltime').addEventListener('click', () => this.setBoardTab('alltime'));
    this.hudCells = {};
    for (const k of ['ping', 'tick', 'fps', 'entities', 'down', 'transport']) this.hudCells[k] = $(`hud-${k}`);
  }

  /** Calls `fn(name)` when the player submits the join form. */
  onJoin(fn) {
    $('join-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      const name = this.nameInput.value.trim();
      localStorage.setItem('tickwire.name', name);
      this.join.hidden = true;
      fn(name);
    });
    this.nameInput.focus();
  }

  onRetry(fn) {
    this.retry.addEventListener('click', fn);
  }

  /** Connection state: 'connecting' | 'connected' | 'reconnecting' | 'closed'. */
  showConnection(state, detail) {
    document.body.dataset.connection = state;
    this.status.dataset.state = state;
    this.retry.hidden = state !== 'closed';
    if (state === 'connected') {
      this.status.hidden = true;
      return;
    }
    this.status.hidden = false;
    const title = { connecting: 'Connecting…', reconnecting: 'Reconnecting…', closed: 'Disconnected.' }[state] ?? state;
    const b = el('b', '', title);
    this.statusText.replaceChildren(b, document.createTextNode(detail ? ` ${detail}` : ''));
  }

  /** The node in use (its WebSocket URL), as the HUD's tooltip: out of the way, there to ask. */
  showNode(url) {
    if (!url) return;
    let where = url;
    try {
      const u = new URL(url);
      where = `${u.host}${u.pathname}${u.searchParams.has('room') ? ` room ${u.searchParams.get('room')}` : ''}`;
    } catch {
      // shown as it is
    }
    // Host, path and room only: the query's token and guest id stay out of the page.
    this.hud.title = `Connected through ${where}`;
  }

  showHud(stats) {
    const c = this.hudCells;
    c.ping.textContent = stats.pingMs === null ? '–' : `${Math.round(stats.pingMs)} ms`;
    c.tick.textContent = stats.tick === null ? '–' : String(stats.tick);
    c.fps.textContent = String(Math.round(stats.fps));
    c.entities.textContent = String(stats.entities);
    c.down.textContent = `${stats.kibDown.toFixed(1)} KiB/s`;
    // The transport in use ('webtransport' | 'websocket'), '×2' while a mirror brings the
    // room's messages too, and as the cell's tooltip why a WebTransport attempt gave way to the
    // WebSocket, if one did, and what the mirror did.
    const t = stats.transport ?? null;
    const m = stats.mirror ?? null;
    c.transport.textContent = `${TRANSPORT_NAMES[t] ?? '–'}${m?.attached ? ' ×2' : ''}`;
    c.transport.dataset.transport = t ?? '';
    c.transport.dataset.mirror = m?.attached ? 'attached' : '';
    const notes = [];
    if (t === 'websocket' && stats.fallbackReason) notes.push(`WebTransport gave way: ${stats.fallbackReason}`);
    if (m?.attached) {
      notes.push(`Mirrored over a second WebSocket: ${m.fromMirror} messages came first on it, ${m.duplicates} copies dropped`);
    } else if (m?.lastClose) {
      notes.push(`The mirror closed (${m.lastClose.code}${m.lastClose.reason ? `: ${m.lastClose.reason}` : ''}): one WebSocket now`);
    }
    c.transport.title = notes.join('\n');
  }

  setBoardTab(tab) {
    this.boardTab = tab;
    $('tab-round').classList.toggle('on', tab === 'round');
    $('tab-alltime').classList.toggle('on', tab === 'alltime');
    $('board-round').hidden = tab !== 'round';
    $('board-alltime').hidden = tab !== 'alltime';
    this.boardNote.textContent = '';
    this.onBoardTab?.(tab);
  }

  /** The all-time leaderboard (`GET /leaderboard/…` JSON), or an error sentence. */
  showAllTime(board, error) {
    const body = $('board-alltime').querySelector('tbody');
    if (error) {
      this.boardNote.textContent = error;
      return;
    }
    body.replaceChildren(
      ...board.rows.map((r) => {
        const tr = el('tr', r.player === board.you ? 'own' : '');
        tr.append(el('td', 'num', String(r.rank)), el('td', '', r.name), el('td', 'num', String(r.value)));
        return tr;
      }),
    );
    this.boardNote.textContent = board.total === 0
      ? 'No rounds finished yet: scores are kept when a round ends.'
      : `${board.total} ${board.total === 1 ? 'player' : 'players'} ranked, kept across rounds and visits.`;
  }

  showScoreboard(visible, players, ownId) {
    this.scoreboard.hidden = !visible;
    if (!visible) return;
    const rows = [...players].sort((a, b) => b.score - a.score || a.deaths - b.deaths || a.id - b.id);
    const body = $('board-round').querySelector('tbody');
    body.replaceChildren(
      ...rows.map((p) => {
        const tr = el('tr', p.id === ownId ? 'own' : '');
        // A player whose connection dropped keeps its seat (and its score) for a while.
        const name = p.connected === false ? `${p.name} (away)` : p.name;
        tr.append(el('td', '', name), el('td', 'num', String(p.score)), el('td', 'num', String(p.deaths)));
        return tr;
      }),
    );
  }

  addKill(killer, victim, ownInvolved) {
    const line = el('div', ownInvolved ? 'kill own' : 'kill');
    line.append(el('b', '', killer), document.createTextNode(' ✕ '), el('b', '', victim));
    this.killfeed.prepend(line);
    while (this.killfeed.children.length > 5) this.killfeed.lastChild.remove();
    setTimeout(() => line.classList.add('fade'), 6000);
    setTimeout(() => line.remove(), 7000);
  }

  addChat(who, text, kind = 'chat') {
    const line = el('div', `line ${kind}`);
    if (who) line.append(el('b', '', `${who}: `));
    line.append(document.createTextNode(text));
    this.chatLog.append(line);
    while (this.chatLog.children.length > 8) this.chatLog.firstChild.remove();
  }

  /** Opens the chat input; `send(text)` is called on Enter. */
  bindChat(send) {
    window.addEventListener('keydown', (ev) => {
      if (!this.join.hidden) return;
      if (ev.key === 'Enter' && document.activeElement !== this.chatInput) {
        ev.preventDefault();
        this.chatInput.hidden = false;
        this.chatInput.focus();
      }
    });
    this.chatInput.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter') {
        ev.preventDefault();
        const text = this.chatInput.value.trim();
        if (text) send(text);
        this.chatInput.value = '';
        this.chatInput.blur();
        this.chatInput.hidden = true;
      } else if (ev.key === 'Escape') {
        this.chatInput.value = '';
        this.chatInput.blur();
        this.chatInput.hidden = true;
      }
      ev.stopPropagation();
    });
  }

  showDeath(text) {
    this.deathBanner.hidden = !text;
    if (text) this.deathBanner.textContent = text;
  }
}
