// The scene and overlay settings and the logo, saved on the server for this user (they are
// not secrets, and a streamer expects them on any machine they log in from).

import { api, ApiError } from '../api.js';
import { normalizeScene } from './scene_settings.js';

const SAVE_AFTER_MS = 500;
export const LOGO_TYPES = ['image/png', 'image/jpeg', 'image/webp', 'image/gif'];
export const LOGO_MAX_BYTES = 512 * 1024;

export async function loadScene() {
  try {
    return normalizeScene(await api.studioSettings());
  } catch {
    return normalizeScene({});
  }
}

/** The saved logo as a Blob, or null. */
export async function loadLogo() {
  const response = await fetch(api.logoUrl, { credentials: 'same-origin' });
  if (!response.ok) return null;
  return response.blob();
}

/** What is wrong with a file picked as the logo, or null. */
export function logoProblem(file) {
  if (!LOGO_TYPES.includes(file.type)) return 'The logo must be a PNG, JPEG, WebP or GIF image.';
  if (file.size > LOGO_MAX_BYTES) return `The logo is ${Math.round(file.size / 1024)} KiB; the most is 512 KiB.`;
  return null;
}

/**
 * Debounced saving: the last change wins, one request at a time (so an older save can never
 * land after a newer one); `onSaved(error|null)` reports each save. `.flush()` sends a pending
 * change at once (leaving the page).
 */
export function sceneSaver(onSaved, save = (scene) => api.saveStudioSettings(scene)) {
  let timer = 0;
  let pending = null;
  let inFlight = null;
  const send = async () => {
    clearTimeout(timer);
    if (inFlight || pending === null) return;
    const scene = pending;
    pending = null;
    inFlight = (async () => {
      try {
        await save(scene);
        onSaved(null);
      } catch (error) {
        onSaved(error instanceof ApiError ? error : new ApiError(0, 'unreachable', String(error)));
      }
    })();
    await inFlight;
    inFlight = null;
    // A change made while that save was on its way goes next.
    if (pending !== null) await send();
  };
  const queue = (scene) => {
    pending = scene;
    clearTimeout(timer);
    timer = setTimeout(send, SAVE_AFTER_MS);
  };
  queue.flush = send;
  return queue;
}
