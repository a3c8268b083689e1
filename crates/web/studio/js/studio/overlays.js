// Overlays drawn onto the program frame. Pure drawing on a 2D context, given the settings and
// the time, so the compositor worker calls it for every frame and nothing here holds state.

import { isSlate } from './scenes.js';
import { countdown } from '../lib/format.js';

/** The lower-third bar's band, as fractions of the height: every check of it relies on this. */
export const BAR_TOP = 0.84;
export const BAR_BOTTOM = 0.95;
/** The ticker's band at the very top. */
export const TICKER_HEIGHT = 0.06;
export const BACKGROUND = '#111318';

const FONT = 'system-ui, "Segoe UI", Roboto, sans-serif';

/**
 * Draws every overlay of `scene` over what is already on `ctx`.
 * @param {CanvasRenderingContext2D|OffscreenCanvasRenderingContext2D} ctx
 * @param {number} width
 * @param {number} height
 * @param {import('./scene_settings.js').Scene} scene
 * @param {{now: number, elapsed: number, logo?: ImageBitmap|null, slateUntil?: number|null}} time
 *   `now` wall-clock ms (the clock), `elapsed` monotonic ms (the ticker), `slateUntil` the end
 *   of the slate's countdown in wall-clock ms
 */
export function drawOverlays(ctx, width, height, scene, time) {
  if (isSlate(scene.layout)) drawSlate(ctx, width, height, scene.layout, time.now, time.slateUntil);
  if (scene.title.show && (scene.title.title || scene.title.subtitle)) drawTitle(ctx, width, height, scene.title);
  if (scene.bar.show) drawBar(ctx, width, height, scene.bar);
  if (time.logo) drawLogo(ctx, width, height, time.logo, scene.logo);
  if (scene.ticker.show && scene.ticker.text) drawTicker(ctx, width, height, scene.ticker.text, time.elapsed);
  if (scene.clock.show) drawClock(ctx, width, height, time.now, scene.ticker.show && !!scene.ticker.text);
}

/** The original's overlay: text on a coloured full-width band near the bottom. */
export function drawBar(ctx, width, height, bar) {
  const top = Math.round(height * BAR_TOP);
  const h = Math.round(height * BAR_BOTTOM) - top;
  ctx.fillStyle = bar.color;
  ctx.fillRect(0, top, width, h);
  if (!bar.text) return;
  ctx.fillStyle = bar.textColor;
  ctx.font = `600 ${Math.round(h * 0.5)}px ${FONT}`;
  ctx.textBaseline = 'middle';
  ctx.textAlign = 'left';
  fitText(ctx, bar.text, Math.round(width * 0.04), top + h / 2, width * 0.92);
}

/** Title + subtitle in a dark box above the bar's band. */
export function drawTitle(ctx, width, height, title) {
  const boxH = Math.round(height * 0.14);
  const bottom = Math.round(height * (BAR_TOP - 0.02));
  const x = Math.round(width * 0.04);
  const y = bottom - boxH;
  const titleSize = Math.round(boxH * 0.38);
  const subtitleSize = Math.round(boxH * 0.26);
  ctx.font = `700 ${titleSize}px ${FONT}`;
  const titleW = ctx.measureText(title.title).width;
  ctx.font = `400 ${subtitleSize}px ${FONT}`;
  const subtitleW = ctx.measureText(title.subtitle).width;
  const boxW = Math.min(width * 0.92, Math.max(titleW, subtitleW) + boxH * 0.5);
  ctx.fillStyle = 'rgba(10, 12, 16, 0.82)';
  ctx.fillRect(x, y, boxW, boxH);
  ctx.fillStyle = '#e5484d';
  ctx.fillRect(x, y, Math.max(4, Math.round(width * 0.004)), boxH);
  ctx.textAlign = 'left';
  ctx.textBaseline = 'alphabetic';
  ctx.fillStyle = '#ffffff';
  ctx.font = `700 ${titleSize}px ${FONT}`;
  fitText(ctx, title.title, x + boxH * 0.25, y + boxH * 0.46, boxW - boxH * 0.5);
  ctx.fillStyle = '#c9ced6';
  ctx.font = `400 ${subtitleSize}px ${FONT}`;
  fitText(ctx, title.subtitle, x + boxH * 0.25, y + boxH * 0.82, boxW - boxH * 0.5);
}

