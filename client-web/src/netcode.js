// The client netcode facade, mirroring shared/src/netcode.rs (`ClientNetcode`): one per
// connection, combining the Replica, ClockSync, InputHistory, the Predictor for the local body
// and the Interpolator for everyone else. The page drives it like every Rust client:
//
// 1. on every server message: handleMessage(msg, now) (throws ReplicaError when out of step);
// 2. once per tick: makeInput(intent) and send the frame it returns; send pollPing(now) when
//    it returns one;
// 3. once per render frame: advance(now), then draw localPosition(), remotes(), projectiles().
//
// Time is seconds from any monotonic origin; nothing here reads a clock.

import { ClockSync, clockConfig } from './clock.js';
import { InputHistory } from './input.js';
import { Interpolator, interpolationConfig } from './interpolation.js';
import { Predictor, predictionConfig } from './prediction.js';
import { Replica } from './replica.js';
import { projectilePosition } from './rules.js';

/** Defaults of `NetcodeConfig::new(welcome)`. */
export function netcodeConfig(welcome) {
  return {
    clock: clockConfig(welcome.tick_rate),
    prediction: predictionConfig(),
    interpolation: interpolationConfig(welcome.rules),
    inputRedundancy: 2,
    inputHistory: 256,
    pingIntervalS: 1.0,
  };
}

export class ClientNetcode {
  constructor(welcome, config = netcodeConfig(welcome)) {
    this.config = config;
    this.replica = new Replica(welcome);
    this.clock = new ClockSync(config.clock);
    this.inputs = new InputHistory(config.inputHistory);
    this.prediction = new Predictor(config.prediction);
    this.interpolation = new Interpolator(config.interpolation);
    this.stats = { corrections: 0, mispredicted: 0, maxCorrection: 0, snaps: 0 };
    this.lastFrame = null;
    this.nextPing = -Infinity;
  }

  handleMessage(msg, now) {
    if (msg.type === 'Snapshot') return this.handleSnapshot(msg, now);
    if (msg.type === 'Pong') this.clock.handlePong(msg, now);
    return null;
  }

  /** Applies a snapshot; returns the local body's correction (or null). */
  handleSnapshot(snap, now) {
    const r = this.replica;
    r.apply(snap);
    this.clock.handleSnapshot(snap.tick, now);
    this.inputs.acknowledge(snap.ack_input_seq);
    const hadPrediction = this.prediction.predictedPosition() !== null;
    const server = r.localState();
    const correction = server && this.prediction.reconcile(server, this.inputs.unacked(), r.rules, r.arena);
    if (correction && hadPrediction) {
      if (correction.snapped) {
        this.stats.snaps++;
      } else {
        this.stats.corrections++;
        if (correction.error > 0) this.stats.mispredicted++;
        this.stats.maxCorrection = Math.max(this.stats.maxCorrection, correction.error);
      }
    }
    this.interpolation.handleSnapshot(r, r.entityId);
    return correction;
  }

  /** Numbers and predicts a command for `intent`; returns the Input frame to send. */
  makeInput(intent) {
    const cmd = this.inputs.push(intent, this.clock.viewTick());
    this.prediction.predict(cmd, this.replica.rules, this.replica.arena);
    return this.inputs.frame(this.config.inputRedundancy);
  }

  pollPing(now) {
    if (now < this.nextPing) return null;
    this.nextPing = now + this.config.pingIntervalS;
    return this.clock.ping(now);
  }

  advance(now) {
    const frame = this.lastFrame === null ? 0 : Math.max(0, now - this.lastFrame);
    this.lastFrame = now;
    this.clock.advance(now);
    this.prediction.advance(frame);
    this.interpolation.prune(this.clock.renderTick() - 1);
  }

  renderTick() {
    return this.clock.renderTick();
  }

  localPosition() {
    return this.prediction.renderPosition();
  }

  remote(id) {
    return this.interpolation.sample(id, this.clock.renderTick());
  }

  /** `[id, sample]` for every remote body drawable at the render tick. */
  *remotes() {
    const t = this.clock.renderTick();
    for (const id of this.interpolation.ids()) {
      const s = this.interpolation.sample(id, t);
      if (s) yield [id, s];
    }
  }

  /** `[id, [x, y], state]` for every projectile at the render tick. */
  *projectiles() {
    const t = this.clock.renderTick();
    for (const [id, e] of this.replica.entities) {
      if (e.type === 'Projectile') yield [id, projectilePosition(e, this.replica.rules, t), e];
    }
  }
}
