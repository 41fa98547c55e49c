// Drawing the world on a 2D canvas: arena, obstacles, projectiles, tracers, player bodies with
// their facing, health bars and names; the camera follows the local player. Reads game state,
// never changes it.

const OWN_COLOR = '#3ee6ff';
const GRID = 100;

/** A stable colour for another player. */
export function playerColor(id) {
  const hue = (id * 137.508) % 360;
  return `hsl(${hue.toFixed(0)}, 70%, 62%)`;
}

export class Renderer {
  constructor(canvas) {
    this.canvas = canvas;
    this.ctx = canvas.getContext('2d', { alpha: false });
    this.width = 0;
    this.height = 0;
    this.dpr = 1;
  }

  resize() {
    const dpr = window.devicePixelRatio || 1;
    const w = this.canvas.clientWidth;
    const h = this.canvas.clientHeight;
    if (w !== this.width || h !== this.height || dpr !== this.dpr) {
      this.width = w;
      this.height = h;
      this.dpr = dpr;
      this.canvas.width = Math.round(w * dpr);
      this.canvas.height = Math.round(h * dpr);
    }
  }

  /** Screen position of a world point, given the camera centre. */
  toScreen(cam, x, y) {
    return [x - cam.x + this.width / 2, y - cam.y + this.height / 2];
  }

  /** World position of a screen point. */
  toWorld(cam, sx, sy) {
    return [sx + cam.x - this.width / 2, sy + cam.y - this.height / 2];
  }

  /** The background shown before the first Welcome (behind the join form and status). */
  drawIdle() {
    this.resize();
    const ctx = this.ctx;
    ctx.setTransform(this.dpr, 0, 0, this.dpr, 0, 0);
    ctx.fillStyle = '#0b0e14';
    ctx.fillRect(0, 0, this.width, this.height);
    ctx.strokeStyle = '#161c27';
    ctx.lineWidth = 1;
    ctx.beginPath();
    for (let x = 0; x <= this.width; x += GRID) {
      ctx.moveTo(x + 0.5, 0);
      ctx.lineTo(x + 0.5, this.height);
    }
    for (let y = 0; y <= this.height; y += GRID) {
      ctx.moveTo(0, y + 0.5);
      ctx.lineTo(this.width, y + 0.5);
    }
    ctx.stroke();
  }

