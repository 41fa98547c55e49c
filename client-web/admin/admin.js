// The operator's page: polls GET /admin/api/overview each second with the admin token as a
// Bearer header, shows the nodes, rooms and players, plots each room's tick time and
// bandwidth over the last 120 s (rates from successive polls), and kicks players through
// POST /admin/api/kick. The token lives in sessionStorage (this tab only), never in a cookie;
// `/admin?token=…` stores it once and takes it out of the address.

const TOKEN_KEY = 'tickwire-admin-token';
const POLL_MS = 1000;
const WINDOW_MS = 120_000;
const CONFIRM_MS = 3000;
const COLORS = ['#3ee6ff', '#ffd25a', '#ff5ac8', '#7ee787', '#ff8a4c', '#a78bfa', '#5ab0ff',
  '#f472b6', '#c3e88d', '#ff5a5a'];

const $ = (id) => document.getElementById(id);

/** Per room (`node/id`): its colour, its points `{t, tick, kib}` and the last bytes seen. */
const series = new Map();
let colorNext = 0;
let token = takeToken();
let timer = null;
/** The player whose kick button was clicked once, and until when it waits for the second. */
let confirming = null;
/** Player cards by room key, kept across polls so buttons stay under the pointer. */
const roomCards = new Map();

function takeToken() {
  const url = new URL(location.href);
  const given = url.searchParams.get('token');
  if (given) {
    sessionStorage.setItem(TOKEN_KEY, given);
    url.searchParams.delete('token');
    history.replaceState(null, '', url.pathname + url.search + url.hash);
  }
  return sessionStorage.getItem(TOKEN_KEY);
}

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v;
    else if (k === 'dataset') Object.assign(e.dataset, v);
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

function status(state, text) {
  const s = $('status');
  s.dataset.state = state;
  s.textContent = text;
}

function showLogin(message) {
  token = null;
  sessionStorage.removeItem(TOKEN_KEY);
  clearTimeout(timer);
  $('main').hidden = true;
  $('sign-out').hidden = true;
  $('login').hidden = false;
  const err = $('login-error');
  err.hidden = !message;
  err.textContent = message || '';
  status('idle', 'not signed in');
  $('token').focus();
}

function showMain() {
  $('login').hidden = true;
  $('main').hidden = false;
  $('sign-out').hidden = false;
}

async function api(path, init = {}) {
  const ctl = new AbortController();
  const t = setTimeout(() => ctl.abort(), 4000);
  try {
    const r = await fetch(path, {
      ...init,
      signal: ctl.signal,
      headers: { ...(init.headers || {}), Authorization: `Bearer ${token}` },
      cache: 'no-store',
    });
    let body = null;
    try { body = await r.json(); } catch { body = null; }
    return { status: r.status, body };
  } finally {
    clearTimeout(t);
  }
}

async function poll() {
  clearTimeout(timer);
  if (!token) return;
  try {
    const { status: code, body } = await api('/admin/api/overview');
    if (code === 401) {
      showLogin(body?.error || 'the admin token was refused');
      return;
    }
    if (code !== 200 || !body) throw new Error(body?.error || `HTTP ${code}`);
    showMain();
    render(body);
    status('ok', `updated ${new Date(body.time_ms).toLocaleTimeString()}`);
  } catch (e) {
    status('error', `cannot reach the server: ${e.message || e}`);
  }
  if (token) timer = setTimeout(poll, POLL_MS);
}

function record(overview) {
  const now = overview.time_ms;
  const seen = new Set();
  for (const r of overview.rooms) {
    const key = `${r.node}/${r.id}`;
    seen.add(key);
    let s = series.get(key);
    if (!s) {
      s = { color: COLORS[colorNext++ % COLORS.length], points: [], last: null, room: r.id };
      series.set(key, s);
    }
    let kib = null;
    if (s.last && now > s.last.t && r.bytes_sent >= s.last.bytes) {
      kib = (r.bytes_sent - s.last.bytes) / 1024 / ((now - s.last.t) / 1000);
    }
    s.last = { t: now, bytes: r.bytes_sent };
    s.points.push({ t: now, tick: r.tick_ms, kib });
  }
  for (const [key, s] of series) {
    s.points = s.points.filter((p) => p.t >= now - WINDOW_MS);
    if (!seen.has(key)) s.last = null;
    if (s.points.length === 0) series.delete(key);
  }
}

function rate(key) {
  const p = series.get(key)?.points.at(-1);
  return p && p.kib !== null ? p.kib : null;
}

function fmtBytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

function fmtUptime(s) {
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (h > 0) return `${h}h ${String(m).padStart(2, '0')}m`;
  return `${m}m ${String(s % 60).padStart(2, '0')}s`;
}

