// Client-side prediction and reconciliation of the local player.
//
// Every input command moves the predicted body at once with the shared movement rules
// (rules.js, identical to the server's). When a snapshot acknowledges commands up to
// `ack_input_seq`, the authoritative position is taken and the commands not yet applied by the
// server are replayed on top of it. If the replayed result differs from what was shown (another
// player pushed us, a shot was lost), the difference becomes a visual offset that decays over a
// few frames, unless it is large (a respawn, a teleport), which snaps at once.

import { stepPlayer } from './rules.js';

/** Corrections larger than this (world units) snap instead of smoothing. */
export const SNAP_DISTANCE = 48;
/** Time constant of the correction's decay, ms. */
export const CORRECTION_TAU_MS = 60;

export class Predictor {
  constructor(rules, arena, historyLimit = 128) {
    this.rules = rules;
    this.arena = arena;
    this.historyLimit = historyLimit;
    /** Commands sent and not yet acknowledged, oldest first. */
    this.history = [];
    /** Predicted position after the newest command. */
    this.x = 0;
    this.y = 0;
    /** Position before the newest command (for drawing between ticks). */
    this.prevX = 0;
    this.prevY = 0;
    /** Visual correction offset, decaying to zero. */
    this.errX = 0;
    this.errY = 0;
    this.ackSeq = 0;
    this.alive = true;
    this.initialized = false;
    /** Largest correction seen (units), for the HUD and tests. */
    this.lastCorrection = 0;
  }

  /** Applies a new local command (the body moves at once) and remembers it for replay. */
  applyLocal(cmd) {
    this.history.push(cmd);
    if (this.history.length > this.historyLimit) this.history.shift();
    this.prevX = this.x;
    this.prevY = this.y;
    if (this.initialized && this.alive) {
      [this.x, this.y] = stepPlayer(this.x, this.y, cmd.move_x, cmd.move_y, this.rules, this.arena);
    }
  }

  /**
   * The server says the body is at (`x`, `y`) (world units, on the 1/8 grid) after command
   * `ackSeq`. `teleported` is true when the respawn counter changed.
   */
  reconcile(x, y, ackSeq, alive, teleported) {
    if (ackSeq >= this.ackSeq) this.ackSeq = ackSeq;
    while (this.history.length && this.history[0].seq <= this.ackSeq) this.history.shift();
    this.alive = alive;
    let px = x;
    let py = y;
    if (alive) {
      for (const c of this.history) [px, py] = stepPlayer(px, py, c.move_x, c.move_y, this.rules, this.arena);
    }
    if (!this.initialized || teleported) {
      this.initialized = true;
      this.errX = this.errY = 0;
      this.prevX = this.x = px;
      this.prevY = this.y = py;
      return;
    }
    const shownX = this.x + this.errX;
    const shownY = this.y + this.errY;
    const dx = shownX - px;
    const dy = shownY - py;
    const moved = Math.hypot(px - this.x, py - this.y);
    if (moved > 0) this.lastCorrection = moved;
    if (Math.hypot(dx, dy) > SNAP_DISTANCE) {
      this.errX = this.errY = 0;
      this.prevX = px;
      this.prevY = py;
    } else {
      this.errX = dx;
      this.errY = dy;
      this.prevX += px - this.x;
      this.prevY += py - this.y;
    }
    this.x = px;
    this.y = py;
  }

  /** Lets the visual correction decay for `elapsedMs`. */
  decay(elapsedMs) {
    const k = Math.exp(-elapsedMs / CORRECTION_TAU_MS);
    this.errX *= k;
    this.errY *= k;
    if (Math.abs(this.errX) < 0.01) this.errX = 0;
    if (Math.abs(this.errY) < 0.01) this.errY = 0;
  }

  /** Where to draw the body, `alpha` (0..1) of the way through the current tick. */
  renderPosition(alpha) {
    const a = Math.min(1, Math.max(0, alpha));
    return [this.prevX + (this.x - this.prevX) * a + this.errX, this.prevY + (this.y - this.prevY) * a + this.errY];
  }

  /** The newest `n` unacknowledged commands, oldest first (sent redundantly each tick). */
  unacked(n) {
    return this.history.slice(-n);
  }
}