  /**
   * @param {object} scene
   * @param {{x:number,y:number}} scene.camera
   * @param {object} scene.arena
   * @param {number} scene.viewRadius
   * @param {{x,y,aim,alive,health,name,own,id}[]} scene.players
   * @param {{x,y,own}[]} scene.projectiles
   * @param {{x1,y1,x2,y2,age,own}[]} scene.tracers
   * @param {number} scene.maxHealth
   */
  draw(scene) {
    this.resize();
    const ctx = this.ctx;
    const cam = scene.camera;
    ctx.setTransform(this.dpr, 0, 0, this.dpr, 0, 0);
    ctx.fillStyle = '#0b0e14';
    ctx.fillRect(0, 0, this.width, this.height);
    ctx.translate(Math.round(this.width / 2 - cam.x), Math.round(this.height / 2 - cam.y));

    const a = scene.arena;
    ctx.fillStyle = '#141a24';
    ctx.fillRect(0, 0, a.width, a.height);
    // Grid, only the visible part.
    const x0 = Math.max(0, Math.floor((cam.x - this.width / 2) / GRID) * GRID);
    const x1 = Math.min(a.width, cam.x + this.width / 2);
    const y0 = Math.max(0, Math.floor((cam.y - this.height / 2) / GRID) * GRID);
    const y1 = Math.min(a.height, cam.y + this.height / 2);
    ctx.strokeStyle = '#1d2533';
    ctx.lineWidth = 1;
    ctx.beginPath();
    for (let x = x0; x <= x1; x += GRID) {
      ctx.moveTo(x + 0.5, Math.max(0, y0));
      ctx.lineTo(x + 0.5, y1);
    }
    for (let y = y0; y <= y1; y += GRID) {
      ctx.moveTo(Math.max(0, x0), y + 0.5);
      ctx.lineTo(x1, y + 0.5);
    }
    ctx.stroke();
    ctx.strokeStyle = '#3a4760';
    ctx.lineWidth = 3;
    ctx.strokeRect(-1.5, -1.5, a.width + 3, a.height + 3);

    // The edge of what the server sends us.
    if (scene.viewRadius) {
      ctx.strokeStyle = 'rgba(62, 230, 255, 0.08)';
      ctx.lineWidth = 2;
      ctx.beginPath();
      ctx.arc(cam.x, cam.y, scene.viewRadius, 0, Math.PI * 2);
      ctx.stroke();
    }

    ctx.fillStyle = '#2b3447';
    ctx.strokeStyle = '#46536e';
    ctx.lineWidth = 2;
    for (const o of a.obstacles) {
      ctx.fillRect(o.min_x, o.min_y, o.max_x - o.min_x, o.max_y - o.min_y);
      ctx.strokeRect(o.min_x + 1, o.min_y + 1, o.max_x - o.min_x - 2, o.max_y - o.min_y - 2);
    }

    for (const t of scene.tracers) {
      const alpha = Math.max(0, 1 - t.age);
      ctx.strokeStyle = t.own ? `rgba(62, 230, 255, ${alpha})` : `rgba(255, 210, 90, ${alpha})`;
      ctx.lineWidth = 2;
      ctx.beginPath();
      ctx.moveTo(t.x1, t.y1);
      ctx.lineTo(t.x2, t.y2);
      ctx.stroke();
    }

    // Projectiles in two batches: the local player's in its colour, everyone else's in amber.
    for (const own of [false, true]) {
      ctx.fillStyle = own ? OWN_COLOR : '#ffd25a';
      ctx.beginPath();
      for (const p of scene.projectiles) {
        if (p.own !== own) continue;
        ctx.moveTo(p.x + 4, p.y);
        ctx.arc(p.x, p.y, 4, 0, Math.PI * 2);
      }
      ctx.fill();
    }

    const r = scene.playerRadius;
    for (const p of scene.players) {
      if (!p.alive) continue;
      const color = p.own ? OWN_COLOR : playerColor(p.player);
      ctx.fillStyle = color;
      ctx.beginPath();
      ctx.arc(p.x, p.y, r, 0, Math.PI * 2);
      ctx.fill();
      ctx.lineWidth = p.own ? 3 : 2;
      ctx.strokeStyle = p.own ? '#ffffff' : 'rgba(0,0,0,0.5)';
      ctx.stroke();
      // Facing.
      ctx.strokeStyle = p.own ? '#ffffff' : '#0b0e14';
      ctx.lineWidth = 3;
      ctx.beginPath();
      ctx.moveTo(p.x, p.y);
      ctx.lineTo(p.x + Math.cos(p.aim) * (r + 8), p.y + Math.sin(p.aim) * (r + 8));
      ctx.stroke();
      // Health bar.
      const frac = Math.max(0, Math.min(1, p.health / scene.maxHealth));
      ctx.fillStyle = 'rgba(0,0,0,0.6)';
      ctx.fillRect(p.x - 20, p.y - r - 12, 40, 5);
      ctx.fillStyle = frac > 0.5 ? '#5ee07a' : frac > 0.25 ? '#ffd25a' : '#ff5a5a';
      ctx.fillRect(p.x - 20, p.y - r - 12, 40 * frac, 5);
    }
    ctx.font = '12px system-ui, sans-serif';
    ctx.textAlign = 'center';
    ctx.textBaseline = 'bottom';
    for (const p of scene.players) {
      if (!p.alive) continue;
      ctx.fillStyle = p.own ? '#ffffff' : '#c9d3e6';
      ctx.fillText(p.name, p.x, p.y - r - 15);
    }

    // Crosshair at the mouse.
    if (scene.aim) {
      const [mx, my] = [scene.aim.x, scene.aim.y];
      ctx.strokeStyle = 'rgba(255,255,255,0.7)';
      ctx.lineWidth = 1.5;
      ctx.beginPath();
      ctx.arc(mx, my, 8, 0, Math.PI * 2);
      ctx.moveTo(mx - 12, my);
      ctx.lineTo(mx - 4, my);
      ctx.moveTo(mx + 4, my);
      ctx.lineTo(mx + 12, my);
      ctx.moveTo(mx, my - 12);
      ctx.lineTo(mx, my - 4);
      ctx.moveTo(mx, my + 4);
      ctx.lineTo(mx, my + 12);
      ctx.stroke();
    }
  }
}
