// Checks before going live, each with what to do about it. `blocking` problems stop Go Live;
// warnings are shown and the streamer decides.

import { problem } from './destinations.js';

/**
 * @param {{hasCamera: boolean, hasScreen: boolean, hasMicrophone: boolean, h264: boolean,
 *   destinations: import('./destinations.js').Destination[], bitrateKbps: number,
 *   uplinkKbps: number|null, secure: boolean}} input
 * @returns {{ok: boolean, checks: {name: string, ok: boolean, blocking: boolean, text: string}[]}}
 */
export function preflight(input) {
  const checks = [];
  const add = (name, ok, blocking, text) => checks.push({ name, ok, blocking, text });
  add('Secure page', input.secure, true, input.secure
    ? 'The page may use your camera and microphone.'
    : 'Open the studio over HTTPS (or on localhost): browsers give cameras only to secure pages.');
  add('H.264', input.h264, true, input.h264
    ? 'This browser encodes H.264, which every platform takes as it is.'
    : 'This browser cannot send H.264. Use Chrome, Edge or Safari; in Firefox, enable the OpenH264 plug-in (about:addons → Plugins).');
  const picture = input.hasCamera || input.hasScreen;
  add('Picture', picture, false, picture
    ? 'A camera or screen is on.'
    : 'No camera or screen: viewers will see only the scene background and overlays.');
  add('Microphone', input.hasMicrophone, false, input.hasMicrophone
    ? 'A microphone is on.'
    : 'No microphone: the stream will be silent unless a shared screen has audio.');
  const enabled = input.destinations.filter((d) => d.enabled);
  add('Destinations', enabled.length > 0, true, enabled.length > 0
    ? `${enabled.length} destination${enabled.length === 1 ? '' : 's'} on.`
    : 'Add a destination (or turn one on) to go live.');
  for (const d of enabled) {
    const why = problem(d);
    if (why) add(d.label, false, true, why);
  }
  if (input.uplinkKbps !== null && input.uplinkKbps !== undefined) {
    // Video plus ~10 % for audio and packet overhead, with a third in hand.
    const needed = input.bitrateKbps * 1.1 * 1.33;
    const ok = input.uplinkKbps >= needed;
    add('Upload bandwidth', ok, false, ok
      ? `About ${Math.round(input.uplinkKbps / 100) / 10} Mb/s up: enough for ${input.bitrateKbps} kb/s.`
      : `Your connection reports about ${Math.round(input.uplinkKbps)} kb/s; ${input.bitrateKbps} kb/s may stutter. Lower the bitrate.`);
  }
  return { ok: checks.every((c) => c.ok || !c.blocking), checks };
}

/** Bytes sent by the upload probe: enough to time, small enough to take well under a second on a usable uplink. */
export const PROBE_BYTES = 1024 * 1024;

/**
 * Times an upload of PROBE_BYTES to this server (which reads and discards it), giving kb/s
 * from this browser to the server: the path the stream takes. Null when the probe fails.
 * @param {typeof fetch} [fetchImpl]
 */
export async function measureUplinkKbps(fetchImpl = fetch) {
  // Random bytes so that no proxy or compression shortens the upload.
  const body = new Uint8Array(PROBE_BYTES);
  for (let i = 0; i < body.length; i += 65536) crypto.getRandomValues(body.subarray(i, i + 65536));
  const started = performance.now();
  const response = await fetchImpl('/api/uplink-probe', {
    method: 'POST', body, credentials: 'same-origin', headers: { 'Content-Type': 'application/octet-stream' },
    // Slower than 1 MiB in 5 s is under 1.7 Mb/s: say so rather than wait.
    signal: AbortSignal.timeout(5000),
  }).catch((error) => {
    if (error.name === 'TimeoutError') return { ok: true, timedOut: true };
    throw error;
  });
  if (response.timedOut) return (PROBE_BYTES * 8) / 1000 / 5;
  if (!response.ok) return null;
  const seconds = Math.max(0.001, (performance.now() - started) / 1000);
  return (PROBE_BYTES * 8) / 1000 / seconds;
}
