// Output presets. The output's size never changes while live: platforms restart their
// transcoders (or end the video) when it does, so bitrate is what adapts, never resolution.

export const PRESETS = [
  { id: '720p30', name: '720p30', width: 1280, height: 720, fps: 30, bitrateKbps: 2500 },
  { id: '1080p30', name: '1080p30', width: 1920, height: 1080, fps: 30, bitrateKbps: 4500 },
  { id: '480p30', name: '480p30', width: 854, height: 480, fps: 30, bitrateKbps: 1200 },
  { id: 'vertical', name: 'Vertical 720x1280', width: 720, height: 1280, fps: 30, bitrateKbps: 2500 },
];

export const MIN_BITRATE_KBPS = 300;
export const MAX_BITRATE_KBPS = 12000;

export function preset(id) {
  return PRESETS.find((p) => p.id === id) ?? PRESETS[0];
}

/** A bitrate field's value within what the platforms accept. */
export function clampBitrate(kbps) {
  const n = Math.round(Number(kbps));
  if (!Number.isFinite(n)) return PRESETS[0].bitrateKbps;
  return Math.min(MAX_BITRATE_KBPS, Math.max(MIN_BITRATE_KBPS, n));
}
