// The survival game's page on the generic SDK (../src/sdk/index.js, protocol version 2). The SDK
// joins, reconnects and resumes, decodes the game from the schema in Welcome, predicts the
// player's own hero through the game's step (rules.js heroStep, a port of
// games/survival/src/client.rs predict_step) and interpolates everyone else; this page turns the
// keyboard and mouse into the input lanes and draws, top-down on a canvas with the camera on
// the player's hero:
//
// - heroes (the player's highlighted, each with its hit points and name), zombies (nobody's:
//   the server alone moves them), pickups (ammo crates and coins, static entities);
// - the player's ammo and reserve: owner-only fields, so the replica holds them for the
//   player's own hero only (every other hero's are 0 there, and are never shown);
// - the room fields: the wave, the countdown to the next one (`next_wave_tick − tick`: the
//   room sends a deadline once per wave, not a countdown every tick), zombies left, team score;
// - the team (the players' records: kills, falls), shots as tracers, waves and falls in a log.
//
// WASD moves, the mouse aims, a click (or holding the button) fires, R reloads.
// `window.tickwire.summary()` exposes a read-only summary for the end-to-end tests.

import { GameClient } from '../src/sdk/index.js';
import { ITEMS, POS_SCALE, heroStep, quantizeAngle16, survivalFields } from './rules.js';

const OWN_COLOR = '#3ee6ff';
const GRID = 100;
const TRACER_MS = 220;
const BANNER_MS = 2200;
const LOG_LINES = 8;
/** Farther than this between two drawn positions of the own hero is a jump, not a glide. */
const GLIDE_MAX = 64;

const KEYS = {
  KeyW: 'up', ArrowUp: 'up', KeyS: 'down', ArrowDown: 'down',
  KeyA: 'left', ArrowLeft: 'left', KeyD: 'right', ArrowRight: 'right',
};

/** A stable colour for another player's hero: blue through purple and pink to orange, never
 * the zombies' green, the coins' gold or the own hero's cyan. */
function heroColor(id) {
  return `hsl(${((225 + ((id * 137.508) % 160)) % 360).toFixed(0)}, 70%, 64%)`;
}

/** Keyboard and mouse: held directions, the mouse position, fire (held or clicked), reload. */
class Controls {
  constructor(target) {
    this.held = new Set();
    this.firing = false;
    /** Fire clicked since the last command (so a click shorter than a tick still fires). */
    this.clicked = false;
    this.reloadPressed = false;
    this.mouseX = 0;
    this.mouseY = 0;
    this.hasMouse = false;
    const typing = (ev) => ev.target instanceof HTMLInputElement;
    window.addEventListener('keydown', (ev) => {
      if (typing(ev)) return;
      const dir = KEYS[ev.code];
      if (dir) {
        this.held.add(dir);
        ev.preventDefault();
      } else if (ev.code === 'KeyR') {
        this.reloadPressed = true;
      }
    });
    window.addEventListener('keyup', (ev) => {
      const dir = KEYS[ev.code];
      if (dir) this.held.delete(dir);
    });
    window.addEventListener('blur', () => {
      this.held.clear();
      this.firing = false;
    });
    const at = (ev) => {
      this.mouseX = ev.offsetX;
      this.mouseY = ev.offsetY;
      this.hasMouse = true;
    };
    target.addEventListener('mousemove', at);
    target.addEventListener('mousedown', (ev) => {
      at(ev);
      if (ev.button === 0) {
        this.firing = true;
        this.clicked = true;
      }
      ev.preventDefault();
    });
    window.addEventListener('mouseup', (ev) => {
      if (ev.button === 0) this.firing = false;
    });
    target.addEventListener('contextmenu', (ev) => ev.preventDefault());
  }

  /** Movement intent as `[move_x, move_y]`, each -127..127. */
  movement() {
    const x = (this.held.has('right') ? 1 : 0) - (this.held.has('left') ? 1 : 0);
    const y = (this.held.has('down') ? 1 : 0) - (this.held.has('up') ? 1 : 0);
    return [x * 127, y * 127];
  }

  /** Whether the next command fires: held, or clicked since the last one. */
  takeFire() {
    const fire = this.firing || this.clicked;
    this.clicked = false;
    return fire;
  }

