// The client's copy of the room, built from `Welcome` and `Snapshot` messages exactly like
// shared/src/replica.rs: the entity table (quantized states as sent), the player list, and the
// checksum that proves the table matches the server's.

import { FIELDS } from './codec.js';

export class ReplicaError extends Error {
  constructor(message) {
    super(message);
    this.name = 'ReplicaError';
  }
}

/** FNV-1a 32-bit over the entity table in ascending id order (docs/PROTOCOL.md, Checksum). */
export function checksum(entities) {
  let h = 0x811c9dc5;
  const byte = (b) => {
    h = Math.imul(h ^ (b & 0xff), 0x01000193) >>> 0;
  };
  const u32 = (v) => {
    byte(v);
    byte(v >>> 8);
    byte(v >>> 16);
    byte(v >>> 24);
  };
  const ids = [...entities.keys()].sort((a, b) => a - b);
  for (const id of ids) {
    const e = entities.get(id);
    u32(id);
    if (e.type === 'Player') {
      byte(0);
      u32(e.player);
      u32(e.state.x);
      u32(e.state.y);
      byte(e.state.aim);
      byte(e.state.health);
      byte(e.state.status);
    } else {
      byte(1);
      u32(e.owner);
      u32(e.origin_x);
      u32(e.origin_y);
      byte(e.heading);
      byte(e.heading >>> 8);
      u32(e.spawn_tick);
    }
  }
  return h >>> 0;
}

export class Replica {
  constructor(welcome) {
    this.playerId = welcome.player_id;
    this.entityId = welcome.entity_id;
    this.tick = welcome.tick;
    this.ackInputSeq = 0;
    this.rules = welcome.rules;
    this.arena = welcome.arena;
    this.viewRadius = welcome.view_radius;
    /** id → `{type:'Player', player, state}` or `{type:'Projectile', owner, origin_x, ...}` */
    this.entities = new Map();
    /** player id → `{id, name, score, deaths}` */
    this.players = new Map(welcome.players.map((p) => [p.id, { ...p }]));
    this.snapshotsApplied = 0;
  }

  /** Applies a snapshot (removed, created, updated, events); throws ReplicaError on a mismatch. */
  apply(snap) {
    if (this.snapshotsApplied > 0 && snap.tick <= this.tick) {
      throw new ReplicaError(`snapshot for tick ${snap.tick} after tick ${this.tick}`);
    }
    for (const id of snap.removed) {
      if (!this.entities.delete(id)) throw new ReplicaError(`entity ${id} is unknown`);
    }
    for (const c of snap.created) {
      if (this.entities.has(c.id)) throw new ReplicaError(`entity ${c.id} created twice`);
      const k = c.kind;
      this.entities.set(c.id, k.type === 'Player' ? { type: 'Player', player: k.player, state: { ...k.state } } : { ...k });
    }
    for (const u of snap.updated) {
      const e = this.entities.get(u.id);
      if (!e) throw new ReplicaError(`entity ${u.id} is unknown`);
      if (e.type !== 'Player') throw new ReplicaError(`entity ${u.id} cannot be updated`);
      const s = e.state;
      if (u.mask & FIELDS.POS) {
        s.x = (s.x + u.dx) | 0;
        s.y = (s.y + u.dy) | 0;
      }
      if (u.mask & FIELDS.AIM) s.aim = u.aim;
      if (u.mask & FIELDS.HEALTH) s.health = u.health;
      if (u.mask & FIELDS.STATUS) s.status = u.status;
    }
    for (const e of snap.events) this.applyEvent(e);
    this.tick = snap.tick;
    this.ackInputSeq = snap.ack_input_seq;
    this.snapshotsApplied++;
    if (snap.checksum !== null) {
      const mine = checksum(this.entities);
      if (mine !== snap.checksum) {
        throw new ReplicaError(`checksum mismatch at tick ${snap.tick}: server ${snap.checksum}, replica ${mine}`);
      }
    }
  }

  applyEvent(e) {
    switch (e.type) {
      case 'Join':
        this.players.set(e.player, { id: e.player, name: e.name, score: 0, deaths: 0 });
        break;
      case 'Leave':
        this.players.delete(e.player);
        break;
      case 'Kill': {
        const k = this.players.get(e.killer);
        if (k) k.score++;
        const v = this.players.get(e.victim);
        if (v) v.deaths++;
        break;
      }
    }
  }

  /** The local player's body state, if in the table. */
  localState() {
    return this.entities.get(this.entityId)?.state ?? null;
  }

  /** Display name of a player. */
  nameOf(id) {
    return this.players.get(id)?.name ?? `player-${id}`;
  }
}
