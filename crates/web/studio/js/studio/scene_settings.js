// The scene and overlay settings as saved on the server: their shape, their defaults, and the
// reading of a saved document that may be old, partial or tampered with. Pure: the page and
// the compositor worker both read settings through `normalizeScene`.

import { LAYOUTS, CORNERS } from './scenes.js';

/** What a new user starts with; also the shape saved on the server. */
export const DEFAULT_SCENE = Object.freeze({
  layout: 'camera',
  corner: 'bottom-right',
  countdownMinutes: 5,
  bar: { show: false, text: '', color: '#1f6feb', textColor: '#ffffff' },
  title: { show: false, title: '', subtitle: '' },
  logo: { position: 'top-right', size: 12 },
  clock: { show: false },
  ticker: { show: false, text: '' },
});

/** @typedef {typeof DEFAULT_SCENE} Scene */

const LAYOUT_IDS = LAYOUTS.map((l) => l.id);
const CORNER_IDS = CORNERS.map(([id]) => id);

const pick = (obj, key, type, fallback) => (obj && typeof obj[key] === type ? obj[key] : fallback);
const oneOf = (value, allowed, fallback) => (allowed.includes(value) ? value : fallback);
const color = (value, fallback) => (typeof value === 'string' && /^#[0-9a-f]{6}$/i.test(value) ? value : fallback);
const number = (value, min, max, fallback) =>
  (typeof value === 'number' && Number.isFinite(value) ? Math.min(max, Math.max(min, value)) : fallback);

/** `saved` merged over the defaults, field by field; anything unknown or malformed is dropped. */
export function normalizeScene(saved) {
  const s = saved && typeof saved === 'object' ? saved : {};
  const d = DEFAULT_SCENE;
  return {
    layout: oneOf(s.layout, LAYOUT_IDS, d.layout),
    corner: oneOf(s.corner, CORNER_IDS, d.corner),
    countdownMinutes: number(s.countdownMinutes, 0, 120, d.countdownMinutes),
    bar: {
      show: pick(s.bar, 'show', 'boolean', d.bar.show),
      text: pick(s.bar, 'text', 'string', d.bar.text).slice(0, 200),
      color: color(s.bar?.color, d.bar.color),
      textColor: color(s.bar?.textColor, d.bar.textColor),
    },
    title: {
      show: pick(s.title, 'show', 'boolean', d.title.show),
      title: pick(s.title, 'title', 'string', d.title.title).slice(0, 200),
      subtitle: pick(s.title, 'subtitle', 'string', d.title.subtitle).slice(0, 200),
    },
    logo: {
      position: oneOf(s.logo?.position, CORNER_IDS, d.logo.position),
      size: number(s.logo?.size, 4, 40, d.logo.size),
    },
    clock: { show: pick(s.clock, 'show', 'boolean', d.clock.show) },
    ticker: {
      show: pick(s.ticker, 'show', 'boolean', d.ticker.show),
      text: pick(s.ticker, 'text', 'string', d.ticker.text).slice(0, 500),
    },
  };
}
