// The one object a game's page drives: `GameClient` joins a room over protocol version 5 and
// keeps everything in step for any game, so the page writes only its rendering and its input.
//
// - Connection (connection.js): Hello, reconnect with backoff and resume, the close-code policy,
//   and redirects to another node of a cluster (a Redirect before the Welcome is handed to it).
// - Per connection, from its Welcome: a Replica (schema-driven decode, checksum), a ClockSync
//   (snapshot ticks and Ping/Pong), an InputHistory (seq 1 first, redundant frames until
//   `ack_input_seq` covers them), an Interpolator for the fields marked `interpolate`, and a
//   Predictor for each entity the player owns whose kind has fields marked `predict`, run
//   through the game's own `step`.
// - Callbacks registered on the client (`on`, `onPlayer`, `onRoom`, `onEvent`) are attached to
//   every replica, so they survive reconnections. When a new Welcome replaces a replica, what
//   the old one held is reported removed (and its players as left), with a last argument
//   `{reset: true}`, before the first snapshot of the new connection adds everything in view
//   again.
// - Bad bytes or a replica that no longer matches the server (a checksum mismatch) never
//   throw out of the socket handler: the socket is closed with the reason and the client
//   reconnects for a fresh state. An exception in one of the game's callbacks is the game's
//   bug, not the server's: it is reported (`onCallbackError`, by default thrown in a later
//   task so the page's console shows it) and the snapshot carries on.
//
// Over WebTransport (connection.js picks it when the server offers it, else a WebSocket;
// `transport` says which) every snapshot is a message 5 against the newest tick this client
// acknowledged: it is applied through `Bases` (acked.js) to the same replica object the page
// holds, with the same callbacks; a stale one (a duplicate, or overtaken) is dropped. Its tick
// is acknowledged in every input datagram (the inputs go as datagrams: the ack, then the Input
// message), and when no input datagram went out between two snapshots, a lone ack goes before
// the second is applied. Events come apart, in messages 6, and reach the same `onEvent`
// callbacks. Pings and everything else go on the session's stream.
//
// Time is milliseconds from `now()` (the page's performance.now by default); the WebSocket
// class and the timers are options too, so the whole client runs in node tests against a
// simulated server with a fake clock.

import { ClockSync, clockConfig } from './clock.js';
import { decodeServer, encodeClient, PROTOCOL_VERSION } from './codec.js';
import { Connection } from './connection.js';
import { Bases, encodeDatagram } from './acked.js';
import { InputHistory, inputConfig } from './inputs.js';
import { Interpolator, interpolationConfig } from './interpolate.js';
import { Predictor, predictionConfig } from './predict.js';
import { Replica, ReplicaError } from './replica.js';
import { actionIndex, dequantizeCode, typeCode } from './schema.js';
import { RANGES, T, TYPE_NAMES, WireError } from './wire.js';

/** Defaults for everything `GameClient` tunes (docs/NETCODE.md's figures). */
export function clientConfig() {
  return {
    /** ClockSync overrides (the tick rate comes from Welcome). */
    clock: {},
    interpolation: interpolationConfig(),
    prediction: predictionConfig(),
    inputs: inputConfig(),
    pingIntervalS: 1.0,
    /** How often the client checks whether a command is due, ms (0: the page calls pump). */
    pumpIntervalMs: 5,
    /** At most this many commands in one pump after a stall; beyond, the cadence restarts. */
    maxCatchUp: 3,
  };
}

/**
 * Whether the local player owns an entity, by default: the first field of its kind whose type
 * is `Player` holds the local PlayerId (a body's `player` field, say). A game whose entities say
 * ownership another way passes its own `owns`.
 */
export function ownedByFirstPlayerField(replica) {
  const fieldOf = replica.schema.kinds.map((k) => k.fields.findIndex((f) => typeCode(f.ty) === T.Player));
  return (id, e) => fieldOf[e.kind] >= 0 && e.lanes[fieldOf[e.kind]] === replica.playerId;
}

