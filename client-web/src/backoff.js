// Reconnection policy: how long to wait before the next attempt (exponential backoff with
// jitter, capped) and which closes are worth retrying at all. Pure functions, unit tested.

/** Close codes after which retrying without a change is pointless (docs/PROTOCOL.md). */
const NO_RETRY = new Set([4000, 4001, 4003, 4004, 4006]);

/**
 * Delay before reconnection attempt `attempt` (0 for the first retry): the ceiling doubles
 * from `baseMs` up to `capMs`, and the delay is drawn uniformly from the upper half of it
 * ("equal jitter"), so a server restart is not met by every client at the same instant.
 */
export function backoffDelay(attempt, { baseMs = 500, capMs = 10_000, random = Math.random } = {}) {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(attempt, 30));
  return ceiling / 2 + random() * (ceiling / 2);
}

/** Whether a connection closed with `code` should be retried automatically. */
export function shouldRetry(code) {
  return !NO_RETRY.has(code);
}

/** The words to show a player for a close code and the server's reason text. */
export function describeClose(code, reason) {
  const said = reason ? `: ${reason}` : '';
  switch (code) {
    case 1000:
      return 'Disconnected';
    case 1001:
      return `The server is shutting down${said}`;
    case 1006:
      return 'Lost the connection to the server';
    case 4000:
      return `This page and the server speak different protocol versions${said}. Reload the page.`;
    case 4001:
      return `The server refused the handshake${said}`;
    case 4002:
      return `Timed out${said}`;
    case 4003:
      return `The server is full${said}`;
    case 4004:
      return `Not authorized${said}`;
    case 4005:
      return `Kicked: the connection could not keep up${said}`;
    case 4006:
      return `This player was taken over by another tab or window${said}`;
    case 1008:
      return `Kicked for flooding${said}`;
    default:
      return `Connection closed (code ${code})${said}`;
  }
}
