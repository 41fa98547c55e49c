// Reconnection schedule: how long to wait before the next attempt (exponential backoff with
// jitter, capped). Which closes are worth retrying at all is the shared table's call
// (close.js). Pure functions, unit tested.

/**
 * Delay before reconnection attempt `attempt` (0 for the first retry): the ceiling doubles
 * from `baseMs` up to `capMs`, and the delay is drawn uniformly from the upper half of it
 * ("equal jitter"), so a server restart is not met by every client at the same instant.
 */
export function backoffDelay(attempt, { baseMs = 500, capMs = 10_000, random = Math.random } = {}) {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(attempt, 30));
  return ceiling / 2 + random() * (ceiling / 2);
}

/** The longest delay (the jittered cap), for closes whose policy is 'later' (a full room). */
export function longestDelay({ capMs = 10_000, random = Math.random } = {}) {
  return capMs / 2 + random() * (capMs / 2);
}
