// The game: joins through Connection, keeps the Replica, predicts the local player, interpolates
// everyone else, sends one InputCmd per server tick (repeating the last few unacknowledged
// ones), and draws at display rate. `window.tickwire` exposes a read-only summary for the
// end-to-end tests.

import { ClockSync } from './clock.js';
import { Connection } from './connection.js';
import { InputState } from './input.js';
import { InterpolationBuffer } from './interpolation.js';
import { Predictor } from './prediction.js';
import { POS_SCALE, dequantizeAngle8, projectilePosition, quantizeAngle16 } from './rules.js';
import { Renderer } from './render.js';
import { Replica, ReplicaError } from './replica.js';
import { Ui } from './ui.js';

/** Commands repeated in every Input message (the server ignores those it already has). */
const REDUNDANT_INPUTS = 4;
const PING_INTERVAL_MS = 1000;
const TRACER_MS = 250;

class Game {
  constructor() {
    this.canvas = document.getElementById('view');
    this.renderer = new Renderer(this.canvas);
    this.ui = new Ui();
    this.input = new InputState(this.canvas);
    this.conn = null;
    this.replica = null;
    this.predictor = null;
    this.clock = null;
    this.buffers = new Map();
    this.tracers = [];
    this.seq = 0;
    this.nextCmdAt = 0;
    this.lastCmdAt = 0;
    this.lastPingAt = 0;
    this.ownRespawn = null;
    this.lastKiller = null;
    this.frameTimes = [];
    this.fps = 0;
    this.frameMs = 0;
    this.frames = 0;
    this.bytesWindow = [];
    this.kibDown = 0;
    this.lastFrameAt = performance.now();
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
    this.conn = new Connection({
      url: params.get('ws') || `${proto}//${location.host}/ws`,
      name,
      protocolVersion: version,
      onState: (state, detail) => this.ui.showConnection(state, detail),
      onMessage: (msg) => this.handle(msg, performance.now()),
    });
    this.conn.start();
  }

  handle(msg, now) {
    switch (msg.type) {
      case 'Welcome':
        this.onWelcome(msg, now);
        break;
      case 'Snapshot':
        this.onSnapshot(msg, now);
        break;
      case 'Pong':
        this.clock?.onPong(msg.client_time, msg.tick, now);
        break;
    }
  }

  onWelcome(w, now) {
    this.replica = new Replica(w);
    this.predictor = new Predictor(w.rules, w.arena);
    this.clock = new ClockSync(w.tick_rate);
    this.buffers.clear();
    this.tracers = [];
    this.seq = 0;
    this.ownRespawn = null;
    this.tickMs = 1000 / w.tick_rate;
    this.nextCmdAt = now;
    this.stats.welcomes++;
    this.ui.addChat(null, `Joined as ${this.replica.nameOf(w.player_id)} (${w.players.length} in the room)`, 'system');
  }

  onSnapshot(snap, now) {
    const r = this.replica;
    if (!r) return;
    this.clock.onSnapshot(snap.tick, now);
    try {
      r.apply(snap);
    } catch (e) {
      if (!(e instanceof ReplicaError)) throw e;
      // The replica diverged: a fresh connection brings a full state.
      this.stats.replicaErrors++;
      console.warn(e.message);
      this.conn.retryNow();
      return;
    }
    this.stats.snapshots++;
    for (const id of snap.removed) this.buffers.delete(id);
    for (const [id, e] of r.entities) {
      if (e.type !== 'Player' || id === r.entityId) continue;
      let b = this.buffers.get(id);
      if (!b) this.buffers.set(id, (b = new InterpolationBuffer()));
      b.push(snap.tick, e.state);
    }
    const own = r.localState();
    if (own) {
      const respawn = own.status >> 1;
      const teleported = this.ownRespawn !== null && respawn !== this.ownRespawn;
      this.ownRespawn = respawn;
      this.predictor.reconcile(own.x / POS_SCALE, own.y / POS_SCALE, snap.ack_input_seq, (own.status & 1) !== 0, teleported);
    }
    for (const e of snap.events) this.onEvent(e, now);
  }

