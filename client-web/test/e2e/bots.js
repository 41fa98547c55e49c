// Lightweight simulated players for load tests, on the browser SDK's own parts (protocol v2,
// so they share a room with the page): a Connection (the `ws` package's WebSocket in Node) and
// a Replica decoded from the schema in Welcome, an InputHistory numbering their commands. Each
// finds its own body (the arena's `body` whose `player` is its PlayerId), and walks towards a
// target spot, with a sidestep when an obstacle stops it. They never shoot, and skip the
// SDK's prediction and interpolation, which a bot does not need (a hundred of them share the
// machine with the browser under test).

import WebSocket from 'ws';
import { Connection, InputHistory, Replica, decodeServer, encodeClient } from '../../src/sdk/index.js';

class Bot {
  constructor(url, name) {
    this.name = name;
    this.replica = null;
    this.inputs = null;
    this.pos = null;
    this.target = null;
    this.stuck = 0;
    this.sidestep = 0;
    this.lastPos = null;
    this.joined = new Promise((resolve, reject) => {
      this.conn = new Connection({
        url,
        name,
        WebSocket,
        onFrame: (bytes) => {
          if (!this.conn.hasWelcome) {
            const welcome = decodeServer(bytes, null);
            if (welcome.type !== 'Welcome') return; // a Pong ahead of it
            this.replica = new Replica(welcome);
            this.inputs = new InputHistory({ redundancy: 2, capacity: 64 });
            const kind = this.replica.schema.kinds.findIndex((k) => k.name === 'body');
            this.fields = { kind, player: this.replica.field('body', 'player'), x: this.replica.field('body', 'x'), y: this.replica.field('body', 'y') };
            this.conn.welcomed(welcome.resume_token);
            resolve();
            return;
          }
          const { msg } = this.replica.receive(bytes);
          if (msg.type === 'Snapshot') this.follow(msg);
        },
        onState: (state, detail) => {
          if (state === 'closed' && !this.replica) reject(new Error(`${name}: ${detail}`));
        },
      });
      this.conn.start();
    });
  }

  /** Finds the own body and reads its position after a snapshot. */
  follow(snap) {
    this.inputs.acknowledge(snap.ack_input_seq);
    const f = this.fields;
    const me = this.replica.playerId;
    if (this.ownId === undefined || !this.replica.entities.has(this.ownId)) {
      this.ownId = undefined;
      for (const [id, e] of this.replica.entities) if (e.kind === f.kind && e.lanes[f.player] === me) this.ownId = id;
    }
    const own = this.ownId === undefined ? null : this.replica.entities.get(this.ownId);
    if (own) this.pos = [own.lanes[f.x] / 8, own.lanes[f.y] / 8];
  }

  /** A random spot in the area `[x, y, halfWidth, halfHeight]` this bot is gathering in. */
  pickTarget() {
    const [x, y, hw, hh] = this.area;
    this.target = [x + (Math.random() * 2 - 1) * hw, y + (Math.random() * 2 - 1) * hh];
    this.walking = 0;
  }

  /** One tick: walk towards the target (or stand still when there). */
  tick() {
    if (!this.pos || !this.target || !this.conn.hasWelcome) return;
    // A bot that has not arrived in 8 s (wedged behind an obstacle) tries another spot.
    if (this.area && ++this.walking > 240) this.pickTarget();
    let mx = 0;
    let my = 0;
    const dx = this.target[0] - this.pos[0];
    const dy = this.target[1] - this.pos[1];
    if (Math.hypot(dx, dy) <= 12) this.walking = 0;
    if (Math.hypot(dx, dy) > 12) {
      const len = Math.hypot(dx, dy);
      mx = Math.round((dx / len) * 127);
      my = Math.round((dy / len) * 127);
      if (this.sidestep > 0) {
        this.sidestep--;
        [mx, my] = this.sidestepDir;
      } else if (this.lastPos && Math.hypot(this.pos[0] - this.lastPos[0], this.pos[1] - this.lastPos[1]) < 0.5) {
        if (++this.stuck > 5) {
          this.stuck = 0;
          this.sidestep = 20;
          this.sidestepDir = Math.random() < 0.5 ? [-my, mx] : [my, -mx];
        }
      } else {
        this.stuck = 0;
      }
    }
    this.lastPos = this.pos;
    // Lanes in the order of the arena's input: move_x, move_y, aim, buttons.
    this.inputs.push([mx, my, 0, 0], this.replica.tick);
    this.conn.send(encodeClient(this.inputs.frame(), this.replica.schema));
  }

  close() {
    this.conn.stop();
  }
}

/** A crowd of bots ticking together at `tickRate`. */
export class Crowd {
  static async join(url, count, tickRate = 30) {
    const crowd = new Crowd();
    crowd.bots = [];
    for (let i = 0; i < count; i++) crowd.bots.push(new Bot(url, `bot-${i + 1}`));
    await Promise.all(crowd.bots.map((b) => b.joined));
    crowd.timer = setInterval(() => crowd.bots.forEach((b) => b.tick()), 1000 / tickRate);
    return crowd;
  }

  /** Sends every bot to a random spot in the rectangle centred on (x, y). */
  gatherAround(x, y, halfWidth, halfHeight) {
    for (const b of this.bots) {
      b.area = [x, y, halfWidth, halfHeight];
      b.pickTarget();
    }
  }

  /** Keeps every bot moving around where it stands now, within `radius` (a new spot every second). */
  mill(radius) {
    clearInterval(this.millTimer);
    const anchors = this.bots.map((b) => b.pos);
    for (const b of this.bots) b.area = null;
    const pick = () => {
      this.bots.forEach((b, i) => {
        const [x, y] = anchors[i];
        b.target = [x + (Math.random() * 2 - 1) * radius, y + (Math.random() * 2 - 1) * radius];
      });
    };
    pick();
    this.millTimer = setInterval(pick, 1000);
  }

  close() {
    clearInterval(this.timer);
    clearInterval(this.millTimer);
    for (const b of this.bots) b.close();
  }
}
