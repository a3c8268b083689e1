// Reconnection delays: 1 s doubling to 30 s, with ±20 % jitter so that many studios cut off
// by one network event do not all come back in the same second.

export const FIRST_DELAY_MS = 1000;
export const MAX_DELAY_MS = 30000;

/**
 * The delay before attempt `attempt` (0-based).
 * @param {number} attempt
 * @param {() => number} [random] in [0, 1)
 */
export function backoffDelay(attempt, random = Math.random) {
  const base = Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** Math.max(0, attempt));
  const jitter = 1 + (random() * 0.4 - 0.2);
  return Math.round(Math.min(MAX_DELAY_MS, base * jitter));
}
