// Prediction of an entity the local player owns, for any game, as shared/src/sync/predict.rs.
//
// The game supplies its deterministic step: `step(lanes, cmd)` applies one input command
// (`{ seq, view_tick, lanes }`) to the entity's lanes in place, exactly as the server does (same
// arithmetic, same quantization), so with nobody else involved the prediction is the server's
// result to the bit. Each new command is applied at once (`predict`); when a snapshot
// acknowledges command N, `reconcile` restarts from the server's lanes and replays the commands
// after N. Only the fields the schema marks `predict` take the replayed values; every other
// field is the server's (a step may read a hit-point or alive field, but what it writes to them
// is not shown).
//
// If the predicted fields come out different from the old prediction (the server pushed us,
// something the client could not know), the difference becomes a visual offset on the `Linear`
// predicted fields that halves every `correctionHalfLifeS` and shrinks by at least
// `correctionMinSpeed` world units per second, instead of a jump; a change of a
// `discontinuity` field (a respawn) or an error beyond `snapDistance` (world units, over the
// linear predicted fields) snaps. Nothing here reads a clock.

import { dequantize } from './schema.js';

/** Defaults of `PredictionConfig::default()`. */
export function predictionConfig() {
  return { correctionHalfLifeS: 0.06, correctionMinSpeed: 40, snapDistance: 64 };
}

export class Predictor {
  /**
   * @param {object[]} fields the entity's kind's field descriptors (schema order)
   * @param {(lanes: number[], cmd: object) => void} step the game's step
   * @param {{correctionHalfLifeS: number, correctionMinSpeed?: number, snapDistance: number}} [config]
   */
  constructor(fields, step, config = predictionConfig()) {
    this.fields = fields;
    this.step = step;
    this.config = config;
    this.predicts = fields.map((f) => !!f.predict);
    this.smoothed = fields.map((f) => !!f.predict && f.interp === 'Linear');
    /** The server's lanes at the last reconcile (empty before the first). */
    this.server = [];
    /** The predicted lanes after the newest command, or null before the first server state. */
    this.predicted = null;
    this.offset = fields.map(() => 0);
  }

  /** Runs the step on a copy of `lanes`; keeps its result only in the predicted fields. */
  run(lanes, cmd) {
    const next = [...lanes];
    this.step(next, cmd);
    for (let i = 0; i < next.length; i++) {
      if (!this.predicts[i]) next[i] = lanes[i];
    }
    return next;
  }

  /** Applies a freshly made command (nothing before the first server state). */
  predict(cmd) {
    if (this.predicted !== null) this.predicted = this.run(this.predicted, cmd);
  }

  /**
   * Restarts from the server's lanes and replays `pending` (the commands after the
   * acknowledged one, oldest first). Returns `{ error, snapped }`: how far (world units) the
   * prediction moved, and whether the display jumped instead of being smoothed.
   */
  reconcile(server, pending) {
    let lanes = [...server];
    for (const cmd of pending) lanes = this.run(lanes, cmd);
    const jumped = this.server.length > 0
      && this.fields.some((f, i) => f.discontinuity && this.server[i] !== server[i]);
    this.server = [...server];
    const old = this.predicted;
    this.predicted = lanes;
    if (old === null) {
      this.offset.fill(0);
      return { error: 0, snapped: true };
    }
    let error2 = 0;
    this.fields.forEach((f, i) => {
      if (!this.smoothed[i]) return;
      const d = dequantize(f.ty, old[i]) - dequantize(f.ty, lanes[i]);
      error2 += d * d;
    });
    const error = Math.sqrt(error2);
    const snapped = jumped || error > this.config.snapDistance;
    if (snapped) {
      this.offset.fill(0);
    } else {
      for (let i = 0; i < lanes.length; i++) {
        if (this.smoothed[i]) this.offset[i] += old[i] - lanes[i];
      }
    }
    return { error, snapped };
  }

  /** Decays the visual correction by one frame of `frameS` seconds. */
  advance(frameS) {
    let len2 = 0;
    this.fields.forEach((f, i) => {
      const d = dequantize(f.ty, this.offset[i]);
      len2 += d * d;
    });
    const len = Math.sqrt(len2);
    if (len === 0) return;
    const decayed = len * 0.5 ** (frameS / Math.max(this.config.correctionHalfLifeS, 1e-6))
      - (this.config.correctionMinSpeed ?? 0) * frameS;
    const k = decayed <= 0 ? 0 : decayed / len;
    for (let i = 0; i < this.offset.length; i++) {
      this.offset[i] *= k;
      if (Math.abs(this.offset[i]) < 0.05) this.offset[i] = 0;
    }
  }

  /** The predicted lanes (exact: what the server computes without interference), or null. */
  predictedLanes() {
    return this.predicted;
  }

  /** What to draw: the prediction plus the decaying correction, lane units; or null. */
  render() {
    return this.predicted && this.predicted.map((v, i) => v + this.offset[i]);
  }
}
