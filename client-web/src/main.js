// The arena's page on the SDK (sdk/index.js, protocol version 5). The SDK joins, reconnects and
// resumes, decodes the arena from the schema in Welcome, predicts the player's own body through
// the arena's step (rules.js bodyStep) and interpolates everyone else; this page turns the
// keyboard and mouse into the input lanes, draws the world at display rate, and shows the HUD,
// the scoreboard (the players' replicated records), chat, notices and the kill feed.
// `window.tickwire.summary()` exposes a read-only summary for the end-to-end tests.

import { arenaConfig, arenaFields, projectileAt } from './arena.js';
import { InputState } from './controls.js';
import { POS_SCALE, bodyStep, quantizeAngle16 } from './rules.js';
import { Renderer } from './render.js';
import { GameClient } from './sdk/index.js';
import { Ui } from './ui.js';

const TRACER_MS = 250;
/** Where this tab keeps the last Welcome's resume token, so a reloaded page takes the same player
 * back (sessionStorage: per tab, gone with it). In a cluster the token may be for a room on
 * another node than the one this page reaches; that node redirects and the SDK follows. */
const RESUME_KEY = 'tickwire.resume';
/** Farther than this between two drawn positions of the own body is a jump, not a glide. */
const GLIDE_MAX = 64;

class Game {
  constructor() {
    this.canvas = document.getElementById('view');
    this.renderer = new Renderer(this.canvas);
    this.ui = new Ui();
    this.input = new InputState(this.canvas);
    /** @type {GameClient | null} */
    this.client = null;
    /** Per Welcome: the arena's constants and lane indices. */
    this.arena = null;
    this.f = null;
    this.step = null;
    /** Names of everyone seen, kept after they leave (a kill can name a player who left). */
    this.names = new Map();
    this.tracers = [];
    this.lastKiller = null;
    this.lastAim = 0;
    this.frameTimes = [];
    this.fps = 0;
    this.frameMs = 0;
    this.frames = 0;
    this.bytesWindow = [];
    this.kibDown = 0;
    this.ownFrom = null;
    this.ownFromAt = 0;
    this.ownDrawn = null;
    this.stats = { hitsLanded: 0, hitsTaken: 0, kills: 0, chats: [] };
    this.ui.onJoin((name) => this.start(name));
    this.ui.onRetry(() => this.client?.retryNow());
    this.ui.bindChat((text) => this.client?.chat(text));
    window.addEventListener('keydown', (ev) => {
      if (ev.key === 'Tab') {
        ev.preventDefault();
        if (!this.scoreboardOpen && this.ui.boardTab === 'alltime') this.fetchAllTime();
        this.scoreboardOpen = true;
      }
    });
    window.addEventListener('keyup', (ev) => {
      if (ev.key === 'Tab') this.scoreboardOpen = false;
    });
    /** This browser's guest id: kept in localStorage, so its results are its own next visit. */
    this.guest = localStorage.getItem('tickwire.guest');
    if (!/^[A-Za-z0-9_-]{16,64}$/.test(this.guest || '')) {
      const bytes = crypto.getRandomValues(new Uint8Array(16));
      this.guest = [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
      localStorage.setItem('tickwire.guest', this.guest);
    }
    /** The last all-time board fetched (for the tab and the tests). */
    this.allTime = null;
    this.ui.onBoardTab = (tab) => {
      if (tab === 'alltime') this.fetchAllTime();
    };
    requestAnimationFrame((t) => this.frame(t));
  }

  start(name) {
    const params = new URLSearchParams(location.search);
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    // `?room=ID` joins that room and `?token=JWT` authenticates, passed on to the WebSocket.
    const wsParams = new URLSearchParams();
    for (const key of ['room', 'token']) if (params.has(key)) wsParams.set(key, params.get(key));
    // Without a token the results of this browser are kept under its guest id.
    if (!params.has('token')) wsParams.set('guest', this.guest);
    const query = wsParams.size ? `?${wsParams}` : '';
    const client = new GameClient({
      url: params.get('ws') || `${proto}//${location.host}/ws${query}`,
      name,
      resumeToken: sessionStorage.getItem(RESUME_KEY),
      protocolVersion: params.has('protocol') ? Number(params.get('protocol')) : undefined,
      // `?transport=websocket` keeps to the WebSocket; by default WebTransport is tried first.
      transport: params.get('transport') === 'websocket' ? 'websocket' : undefined,
      // `?mirror=1` takes the room's messages over a second WebSocket too, so a TCP stall of one
      // does not stall the game (nothing changes over WebTransport).
      mirror: params.get('mirror') === '1',
      step: (lanes, cmd) => this.step(lanes, cmd),
      input: () => this.makeInput(),
      onWelcome: (replica, welcome) => this.onWelcome(replica, welcome),
      onState: (state, detail) => {
        this.ui.showConnection(state, detail);
        this.ui.showNode(client.url);
      },
      onFault: (reason) => console.warn(`tickwire: ${reason}`),
    });
    this.client = client;
    client.onPlayer({
      join: (id, p) => {
        this.names.set(id, p.name);
        // The first snapshot of a connection lists everyone already there: not news.
        if (client.replica.snapshotsApplied > 1) this.ui.addChat(null, `${p.name} joined`, 'system');
      },
      leave: (id, info) => {
        // A leave reported because a new connection replaced the replica is not news either.
        if (!info?.reset) this.ui.addChat(null, `${this.nameOf(id)} left`, 'system');
      },
    });
    client.onEvent('chat', ({ player, text }) => {
      this.ui.addChat(this.nameOf(player), text);
      this.stats.chats.push(text);
    });
    client.onEvent('notice', ({ text }) => this.ui.addChat(null, text, 'system'));
    client.onEvent('rejected', ({ reason }) => this.ui.addChat(null, reason, 'system'));
    client.onEvent('kill', ({ killer, victim }) => this.onKill(killer, victim));
    client.onEvent('hitscan', (e) => this.onHitscan(e));
    client.start();
  }

  onWelcome(replica, welcome) {
    if (welcome.resume_token) sessionStorage.setItem(RESUME_KEY, welcome.resume_token);
    // Everything the old connection held was just reported gone; start drawing afresh.
    this.f = arenaFields(replica.schema);
    this.arena = arenaConfig(welcome.game_config);
    this.step = bodyStep(this.f, this.arena);
    this.tracers = [];
    this.ownFrom = null;
    this.ownDrawn = null;
    this.tickMs = 1000 / welcome.tick_rate;
    this.ui.addChat(null, welcome.resumed ? 'Reconnected: same player, same score' : 'Joined the arena', 'system');
  }

  nameOf(id) {
    return this.client?.replica?.players.get(id)?.name ?? this.names.get(id) ?? `player-${id}`;
  }

  get me() {
    return this.client?.replica?.playerId ?? null;
  }

  onKill(killer, victim) {
    const me = this.me;
    this.ui.addKill(this.nameOf(killer), this.nameOf(victim), killer === me || victim === me);
    if (killer === me) this.stats.kills++;
    if (victim === me) this.lastKiller = this.nameOf(killer);
  }

  onHitscan(e) {
    const me = this.me;
    // Hitscan positions are Fixed(8): the SDK already gives them in world units.
    this.tracers.push({ x1: e.from_x, y1: e.from_y, x2: e.to_x, y2: e.to_y, born: performance.now(), own: e.shooter === me });
    if (e.victim !== 0 && e.shooter === me) this.stats.hitsLanded++;
    if (e.victim === me) this.stats.hitsTaken++;
  }

  /** The own body's NetId, or null while it is not in the replica. */
  ownId() {
    return this.client?.owned('body')[0] ?? null;
  }

  /** The next command's lanes (move_x, move_y, aim, buttons in the schema's order). */
  makeInput() {
    const f = this.f;
    const [mx, my] = this.input.movement();
    const id = this.ownId();
    const p = id === null ? null : this.client.predicted(id);
    if (this.input.hasMouse && p) {
      const px = p[f.body.x] / POS_SCALE;
      const py = p[f.body.y] / POS_SCALE;
      const cam = this.camera ?? { x: px, y: py };
      const [wx, wy] = this.renderer.toWorld(cam, this.input.mouseX, this.input.mouseY);
      this.lastAim = quantizeAngle16(Math.atan2(wy - py, wx - px));
    }
    // The body glides from where it is drawn now to the new prediction over one tick.
    this.ownFrom = this.ownDrawn;
    this.ownFromAt = performance.now();
    const lanes = new Array(4);
    lanes[f.input.move_x] = mx;
    lanes[f.input.move_y] = my;
    lanes[f.input.aim] = this.lastAim;
    lanes[f.input.buttons] = this.input.takeButtons();
    return lanes;
  }

  /** Where to draw the own body: its predicted view, reached over one tick from the last. */
  ownPosition(view, nowMs) {
    const target = [view.value('x'), view.value('y')];
    if (!this.ownFrom) return target;
    const k = Math.min(1, (nowMs - this.ownFromAt) / this.tickMs);
    if (Math.hypot(target[0] - this.ownFrom[0], target[1] - this.ownFrom[1]) > GLIDE_MAX) return target;
    return [this.ownFrom[0] + (target[0] - this.ownFrom[0]) * k, this.ownFrom[1] + (target[1] - this.ownFrom[1]) * k];
  }

  frame(nowMs) {
    requestAnimationFrame((t) => this.frame(t));
    const workStart = performance.now();
    this.drawFrame(nowMs);
    // Script time per frame (smoothed): how much of the frame budget the page uses.
    this.frameMs += (performance.now() - workStart - this.frameMs) * 0.05;
  }

  measure(nowMs) {
    this.frames++;
    this.frameTimes.push(nowMs);
    while (this.frameTimes.length && this.frameTimes[0] < nowMs - 1000) this.frameTimes.shift();
    this.fps = this.frameTimes.length;
    const conn = this.client?.conn;
    if (conn) {
      this.bytesWindow.push([nowMs, conn.bytesIn]);
      while (this.bytesWindow.length > 2 && this.bytesWindow[0][0] < nowMs - 1000) this.bytesWindow.shift();
      const [t0, b0] = this.bytesWindow[0];
      this.kibDown = nowMs > t0 ? (conn.bytesIn - b0) / 1024 / ((nowMs - t0) / 1000) : 0;
    }
  }

  drawFrame(nowMs) {
    this.measure(nowMs);
    const c = this.client;
    const r = c?.replica;
    if (!r || !this.f) {
      this.renderer.drawIdle();
      this.ui.showHud({
        pingMs: null, tick: null, fps: this.fps, entities: 0, kibDown: this.kibDown,
        transport: c?.transport ?? null, fallbackReason: c?.conn.fallbackReason ?? null, mirror: c?.mirror ?? null,
      });
      return;
    }
    c.pump(); // a command is due at the tick rate even when the timer runs late
    c.frame();
    const f = this.f;
    const { rules } = this.arena;
    const me = r.playerId;
    const players = [];
    let own = null;
    for (const v of c.views('body')) {
      const l = v.lanes;
      const p = {
        id: v.id, player: l[f.body.player], own: false, x: v.value('x'), y: v.value('y'), aim: v.value('aim'),
        alive: l[f.body.alive] !== 0, health: l[f.body.health], name: this.nameOf(l[f.body.player]),
      };
      if (v.how === 'predicted') {
        const [x, y] = this.ownPosition(v, nowMs);
        own = { ...p, own: true, x, y, aim: (this.lastAim / 65536) * 2 * Math.PI };
      } else {
        players.push(p);
      }
    }
    // The local player is drawn last, on top of everyone, facing the mouse.
    if (own) players.push(own);
    this.ownDrawn = own && [own.x, own.y];
    const center = own ? [own.x, own.y] : [this.arena.arena.width / 2, this.arena.arena.height / 2];
    this.camera = { x: center[0], y: center[1] };
    const renderTick = c.renderTick();
    const projectiles = [];
    for (const [, e] of r.ofKind('projectile')) {
      const [x, y] = projectileAt(e.lanes, f.projectile, rules, renderTick);
      projectiles.push({ x, y, own: e.lanes[f.projectile.owner] === me });
    }
    this.tracers = this.tracers.filter((t) => nowMs - t.born < TRACER_MS);
    const aimPoint = this.input.hasMouse ? this.renderer.toWorld(this.camera, this.input.mouseX, this.input.mouseY) : null;
    this.renderer.draw({
      camera: this.camera,
      arena: this.arena.arena,
      viewRadius: this.arena.viewRadius,
      players,
      projectiles,
      tracers: this.tracers.map((t) => ({ ...t, age: (nowMs - t.born) / TRACER_MS })),
      playerRadius: rules.player_radius,
      maxHealth: rules.max_health,
      aim: aimPoint && { x: aimPoint[0], y: aimPoint[1] },
    });
    this.visiblePlayers = players;
    const serverTick = c.clock.serverTick();
    const rtt = c.clock.rtt();
    this.ui.showHud({
      pingMs: rtt === null ? null : rtt * 1000,
      tick: serverTick === null ? null : Math.floor(serverTick),
      fps: this.fps,
      entities: r.entities.size,
      kibDown: this.kibDown,
      transport: c.transport,
      fallbackReason: c.conn.fallbackReason,
      mirror: c.mirror,
    });
    this.ui.showScoreboard(!!this.scoreboardOpen, this.scoreboard(), me);
    const ownId = this.ownId();
    const alive = ownId === null || r.entities.get(ownId).lanes[f.body.alive] !== 0;
    this.ui.showDeath(alive ? '' : `Killed by ${this.lastKiller ?? 'someone'} — respawning…`);
  }

  /** Fetches the all-time kills leaderboard around this player (the All-time tab). */
  async fetchAllTime() {
    const game = this.client?.replica?.schema.game ?? 'arena';
    try {
      const res = await fetch(`/leaderboard/${game}/kills?limit=10&around=me`, {
        headers: { 'X-Tickwire-Guest': this.guest },
      });
      const body = await res.json();
      if (!res.ok) throw new Error(body.error || `HTTP ${res.status}`);
      this.allTime = body;
      this.ui.showAllTime(body);
    } catch (e) {
      this.ui.showAllTime(null, `The leaderboard is not available: ${e.message}`);
    }
  }

  /** The scoreboard: every player's replicated record. */
  scoreboard() {
    const s = this.f.scores;
    return [...this.client.replica.players].map(([id, p]) => ({
      id, name: p.name, score: p.lanes[s.kills], deaths: p.lanes[s.deaths], connected: p.connected,
    }));
  }

  /** A plain summary of the game for tests and debugging. */
  summary() {
    const c = this.client;
    const r = c?.replica;
    const f = this.f;
    const ownId = r && f ? this.ownId() : null;
    const held = ownId === null ? null : r.entities.get(ownId).lanes;
    const predicted = ownId === null ? null : c.predicted(ownId);
    return {
      protocol: c?.welcome?.protocol_version ?? null,
      game: r?.schema.game ?? null,
      connection: c?.state ?? 'idle',
      resumed: c?.welcome?.resumed ?? null,
      detail: c?.conn.detail ?? '',
      url: c?.url ?? null,
      transport: c?.transport ?? null,
      hudTransport: document.getElementById('hud-transport')?.textContent ?? null,
      fallbackReason: c?.conn.fallbackReason ?? null,
      fallbacks: c?.conn.fallbacks ?? 0,
      mirror: c?.mirror ?? null,
      webTransportAttempts: c?.conn.webTransportAttempts ?? 0,
      acked: c?.stats.acked ?? 0,
      stale: c?.stats.stale ?? 0,
      early: c?.stats.early ?? 0,
      againstBase: c?.stats.againstBase ?? 0,
      ackTick: c?.ackTick ?? 0,
      inputDatagrams: c?.stats.inputDatagrams ?? 0,
      loneAcks: c?.stats.loneAcks ?? 0,
      eventMessages: c?.stats.eventMessages ?? 0,
      redirects: c?.stats.redirects ?? 0,
      lastClose: c?.conn.lastClose ?? null,
      lastFault: c?.conn.lastFault ?? null,
      playerId: r?.playerId ?? null,
      entityId: ownId,
      tick: r?.tick ?? null,
      renderTick: c?.clock ? c.renderTick() : null,
      delayTicks: c?.clock?.delayTicks() ?? null,
      predicted: predicted ? { x: predicted[f.body.x] / POS_SCALE, y: predicted[f.body.y] / POS_SCALE } : null,
      server: held
        ? { x: held[f.body.x] / POS_SCALE, y: held[f.body.y] / POS_SCALE, health: held[f.body.health], alive: held[f.body.alive] !== 0 }
        : null,
      ackSeq: c?.inputs?.acknowledged() ?? 0,
      seq: c?.inputs?.lastSeq ?? 0,
      others: (this.visiblePlayers ?? []).filter((p) => !p.own).map((p) => ({ player: p.player, name: p.name, x: p.x, y: p.y, health: p.health, alive: p.alive })),
      scoreboard: r && f ? this.scoreboard() : [],
      guest: this.guest,
      boardTab: this.ui.boardTab,
      allTime: this.allTime,
      entities: r?.entities.size ?? 0,
      fps: this.fps,
      frameMs: this.frameMs,
      frames: this.frames,
      kibDown: this.kibDown,
      rttMs: c?.clock?.rtt() == null ? null : c.clock.rtt() * 1000,
      camera: this.camera ?? null,
      viewport: { width: this.renderer.width, height: this.renderer.height },
      netcode: c ? { corrections: c.stats.corrections, mispredicted: c.stats.mispredicted, maxCorrection: c.stats.maxCorrection, snaps: c.stats.snaps } : null,
      welcomes: c?.stats.welcomes ?? 0,
      snapshots: c?.stats.snapshots ?? 0,
      replicaErrors: c?.stats.divergences ?? 0,
      faults: c?.stats.faults ?? 0,
      ...this.stats,
    };
  }
}

const game = new Game();
window.tickwire = { summary: () => game.summary() };
