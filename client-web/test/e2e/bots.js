// Lightweight simulated players for load tests: WebSocket connections from Node that join, keep
// track of their own body with the JS codec, and walk towards a target spot (with a sidestep
// when an obstacle stops them). They never shoot.

import WebSocket from 'ws';
import { decodeServer, encodeClient, PROTOCOL_VERSION } from '../../src/codec.js';
import { POS_SCALE } from '../../src/rules.js';

class Bot {
  constructor(url, name) {
    this.ws = new WebSocket(url);
    this.ws.binaryType = 'nodebuffer';
    this.name = name;
    this.seq = 0;
    this.entityId = null;
    this.pos = null;
    this.target = null;
    this.stuck = 0;
    this.sidestep = 0;
    this.lastPos = null;
    this.joined = new Promise((resolve, reject) => {
      this.ws.on('open', () => this.send({ type: 'Hello', protocol_version: PROTOCOL_VERSION, name, auth_token: null, resume_token: null }));
      this.ws.on('error', reject);
      this.ws.on('message', (data) => {
        const msg = decodeServer(new Uint8Array(data));
        if (msg.type === 'Welcome') {
          this.entityId = msg.entity_id;
          resolve();
        } else if (msg.type === 'Snapshot') {
          for (const c of msg.created) {
            if (c.id === this.entityId) this.state = { ...c.kind.state };
          }
          for (const u of msg.updated) {
            if (u.id === this.entityId && u.mask & 1) {
              this.state.x += u.dx;
              this.state.y += u.dy;
            }
          }
          if (this.state) this.pos = [this.state.x / POS_SCALE, this.state.y / POS_SCALE];
        }
      });
    });
  }

  /** A random spot in the area `[x, y, halfWidth, halfHeight]` this bot is gathering in. */
  pickTarget() {
    const [x, y, hw, hh] = this.area;
    this.target = [x + (Math.random() * 2 - 1) * hw, y + (Math.random() * 2 - 1) * hh];
    this.walking = 0;
  }

  send(msg) {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(encodeClient(msg));
  }

  /** One tick: walk towards the target (or stand still when there). */
  tick() {
    if (!this.pos || !this.target) return;
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
    this.seq++;
    this.send({ type: 'Input', cmds: [{ seq: this.seq, move_x: mx, move_y: my, aim: 0, buttons: 0, view_tick: 0 }] });
  }

  close() {
    this.ws.terminate();
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