/** The last argument of the `remove` and `leave` calls made when a new Welcome resets all. */
const RESET = Object.freeze({ reset: true });

function defaultCallbackError(e) {
  if (typeof globalThis.reportError === 'function') globalThis.reportError(e);
  else queueMicrotask(() => { throw e; });
}

/** An entity as it should be drawn now: predicted, interpolated, or as held. */
class View {
  constructor(id, entity, lanes, plan, how, lateTicks) {
    /** NetId. */
    this.id = id;
    /** The entity as the replica holds it: `{kind, lanes}` (exact lanes). */
    this.entity = entity;
    /** Kind index. */
    this.kind = entity.kind;
    /** Lanes to draw (floats, lane units): one per field of the kind. */
    this.lanes = lanes;
    /** 'predicted' | 'interpolated' | 'held'. */
    this.how = how;
    /** How far past its newest state an interpolated entity is drawn, ticks. */
    this.lateTicks = lateTicks;
    this.plan = plan;
  }

  /** Field `name` in the game's units (`dequantize`: Fixed → units, angles → radians…). */
  value(name) {
    const i = this.plan.index.get(name);
    if (i === undefined) throw new Error(`no field "${name}" in this entity's kind`);
    return dequantizeCode(this.plan.codes[i], this.plan.args[i], this.lanes[i]);
  }
}

export class GameClient {
  /**
   * @param {object} opts
   * @param {string} opts.url WebSocket URL
   * @param {string} opts.name player name
   * @param {string | null} [opts.authToken]
   * @param {string | null} [opts.resumeToken] a token from an earlier Welcome (a page kept it
   *   across a reload) for the first Hello
   * @param {number} [opts.protocolVersion] 2 (another value only to test the 4000 close)
   * @param {(lanes: number[], cmd: object, ctx: object) => void} [opts.step] the game's
   *   deterministic step for one command (`ctx`: `{id, kind, replica, config}`); without it,
   *   nothing is predicted
   * @param {(client: GameClient) => number[]} [opts.input] the lanes of the next command (in
   *   `schema.input` order), asked once per tick; without it, commands are all zeros
   * @param {(id: number, entity: object, replica: Replica) => boolean} [opts.owns]
   * @param {object} [opts.config] overrides of `clientConfig()`
   * @param {(replica: Replica, welcome: object) => void} [opts.onWelcome]
   * @param {(state: string, detail: string) => void} [opts.onState]
   * @param {(reason: string, error: Error) => void} [opts.onFault]
   * @param {(error: Error) => void} [opts.onCallbackError]
   * @param {() => number} [opts.now] milliseconds
   * @param {Function} [opts.WebSocket]
   * @param {'auto' | 'websocket' | 'webtransport'} [opts.transport] 'auto' (WebTransport when
   *   the server offers it and the platform has it, with the WebSocket as the fallback) or
   *   'websocket' only
   * @param {Function} [opts.WebTransport]
   * @param {Function} [opts.fetch] for `GET /webtransport`
   * @param {number} [opts.fallbackMs] how long a WebTransport attempt has for its Welcome
   * @param {boolean} [opts.mirror] over a WebSocket, the room's messages over a second socket
   *   too (mirrored streams, connection.js), so a TCP stall of one does not stall the game
   * @param {object} [opts.timers] setTimeout, clearTimeout, setInterval, clearInterval
   * @param {() => number} [opts.random]
   */
  constructor(opts) {
    const base = clientConfig();
    this.config = { ...base, ...(opts.config ?? {}) };
    this.step = opts.step ?? null;
    this.input = opts.input ?? null;
    this.owns = opts.owns ?? null;
    this.onWelcome = opts.onWelcome ?? (() => {});
    this.onFault = opts.onFault ?? (() => {});
    this.onCallbackError = opts.onCallbackError ?? defaultCallbackError;
    this.now = opts.now ?? (() => globalThis.performance.now());
    this.timers = opts.timers ?? globalThis;
    this.conn = new Connection({
      url: opts.url,
      name: opts.name,
      authToken: opts.authToken ?? null,
      resumeToken: opts.resumeToken ?? null,
      protocolVersion: opts.protocolVersion ?? PROTOCOL_VERSION,
      onFrame: (bytes) => this.handleFrame(bytes),
      onState: opts.onState,
      WebSocket: opts.WebSocket,
      timers: this.timers,
      random: opts.random,
      ...(opts.transport !== undefined ? { transport: opts.transport } : {}),
      ...(opts.WebTransport !== undefined ? { WebTransport: opts.WebTransport } : {}),
      ...(opts.fetch !== undefined ? { fetch: opts.fetch } : {}),
      ...(opts.fallbackMs !== undefined ? { fallbackMs: opts.fallbackMs } : {}),
      mirror: opts.mirror ?? false,
    });
    /** @type {Replica | null} the current connection's replica (the last one after a drop) */
    this.replica = null;
    /** @type {object | null} the last Welcome */
    this.welcome = null;
    this.clock = null;
    this.inputs = null;
    this.interpolator = null;
    /** @type {Map<number, Predictor>} predicted entities by NetId */
    this.predictors = new Map();
    this.subs = [];
    this.pumpTimer = null;
    this.lastFrameS = null;
    /** The replicas kept for messages 5 (WebTransport), per connection. */
    this.bases = null;
    /** The newest tick applied from a message 5: what the datagrams acknowledge (0: none). */
    this.ackTick = 0;
    /** Whether a snapshot was applied since the last datagram that acknowledged one. */
    this.ackDue = false;
    this.stats = {
      welcomes: 0, snapshots: 0, faults: 0, divergences: 0, redirects: 0,
      corrections: 0, mispredicted: 0, maxCorrection: 0, snaps: 0,
      // Over WebTransport: messages 5 applied and dropped as stale, input datagrams (each
      // carrying an ack), lone acks, messages 6.
      // (`early`: messages 5 that overtook the Welcome, dropped; `againstBase`: applied ones
      // against an acknowledged tick, so the server has the acks.)
      acked: 0, againstBase: 0, stale: 0, early: 0, inputDatagrams: 0, loneAcks: 0, eventMessages: 0,
    };
  }

