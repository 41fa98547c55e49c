/**
 * tickwire browser SDK, protocol version 2: one decoder for any game.
 *
 * The server describes its game in `Welcome` (the schema: entity kinds and their fields, the
 * player record, the room fields, the input command, actions and events); every later message
 * is encoded field by field from that schema. So a page needs no generated code: connect, read
 * the Welcome, build a {@link Replica}, register callbacks by kind name, and feed it frames.
 *
 * ```js
 * import { Replica, encodeClient, PROTOCOL_VERSION, actionIndex } from './sdk/index.js';
 *
 * const ws = new WebSocket('ws://127.0.0.1:7000/ws');
 * ws.binaryType = 'arraybuffer';
 * let replica = null;
 * ws.onopen = () => ws.send(encodeClient({
 *   type: 'Hello', protocol_version: PROTOCOL_VERSION, name: 'ann',
 *   auth_token: null, resume_token: null,
 * }));
 * ws.onmessage = ({ data }) => {
 *   if (replica === null) {
 *     replica = Replica.fromWelcome(new Uint8Array(data));   // the first message
 *     const hull = replica.field('ship', 'hull');               // lane index by name
 *     replica.on('ship', {
 *       add: (id) => sprites.create(id, replica.value(id, 'x'), replica.value(id, 'y')),
 *       change: (id, ship, mask) => {                           // bit i: field i changed
 *         sprites.move(id, replica.value(id, 'x'), replica.value(id, 'y'));
 *         if (mask & (1 << hull)) sprites.flash(id, ship.lanes[hull]);
 *       },
 *       remove: (id) => sprites.destroy(id),
 *     });
 *     replica.onPlayer({ join: (id, p) => board.add(id, p.name), leave: (id) => board.remove(id) });
 *     replica.onEvent('chat', ({ player, text }) => chat.show(player, text));
 *     return;
 *   }
 *   replica.receive(new Uint8Array(data));   // decode; apply snapshots; callbacks fire
 * };
 * // Sending: lanes in the order of schema.input, values in the order of the action's fields.
 * ws.send(encodeClient({ type: 'Input', cmds: [{ seq: 1, view_tick: replica.tick,
 *   lanes: [127, 0, 16384, 1] }] }, replica.schema));
 * ws.send(encodeClient({ type: 'Action', seq: 1, kind: actionIndex(replica.schema, 'buy'),
 *   values: [700, 'rush'] }, replica.schema));
 * ```
 *
 * Values are held as quantized integer lanes, exactly what the server holds, so checksums
 * compare to the bit: `replica.value(id, name)` (or `dequantize(field.ty, lane)`) gives the
 * game's value (Fixed → lane / scale, Angle8 / Angle16 → radians, Bool → boolean), and
 * `quantize(field.ty, value)` the lane for an input. Everything a hostile or buggy server could
 * send throws: a `WireError` from decoding, a `ReplicaError` (e.g. `code: 'ChecksumMismatch'`)
 * from applying; after either, drop the connection and reconnect for a fresh replica.
 *
 * Modules: `wire.js` (varints, zigzag, lanes, FNV-1a), `schema.js` (the schema's bytes, rules,
 * names and quantization), `codec.js` (every message), `replica.js` (the replica). Rust
 * counterparts: shared/src/sync/{wire,mod,replica}.rs and shared/src/schema.rs.
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
} from './codec.js';
export { Replica, ReplicaError, checksum } from './replica.js';
export {
  ENGINE_EVENTS,
  INTERP_NAMES,
  MAX_FIELDS,
  actionIndex,
  decodeSchema,
  dequantize,
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