/** The logo at a corner, `size` % of the width, keeping its aspect. */
export function drawLogo(ctx, width, height, logo, settings) {
  const w = Math.round((width * settings.size) / 100);
  const h = Math.round((w * logo.height) / logo.width);
  const margin = Math.round(width * 0.03);
  const right = settings.position.endsWith('right');
  const bottom = settings.position.startsWith('bottom');
  const x = right ? width - w - margin : margin;
  // Bottom corners sit above the bar's band so the two never overlap.
  const y = bottom ? Math.round(height * BAR_TOP) - h - margin : margin + Math.round(height * TICKER_HEIGHT);
  ctx.drawImage(logo, x, y, w, h);
}

export function drawClock(ctx, width, height, now, belowTicker) {
  const size = Math.round(height * 0.04);
  const text = new Date(now).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
  ctx.font = `600 ${size}px ${FONT}`;
  const w = ctx.measureText(text).width + size;
  const x = Math.round(width * 0.03);
  const y = Math.round(height * 0.03) + (belowTicker ? Math.round(height * TICKER_HEIGHT) : 0);
  ctx.fillStyle = 'rgba(10, 12, 16, 0.7)';
  ctx.fillRect(x, y, w, size * 1.6);
  ctx.fillStyle = '#ffffff';
  ctx.textBaseline = 'middle';
  ctx.textAlign = 'left';
  ctx.fillText(text, x + size / 2, y + size * 0.8);
}

/** A ticker scrolling right to left at a tenth of the width per second, repeating. */
export function drawTicker(ctx, width, height, text, elapsed) {
  const h = Math.round(height * TICKER_HEIGHT);
  ctx.fillStyle = 'rgba(10, 12, 16, 0.85)';
  ctx.fillRect(0, 0, width, h);
  ctx.font = `500 ${Math.round(h * 0.55)}px ${FONT}`;
  ctx.textBaseline = 'middle';
  ctx.textAlign = 'left';
  ctx.fillStyle = '#ffffff';
  const gap = width * 0.1;
  const span = ctx.measureText(text).width + gap;
  const offset = ((elapsed / 1000) * width * 0.1) % span;
  for (let x = width - offset - span * Math.ceil(width / span); x < width; x += span) {
    if (x + span > 0) ctx.fillText(text, x, h / 2);
  }
}

/** "Be right back" / "Starting soon" with its countdown, over the scene background. */
export function drawSlate(ctx, width, height, layout, now, until) {
  const gradient = ctx.createLinearGradient(0, 0, width, height);
  gradient.addColorStop(0, '#1b1f2a');
  gradient.addColorStop(1, '#0b0d12');
  ctx.fillStyle = gradient;
  ctx.fillRect(0, 0, width, height);
  const big = Math.round(Math.min(width, height) * 0.11);
  ctx.textAlign = 'center';
  ctx.textBaseline = 'middle';
  ctx.fillStyle = '#ffffff';
  ctx.font = `700 ${big}px ${FONT}`;
  ctx.fillText(layout === 'brb' ? 'Be right back' : 'Starting soon', width / 2, height * 0.42);
  if (until) {
    const left = until - now;
    ctx.font = `500 ${Math.round(big * 0.45)}px ${FONT}`;
    ctx.fillStyle = '#c9ced6';
    const words = layout === 'brb' ? 'Back in' : 'Starting in';
    ctx.fillText(left > 0 ? `${words} ${countdown(left)}` : 'Any moment now', width / 2, height * 0.56);
  }
}

/** Draws `text` at (x, y), squeezed horizontally when wider than `maxWidth`. */
function fitText(ctx, text, x, y, maxWidth) {
  if (text) ctx.fillText(text, x, y, maxWidth);
}
