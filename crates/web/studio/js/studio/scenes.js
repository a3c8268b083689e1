// Scene layouts as geometry: which source goes where in the output frame. Pure, so the
// compositor worker draws from it and tests check it without a browser.

export const LAYOUTS = [
  { id: 'camera', name: 'Camera full' },
  { id: 'pip', name: 'Picture-in-picture' },
  { id: 'side', name: 'Side by side' },
  { id: 'screen', name: 'Screen only' },
  { id: 'brb', name: 'Be right back' },
  { id: 'soon', name: 'Starting soon' },
];

export const CORNERS = [
  ['top-left', 'Top left'],
  ['top-right', 'Top right'],
  ['bottom-left', 'Bottom left'],
  ['bottom-right', 'Bottom right'],
];

/** The picture-in-picture box: 25 % of the output's width, 16:9, 3 % of the width from the edges. */
export const PIP_WIDTH = 0.25;
export const PIP_MARGIN = 0.03;

/** Whether a layout is a slate (no live source, a message and a countdown). */
export function isSlate(layout) {
  return layout === 'brb' || layout === 'soon';
}

/**
 * @typedef {{source: 'camera'|'screen', x: number, y: number, w: number, h: number,
 *   fit: 'cover'|'contain', frame?: boolean}} Placement
 */

/**
 * Where each source is drawn, back to front.
 * @param {string} layout one of LAYOUTS' ids
 * @param {number} width output width in pixels
 * @param {number} height output height in pixels
 * @param {{corner?: string, hasCamera?: boolean, hasScreen?: boolean, bottom?: number}} [options]
 *   `bottom`: the lowest row the picture-in-picture box may reach (above a lower-third bar)
 * @returns {Placement[]}
 */
export function placements(layout, width, height, options = {}) {
  const { corner = 'bottom-right', hasCamera = true, hasScreen = false, bottom = height } = options;
  const full = { x: 0, y: 0, w: width, h: height };
  switch (layout) {
    case 'camera':
      return hasCamera ? [{ source: 'camera', ...full, fit: 'cover' }] : [];
    case 'screen':
      return hasScreen ? [{ source: 'screen', ...full, fit: 'contain' }] : [];
    case 'pip': {
      const out = [];
      if (hasScreen) out.push({ source: 'screen', ...full, fit: 'contain' });
      if (hasCamera) out.push({ source: 'camera', ...pipBox(width, bottom, corner), fit: 'cover', frame: true });
      return out;
    }
    case 'side': {
      // Two 16:9-ish halves, centred vertically; a vertical output stacks them instead.
      const out = [];
      if (width >= height) {
        const w = Math.floor(width / 2);
        const h = Math.round((w * 9) / 16);
        const y = Math.round((height - h) / 2);
        if (hasScreen) out.push({ source: 'screen', x: 0, y, w, h, fit: 'contain' });
        if (hasCamera) out.push({ source: 'camera', x: width - w, y, w, h, fit: 'cover' });
      } else {
        const h = Math.floor(height / 2);
        if (hasScreen) out.push({ source: 'screen', x: 0, y: 0, w: width, h, fit: 'contain' });
        if (hasCamera) out.push({ source: 'camera', x: 0, y: height - h, w: width, h, fit: 'cover' });
      }
      return out;
    }
    default:
      return [];
  }
}

/** The picture-in-picture box in `corner` of the area from the top to `height`. */
export function pipBox(width, height, corner) {
  const w = Math.round(width * PIP_WIDTH);
  const h = Math.round((w * 9) / 16);
  const margin = Math.round(width * PIP_MARGIN);
  const right = corner.endsWith('right');
  const bottom = corner.startsWith('bottom');
  return {
    x: right ? width - w - margin : margin,
    y: bottom ? height - h - margin : margin,
    w,
    h,
  };
}

/**
 * The source rectangle that fills `box` from a `sw`×`sh` image: `cover` crops the image to
 * the box's aspect, `contain` returns the whole image and the letterboxed destination.
 * @returns {{sx: number, sy: number, sw: number, sh: number, dx: number, dy: number, dw: number, dh: number}}
 */
export function fitRect(sw, sh, box, fit) {
  const imageAspect = sw / sh;
  const boxAspect = box.w / box.h;
  if (fit === 'cover') {
    if (imageAspect > boxAspect) {
      const cropW = sh * boxAspect;
      return { sx: (sw - cropW) / 2, sy: 0, sw: cropW, sh, dx: box.x, dy: box.y, dw: box.w, dh: box.h };
    }
    const cropH = sw / boxAspect;
    return { sx: 0, sy: (sh - cropH) / 2, sw, sh: cropH, dx: box.x, dy: box.y, dw: box.w, dh: box.h };
  }
  if (imageAspect > boxAspect) {
    const dh = box.w / imageAspect;
    return { sx: 0, sy: 0, sw, sh, dx: box.x, dy: box.y + (box.h - dh) / 2, dw: box.w, dh };
  }
  const dw = box.h * imageAspect;
  return { sx: 0, sy: 0, sw, sh, dx: box.x + (box.w - dw) / 2, dy: box.y, dw, dh: box.h };
}