  // ---------------------------------------------------------------- life cycle

  /** Connects, and (unless `pumpIntervalMs` is 0) sends commands and pings on a timer. */
  start() {
    this.conn.start();
    if (this.config.pumpIntervalMs > 0 && this.pumpTimer === null) {
      this.pumpTimer = this.timers.setInterval(() => this.pump(), this.config.pumpIntervalMs);
    }
  }

  /** Leaves: closes the socket (the server ends the seat) and stops the timers. */
  stop() {
    if (this.pumpTimer !== null) this.timers.clearInterval(this.pumpTimer);
    this.pumpTimer = null;
    this.conn.stop();
  }

  /** Reconnects at once (after a close the policy would not retry, say). */
  retryNow() {
    this.conn.retryNow();
  }

  /** The URL of the node in use (after any redirect). */
  get url() {
    return this.conn.url;
  }

  /** 'webtransport' | 'websocket' (the current or last connection's), or null before any. */
  get transport() {
    return this.conn.transport;
  }

  /** What the mirror did for this WebSocket session (connection.js's `mirror`), or null. */
  get mirror() {
    return this.conn.mirror;
  }

  /** 'idle' | 'connecting' | 'connected' | 'reconnecting' | 'closed'. */
  get state() {
    return this.conn.state;
  }

  // ---------------------------------------------------------------- callbacks

  /** `handlers.add / change / remove` for entities of kind `kindName` (see Replica.on). */
  on(kindName, handlers) {
    return this.subscribe({ attach: (r) => r.on(kindName, this.guarded(handlers)), kindName, handlers });
  }

