/**
 * tickwire browser SDK, protocol version 5: one module for any game on the engine.
 *
 * The server describes its game in `Welcome` (the schema: entity kinds and their fields, the
 * player record, the room fields, the input command, actions and events); every later message
 * is encoded field by field from that schema. So a page needs no generated code. A page
 * imports this module and writes only its rendering and its input:
 *
 * ```js
 * import { GameClient, quantize } from './sdk/index.js';
 *
 * const client = new GameClient({
 *   url: 'ws://127.0.0.1:7000/ws', name: 'ann',
 *   // The game's deterministic step for one command, on the lanes of an entity the player
 *   // owns (only the fields marked `predict` are taken from it). Optional.
 *   step: (lanes, cmd, { config }) => { lanes[1] += cmd.lanes[0] * 8; },
 *   // The next command's lanes, in the order of schema.input, asked once per server tick.
 *   input: (c) => [keys.dx, keys.dy, quantize(c.replica.schema.input[2].ty, aim), buttons],
 *   onState: (state, detail) => banner.show(state, detail),   // connecting, reconnecting…
 * });
 * client.on('ship', {                                          // per entity kind
 *   add: (id, ship) => sprites.create(id),
 *   change: (id, ship, mask) => {},                            // bit i: field i changed
 *   remove: (id) => sprites.destroy(id),
 * });
 * client.onPlayer({ join: (id, p) => board.add(id, p.name), leave: (id) => board.remove(id) });
 * client.onEvent('chat', ({ player, text }) => chat.show(player, text));
 * client.start();                                  // connects; reconnects and resumes itself
 *
 * requestAnimationFrame(function draw() {
 *   client.frame();                                // render clock, corrections
 *   for (const v of client.views('ship')) sprite(v.id).at(v.value('x'), v.value('y'));
 *   requestAnimationFrame(draw);
 * });
 * client.chat('gg');
 * client.action('buy', [700, 'rush']);             // reliable; refusals come as `rejected`
 * ```
 *
 * `views(kind)` gives each entity as it should be drawn now: predicted (owned, with `predict`
 * fields), interpolated at the render tick (fields marked `interpolate`, never blended across a
 * `discontinuity` change), or as held. `client.replica` holds the exact lanes: the player
 * records (the scoreboard), the room fields, `value` / `playerValue` / `roomValue` by name.
 * Bad bytes from the server or a checksum mismatch close the socket with the reason and
 * reconnect for a fresh replica; nothing throws out of the socket handler. After any
 * reconnection a new Welcome starts a fresh replica: what the old one held is reported through
 * `remove(id, entity, {reset: true})` and `leave(id, {reset: true})`, then the first snapshot
 * `add`s everything in view again; input numbering starts over at 1.
 *
 * A node of a cluster may send the client to another (a `Redirect` before the Welcome): it
 * follows at once with the same Hello, keeping its URL's other query parameters.
 *
 * Against a server with `--webtransport` the client plays over WebTransport when the browser
 * has it (snapshots as datagrams against the ticks it acknowledged, events apart), and falls
 * back to the WebSocket when the session and its Welcome are not up within 2 s;
 * `client.transport` says which (`'webtransport'` | `'websocket'`); `transport: 'websocket'`
 * keeps to the WebSocket. See client-web/README.md, "WebTransport".
 *
 * `mirror: true` has a WebSocket session take its room's messages over a second WebSocket too
 * (docs/PROTOCOL.md, "Mirrored streams"): each message is taken from whichever socket brings it
 * first, so a TCP stall of one is covered by the other; `client.mirror` says what the mirror did.
 * Over WebTransport it does nothing.
 *
 * The parts, usable alone: `connection.js` (WebSocket and WebTransport life cycle, Hello,
 * backoff, redirects, close-code policy in `close.js` / `backoff.js`), `acked.js` (messages 5
 * against acknowledged bases, the datagram envelope, the stream's frames), `mirror.js` (numbered
 * messages and the merge of two streams), `clock.js` (clock sync), `inputs.js` (input history and
 * redundant frames), `interpolate.js`, `predict.js`, `replica.js` (the replica: per-kind
 * callbacks, checksum), `codec.js` (every message), `schema.js` (the schema's bytes, rules,
 * names and quantization), `wire.js` (varints, zigzag, lanes, FNV-1a). Rust counterparts:
 * shared/src/sync/{wire,mod,replica,interpolate,predict,acked,mirror}.rs, shared/src/schema.rs,
 * shared/src/clock.rs, shared/src/close.rs.
 *
 * @module tickwire-sdk
 */

export {
  MAX_CHAT_CHARS,
  MAX_MESSAGE_BYTES,
  MAX_NAME_CHARS,
  PROTOCOL_VERSION,
  SECTIONS,
  decodeClient,
  decodeServer,
  encodeClient,
  encodeServer,
  viewAfter,
} from './codec.js';
export { BitReader, BitWriter, codeOf } from './bits.js';
export { Replica, ReplicaError, checksum } from './replica.js';
export {
  ENGINE_EVENTS,
  INTERP_NAMES,
  MAX_FIELDS,
  actionIndex,
  decodeSchema,
  dequantize,
  dequantizeCode,
  encodeSchema,
  eventIndex,
  kindIndex,
  quantize,
  schemaHash,
  typeArg,
  typeCode,
  validateSchema,
} from './schema.js';
export { Fnv1a, RANGES, Reader, T, TYPE_NAMES, WireError, Writer, fnv1a, maskBits, maskOf } from './wire.js';
export { GameClient, clientConfig, ownedByFirstPlayerField } from './client.js';
export {
  Connection, MAX_REDIRECTS, WEBTRANSPORT_FALLBACK_MS, WebTransportSocket, closeReason, discoveryUrl, hasSeat,
  hexBytes, mirrorUrl, parseDiscovery, redirectUrl, webTransportUrl, withParam, withoutSeat,
} from './connection.js';
export { Merge, NUMBERED, unwrap, wrap } from './mirror.js';
export {
  Bases, FRAME_CLOSE, FRAME_MESSAGE, FrameReader, MAX_BACK, MAX_BASES, MAX_CLOSE_REASON, closeFrame,
  decodeDatagram, encodeDatagram, messageFrame, peekAcked, writeFrame,
} from './acked.js';
export { ClockSync, clockConfig, millis, percentile } from './clock.js';
export { InputHistory, inputConfig } from './inputs.js';
export { Interpolator, blend, interpolationConfig, turnOf } from './interpolate.js';
export { Predictor, predictionConfig } from './predict.js';
export { CLOSE_CODES, UNKNOWN_CODE_RETRY, closeInfo, describeClose, retryPolicy } from './close.js';
export { backoffDelay, longestDelay } from './backoff.js';
export { dequantizeFixedF32, quantizeAngle16, quantizeFixedF32, roundHalfAway } from './f32.js';