function render(overview) {
  record(overview);
  $('node').textContent = overview.node;

  const nodes = $('nodes').tBodies[0];
  nodes.replaceChildren(...overview.nodes.map((n) => el('tr', { dataset: { node: n.id } },
    el('td', {}, n.id), el('td', {}, n.url), el('td', { class: 'num' }, n.rooms),
    el('td', { class: 'num' }, n.players),
    el('td', { class: !n.healthy ? 'bad' : n.draining ? 'warn' : 'good' },
      !n.healthy ? 'unreachable' : n.draining ? 'draining' : 'serving'))));

  const rooms = $('rooms').tBodies[0];
  $('no-rooms').hidden = overview.rooms.length > 0;
  rooms.replaceChildren(...overview.rooms.map((r) => {
    const key = `${r.node}/${r.id}`;
    const color = series.get(key).color;
    const swatch = el('span', { class: 'swatch', dataset: { color } });
    swatch.style.background = color;
    const kib = rate(key);
    return el('tr', { dataset: { room: r.id } },
      el('td', {}, swatch), el('td', {}, r.id), el('td', {}, r.node), el('td', {}, r.game),
      el('td', { class: 'num' }, `${r.players} / ${r.max_players}`),
      el('td', {}, r.public ? 'quick-match' : 'named'),
      el('td', { class: 'num' }, r.tick),
      el('td', { class: 'num' }, `${r.tick_ms.toFixed(2)} ms`),
      el('td', { class: 'num' }, `${fmtBytes(r.bytes_sent)}${kib === null ? '' : ` · ${kib.toFixed(1)} KiB/s`}`),
      el('td', { class: 'num' }, fmtUptime(r.uptime_secs)));
  }));

  renderPlayers(overview);
  plot($('plot-tick'), overview.time_ms, (p) => p.tick, 'ms');
  plot($('plot-bytes'), overview.time_ms, (p) => p.kib, 'KiB/s');
}

function renderPlayers(overview) {
  const box = $('players');
  const live = new Set();
  for (const r of overview.rooms) {
    const key = `${r.node}/${r.id}`;
    live.add(key);
    let card = roomCards.get(key);
    if (!card) {
      const body = el('tbody');
      const head = el('h3');
      card = { el: el('div', { class: 'room-players', dataset: { room: r.id } }, head,
        el('table', {}, el('thead', {}, el('tr', {}, el('th', {}, 'Id'), el('th', {}, 'Name'),
          el('th', {}, 'State'), el('th', {}, ''))), body)), head, body, rows: new Map() };
      roomCards.set(key, card);
      box.append(card.el);
    }
    card.head.textContent = `Room ${r.id} · ${r.game} on ${r.node}`;
    const ids = new Set();
    for (const p of r.player_list) {
      ids.add(p.id);
      let row = card.rows.get(p.id);
      if (!row) {
        const name = el('td', { class: 'name' });
        const state = el('td');
        const button = el('button', { type: 'button', class: 'kick' }, 'Kick');
        button.addEventListener('click', () => kickClicked(r.id, p.id, button, name.textContent));
        row = { tr: el('tr', { dataset: { player: p.id } }, el('td', { class: 'num' }, p.id), name,
          state, el('td', {}, button)), name, state, button };
        card.rows.set(p.id, row);
        card.body.append(row.tr);
      }
      row.name.textContent = p.name;
      row.state.textContent = p.connected ? 'connected' : 'waiting to resume';
      row.state.className = p.connected ? 'good' : 'warn';
      const waiting = confirming && confirming.room === r.id && confirming.player === p.id
        && confirming.until > Date.now();
      row.button.textContent = waiting ? 'Really kick?' : 'Kick';
      row.button.classList.toggle('confirm', !!waiting);
    }
    for (const [id, row] of card.rows) {
      if (!ids.has(id)) {
        row.tr.remove();
        card.rows.delete(id);
      }
    }
    if (r.player_list.length === 0 && !card.empty) {
      card.empty = el('p', { class: 'dim' }, 'No players.');
      card.el.append(card.empty);
    } else if (r.player_list.length > 0 && card.empty) {
      card.empty.remove();
      card.empty = null;
    }
  }
  for (const [key, card] of roomCards) {
    if (!live.has(key)) {
      card.el.remove();
      roomCards.delete(key);
    }
  }
}

