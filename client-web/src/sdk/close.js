// The close codes the server sends and what to do after each: the browser's copy of
// shared/src/close.rs, the one table every client follows. test/close.test.js requires this
// table to equal test/close_codes.json exactly, and the Rust test shared/tests/close_codes.rs
// writes that file from the Rust table, so neither side can change without the other.
//
// retry: 'reconnect' — transient (network loss, restart, stall): back off and reconnect,
//                      presenting the resume token;
//        'later'     — turned away for load (full): retry, but after the longest delay;
//        'never'     — retrying gets the same answer or does harm (4006: a newer connection
//                      owns the player now); show the reason and wait for the player.

/** Every close code, in the Rust table's order. */
export const CLOSE_CODES = Object.freeze([
  { code: 1000, name: 'Normal', reason: 'the connection was closed', retry: 'never' },
  { code: 1001, name: 'GoingAway', reason: 'the server is going away', retry: 'reconnect' },
  { code: 1002, name: 'ProtocolError', reason: 'malformed WebSocket framing', retry: 'never' },
  { code: 1003, name: 'UnsupportedData', reason: 'text frames are not supported', retry: 'never' },
  { code: 1006, name: 'Abnormal', reason: 'the connection was lost', retry: 'reconnect' },
  { code: 1007, name: 'InvalidPayload', reason: 'undecodable message', retry: 'never' },
  { code: 1008, name: 'PolicyViolation', reason: 'policy violation', retry: 'never' },
  { code: 1009, name: 'MessageTooBig', reason: 'message over the size limit', retry: 'never' },
  { code: 1011, name: 'InternalError', reason: 'the server hit an internal error', retry: 'reconnect' },
  { code: 4000, name: 'VersionMismatch', reason: 'protocol version not supported', retry: 'never' },
  { code: 4001, name: 'HelloExpected', reason: 'the first message must be Hello, and only once', retry: 'never' },
  { code: 4002, name: 'Timeout', reason: 'timed out', retry: 'reconnect' },
  { code: 4003, name: 'Full', reason: 'the room is full', retry: 'later' },
  { code: 4004, name: 'Unauthorized', reason: 'not authorised', retry: 'never' },
  { code: 4005, name: 'TooSlow', reason: 'could not keep up with the server', retry: 'reconnect' },
  { code: 4006, name: 'Replaced', reason: 'replaced by a newer connection', retry: 'never' },
  { code: 4007, name: 'Moved', reason: 'the room is on another node', retry: 'reconnect' },
  { code: 4008, name: 'SeatExpired', reason: 'the seat reservation has expired', retry: 'reconnect' },
].map((c) => Object.freeze(c)));

/** The policy for a code not in the table (a newer server, a proxy, 1005, 1015). */
export const UNKNOWN_CODE_RETRY = 'later';

const BY_CODE = new Map(CLOSE_CODES.map((c) => [c.code, c]));

/** The table's entry for `code`, or undefined. */
export function closeInfo(code) {
  return BY_CODE.get(code);
}

/** 'reconnect' | 'later' | 'never' after a close with `code`. */
export function retryPolicy(code) {
  return BY_CODE.get(code)?.retry ?? UNKNOWN_CODE_RETRY;
}

const capitalized = (s) => s.charAt(0).toUpperCase() + s.slice(1);

/** The words to show a player for a close code and the server's reason text. */
export function describeClose(code, reason) {
  const info = BY_CODE.get(code);
  // The server's text, unless it only repeats the table's.
  const said = reason && reason.toLowerCase() !== info?.reason ? `: ${reason}` : '';
  switch (code) {
    case 1006:
      return 'Lost the connection to the server';
    case 4000:
      return `This page and the server speak different protocol versions${said}. Reload the page.`;
    case 4006:
      return `This player was taken over by another tab or window${said}`;
    default:
      return info ? `${capitalized(info.reason)}${said}` : `Connection closed (code ${code})${said}`;
  }
}