  onEvent(e, now) {
    const r = this.replica;
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
          born: now, own: e.shooter === me,
        });
        if (e.victim !== null && e.shooter === me) this.stats.hitsLanded++;
        if (e.victim === me) this.stats.hitsTaken++;
        break;
    }
  }

  /** Sends due input commands and pings. */
  pump(now) {
    if (!this.conn || this.conn.state !== 'connected' || !this.replica) return;
    let made = 0;
    while (now >= this.nextCmdAt && made < 3) {
      this.sendCommand(now);
      this.nextCmdAt += this.tickMs;
      made++;
    }
    if (now - this.nextCmdAt > this.tickMs * 3) this.nextCmdAt = now + this.tickMs; // fell far behind
    if (now - this.lastPingAt >= PING_INTERVAL_MS) {
      this.lastPingAt = now;
      this.conn.send({ type: 'Ping', client_time: Math.floor(now) >>> 0 });
    }
  }

  /** The local player's body position to draw (predicted, between ticks). */
  ownPosition(now) {
    const alpha = this.tickMs ? (now - this.lastCmdAt) / this.tickMs : 1;
    return this.predictor.renderPosition(alpha);
  }

  sendCommand(now) {
    const p = this.predictor;
    const [mx, my] = this.input.movement();
    const [px, py] = [p.x, p.y];
    let aim = 0;
    if (this.input.hasMouse) {
      const [wx, wy] = this.renderer.toWorld(this.camera ?? { x: px, y: py }, this.input.mouseX, this.input.mouseY);
      aim = quantizeAngle16(Math.atan2(wy - py, wx - px));
    }
    const renderTick = this.clock.renderTick(now);
    const cmd = {
      seq: ++this.seq,
      move_x: mx,
      move_y: my,
      aim,
      buttons: this.input.takeButtons(),
      view_tick: renderTick === null ? 0 : Math.max(0, Math.floor(renderTick)),
    };
    this.lastAim = aim;
    p.applyLocal(cmd);
    this.lastCmdAt = now;
    const cmds = p.unacked(REDUNDANT_INPUTS).filter((c) => c.seq > p.ackSeq);
    this.conn.send({ type: 'Input', cmds });
  }

  frame(now) {
    requestAnimationFrame((t) => this.frame(t));
    const workStart = performance.now();
    this.drawFrame(now);
    // Script time per frame (smoothed): how much of the frame budget the client uses.
    this.frameMs += (performance.now() - workStart - this.frameMs) * 0.05;
  }

  drawFrame(now) {
    const elapsed = now - this.lastFrameAt;
    this.lastFrameAt = now;
    this.frames++;
    this.frameTimes.push(now);
    while (this.frameTimes.length && this.frameTimes[0] < now - 1000) this.frameTimes.shift();
    this.fps = this.frameTimes.length;
    this.pump(now);
    if (this.conn) {
      this.bytesWindow.push([now, this.conn.bytesIn]);
      while (this.bytesWindow.length > 2 && this.bytesWindow[0][0] < now - 1000) this.bytesWindow.shift();
      const [t0, b0] = this.bytesWindow[0];
      this.kibDown = now > t0 ? (this.conn.bytesIn - b0) / 1024 / ((now - t0) / 1000) : 0;
    }
    const r = this.replica;
    if (!r) {
      this.renderer.drawIdle();
      this.ui.showHud({ pingMs: null, tick: null, fps: this.fps, entities: 0, kibDown: this.kibDown });
      return;
    }
    this.predictor.decay(elapsed);
    const renderTick = this.clock.renderTick(now) ?? r.tick;
    const own = r.localState();
    const [ox, oy] = this.ownPosition(now);
    this.camera = { x: ox, y: oy };
    const players = [];
    const projectiles = [];
    let ownBody = null;
    for (const [id, e] of r.entities) {
      if (e.type === 'Player') {
        if (id === r.entityId) {
          ownBody = {
            id, player: e.player, own: true, x: ox, y: oy,
            aim: this.input.hasMouse ? (this.lastAim / 65536) * 2 * Math.PI : dequantizeAngle8(e.state.aim),
            alive: (e.state.status & 1) !== 0, health: e.state.health, name: r.nameOf(e.player),
          };
          continue;
        }
        const s = this.buffers.get(id)?.sample(renderTick);
        if (!s) continue;
        players.push({ id, player: e.player, own: false, x: s.x, y: s.y, aim: s.aim, alive: s.alive, health: e.state.health, name: r.nameOf(e.player) });
      } else {
        if (renderTick < e.spawn_tick) continue;
        const [x, y] = projectilePosition(e, r.rules, renderTick);
        projectiles.push({ x, y, own: e.owner === r.playerId });
      }
    }
    // The local player is drawn last, on top of everyone.
    if (ownBody) players.push(ownBody);
    this.tracers = this.tracers.filter((t) => now - t.born < TRACER_MS);
    const aimPoint = this.input.hasMouse ? this.renderer.toWorld(this.camera, this.input.mouseX, this.input.mouseY) : null;
    this.renderer.draw({
      camera: this.camera,
      arena: r.arena,
      viewRadius: r.viewRadius,
      players,
      projectiles,
      tracers: this.tracers.map((t) => ({ ...t, age: (now - t.born) / TRACER_MS })),
      playerRadius: r.rules.player_radius,
      maxHealth: r.rules.max_health,
      aim: aimPoint && { x: aimPoint[0], y: aimPoint[1] },
    });
    this.visiblePlayers = players;
    const serverTick = this.clock.serverTick(now);
    this.ui.showHud({
      pingMs: this.clock.rttMs,
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
    const r = this.replica;
    const own = r?.localState();
    return {
      connection: this.conn?.state ?? 'idle',
      detail: this.conn?.detail ?? '',
      lastClose: this.conn?.lastClose ?? null,
      playerId: r?.playerId ?? null,
      entityId: r?.entityId ?? null,
      tick: r?.tick ?? null,
      predicted: this.predictor ? { x: this.predictor.x, y: this.predictor.y } : null,
      server: own ? { x: own.x / POS_SCALE, y: own.y / POS_SCALE, health: own.health, alive: (own.status & 1) !== 0 } : null,
      ackSeq: this.predictor?.ackSeq ?? 0,
      seq: this.seq,
      others: (this.visiblePlayers ?? []).filter((p) => !p.own).map((p) => ({ player: p.player, name: p.name, x: p.x, y: p.y, health: p.health, alive: p.alive })),
      entities: r?.entities.size ?? 0,
      fps: this.fps,
      frameMs: this.frameMs,
      frames: this.frames,
      kibDown: this.kibDown,
      rttMs: this.clock?.rttMs ?? null,
      camera: this.camera ?? null,
      viewport: { width: this.renderer.width, height: this.renderer.height },
      ...this.stats,
    };
  }
}

const game = new Game();
window.tickwire = { summary: () => game.summary() };