  /** `handlers.join / change / leave` for player records. */
  onPlayer(handlers) {
    return this.subscribe({ attach: (r) => r.onPlayer(this.guarded(handlers)), players: handlers });
  }

  /** `fn(roomLanes, replica)` when the room's fields change. */
  onRoom(fn) {
    return this.subscribe({ attach: (r) => r.onRoom(this.guard(fn)) });
  }

  /** `fn(values, event)` for each event called `name`. */
  onEvent(name, fn) {
    return this.subscribe({ attach: (r) => r.onEvent(name, this.guard(fn)) });
  }

  subscribe(sub) {
    this.subs.push(sub);
    if (this.replica) this.attach(sub, this.replica);
    return () => {
      sub.detach?.();
      const i = this.subs.indexOf(sub);
      if (i >= 0) this.subs.splice(i, 1);
    };
  }

  attach(sub, replica) {
    try {
      sub.detach = sub.attach(replica);
    } catch (e) {
      // A name this server's game does not have: the page's mistake (or another game).
      sub.detach = null;
      this.onCallbackError(e);
    }
  }

  guard(fn) {
    return (...args) => {
      try {
        return fn(...args);
      } catch (e) {
        this.onCallbackError(e);
        return undefined;
      }
    };
  }

  guarded(handlers) {
    const out = {};
    for (const [k, f] of Object.entries(handlers)) if (typeof f === 'function') out[k] = this.guard(f);
    return out;
  }

  /**
   * Tells the subscribers that everything `old` held is gone (a new Welcome replaces it):
   * `remove(id, entity, {reset: true})` and `leave(id, {reset: true})`, so a page can tell
   * this from a real departure.
   */
  retire(old) {
    for (const sub of this.subs) sub.detach?.();
    const ids = [...old.entities.keys()].sort((a, b) => a - b);
    for (const sub of this.subs) {
      if (sub.kindName !== undefined && sub.handlers.remove) {
        const kind = old.plan.kindIndex.get(sub.kindName);
        for (const id of ids) {
          const e = old.entities.get(id);
          if (e.kind === kind) this.guard(sub.handlers.remove)(id, e, RESET);
        }
      }
      if (sub.players?.leave) for (const id of old.players.keys()) this.guard(sub.players.leave)(id, RESET);
    }
  }

  // ---------------------------------------------------------------- incoming

  handleFrame(bytes) {
    const now = this.now() / 1000;
    if (!this.conn.hasWelcome) {
      // Over WebTransport a datagram may overtake the Welcome on the stream: a message 5 before
      // it is against nothing this client has yet, and the next one (or a later, once it
      // acknowledges) repairs it. Dropped, like a stale one.
      if (bytes[0] === 5 && this.conn.transport === 'webtransport') {
        this.stats.early++;
        return;
      }
      let msg;
      try {
        msg = decodeServer(bytes, null);
      } catch (e) {
        // Without a Welcome there is no schema: a snapshot cannot come first.
        this.fault(`expected a Welcome: ${e.message}`, e);
        return;
      }
      if (msg.type === 'Pong') return; // from before the Welcome: no clock to feed yet
      if (msg.type === 'Redirect') {
        // The room is on another node: the connection goes there with the same Hello.
        this.stats.redirects++;
        this.conn.redirect(msg);
        return;
      }
      if (msg.protocol_version !== PROTOCOL_VERSION) {
        this.fault(`a Welcome of protocol version ${msg.protocol_version}`, new WireError('Invalid', 'version'));
        return;
      }
      this.begin(msg, now);
      return;
    }
    // Messages 5 and 6 (WebTransport): one byte says which.
    if (bytes[0] === 5) {
      this.receiveAcked(bytes, now);
      return;
    }
    if (bytes[0] === 6) {
      this.receiveEvents(bytes);
      return;
    }
    const quiet = this.quietSince();
    let got;
    try {
      got = this.replica.receive(bytes);
    } catch (e) {
      if (e instanceof ReplicaError) this.stats.divergences++;
      this.fault(e instanceof ReplicaError ? `replica diverged: ${e.message}` : `undecodable message: ${e.message}`, e);
      return;
    }
    const { msg } = got;
    if (msg.type === 'Pong') this.clock.handlePong(msg, now);
    else if (msg.type === 'Snapshot') this.afterSnapshot(msg, now, quiet);
    else if (msg.type === 'Redirect') this.fault('a redirect after the Welcome', new WireError('Invalid', 'redirect'));
    else this.fault('a second Welcome on one connection', new WireError('Invalid', 'welcome'));
  }

