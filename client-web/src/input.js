// The input history, mirroring shared/src/input.rs (`InputHistory`): numbers input commands,
// keeps the ones the server has not acknowledged (prediction replays them after each snapshot),
// and builds the Input frames sent once per tick, each repeating the last few unacknowledged
// commands. The server de-duplicates by sequence number.

export class InputHistory {
  constructor(capacity = 256) {
    this.lastSeq = 0;
    this.acked = 0;
    this.pending = [];
    this.capacity = Math.max(1, capacity);
  }

  /** Numbers a new command from an intent `{move_x, move_y, aim, buttons}` and keeps it. */
  push(intent, viewTick) {
    this.lastSeq += 1;
    const cmd = {
      seq: this.lastSeq,
      move_x: intent.move_x,
      move_y: intent.move_y,
      aim: intent.aim,
      buttons: intent.buttons,
      view_tick: viewTick,
    };
    if (this.pending.length === this.capacity) this.pending.shift();
    this.pending.push(cmd);
    return cmd;
  }

  /** The server has applied every command up to `seq`. */
  acknowledge(seq) {
    if (seq <= this.acked) return;
    this.acked = seq;
    while (this.pending.length && this.pending[0].seq <= seq) this.pending.shift();
  }

  acknowledged() {
    return this.acked;
  }

  /** Commands sent and not yet acknowledged, oldest first. */
  unacked() {
    return this.pending;
  }

  /** The Input message for this tick: the newest command and up to `redundancy` before it. */
  frame(redundancy) {
    const n = Math.min(this.pending.length, redundancy + 1);
    return { type: 'Input', cmds: this.pending.slice(this.pending.length - n) };
  }
}
