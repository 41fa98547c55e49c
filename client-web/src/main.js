// The game: joins through Connection, hands every server message to ClientNetcode (the JS
// mirror of shared/src/netcode.rs: replica, clock sync, prediction, interpolation), sends one
// InputCmd per server tick (repeating the last unacknowledged ones), and draws at display rate.
// `window.tickwire` exposes a read-only summary for the end-to-end tests.

import { Connection } from './connection.js';
import { InputState } from './controls.js';
import { ClientNetcode } from './netcode.js';
import { POS_SCALE, quantizeAngle16 } from './rules.js';
import { Renderer } from './render.js';
import { ReplicaError } from './replica.js';
import { Ui } from './ui.js';

const TRACER_MS = 250;
const seconds = (ms) => ms / 1000;

class Game {
  constructor() {
    this.canvas = document.getElementById('view');
    this.renderer = new Renderer(this.canvas);
    this.ui = new Ui();
    this.input = new InputState(this.canvas);
    this.conn = null;
    /** @type {ClientNetcode | null} */
    this.net = null;
    this.tracers = [];
    this.nextCmdAt = 0;
    this.lastKiller = null;
    this.frameTimes = [];
    this.fps = 0;
    this.frameMs = 0;
    this.frames = 0;
    this.bytesWindow = [];
    this.kibDown = 0;
    this.ownFrom = null;
    this.ownFromAt = 0;
    this.stats = { snapshots: 0, replicaErrors: 0, hitsLanded: 0, hitsTaken: 0, kills: 0, welcomes: 0, chats: [] };
    this.ui.onJoin((name) => this.start(name));
    this.ui.onRetry(() => this.conn?.retryNow());
    this.ui.bindChat((text) => this.conn?.send({ type: 'Chat', text }));
    window.addEventListener('keydown', (ev) => {
      if (ev.key === 'Tab') {
        ev.preventDefault();
        this.scoreboardOpen = true;
      }
    });
    window.addEventListener('keyup', (ev) => {
      if (ev.key === 'Tab') this.scoreboardOpen = false;
    });
    requestAnimationFrame((t) => this.frame(t));
    // Commands follow the tick rate even when frames are slow or the tab is in the background.
    setInterval(() => this.pump(performance.now()), 5);
  }

  start(name) {
    const params = new URLSearchParams(location.search);
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const version = params.has('protocol') ? Number(params.get('protocol')) : undefined;
    // `?room=ID` joins that room and `?token=JWT` authenticates, passed on to the WebSocket.
    const wsParams = new URLSearchParams();
    for (const key of ['room', 'token']) if (params.has(key)) wsParams.set(key, params.get(key));
    const query = wsParams.size ? `?${wsParams}` : '';
    this.conn = new Connection({
      url: params.get('ws') || `${proto}//${location.host}/ws${query}`,
      name,
      protocolVersion: version,
      onState: (state, detail) => this.ui.showConnection(state, detail),
      onMessage: (msg) => this.handle(msg, performance.now()),
    });
    this.conn.start();
  }

  handle(msg, nowMs) {
    if (msg.type === 'Welcome') {
      this.onWelcome(msg, nowMs);
      return;
    }
    if (!this.net) return;
    try {
      this.net.handleMessage(msg, seconds(nowMs));
    } catch (e) {
      if (!(e instanceof ReplicaError)) throw e;
      // The replica diverged: a fresh connection brings a full state.
      this.stats.replicaErrors++;
      console.warn(e.message);
      this.net = null;
      this.conn.retryNow();
      return;
    }
    if (msg.type === 'Snapshot') {
      this.stats.snapshots++;
      for (const e of msg.events) this.onEvent(e, nowMs);
    }
  }

  onWelcome(w, nowMs) {
    this.net = new ClientNetcode(w);
    this.tracers = [];
    this.ownFrom = null;
    this.tickMs = 1000 / w.tick_rate;
    this.nextCmdAt = nowMs;
    this.stats.welcomes++;
    this.ui.addChat(null, `Joined as ${this.net.replica.nameOf(w.player_id)} (${w.players.length} in the room)`, 'system');
  }

