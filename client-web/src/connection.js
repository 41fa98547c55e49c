// The WebSocket life cycle: connect, say Hello, hand decoded messages to the game, and on a
// dropped connection do what the shared close-code table says (close.js): reconnect with
// backoff (backoff.js) and resume, retry after the long delay, or stop and show why. Exposes
// its state ('connecting' | 'connected' | 'reconnecting' | 'closed') and the reason of the
// last close, so the page can always tell the player what is going on.

import { decodeServer, encodeClient, PROTOCOL_VERSION } from './codec.js';
import { backoffDelay, longestDelay } from './backoff.js';
import { describeClose, retryPolicy } from './close.js';

export class Connection {
  /**
   * @param {object} opts
   * @param {string} opts.url WebSocket URL (ws://host/ws)
   * @param {string} opts.name player name sent in Hello
   * @param {number} [opts.protocolVersion] for testing the version-mismatch path
   * @param {(state: string, detail: string) => void} opts.onState
   * @param {(msg: object) => void} opts.onMessage
   */
  constructor({ url, name, protocolVersion = PROTOCOL_VERSION, onState, onMessage }) {
    this.url = url;
    this.name = name;
    this.protocolVersion = protocolVersion;
    this.onState = onState;
    this.onMessage = onMessage;
    this.state = 'idle';
    this.detail = '';
    this.attempt = 0;
    this.ws = null;
    this.retryTimer = null;
    this.resumeToken = null;
    this.bytesIn = 0;
    this.bytesOut = 0;
    this.everConnected = false;
    this.lastClose = null;
    this.stopped = false;
  }

  setState(state, detail = '') {
    this.state = state;
    this.detail = detail;
    this.onState(state, detail);
  }

  start() {
    this.stopped = false;
    this.open();
  }

  open() {
    clearTimeout(this.retryTimer);
    this.setState(this.everConnected ? 'reconnecting' : 'connecting', this.detail);
    let ws;
    try {
      ws = new WebSocket(this.url);
    } catch (e) {
      this.scheduleRetry(1006, String(e));
      return;
    }
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    ws.onopen = () => {
      this.send({
        type: 'Hello',
        protocol_version: this.protocolVersion,
        name: this.name,
        auth_token: null,
        resume_token: this.resumeToken || null,
      });
    };
    ws.onmessage = (ev) => {
      if (!(ev.data instanceof ArrayBuffer)) return;
      this.bytesIn += ev.data.byteLength;
      let msg;
      try {
        msg = decodeServer(new Uint8Array(ev.data));
      } catch (e) {
        console.warn('undecodable server message', e);
        // Our own decision, whatever code the close gets: drop this socket and reconnect for
        // a fresh state.
        this.ws = null;
        ws.close(1000);
        this.scheduleRetry(1000, 'this page could not decode a server message', 'reconnect');
        return;
      }
      if (msg.type === 'Welcome') {
        this.attempt = 0;
        this.everConnected = true;
        this.resumeToken = msg.resume_token || null;
        this.setState('connected');
      }
      this.onMessage(msg);
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.lastClose = { code: ev.code, reason: ev.reason };
      if (this.stopped) return;
      this.scheduleRetry(ev.code, ev.reason);
    };
  }

  /** After a close with `code`: retry as `policy` says ('reconnect' | 'later' | 'never'). */
  scheduleRetry(code, reason, policy = retryPolicy(code)) {
    const text = describeClose(code, reason);
    if (policy === 'never') {
      this.setState('closed', text);
      return;
    }
    const delay = policy === 'later' ? longestDelay() : backoffDelay(this.attempt++);
    this.retryAt = performance.now() + delay;
    this.setState('reconnecting', `${text} — retrying in ${(delay / 1000).toFixed(1)} s`);
    this.everConnected = true;
    this.retryTimer = setTimeout(() => this.open(), delay);
  }

  /** Retry now (the player pressed the button), resetting the backoff. */
  retryNow() {
    this.attempt = 0;
    this.stopped = false;
    if (this.ws) this.ws.close(1000);
    this.ws = null;
    this.open();
  }

  send(msg) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    const bytes = encodeClient(msg);
    this.bytesOut += bytes.length;
    this.ws.send(bytes);
    return true;
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    if (this.ws) this.ws.close(1000);
  }
}
