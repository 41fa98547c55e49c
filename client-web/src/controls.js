// Controls, keyboard and mouse: WASD (or arrows) to move, the mouse to aim, left button to fire a
// projectile, right button for the hitscan weapon. Turns what is held into the movement intent
// and button bits of the next InputCmd. Ignores keys while the player types in a text field.

import { BUTTONS } from './arena.js';

const KEYS = {
  KeyW: 'up', ArrowUp: 'up', KeyS: 'down', ArrowDown: 'down',
  KeyA: 'left', ArrowLeft: 'left', KeyD: 'right', ArrowRight: 'right',
};

export class InputState {
  constructor(target) {
    this.held = new Set();
    this.buttons = 0;
    /** Buttons pressed since the last command (so a click shorter than a tick still fires). */
    this.clicked = 0;
    this.mouseX = 0;
    this.mouseY = 0;
    this.hasMouse = false;
    const typing = (ev) => ev.target instanceof HTMLInputElement || ev.target instanceof HTMLTextAreaElement;
    window.addEventListener('keydown', (ev) => {
      if (typing(ev)) return;
      const dir = KEYS[ev.code];
      if (dir) {
        this.held.add(dir);
        ev.preventDefault();
      }
    });
    window.addEventListener('keyup', (ev) => {
      const dir = KEYS[ev.code];
      if (dir) this.held.delete(dir);
    });
    window.addEventListener('blur', () => {
      this.held.clear();
      this.buttons = 0;
    });
    target.addEventListener('mousemove', (ev) => {
      this.mouseX = ev.offsetX;
      this.mouseY = ev.offsetY;
      this.hasMouse = true;
    });
    target.addEventListener('mousedown', (ev) => {
      const bit = ev.button === 0 ? BUTTONS.FIRE : ev.button === 2 ? BUTTONS.ALT_FIRE : 0;
      this.buttons |= bit;
      this.clicked |= bit;
      this.mouseX = ev.offsetX;
      this.mouseY = ev.offsetY;
      this.hasMouse = true;
      ev.preventDefault();
    });
    window.addEventListener('mouseup', (ev) => {
      const bit = ev.button === 0 ? BUTTONS.FIRE : ev.button === 2 ? BUTTONS.ALT_FIRE : 0;
      this.buttons &= ~bit;
    });
    target.addEventListener('contextmenu', (ev) => ev.preventDefault());
  }

  /** Movement intent as `[move_x, move_y]`, each -127..127. */
  movement() {
    const x = (this.held.has('right') ? 1 : 0) - (this.held.has('left') ? 1 : 0);
    const y = (this.held.has('down') ? 1 : 0) - (this.held.has('up') ? 1 : 0);
    return [x * 127, y * 127];
  }

  /** Button bits for the next command: held buttons plus any click since the last one. */
  takeButtons() {
    const b = this.buttons | this.clicked;
    this.clicked = 0;
    return b;
  }
}
