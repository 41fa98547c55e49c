// The input commands of one connection, for any game: numbers them (seq 1 first, +1 each, as
// the server's input queue expects on every connection), keeps each one until a snapshot's
// `ack_input_seq` covers it (prediction replays the rest on top of the server's state), and
// builds the Input message sent once per tick, which repeats the last few unacknowledged
// commands so a lost or late frame costs nothing (the server ignores a seq it has already seen).
//
// A command is `{ seq, view_tick, lanes }`, its lanes in the order of `schema.input`. Start a
// new history on every Welcome: after a resume the server numbers from scratch and the commands
// of the old connection will never be applied (docs/PROTOCOL.md, "Resuming").

/** Defaults: two earlier commands repeated in each frame, 256 kept at most. */
export function inputConfig() {
  return { redundancy: 2, capacity: 256 };
}

export class InputHistory {
  constructor(config = inputConfig()) {
    this.redundancy = Math.max(0, config.redundancy);
    this.capacity = Math.max(1, config.capacity);
    /** The seq of the newest command (0 before the first). */
    this.lastSeq = 0;
    /** The newest `ack_input_seq` seen. */
    this.acked = 0;
    /** Commands not yet acknowledged, oldest first. */
    this.pending = [];
  }

  /** Numbers a new command with these lanes and keeps it; returns it. */
  push(lanes, viewTick) {
    this.lastSeq += 1;
    const cmd = { seq: this.lastSeq, view_tick: viewTick, lanes: [...lanes] };
    // A server that stops acknowledging (it never should) must not grow the history forever;
    // the oldest command is the one least likely to be applied still.
    if (this.pending.length === this.capacity) this.pending.shift();
    this.pending.push(cmd);
    return cmd;
  }

  /**
   * The server has applied every command it is going to up to `seq`. An ack does not promise
   * that each lower seq was applied (the server skips over gaps), only that none will be now.
   */
  acknowledge(seq) {
    if (seq <= this.acked) return;
    this.acked = seq;
    while (this.pending.length && this.pending[0].seq <= seq) this.pending.shift();
  }

  /** The newest acknowledged seq. */
  acknowledged() {
    return this.acked;
  }

  /** Commands sent and not yet acknowledged, oldest first (what prediction replays). */
  unacked() {
    return this.pending;
  }

  /** The Input message for this tick: the newest command and up to `redundancy` before it. */
  frame() {
    const n = Math.min(this.pending.length, this.redundancy + 1);
    return { type: 'Input', cmds: this.pending.slice(this.pending.length - n) };
  }
}