  onEvent(e, nowMs) {
    const r = this.net.replica;
    const me = r.playerId;
    switch (e.type) {
      case 'Kill':
        this.ui.addKill(r.nameOf(e.killer), r.nameOf(e.victim), e.killer === me || e.victim === me);
        if (e.killer === me) this.stats.kills++;
        if (e.victim === me) this.lastKiller = r.nameOf(e.killer);
        break;
      case 'Chat':
        this.ui.addChat(r.nameOf(e.player), e.text);
        this.stats.chats.push(e.text);
        break;
      case 'Notice':
        this.ui.addChat(null, e.text, 'system');
        break;
      case 'Join':
        if (e.player !== me) this.ui.addChat(null, `${e.name} joined`, 'system');
        break;
      case 'Leave':
        this.ui.addChat(null, `${r.nameOf(e.player)} left`, 'system');
        break;
      case 'Hitscan':
        this.tracers.push({
          x1: e.from_x / POS_SCALE, y1: e.from_y / POS_SCALE,
          x2: e.to_x / POS_SCALE, y2: e.to_y / POS_SCALE,
          born: nowMs, own: e.shooter === me,
        });
        if (e.victim !== null && e.shooter === me) this.stats.hitsLanded++;
        if (e.victim === me) this.stats.hitsTaken++;
        break;
    }
  }

  /** Sends due input commands and pings. */
  pump(nowMs) {
    if (!this.conn || this.conn.state !== 'connected' || !this.net) return;
    let made = 0;
    while (nowMs >= this.nextCmdAt && made < 3) {
      this.sendCommand(nowMs);
      this.nextCmdAt += this.tickMs;
      made++;
    }
    if (nowMs - this.nextCmdAt > this.tickMs * 3) this.nextCmdAt = nowMs + this.tickMs; // fell far behind
    const ping = this.net.pollPing(seconds(nowMs));
    if (ping) this.conn.send(ping);
  }

  sendCommand(nowMs) {
    const net = this.net;
    const [mx, my] = this.input.movement();
    const p = net.prediction.predictedPosition();
    let aim = this.lastAim ?? 0;
    if (this.input.hasMouse && p) {
      const cam = this.camera ?? { x: p[0], y: p[1] };
      const [wx, wy] = this.renderer.toWorld(cam, this.input.mouseX, this.input.mouseY);
      aim = quantizeAngle16(Math.atan2(wy - p[1], wx - p[0]));
    }
    this.lastAim = aim;
    // The body glides from where it is drawn now to the new prediction over one tick.
    this.ownFrom = this.ownDrawn ?? null;
    this.ownFromAt = nowMs;
    const frame = net.makeInput({ move_x: mx, move_y: my, aim, buttons: this.input.takeButtons() });
    this.conn.send(frame);
  }

  /** The local body's position to draw: the prediction (with its decaying correction),
   * reached smoothly over one tick from where it was drawn before the last command. */
  ownPosition(nowMs) {
    const target = this.net.localPosition();
    if (!target) return null;
    if (!this.ownFrom) return target;
    const f = Math.min(1, (nowMs - this.ownFromAt) / this.tickMs);
    if (Math.hypot(target[0] - this.ownFrom[0], target[1] - this.ownFrom[1]) > 64) return target;
    return [this.ownFrom[0] + (target[0] - this.ownFrom[0]) * f, this.ownFrom[1] + (target[1] - this.ownFrom[1]) * f];
  }

  frame(nowMs) {
    requestAnimationFrame((t) => this.frame(t));
    const workStart = performance.now();
    this.drawFrame(nowMs);
    // Script time per frame (smoothed): how much of the frame budget the client uses.
    this.frameMs += (performance.now() - workStart - this.frameMs) * 0.05;
  }