  /** Whether the next command reloads (R pressed since the last one). */
  takeReload() {
    const r = this.reloadPressed;
    this.reloadPressed = false;
    return r;
  }
}

/** The point of `points` nearest to `p`, or null. */
function nearest(points, p) {
  let best = null;
  for (const q of points) {
    if (best === null || Math.hypot(q.x - p.x, q.y - p.y) < Math.hypot(best.x - p.x, best.y - p.y)) best = q;
  }
  return best;
}

function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

class SurvivalPage {
  constructor() {
    this.canvas = document.getElementById('view');
    this.ctx = this.canvas.getContext('2d', { alpha: false });
    this.width = 0;
    this.height = 0;
    this.dpr = 1;
    this.controls = new Controls(this.canvas);
    /** @type {GameClient | null} */
    this.client = null;
    this.f = null;
    this.rules = null;
    this.step = null;
    this.names = new Map();
    this.tracers = [];
    this.log = [];
    this.banner = null;
    this.lastAim = 0;
    this.ownFrom = null;
    this.ownFromAt = 0;
    this.ownDrawn = null;
    this.fallenAt = null;
    this.camera = null;
    this.frames = 0;
    this.stats = { shotsHeard: 0, ownShots: 0, waves: [], fallen: 0, commands: 0 };
    this.dom = {};
    for (const id of ['join', 'join-form', 'name', 'wave', 'countdown', 'zombies-left', 'score', 'hp', 'hp-bar',
      'ammo', 'reloading', 'team-rows', 'log', 'fallen', 'banner', 'status', 'status-text']) {
      this.dom[id.replace(/-(.)/g, (_, c) => c.toUpperCase())] = document.getElementById(id);
    }
    this.dom.joinForm.addEventListener('submit', (ev) => {
      ev.preventDefault();
      this.start(this.dom.name.value.trim() || 'anonymous');
    });
    window.tickwire = { summary: () => this.summary() };
    requestAnimationFrame((t) => this.frame(t));
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
      step: (lanes, cmd) => this.step(lanes, cmd),
      input: () => this.makeInput(),
      onWelcome: (replica, welcome) => this.onWelcome(replica, welcome),
      onState: (state, detail) => this.showConnection(state, detail),
      onFault: (reason) => console.warn(`tickwire: ${reason}`),
    });
    this.client = client;
    client.onPlayer({
      join: (id, p) => {
        this.names.set(id, p.name);
        if (client.replica.snapshotsApplied > 1) this.addLog(`${p.name} joined`);
      },
      leave: (id, info) => {
        if (!info?.reset) this.addLog(`${this.nameOf(id)} left`);
      },
    });
    client.onEvent('shot', (e) => this.onShot(e));
    client.onEvent('wave', ({ number }) => {
      this.stats.waves.push(number);
      this.banner = { text: `WAVE ${number}`, at: performance.now() };
      this.addLog(`Wave ${number} is coming`, 'wave');
    });
    client.onEvent('fallen', ({ player }) => {
      this.stats.fallen++;
      this.addLog(player === this.me ? 'You fell' : `${this.nameOf(player)} fell`, 'fallen');
    });
    client.onEvent('notice', ({ text }) => this.addLog(text));
    client.onEvent('chat', ({ player, text }) => this.addLog(`${this.nameOf(player)}: ${text}`));
    client.onEvent('rejected', ({ reason }) => this.addLog(reason));
    this.dom.join.hidden = true;
    client.start();
  }

  onWelcome(replica, welcome) {
    this.f = survivalFields(replica.schema);
    const config = JSON.parse(welcome.game_config);
    this.rules = config.rules;
    this.viewRadius = config.view_radius;
    this.step = heroStep(this.f, this.rules);
    this.tickRate = welcome.tick_rate;
    this.tickMs = 1000 / welcome.tick_rate;
    this.tracers = [];
    this.ownFrom = null;
    this.ownDrawn = null;
    this.fallenAt = null;
    this.addLog(welcome.resumed ? 'Reconnected: same hero' : 'You are in: hold out against the waves');
  }

  get me() {
    return this.client?.replica?.playerId ?? null;
  }

  nameOf(id) {
    return this.client?.replica?.players.get(id)?.name ?? this.names.get(id) ?? `player-${id}`;
  }

  addLog(text, className = '') {
    this.log.push({ text, className });
    if (this.log.length > LOG_LINES) this.log.shift();
    this.dom.log.replaceChildren(...this.log.map((l) => {
      const li = document.createElement('li');
      li.className = l.className;
      li.textContent = l.text;
      return li;
    }));
  }

  showConnection(state, detail) {
    document.body.dataset.connection = state;
    this.dom.status.hidden = state === 'connected';
    setText(this.dom.statusText, `${state}${detail ? `: ${detail}` : ''}`);
  }

  onShot(e) {
    // Positions are Fixed(8): the SDK gives them in world units.
    const own = e.shooter === this.me;
    this.tracers.push({ x1: e.from_x, y1: e.from_y, x2: e.to_x, y2: e.to_y, own, born: performance.now() });
    this.stats.shotsHeard++;
    if (own) this.stats.ownShots++;
  }

  /** The own hero's NetId, or null while it is not in the replica. */
  ownId() {
    return this.client?.owned('hero')[0] ?? null;
  }

  /** The next command's lanes (move_x, move_y, aim, fire, reload by the schema's order). */
  makeInput() {
    const f = this.f;
    const c = this.controls;
    const [mx, my] = c.movement();
    const id = this.ownId();
    const p = id === null ? null : this.client.predicted(id);
    if (c.hasMouse && p) {
      const hx = p[f.hero.x] / POS_SCALE;
      const hy = p[f.hero.y] / POS_SCALE;
      const [wx, wy] = this.toWorld(this.camera ?? { x: hx, y: hy }, c.mouseX, c.mouseY);
      this.lastAim = quantizeAngle16(Math.atan2(wy - hy, wx - hx));
    }
    // The hero glides from where it is drawn now to the new prediction over one tick.
    this.ownFrom = this.ownDrawn;
    this.ownFromAt = performance.now();
    this.stats.commands++;
    const lanes = new Array(5).fill(0);
    lanes[f.input.move_x] = mx;
    lanes[f.input.move_y] = my;
    lanes[f.input.aim] = this.lastAim;
    lanes[f.input.fire] = c.takeFire() ? 1 : 0;
    lanes[f.input.reload] = c.takeReload() ? 1 : 0;
    return lanes;
  }

  /** Where to draw the own hero: its predicted view, reached over one tick from the last. */
  ownPosition(view, nowMs) {
    const target = [view.value('x'), view.value('y')];
    if (!this.ownFrom) return target;
    const k = Math.min(1, (nowMs - this.ownFromAt) / this.tickMs);
    if (Math.hypot(target[0] - this.ownFrom[0], target[1] - this.ownFrom[1]) > GLIDE_MAX) return target;
    return [this.ownFrom[0] + (target[0] - this.ownFrom[0]) * k, this.ownFrom[1] + (target[1] - this.ownFrom[1]) * k];
  }

  resize() {
    const dpr = window.devicePixelRatio || 1;
    const w = this.canvas.clientWidth;
    const h = this.canvas.clientHeight;
    if (w !== this.width || h !== this.height || dpr !== this.dpr) {
      this.width = w;
      this.height = h;
      this.dpr = dpr;
      this.canvas.width = Math.round(w * dpr);
      this.canvas.height = Math.round(h * dpr);
    }
  }

  toScreen(cam, x, y) {
    return [x - cam.x + this.width / 2, y - cam.y + this.height / 2];
  }

  toWorld(cam, sx, sy) {
    return [sx + cam.x - this.width / 2, sy + cam.y - this.height / 2];
  }

  /** What the replica and the predictor say, in plain values (drawing and tests read this). */
  scene(nowMs) {
    const c = this.client;
    const r = c.replica;
    const f = this.f;
    const heroes = [];
    let own = null;
    for (const v of c.views('hero')) {
      const l = v.lanes;
      const player = l[f.hero.player];
      const h = {
        id: v.id, player, name: this.nameOf(player), own: player === r.playerId,
        x: v.value('x'), y: v.value('y'), aim: v.value('aim'), hp: l[f.hero.hp], alive: l[f.hero.alive] !== 0,
        // The replica's exact lanes: real for the own hero, 0 for everyone else's (owner-only).
        ammo: v.entity.lanes[f.hero.ammo], reserve: v.entity.lanes[f.hero.reserve],
        reloading: v.entity.lanes[f.hero.reloading] !== 0,
      };
      if (h.own) {
        if (v.how === 'predicted') [h.x, h.y] = this.ownPosition(v, nowMs);
        h.aim = (this.lastAim / 65536) * 2 * Math.PI;
        own = h;
      } else {
        heroes.push(h);
      }
    }
    const zombies = c.views('zombie').map((v) => ({ id: v.id, x: v.value('x'), y: v.value('y'), hp: v.lanes[f.zombie.hp] }));
    const room = (name) => r.room[f.room[name]] ?? 0;
    return {
      tick: r.tick, own, heroes, zombies,
      wave: room('wave'), nextWaveTick: room('next_wave_tick'), zombiesLeft: room('zombies_left'), score: room('score'),
    };
  }

  frame(nowMs) {
    requestAnimationFrame((t) => this.frame(t));
    this.frames++;
    this.resize();
    const ctx = this.ctx;
    ctx.setTransform(this.dpr, 0, 0, this.dpr, 0, 0);
    const c = this.client;
    if (!c?.replica || !this.f || c.replica.snapshotsApplied === 0) {
      ctx.fillStyle = '#10130f';
      ctx.fillRect(0, 0, this.width, this.height);
      this.drawGrid({ x: this.width / 2, y: this.height / 2 });
      return;
    }
    c.pump(); // a command is due at the tick rate even when the timer runs late
    c.frame();
    const s = this.scene(nowMs);
    this.ownDrawn = s.own && [s.own.x, s.own.y];
    this.camera = s.own ? { x: s.own.x, y: s.own.y } : { x: this.rules.width / 2, y: this.rules.height / 2 };
    this.lastScene = s;
    this.draw(s, nowMs);
    this.drawHud(s, nowMs);
  }

  drawGrid(cam) {
    const ctx = this.ctx;
    const [ox, oy] = this.toScreen(cam, 0, 0);
    ctx.strokeStyle = 'rgba(255, 255, 255, 0.045)';
    ctx.lineWidth = 1;
    ctx.beginPath();
    const x0 = ((ox % GRID) + GRID) % GRID;
    const y0 = ((oy % GRID) + GRID) % GRID;
    for (let x = x0; x <= this.width; x += GRID) {
      ctx.moveTo(Math.round(x) + 0.5, 0);
      ctx.lineTo(Math.round(x) + 0.5, this.height);
    }
    for (let y = y0; y <= this.height; y += GRID) {
      ctx.moveTo(0, Math.round(y) + 0.5);
      ctx.lineTo(this.width, Math.round(y) + 0.5);
    }
    ctx.stroke();
  }

  draw(s, nowMs) {
    const ctx = this.ctx;
    const cam = this.camera;
    const rules = this.rules;
    const onScreen = (x, y, m = 40) => {
      const [sx, sy] = this.toScreen(cam, x, y);
      return sx > -m && sy > -m && sx < this.width + m && sy < this.height + m;
    };
    // Outside the map, the map, its grid and edge.
    ctx.fillStyle = '#0a0c09';
    ctx.fillRect(0, 0, this.width, this.height);
    const [mx, my] = this.toScreen(cam, 0, 0);
    ctx.fillStyle = '#23271d';
    ctx.fillRect(mx, my, rules.width, rules.height);
    this.drawGrid(cam);
    ctx.strokeStyle = '#7a5c2e';
    ctx.lineWidth = 4;
    ctx.strokeRect(mx - 2, my - 2, rules.width + 4, rules.height + 4);
    // How far the own hero sees: nothing beyond is sent.
    if (s.own) {
      const [hx, hy] = this.toScreen(cam, s.own.x, s.own.y);
      ctx.strokeStyle = 'rgba(62, 230, 255, 0.10)';
      ctx.setLineDash([8, 10]);
      ctx.lineWidth = 2;
      ctx.beginPath();
      ctx.arc(hx, hy, this.viewRadius, 0, Math.PI * 2);
      ctx.stroke();
      ctx.setLineDash([]);
    }

    // Pickups: static, exact lanes in whole units.
    const f = this.f.pickup;
    for (const l of this.pickupLanes()) {
      const x = l[f.x];
      const y = l[f.y];
      if (!onScreen(x, y)) continue;
      const [sx, sy] = this.toScreen(cam, x, y);
      if (l[f.item] === ITEMS.CRATE) {
        ctx.fillStyle = '#6b4a27';
        ctx.fillRect(sx - 6, sy - 6, 12, 12);
        ctx.strokeStyle = '#b58a4c';
        ctx.lineWidth = 1.5;
        ctx.strokeRect(sx - 5.5, sy - 5.5, 11, 11);
        ctx.beginPath();
        ctx.moveTo(sx - 5, sy);
        ctx.lineTo(sx + 5, sy);
        ctx.stroke();
      } else {
        ctx.fillStyle = '#d9ad36';
        ctx.beginPath();
        ctx.arc(sx, sy, 4.5, 0, Math.PI * 2);
        ctx.fill();
        ctx.fillStyle = '#fff1a8';
        ctx.fillRect(sx - 2, sy - 2, 2, 2);
      }
    }

    // Tracers of shots.
    this.tracers = this.tracers.filter((t) => nowMs - t.born < TRACER_MS);
    for (const t of this.tracers) {
      const a = 1 - (nowMs - t.born) / TRACER_MS;
      const [x1, y1] = this.toScreen(cam, t.x1, t.y1);
      const [x2, y2] = this.toScreen(cam, t.x2, t.y2);
      ctx.strokeStyle = t.own ? `rgba(255, 245, 170, ${a})` : `rgba(255, 190, 110, ${a * 0.85})`;
      ctx.lineWidth = 3;
      ctx.beginPath();
      ctx.moveTo(x1, y1);
      ctx.lineTo(x2, y2);
      ctx.stroke();
    }

    // Zombies: nobody's, interpolated; pips for the shots they still take.
    const zr = rules.zombie_radius;
    for (const z of s.zombies) {
      if (!onScreen(z.x, z.y)) continue;
      const [sx, sy] = this.toScreen(cam, z.x, z.y);
      ctx.fillStyle = 'rgba(0, 0, 0, 0.35)';
      ctx.beginPath();
      ctx.arc(sx + 3, sy + 4, zr + 2, 0, Math.PI * 2);
      ctx.fill();
      ctx.fillStyle = '#9bd35a';
      ctx.strokeStyle = '#27400f';
      ctx.lineWidth = 3;
      ctx.beginPath();
      ctx.arc(sx, sy, zr, 0, Math.PI * 2);
      ctx.fill();
      ctx.stroke();
      ctx.fillStyle = '#ff2a1a';
      ctx.beginPath();
      ctx.arc(sx - 4.5, sy - 3, 2.5, 0, Math.PI * 2);
      ctx.arc(sx + 4.5, sy - 3, 2.5, 0, Math.PI * 2);
      ctx.fill();
      ctx.fillStyle = '#27400f';
      ctx.fillRect(sx - 5, sy + 4, 10, 2);
      for (let i = 0; i < z.hp; i++) {
        ctx.fillStyle = '#e8ffd0';
        ctx.fillRect(sx - 3 * z.hp + i * 6 + 1, sy - zr - 9, 4, 4);
      }
    }

    // Heroes, the own one last (on top) and highlighted.
    for (const h of s.own ? [...s.heroes, s.own] : s.heroes) {
      if (!onScreen(h.x, h.y, 80)) continue;
      this.drawHero(h);
    }

    // The aim point.
    if (this.controls.hasMouse && s.own?.alive) {
      const { mouseX: ax, mouseY: ay } = this.controls;
      ctx.strokeStyle = 'rgba(255, 255, 255, 0.85)';
      ctx.lineWidth = 1.5;
      ctx.beginPath();
      ctx.arc(ax, ay, 7, 0, Math.PI * 2);
      ctx.moveTo(ax - 12, ay);
      ctx.lineTo(ax - 4, ay);
      ctx.moveTo(ax + 4, ay);
      ctx.lineTo(ax + 12, ay);
      ctx.moveTo(ax, ay - 12);
      ctx.lineTo(ax, ay - 4);
      ctx.moveTo(ax, ay + 4);
      ctx.lineTo(ax, ay + 12);
      ctx.stroke();
    }
  }

  drawHero(h) {
    const ctx = this.ctx;
    const rules = this.rules;
    const r = rules.hero_radius;
    const [sx, sy] = this.toScreen(this.camera, h.x, h.y);
    const color = h.own ? OWN_COLOR : heroColor(h.player);
    ctx.globalAlpha = h.alive ? 1 : 0.35;
    if (h.own) {
      ctx.fillStyle = 'rgba(62, 230, 255, 0.18)';
      ctx.beginPath();
      ctx.arc(sx, sy, r + 9, 0, Math.PI * 2);
      ctx.fill();
    }
    // The gun along the aim.
    const ax = Math.cos(h.aim);
    const ay = Math.sin(h.aim);
    ctx.strokeStyle = '#d8d8d8';
    ctx.lineWidth = 5;
    ctx.beginPath();
    ctx.moveTo(sx + ax * (r - 4), sy + ay * (r - 4));
    ctx.lineTo(sx + ax * (r + 10), sy + ay * (r + 10));
    ctx.stroke();
    ctx.fillStyle = color;
    ctx.strokeStyle = h.own ? '#ffffff' : '#111';
    ctx.lineWidth = h.own ? 3 : 2;
    ctx.beginPath();
    ctx.arc(sx, sy, r, 0, Math.PI * 2);
    ctx.fill();
    ctx.stroke();
    ctx.globalAlpha = 1;
    // Name above, hit points below.
    ctx.font = `${h.own ? 'bold ' : ''}13px system-ui, sans-serif`;
    ctx.textAlign = 'center';
    ctx.textBaseline = 'bottom';
    ctx.lineWidth = 3;
    ctx.strokeStyle = 'rgba(0, 0, 0, 0.8)';
    const label = h.alive ? h.name : `${h.name} (fallen)`;
    ctx.strokeText(label, sx, sy - r - 6);
    ctx.fillStyle = h.own ? OWN_COLOR : '#f0f0f0';
    ctx.fillText(label, sx, sy - r - 6);
    if (h.alive) {
      const w = 36;
      const k = Math.max(0, Math.min(1, h.hp / rules.hero_hp));
      ctx.fillStyle = 'rgba(0, 0, 0, 0.7)';
      ctx.fillRect(sx - w / 2 - 1, sy + r + 5, w + 2, 6);
      ctx.fillStyle = k > 0.5 ? '#6fdc6f' : k > 0.25 ? '#f2c14e' : '#ff5b4a';
      ctx.fillRect(sx - w / 2, sy + r + 6, w * k, 4);
    }
  }

  /** The exact lanes of every pickup held (static: never interpolated). */
  *pickupLanes() {
    const r = this.client.replica;
    const kind = r.plan.kindIndex.get('pickup');
    for (const e of r.entities.values()) if (e.kind === kind) yield e.lanes;
  }

  /** Seconds to the next wave from the room's deadline, or null when none is set. */
  countdown(s) {
    if (!s.nextWaveTick) return null;
    const ticks = s.nextWaveTick - s.tick;
    return { ticks, seconds: Math.max(0, Math.ceil(ticks / this.tickRate)) };
  }

  drawHud(s, nowMs) {
    const d = this.dom;
    setText(d.wave, s.wave === 0 ? 'Get ready' : `Wave ${s.wave}`);
    const cd = this.countdown(s);
    const next = s.wave === 0 ? 'first wave' : `wave ${s.wave + 1}`;
    setText(d.countdown, cd === null ? '' : `${next} in ${cd.seconds} s`);
    d.countdown.classList.toggle('soon', cd !== null && cd.seconds <= 5);
    setText(d.zombiesLeft, String(s.zombiesLeft));
    setText(d.score, String(s.score));
    const own = s.own;
    if (own) {
      setText(d.hp, String(own.hp));
      d.hpBar.style.width = `${Math.round((100 * own.hp) / this.rules.hero_hp)}%`;
      setText(d.ammo, `${own.ammo} / ${own.reserve}`);
      d.ammo.classList.toggle('empty', own.ammo === 0);
      d.reloading.hidden = !own.reloading;
      if (!own.alive && this.fallenAt === null) this.fallenAt = s.tick;
      if (own.alive) this.fallenAt = null;
    }
    d.fallen.hidden = this.fallenAt === null;
    if (this.fallenAt !== null) {
      const left = Math.max(0, Math.ceil((this.rules.respawn_ticks - (s.tick - this.fallenAt)) / this.tickRate));
      setText(d.fallen, `You fell — back at the centre in ${left} s`);
    }
    const showBanner = this.banner !== null && nowMs - this.banner.at < BANNER_MS;
    d.banner.hidden = !showBanner;
    if (showBanner) setText(d.banner, this.banner.text);
    // The team: every player's record, a few times a second is plenty.
    if (this.frames % 15 === 0) this.drawTeam();
  }

  team() {
    const r = this.client.replica;
    const sc = this.f.scores;
    return [...r.players].map(([id, p]) => ({
      id, name: p.name, kills: p.lanes[sc.kills], deaths: p.lanes[sc.deaths], connected: p.connected, me: id === r.playerId,
    })).sort((a, b) => b.kills - a.kills || a.id - b.id);
  }

  drawTeam() {
    this.dom.teamRows.replaceChildren(...this.team().map((p) => {
      const tr = document.createElement('tr');
      tr.className = `${p.me ? 'me' : ''} ${p.connected ? '' : 'away'}`;
      for (const [text, cls] of [[p.me ? `${p.name} (you)` : p.name, ''], [p.kills, 'num'], [p.deaths, 'num']]) {
        const td = document.createElement('td');
        td.textContent = String(text);
        if (cls) td.className = cls;
        tr.append(td);
      }
      return tr;
    }));
  }

  summary() {
    const c = this.client;
    const r = c?.replica;
    const s = this.lastScene ?? null;
    const f = this.f;
    const ownId = r && f ? this.ownId() : null;
    const held = ownId === null ? null : r.entities.get(ownId)?.lanes ?? null;
    const predicted = ownId === null ? null : c.predicted(ownId);
    const pickups = { crates: 0, coins: 0 };
    if (r && f) {
      for (const l of this.pickupLanes()) {
        if (l[f.pickup.item] === ITEMS.CRATE) pickups.crates++;
        else pickups.coins++;
      }
    }
    return {
      game: r?.schema.game ?? null,
      connection: document.body.dataset.connection,
      ready: c?.ready ?? false,
      me: r?.playerId ?? null,
      tick: r?.tick ?? null,
      own: s?.own ?? null,
      server: held && { x: held[f.hero.x] / POS_SCALE, y: held[f.hero.y] / POS_SCALE, ammo: held[f.hero.ammo], reserve: held[f.hero.reserve], hp: held[f.hero.hp], alive: held[f.hero.alive] !== 0 },
      predicted: predicted && { x: predicted[f.hero.x] / POS_SCALE, y: predicted[f.hero.y] / POS_SCALE },
      others: s?.heroes ?? [],
      zombies: s?.zombies.length ?? 0,
      nearestZombie: s?.own ? nearest(s.zombies, s.own) : null,
      zombiesOnScreen: s ? s.zombies.filter((z) => {
        const [x, y] = this.toScreen(this.camera, z.x, z.y);
        return x > 0 && y > 0 && x < this.width && y < this.height;
      }).length : 0,
      pickups,
      room: s && { tick: s.tick, wave: s.wave, nextWaveTick: s.nextWaveTick, zombiesLeft: s.zombiesLeft, score: s.score },
      countdown: s && this.countdown(s),
      hud: {
        wave: this.dom.wave.textContent,
        countdown: this.dom.countdown.textContent,
        ammo: this.dom.ammo.textContent,
        hp: this.dom.hp.textContent,
        score: this.dom.score.textContent,
        team: [...this.dom.teamRows.querySelectorAll('tr')].map((tr) => tr.textContent),
      },
      team: r && f ? this.team() : [],
      camera: this.camera,
      viewport: { width: this.width, height: this.height },
      frames: this.frames,
      netcode: c ? { corrections: c.stats.corrections, mispredicted: c.stats.mispredicted, maxCorrection: c.stats.maxCorrection, snaps: c.stats.snaps } : null,
      divergences: c?.stats.divergences ?? 0,
      faults: c?.stats.faults ?? 0,
      log: this.log.map((l) => l.text),
      stats: this.stats,
    };
  }
}

new SurvivalPage();
