// The compositor: draws the program frame from the newest frame of each source, the scene and
// its overlays, at a fixed size and rate, and hands each frame to the program track.
//
// It runs in a worker and is clocked by the worker's own timer. A page's requestAnimationFrame
// stops while its tab is hidden and its timers slow to once a second, which would freeze the
// stream for every viewer whenever the streamer looks at another tab; worker timers keep time.
//
// Inputs: per source, either a ReadableStream of VideoFrames (MediaStreamTrackProcessor, read
// here) or ImageBitmaps the page posts when asked (browsers without the processor).
// Output: a WritableStream of VideoFrames (MediaStreamTrackGenerator's, transferred here), or
// an OffscreenCanvas whose placeholder canvas the page captures with captureStream().

import { placements, fitRect, isSlate } from './scenes.js';
import { drawOverlays, BACKGROUND, BAR_TOP } from './overlays.js';
import { normalizeScene } from './scene_settings.js';

/** A frame more than this many intervals late is skipped rather than drawn late. */
const MAX_BEHIND_FRAMES = 2;

let canvas = null;
let ctx = null;
let writer = null;
let fps = 30;
let scene = normalizeScene({});
let logo = null;
let slateUntil = null;
let running = false;
let timer = 0;
let frameIndex = 0;
let epoch = 0;
let bitmapSources = false;
/** @type {Map<string, {frame: VideoFrame|ImageBitmap|null, reader?: ReadableStreamDefaultReader}>} */
const sources = new Map();
const counters = { drawn: 0, skipped: 0, dropped: 0, errors: 0 };

self.onmessage = (event) => {
  const message = event.data;
  switch (message.type) {
    case 'init': init(message); break;
    case 'source': addSource(message.id, message.readable); break;
    case 'remove-source': removeSource(message.id); break;
    case 'frames': takeBitmaps(message.frames); break;
    case 'scene':
      scene = normalizeScene(message.scene);
      slateUntil = message.slateUntil ?? null;
      break;
    case 'logo':
      logo?.close?.();
      logo = message.bitmap ?? null;
      break;
    case 'stats': self.postMessage({ type: 'stats', ...counters, ages: sourceAges() }); break;
    case 'stop': stop(); break;
    default: break;
  }
};

function init({ width, height, frameRate, writable, offscreen, bitmaps }) {
  fps = frameRate;
  bitmapSources = !!bitmaps;
  canvas = offscreen ?? new OffscreenCanvas(width, height);
  canvas.width = width;
  canvas.height = height;
  ctx = canvas.getContext('2d', { alpha: false, desynchronized: true });
  writer = writable ? writable.getWriter() : null;
  running = true;
  epoch = performance.now();
  frameIndex = 0;
  schedule();
}

function addSource(id, readable) {
  removeSource(id);
  // `lastFrameAt`: when the newest frame arrived (or the source was attached), so the page can
  // tell a stalled camera from a working one (camera_watch.js).
  const entry = { frame: null, reader: null, lastFrameAt: performance.now() };
  sources.set(id, entry);
  if (!readable) return; // frames will come as bitmaps
  entry.reader = readable.getReader();
  (async () => {
    // Keep only the newest frame: an older one is closed as soon as a newer one arrives, so
    // a source faster than the output never queues frames (and never exhausts the camera's
    // buffer pool).
    for (;;) {
      let result;
      try {
        result = await entry.reader.read();
      } catch {
        break;
      }
      if (result.done) break;
      if (sources.get(id) !== entry) {
        result.value.close();
        break;
      }
      entry.frame?.close();
      entry.frame = result.value;
      entry.lastFrameAt = performance.now();
    }
  })();
}

/** Per source, milliseconds since its newest frame (or since it was attached). */
function sourceAges() {
  const now = performance.now();
  return Object.fromEntries([...sources].map(([id, entry]) => [id, now - entry.lastFrameAt]));
}

function removeSource(id) {
  const entry = sources.get(id);
  if (!entry) return;
  sources.delete(id);
  entry.reader?.cancel().catch(() => {});
  entry.frame?.close();
}

function takeBitmaps(frames) {
  for (const [id, bitmap] of Object.entries(frames)) {
    const entry = sources.get(id);
    if (!entry) {
      bitmap.close();
      continue;
    }
    entry.frame?.close();
    entry.frame = bitmap;
    entry.lastFrameAt = performance.now();
  }
}

/** The next tick at its ideal time on the frame grid, so lateness does not accumulate. */
function schedule() {
  if (!running) return;
  const interval = 1000 / fps;
  let due = epoch + (frameIndex + 1) * interval;
  const now = performance.now();
  if (now - due > MAX_BEHIND_FRAMES * interval) {
    // Far behind (the machine stalled): skip ahead rather than draw a burst of frames.
    const missed = Math.floor((now - due) / interval);
    counters.skipped += missed;
    frameIndex += missed;
    due = epoch + (frameIndex + 1) * interval;
  }
  timer = setTimeout(tick, Math.max(0, due - now));
}

function tick() {
  frameIndex += 1;
  try {
    if (bitmapSources) self.postMessage({ type: 'want-frames' });
    draw();
    emit();
  } catch (error) {
    // One bad frame (a closed source frame, an undrawable logo) must never stop the clock:
    // the stream would freeze while the page looks fine.
    counters.errors += 1;
    if (counters.errors <= 3) self.postMessage({ type: 'error', message: String(error?.message ?? error) });
  } finally {
    schedule();
  }
}

function draw() {
  const { width, height } = canvas;
  ctx.fillStyle = BACKGROUND;
  ctx.fillRect(0, 0, width, height);
  const camera = sources.get('camera')?.frame ?? null;
  const screen = sources.get('screen')?.frame ?? null;
  if (!isSlate(scene.layout)) {
    const layout = placements(scene.layout, width, height, {
      corner: scene.corner,
      hasCamera: !!camera,
      hasScreen: !!screen,
      // A bottom picture-in-picture sits above the lower-third bar, never under it.
      bottom: scene.bar.show ? Math.round(height * BAR_TOP) : height,
    });
    for (const place of layout) {
      const image = place.source === 'camera' ? camera : screen;
      if (!image) continue;
      const sw = image.displayWidth ?? image.width;
      const sh = image.displayHeight ?? image.height;
      if (!sw || !sh) continue;
      const r = fitRect(sw, sh, place, place.fit);
      ctx.drawImage(image, r.sx, r.sy, r.sw, r.sh, r.dx, r.dy, r.dw, r.dh);
      if (place.frame) {
        ctx.strokeStyle = 'rgba(255, 255, 255, 0.85)';
        ctx.lineWidth = Math.max(2, Math.round(width / 400));
        ctx.strokeRect(place.x, place.y, place.w, place.h);
      }
    }
  }
  drawOverlays(ctx, width, height, scene, {
    now: Date.now(),
    elapsed: performance.now() - epoch,
    logo,
    slateUntil,
  });
  counters.drawn += 1;
}

function emit() {
  if (!writer) return; // captureStream picks the canvas up by itself
  if (writer.desiredSize !== null && writer.desiredSize <= 0) {
    // The encoder is behind: dropping here keeps latency flat instead of queueing.
    counters.dropped += 1;
    return;
  }
  const frame = new VideoFrame(canvas, { timestamp: Math.round(performance.now() * 1000) });
  writer.write(frame).catch(() => frame.close());
}

function stop() {
  running = false;
  clearTimeout(timer);
  for (const id of [...sources.keys()]) removeSource(id);
  logo?.close?.();
  logo = null;
  writer?.close().catch(() => {});
  writer = null;
}