  /** A message 5: applied against its base (acked.js), or dropped when stale. */
  receiveAcked(bytes, now) {
    // No input datagram carried the previous snapshot's ack: it goes alone, now.
    if (this.ackDue) this.sendAck();
    const quiet = this.quietSince();
    let got;
    try {
      got = this.bases.apply(this.replica, bytes);
    } catch (e) {
      if (e instanceof ReplicaError) this.stats.divergences++;
      this.fault(e instanceof ReplicaError ? `replica diverged: ${e.message}` : `undecodable message: ${e.message}`, e);
      return;
    }
    if (got.stale) {
      this.stats.stale++;
      return;
    }
    this.stats.acked++;
    if (got.back > 0) this.stats.againstBase++;
    this.ackTick = got.snapshot.tick;
    this.ackDue = true;
    this.afterSnapshot(got.snapshot, now, quiet);
  }

  /** The replica's tick when it is still: a silence after it is quiet ticks, not lateness. */
  quietSince() {
    return this.replica !== null && this.replica.isStill() ? this.replica.tick : null;
  }

  /** A message 6: its events go to the `onEvent` callbacks, as a snapshot's do. */
  receiveEvents(bytes) {
    let msg;
    try {
      msg = this.replica.decode(bytes);
    } catch (e) {
      this.fault(`undecodable message: ${e.message}`, e);
      return;
    }
    this.stats.eventMessages++;
    this.replica.dispatchEvents(msg.events);
  }

  /** A datagram with the ack alone. */
  sendAck() {
    if (this.conn.sendDatagram(encodeDatagram(this.ackTick))) {
      this.stats.loneAcks++;
      this.ackDue = false;
    }
  }

  fault(reason, error) {
    this.stats.faults++;
    this.guard(this.onFault)(reason, error);
    this.conn.fault(reason);
  }

  /** A new connection's Welcome: everything starts afresh from it. */
  begin(welcome, now) {
    const old = this.replica;
    if (old) this.retire(old);
    const replica = new Replica(welcome);
    const c = this.config;
    this.welcome = welcome;
    this.replica = replica;
    this.bases = new Bases(replica);
    this.ackTick = 0;
    this.ackDue = false;
    this.clock = new ClockSync({ ...clockConfig(welcome.tick_rate), ...c.clock });
    this.inputs = new InputHistory(c.inputs);
    this.interpolator = new Interpolator(welcome.schema, c.interpolation);
    this.predictors = new Map();
    this.ownsEntity = this.owns ? (id, e) => this.owns(id, e, replica) : ownedByFirstPlayerField(replica);
    this.predictable = welcome.schema.kinds.map((k) => this.step !== null && k.fields.some((f) => f.predict));
    this.tickS = 1 / Math.max(1, welcome.tick_rate);
    this.nextCmdAt = now;
    this.nextPing = now;
    this.actionSeq = 0;
    this.lastFrameS = null;
    this.stats.welcomes++;
    for (const sub of this.subs) this.attach(sub, replica);
    this.conn.welcomed(welcome.resume_token);
    this.guard(this.onWelcome)(replica, welcome);
  }

