// Audio level meters: the peak of each block, held and decaying at a steady rate, as on a
// mixing desk. Pure: the mixer feeds samples, the view shows the result.

/** How fast a displayed peak falls, in dB per second. */
export const DECAY_DB_PER_SECOND = 24;
/** The bottom of the scale. */
export const FLOOR_DB = -60;

/** The peak of a block of samples in dBFS (FLOOR_DB for silence). */
export function peakDb(samples) {
  let peak = 0;
  for (let i = 0; i < samples.length; i += 1) {
    const v = Math.abs(samples[i]);
    if (v > peak) peak = v;
  }
  return peak > 0 ? Math.max(FLOOR_DB, 20 * Math.log10(peak)) : FLOOR_DB;
}

/**
 * The level to show now: the new peak if louder, otherwise the previous one lowered by the
 * decay over `elapsedMs`.
 */
export function decayed(previousDb, currentDb, elapsedMs) {
  const fallen = previousDb - (DECAY_DB_PER_SECOND * elapsedMs) / 1000;
  return Math.max(currentDb, fallen, FLOOR_DB);
}
