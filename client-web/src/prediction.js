// Client-side prediction and reconciliation of the local player, mirroring
// shared/src/prediction.rs (`Predictor`).
//
// Every input command is applied locally at once with stepPlayer, the function the server runs
// per command (rules.js, bit-exact with Rust), so with nobody else involved the prediction is
// the server's result to the bit. When a snapshot acknowledges command N, reconcile restarts
// from the server's state of the local body and replays the commands after N. If the new
// prediction differs from the old one (the server pushed us out of another player), the
// difference becomes a visual offset that decays over a few frames (halves every 60 ms, and
// shrinks by at least 40 units/s); an error above 64 units, a respawn or a death snaps at once.

import { POS_SCALE, stepPlayer } from './rules.js';

/** Defaults of `PredictionConfig::default()`. */
export function predictionConfig() {
  return { correctionHalfLifeS: 0.06, correctionMinSpeed: 40, snapDistance: 64 };
}

export class Predictor {
  constructor(config = predictionConfig()) {
    this.config = config;
    /** Predicted position `[x, y]` after the newest command, or null before the first state. */
    this.predicted = null;
    this.server = { x: 0, y: 0, aim: 0, health: 0, status: 0 };
    this.offset = [0, 0];
  }

  /** Applies a new command to the predicted body (a dead body does not move). */
  predict(cmd, rules, arena) {
    if (this.predicted && this.server.status & 1) {
      this.predicted = stepPlayer(this.predicted[0], this.predicted[1], cmd.move_x, cmd.move_y, rules, arena);
    }
  }

  /**
   * Restarts from the server's `PlayerState` of the local body and replays `pending` commands.
   * Returns `{error, snapped}`: how far the prediction moved.
   */
  reconcile(server, pending, rules, arena) {
    let pos = [server.x / POS_SCALE, server.y / POS_SCALE];
    if (server.status & 1) {
      for (const cmd of pending) pos = stepPlayer(pos[0], pos[1], cmd.move_x, cmd.move_y, rules, arena);
    }
    const teleported = server.status !== this.server.status;
    this.server = { ...server };
    const old = this.predicted;
    this.predicted = pos;
    if (!old) {
      this.offset = [0, 0];
      return { error: 0, snapped: true };
    }
    const ex = old[0] - pos[0];
    const ey = old[1] - pos[1];
    const error = Math.hypot(ex, ey);
    const snapped = teleported || error > this.config.snapDistance;
    if (snapped) {
      this.offset = [0, 0];
    } else {
      this.offset = [this.offset[0] + ex, this.offset[1] + ey];
      if (Math.hypot(this.offset[0], this.offset[1]) > this.config.snapDistance) this.offset = [0, 0];
    }
    return { error, snapped };
  }

  /** Lets the visual offset decay over a frame of `frameS` seconds. */
  advance(frameS) {
    const len = Math.hypot(this.offset[0], this.offset[1]);
    if (len === 0) return;
    const decayed = len * 0.5 ** (frameS / this.config.correctionHalfLifeS) - this.config.correctionMinSpeed * frameS;
    this.offset = decayed <= 0 ? [0, 0] : [this.offset[0] * (decayed / len), this.offset[1] * (decayed / len)];
  }

  predictedPosition() {
    return this.predicted;
  }

  /** Where to draw the body: predicted plus the decaying correction. */
  renderPosition() {
    return this.predicted && [this.predicted[0] + this.offset[0], this.predicted[1] + this.offset[1]];
  }

  correctionOffset() {
    return this.offset;
  }

  serverState() {
    return this.server;
  }
}