  afterSnapshot(snap, now, quiet = null) {
    const r = this.replica;
    this.stats.snapshots++;
    this.clock.handleSnapshot(snap.tick, now);
    this.inputs.acknowledge(snap.ack_input_seq);
    for (const id of this.predictors.keys()) {
      const e = r.entities.get(id);
      if (e === undefined || !this.ownsEntity(id, e)) this.predictors.delete(id);
    }
    for (const [id, e] of r.entities) {
      if (!this.predictable[e.kind] || !this.ownsEntity(id, e)) continue;
      let p = this.predictors.get(id);
      if (p === undefined) {
        const ctx = { id, kind: r.schema.kinds[e.kind].name, replica: r, config: this.gameConfig() };
        p = new Predictor(r.schema.kinds[e.kind].fields, (lanes, cmd) => this.step(lanes, cmd, ctx), this.config.prediction);
        this.predictors.set(id, p);
        p.reconcile(e.lanes, this.inputs.unacked());
        continue;
      }
      const c = p.reconcile(e.lanes, this.inputs.unacked());
      if (c.snapped) {
        this.stats.snaps++;
      } else {
        this.stats.corrections++;
        if (c.error > 0) this.stats.mispredicted++;
        this.stats.maxCorrection = Math.max(this.stats.maxCorrection, c.error);
      }
    }
    if (quiet !== null && snap.tick > quiet + 1) this.interpolator.holdQuiet(quiet, snap.tick - 1);
    this.interpolator.handleSnapshot(r, (id) => this.predictors.has(id));
  }

  /** The game's `game_config` parsed as JSON (once per Welcome), or null when it is not JSON. */
  gameConfig() {
    if (!this.welcome) return null;
    if (this.parsedConfigOf !== this.welcome) {
      this.parsedConfigOf = this.welcome;
      try {
        this.parsedConfig = this.welcome.game_config ? JSON.parse(this.welcome.game_config) : null;
      } catch {
        this.parsedConfig = null;
      }
    }
    return this.parsedConfig;
  }

  // ---------------------------------------------------------------- outgoing

  /** Whether messages can go out now (a Welcome arrived on the open socket). */
  get ready() {
    return this.conn.state === 'connected' && this.conn.hasWelcome;
  }

  /** Sends the commands that are due (one per server tick) and a ping when one is due. */
  pump(nowMs = this.now()) {
    if (!this.ready) return;
    const now = nowMs / 1000;
    let made = 0;
    while (now >= this.nextCmdAt && made < this.config.maxCatchUp) {
      this.sendCommand();
      this.nextCmdAt += this.tickS;
      made++;
    }
    // Far behind (a stalled tab): restart the cadence rather than send a burst.
    if (now - this.nextCmdAt > this.tickS * this.config.maxCatchUp) this.nextCmdAt = now + this.tickS;
    if (now >= this.nextPing) {
      this.nextPing = now + this.config.pingIntervalS;
      this.conn.send(encodeClient(this.clock.ping(now)));
    }
  }

  /** Makes, predicts and sends one command (with the unacknowledged ones before it). */
  sendCommand() {
    const schema = this.replica.schema;
    const lanes = this.input ? this.input(this) : schema.input.map(() => 0);
    checkInput(schema, lanes);
    const cmd = this.inputs.push(lanes, this.clock.viewTick());
    for (const p of this.predictors.values()) p.predict(cmd);
    const frame = encodeClient(this.inputs.frame(), schema);
    // Over WebTransport the inputs go as datagrams, each acknowledging the newest snapshot.
    if (this.conn.transport === 'webtransport' && this.conn.sendDatagram(encodeDatagram(this.ackTick, frame))) {
      this.stats.inputDatagrams++;
      this.ackDue = false;
    } else {
      this.conn.send(frame);
    }
    return cmd;
  }

  /**
   * Sends action `name` with `values` (in the order of its fields); returns its seq (a
   * refusal comes back as a `rejected` event with it), or null when not connected.
   */
  action(name, values) {
    if (!this.ready) return null;
    const kind = actionIndex(this.replica.schema, name);
    const seq = ++this.actionSeq;
    this.conn.send(encodeClient({ type: 'Action', seq, kind, values }, this.replica.schema));
    return seq;
  }

