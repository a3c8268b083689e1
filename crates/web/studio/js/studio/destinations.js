// The streamer's destinations: what each card holds, how it becomes the API's destination, and
// the optional copy kept in this browser. Keys never go to the server except inside the
// request that starts a broadcast (or adds a destination to one).

import { platform } from './platforms.js';

const REMEMBER_KEY = 'streamhard.destinations.v1';
const REMEMBER_FLAG = 'streamhard.remember.v1';

/**
 * @typedef {object} Destination
 * @property {string} uid      this page's id for the card
 * @property {string} label    unique name, e.g. "Twitch 2"; also the API's `name`
 * @property {string} platform
 * @property {string} serverUrl
 * @property {string} key
 * @property {boolean} enabled
 */

/** The next free label for a platform: "Twitch", then "Twitch 2", "Twitch 3"… */
export function nextLabel(existing, platformId) {
  const base = platform(platformId).label;
  const taken = new Set(existing.map((d) => d.label));
  if (!taken.has(base)) return base;
  for (let n = 2; ; n += 1) {
    if (!taken.has(`${base} ${n}`)) return `${base} ${n}`;
  }
}

let counter = 0;
/** A new card for `platformId` among `existing`. */
export function newDestination(existing, platformId) {
  counter += 1;
  return {
    uid: `d${Date.now().toString(36)}${counter}`,
    label: nextLabel(existing, platformId),
    platform: platformId,
    serverUrl: platform(platformId).url,
    key: '',
    enabled: true,
  };
}

/**
 * The full RTMP URL: the server URL with the key as its last path segment. A key pasted with
 * a leading slash, or a server URL with a trailing one, still makes one separator.
 */
export function fullUrl(destination) {
  const server = destination.serverUrl.trim().replace(/\/+$/, '');
  const key = destination.key.trim().replace(/^\/+/, '');
  return key ? `${server}/${key}` : server;
}

/** What is wrong with a card, in words (its label is shown beside them); null when it can go live. */
export function problem(destination) {
  const server = destination.serverUrl.trim();
  if (!server) return 'Fill in the server URL.';
  let url;
  try {
    url = new URL(server);
  } catch {
    return 'The server URL is not a URL (it starts with rtmp:// or rtmps://).';
  }
  if (url.protocol !== 'rtmp:' && url.protocol !== 'rtmps:') {
    return 'The server URL must start with rtmp:// or rtmps://.';
  }
  if (!destination.key.trim()) return 'Fill in the stream key.';
  return null;
}

/** The body the API takes for one destination. */
export function toRequest(destination) {
  return { name: destination.label, url: fullUrl(destination) };
}

/** Whether the streamer asked this browser to remember destinations. */
export function rememberEnabled(storage = globalThis.localStorage) {
  return storage?.getItem(REMEMBER_FLAG) === '1';
}

/** Saves (or, when `remember` is off, erases) the cards in this browser's localStorage. */
export function persist(destinations, remember, storage = globalThis.localStorage) {
  if (!storage) return;
  if (!remember) {
    storage.removeItem(REMEMBER_KEY);
    storage.removeItem(REMEMBER_FLAG);
    return;
  }
  storage.setItem(REMEMBER_FLAG, '1');
  const kept = destinations.map(({ label, platform: p, serverUrl, key, enabled }) =>
    ({ label, platform: p, serverUrl, key, enabled }));
  storage.setItem(REMEMBER_KEY, JSON.stringify(kept));
}

/**
 * The cards of this page's life: going to History and back keeps what was typed, even when it
 * is not remembered on the device. Gone on reload.
 */
let inMemory = null;

export function keepInMemory(destinations) {
  inMemory = destinations;
}

/** The cards of this page's life, else those remembered in this browser. */
export function initialDestinations(storage = globalThis.localStorage) {
  return inMemory ?? restore(storage);
}

/** The cards remembered in this browser ([] when none or unreadable). */
export function restore(storage = globalThis.localStorage) {
  if (!storage || !rememberEnabled(storage)) return [];
  try {
    const saved = JSON.parse(storage.getItem(REMEMBER_KEY) || '[]');
    if (!Array.isArray(saved)) return [];
    return saved.slice(0, 20).map((d, i) => ({
      uid: `r${i}`,
      label: String(d.label ?? `Destination ${i + 1}`).slice(0, 100),
      platform: String(d.platform ?? 'custom'),
      serverUrl: String(d.serverUrl ?? ''),
      key: String(d.key ?? ''),
      enabled: d.enabled !== false,
    }));
  } catch {
    return [];
  }
}