async function kickClicked(room, player, button, name) {
  const now = Date.now();
  if (!(confirming && confirming.room === room && confirming.player === player && confirming.until > now)) {
    confirming = { room, player, until: now + CONFIRM_MS };
    button.textContent = 'Really kick?';
    button.classList.add('confirm');
    setTimeout(() => {
      if (confirming && confirming.room === room && confirming.player === player && confirming.until <= Date.now()) {
        confirming = null;
        button.textContent = 'Kick';
        button.classList.remove('confirm');
      }
    }, CONFIRM_MS + 50);
    return;
  }
  confirming = null;
  button.disabled = true;
  const note = $('kick-result');
  try {
    const { status: code, body } = await api('/admin/api/kick', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ room, player }),
    });
    if (code === 401) {
      showLogin(body?.error || 'the admin token was refused');
      return;
    }
    note.hidden = false;
    note.classList.toggle('error', code !== 200);
    note.textContent = code === 200
      ? `Removed ${name} (player ${player}) from room ${room}.`
      : `Could not remove player ${player} from room ${room}: ${body?.error || `HTTP ${code}`}`;
  } catch (e) {
    note.hidden = false;
    note.classList.add('error');
    note.textContent = `Could not remove player ${player}: ${e.message || e}`;
  } finally {
    button.disabled = false;
  }
  poll();
}

/** Draws one line per room of `value(point)` over the last 120 s ending at `now`. */
function plot(canvas, now, value, unit) {
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth || canvas.width;
  const h = canvas.clientHeight || canvas.height;
  if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
    canvas.width = Math.round(w * dpr);
    canvas.height = Math.round(h * dpr);
  }
  const g = canvas.getContext('2d');
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  g.clearRect(0, 0, w, h);
  const left = 52, right = 10, top = 10, bottom = 22;
  const pw = w - left - right, ph = h - top - bottom;

  let max = 0;
  for (const s of series.values()) {
    for (const p of s.points) {
      const v = value(p);
      if (v !== null && v > max) max = v;
    }
  }
  // A floor low enough that a quiet room's few hundred bytes a second still show as a line.
  const yMax = niceCeil(Math.max(max * 1.15, unit === 'ms' ? 0.5 : 0.05));
  const x = (t) => left + ((t - (now - WINDOW_MS)) / WINDOW_MS) * pw;
  const y = (v) => top + ph - (v / yMax) * ph;

  g.font = '11px system-ui, sans-serif';
  g.lineWidth = 1;
  g.strokeStyle = '#1f2738';
  g.fillStyle = '#8a94a8';
  g.textAlign = 'right';
  g.textBaseline = 'middle';
  for (let i = 0; i <= 4; i++) {
    const v = (yMax * i) / 4;
    const yy = Math.round(y(v)) + 0.5;
    g.beginPath();
    g.moveTo(left, yy);
    g.lineTo(left + pw, yy);
    g.stroke();
    g.fillText(fmtAxis(v), left - 6, yy);
  }
  g.textAlign = 'center';
  g.textBaseline = 'top';
  for (const s of [120, 90, 60, 30, 0]) {
    const xx = Math.round(x(now - s * 1000)) + 0.5;
    g.beginPath();
    g.moveTo(xx, top);
    g.lineTo(xx, top + ph);
    g.stroke();
    g.fillText(s === 0 ? 'now' : `-${s}s`, Math.min(xx, left + pw - 12), top + ph + 5);
  }

  g.lineWidth = 2;
  g.lineJoin = 'round';
  for (const s of series.values()) {
    g.strokeStyle = s.color;
    g.fillStyle = s.color;
    g.beginPath();
    let drawing = false;
    let lone = null;
    for (const p of s.points) {
      const v = value(p);
      if (v === null) {
        drawing = false;
        continue;
      }
      if (drawing) {
        g.lineTo(x(p.t), y(v));
        lone = null;
      } else {
        g.moveTo(x(p.t), y(v));
        lone = p;
      }
      drawing = true;
    }
    g.stroke();
    // A room seen once so far (or after a gap) is a dot until it has a line.
    if (lone) {
      g.beginPath();
      g.arc(x(lone.t), y(value(lone)), 3, 0, Math.PI * 2);
      g.fill();
    }
  }
}

function niceCeil(v) {
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}

function fmtAxis(v) {
  if (v === 0) return '0';
  if (v >= 100) return v.toFixed(0);
  if (v >= 10) return v.toFixed(1).replace(/\.0$/, '');
  if (v >= 1) return v.toFixed(2).replace(/0$/, '').replace(/\.0$/, '');
  return v.toFixed(3).replace(/0+$/, '');
}

$('login-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const t = $('token').value.trim();
  if (!t) return;
  sessionStorage.setItem(TOKEN_KEY, t);
  token = t;
  $('token').value = '';
  status('idle', 'signing in…');
  poll();
});

$('sign-out').addEventListener('click', () => showLogin(''));

if (token) poll();
else showLogin('');