  /** Sends a chat line; the server echoes it back as a `chat` event, to the sender too. */
  chat(text) {
    return this.ready && this.conn.send(encodeClient({ type: 'Chat', text }));
  }

  // ---------------------------------------------------------------- drawing

  /** Once per rendered frame: moves the render clock, decays corrections, drops old states. */
  frame(nowMs = this.now()) {
    if (!this.clock) return;
    const now = nowMs / 1000;
    const dt = this.lastFrameS === null ? 0 : Math.max(0, now - this.lastFrameS);
    this.lastFrameS = now;
    this.clock.advance(now);
    for (const p of this.predictors.values()) p.advance(dt);
    if (this.clock.isSynced()) this.interpolator.advance(this.clock.renderTick(), dt);
    this.interpolator.prune(this.clock.renderTick() - 1);
  }

  /** The server tick being drawn (fractional). */
  renderTick() {
    return this.clock ? this.clock.renderTick() : 0;
  }

  /**
   * Entity `id` as it should be drawn now, or null (not held, or interpolated and not
   * drawable yet): the prediction for an entity the player owns and predicts, the
   * interpolated state for one with interpolated fields, else the lanes as held.
   */
  view(id) {
    const r = this.replica;
    const e = r?.entities.get(id);
    if (e === undefined) return null;
    const plan = r.plan.kinds[e.kind];
    const p = this.predictors.get(id);
    const predicted = p?.render();
    if (predicted) return new View(id, e, predicted, plan, 'predicted', 0);
    if (this.interpolator.has(id)) {
      const s = this.interpolator.sample(id, this.clock.renderTick());
      return s && new View(id, e, s.lanes, plan, 'interpolated', s.lateTicks);
    }
    return new View(id, e, [...e.lanes], plan, 'held', 0);
  }

  /** Views of every drawable entity of kind `kindName`, in NetId order. */
  views(kindName) {
    const r = this.replica;
    if (!r) return [];
    const kind = r.plan.kindIndex.get(kindName);
    if (kind === undefined) throw new Error(`the schema has no entity kind "${kindName}"`);
    const ids = [];
    for (const [id, e] of r.entities) if (e.kind === kind) ids.push(id);
    ids.sort((a, b) => a - b);
    const out = [];
    for (const id of ids) {
      const v = this.view(id);
      if (v) out.push(v);
    }
    return out;
  }

  /** NetIds of the entities the local player owns (of kind `kindName`, if given). */
  owned(kindName) {
    const r = this.replica;
    if (!r) return [];
    const out = [];
    for (const [id, e] of kindName === undefined ? r.entities : r.ofKind(kindName)) {
      if (this.ownsEntity(id, e)) out.push(id);
    }
    return out.sort((a, b) => a - b);
  }

  /** The exact predicted lanes of entity `id` (what the server computes), or null. */
  predicted(id) {
    return this.predictors.get(id)?.predictedLanes() ?? null;
  }
}

/** Throws a clear TypeError unless `lanes` fits `schema.input` (a page's bug, caught early). */
function checkInput(schema, lanes) {
  if (!Array.isArray(lanes) || lanes.length !== schema.input.length) {
    throw new TypeError(`input needs ${schema.input.length} lanes (${schema.input.map((f) => f.name).join(', ')}), got ${lanes?.length}`);
  }
  schema.input.forEach((f, i) => {
    const code = typeCode(f.ty);
    const [lo, hi] = RANGES[code];
    if (!Number.isInteger(lanes[i]) || lanes[i] < lo || lanes[i] > hi) {
      throw new TypeError(`input lane ${f.name} = ${lanes[i]} is not a ${TYPE_NAMES[code]} (quantize it first)`);
    }
  });
}