  drawFrame(nowMs) {
    this.frames++;
    this.frameTimes.push(nowMs);
    while (this.frameTimes.length && this.frameTimes[0] < nowMs - 1000) this.frameTimes.shift();
    this.fps = this.frameTimes.length;
    this.pump(nowMs);
    if (this.conn) {
      this.bytesWindow.push([nowMs, this.conn.bytesIn]);
      while (this.bytesWindow.length > 2 && this.bytesWindow[0][0] < nowMs - 1000) this.bytesWindow.shift();
      const [t0, b0] = this.bytesWindow[0];
      this.kibDown = nowMs > t0 ? (this.conn.bytesIn - b0) / 1024 / ((nowMs - t0) / 1000) : 0;
    }
    const net = this.net;
    if (!net) {
      this.renderer.drawIdle();
      this.ui.showHud({ pingMs: null, tick: null, fps: this.fps, entities: 0, kibDown: this.kibDown });
      return;
    }
    net.advance(seconds(nowMs));
    const r = net.replica;
    const own = r.localState();
    const ownPos = this.ownPosition(nowMs);
    this.ownDrawn = ownPos;
    const center = ownPos ?? [r.arena.width / 2, r.arena.height / 2];
    this.camera = { x: center[0], y: center[1] };
    const players = [];
    for (const [id, s] of net.remotes()) {
      const e = r.entities.get(id);
      players.push({
        id, player: e.player, own: false, x: s.x, y: s.y, aim: s.aim,
        alive: (s.state.status & 1) !== 0, health: e.state.health, name: r.nameOf(e.player),
      });
    }
    if (own && ownPos) {
      // The local player is drawn last, on top of everyone, facing the mouse.
      players.push({
        id: r.entityId, player: r.playerId, own: true, x: ownPos[0], y: ownPos[1],
        aim: ((this.lastAim ?? 0) / 65536) * 2 * Math.PI,
        alive: (own.status & 1) !== 0, health: own.health, name: r.nameOf(r.playerId),
      });
    }
    const projectiles = [];
    for (const [, [x, y], p] of net.projectiles()) projectiles.push({ x, y, own: p.owner === r.playerId });
    this.tracers = this.tracers.filter((t) => nowMs - t.born < TRACER_MS);
    const aimPoint = this.input.hasMouse ? this.renderer.toWorld(this.camera, this.input.mouseX, this.input.mouseY) : null;
    this.renderer.draw({
      camera: this.camera,
      arena: r.arena,
      viewRadius: r.viewRadius,
      players,
      projectiles,
      tracers: this.tracers.map((t) => ({ ...t, age: (nowMs - t.born) / TRACER_MS })),
      playerRadius: r.rules.player_radius,
      maxHealth: r.rules.max_health,
      aim: aimPoint && { x: aimPoint[0], y: aimPoint[1] },
    });
    this.visiblePlayers = players;
    const serverTick = net.clock.serverTick();
    const rtt = net.clock.rtt();
    this.ui.showHud({
      pingMs: rtt === null ? null : rtt * 1000,
      tick: serverTick === null ? null : Math.floor(serverTick),
      fps: this.fps,
      entities: r.entities.size,
      kibDown: this.kibDown,
    });
    this.ui.showScoreboard(!!this.scoreboardOpen, r.players.values(), r.playerId);
    const alive = own ? (own.status & 1) !== 0 : true;
    this.ui.showDeath(alive ? '' : `Killed by ${this.lastKiller ?? 'someone'} — respawning…`);
  }

  /** A plain summary of the game for tests and debugging. */
  summary() {
    const net = this.net;
    const r = net?.replica;
    const own = r?.localState();
    const predicted = net?.prediction.predictedPosition();
    return {
      connection: this.conn?.state ?? 'idle',
      detail: this.conn?.detail ?? '',
      lastClose: this.conn?.lastClose ?? null,
      playerId: r?.playerId ?? null,
      entityId: r?.entityId ?? null,
      tick: r?.tick ?? null,
      renderTick: net?.renderTick() ?? null,
      delayTicks: net?.clock.delayTicks() ?? null,
      predicted: predicted ? { x: predicted[0], y: predicted[1] } : null,
      server: own ? { x: own.x / POS_SCALE, y: own.y / POS_SCALE, health: own.health, alive: (own.status & 1) !== 0 } : null,
      ackSeq: net?.inputs.acknowledged() ?? 0,
      seq: net?.inputs.lastSeq ?? 0,
      others: (this.visiblePlayers ?? []).filter((p) => !p.own).map((p) => ({ player: p.player, name: p.name, x: p.x, y: p.y, health: p.health, alive: p.alive })),
      entities: r?.entities.size ?? 0,
      fps: this.fps,
      frameMs: this.frameMs,
      frames: this.frames,
      kibDown: this.kibDown,
      rttMs: net?.clock.rtt() == null ? null : net.clock.rtt() * 1000,
      camera: this.camera ?? null,
      viewport: { width: this.renderer.width, height: this.renderer.height },
      netcode: net ? { ...net.stats } : null,
      ...this.stats,
    };
  }
}

const game = new Game();
window.tickwire = { summary: () => game.summary() };
