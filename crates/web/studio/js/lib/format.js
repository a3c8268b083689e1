// Numbers as a streamer reads them.

/** 1234567 → "1.23 Mb/s". */
export function bitrate(bps) {
  if (!Number.isFinite(bps) || bps <= 0) return '—';
  if (bps >= 1e6) return `${(bps / 1e6).toFixed(2)} Mb/s`;
  return `${Math.round(bps / 1e3)} kb/s`;
}

/** 3725 → "1:02:05"; 65 → "1:05". */
export function duration(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const hours = Math.floor(s / 3600);
  const minutes = Math.floor((s % 3600) / 60);
  const secs = String(s % 60).padStart(2, '0');
  return hours > 0 ? `${hours}:${String(minutes).padStart(2, '0')}:${secs}` : `${minutes}:${secs}`;
}

/** A countdown's remaining time: "4:59". */
export function countdown(ms) {
  return duration(Math.ceil(Math.max(0, ms) / 1000));
}
