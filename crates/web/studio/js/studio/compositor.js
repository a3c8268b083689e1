// The page's side of the compositor: starts the worker, wires each source track into it and
// returns the program video track.
//
// Chrome and Edge: MediaStreamTrackProcessor → frames read in the worker →
// MediaStreamTrackGenerator, whose writable the worker owns; no frame passes through the page.
// Elsewhere (Firefox): the worker draws onto a canvas transferred to it and the page captures
// that canvas; sources reach the worker as ImageBitmaps taken when the worker's clock asks,
// so the rate still comes from the worker's timer, not from the page's.

const WORKER_URL = new URL('./compositor.worker.js', import.meta.url);
/** The worker answers within a frame or two; after this, `stats()` resolves empty. */
const STATS_TIMEOUT_MS = 1000;

export function insertableStreamsSupported() {
  return typeof MediaStreamTrackProcessor === 'function'
    && typeof MediaStreamTrackGenerator === 'function'
    && typeof VideoFrame === 'function';
}

export class Compositor {
  /**
   * @param {{width: number, height: number, frameRate: number}} output
   */
  constructor(output) {
    this.output = output;
    this.worker = new Worker(WORKER_URL, { type: 'module', name: 'compositor' });
    this.worker.onerror = (event) => console.error('compositor worker:', event.message);
    this.mode = insertableStreamsSupported() ? 'insertable' : 'canvas';
    /** @type {Map<string, HTMLVideoElement>} sources read through <video> (canvas mode) */
    this.videos = new Map();
    this.track = this.mode === 'insertable' ? this.#startInsertable() : this.#startCanvas();
    this.worker.addEventListener('message', (event) => {
      if (event.data.type === 'want-frames') this.#postBitmaps();
      if (event.data.type === 'error') console.warn('compositor: a frame was skipped:', event.data.message);
    });
  }

  #startInsertable() {
    const generator = new MediaStreamTrackGenerator({ kind: 'video' });
    const { width, height, frameRate } = this.output;
    this.worker.postMessage(
      { type: 'init', width, height, frameRate, writable: generator.writable },
      [generator.writable],
    );
    return generator;
  }

  #startCanvas() {
    const { width, height, frameRate } = this.output;
    const canvas = document.createElement('canvas');
    canvas.width = width;
    canvas.height = height;
    const offscreen = canvas.transferControlToOffscreen();
    this.worker.postMessage(
      { type: 'init', width, height, frameRate, offscreen, bitmaps: true },
      [offscreen],
    );
    this.canvas = canvas;
    return canvas.captureStream(frameRate).getVideoTracks()[0];
  }

  /** Sets (or, with null, removes) the `camera` or `screen` source. */
  setSource(id, track) {
    this.videos.get(id)?.remove();
    this.videos.delete(id);
    if (!track) {
      this.worker.postMessage({ type: 'remove-source', id });
      return;
    }
    if (this.mode === 'insertable') {
      const processor = new MediaStreamTrackProcessor({ track, maxBufferSize: 2 });
      this.worker.postMessage({ type: 'source', id, readable: processor.readable }, [processor.readable]);
      return;
    }
    const video = document.createElement('video');
    video.muted = true;
    video.playsInline = true;
    video.srcObject = new MediaStream([track]);
    video.play().catch(() => {});
    this.videos.set(id, video);
    this.worker.postMessage({ type: 'source', id });
  }

  async #postBitmaps() {
    const frames = {};
    const transfer = [];
    for (const [id, video] of this.videos) {
      if (video.readyState < 2) continue;
      try {
        const bitmap = await createImageBitmap(video);
        frames[id] = bitmap;
        transfer.push(bitmap);
      } catch { /* not decodable yet */ }
    }
    if (transfer.length) this.worker.postMessage({ type: 'frames', frames }, transfer);
  }

  /** The scene and overlay settings; `slateUntil` ends the slate's countdown (wall-clock ms). */
  setScene(scene, slateUntil) {
    this.worker.postMessage({ type: 'scene', scene, slateUntil });
  }

  /** The logo image (a Blob), or null to remove it. */
  async setLogo(blob) {
    if (!blob) {
      this.worker.postMessage({ type: 'logo', bitmap: null });
      return;
    }
    const bitmap = await createImageBitmap(blob);
    this.worker.postMessage({ type: 'logo', bitmap }, [bitmap]);
  }

  /**
   * The worker's counters: frames drawn, skipped (late) and dropped (encoder behind), and
   * `ages`: per source, milliseconds since its newest frame.
   */
  stats() {
    return new Promise((resolve) => {
      // A worker stopped meanwhile (a new output size, leaving the page) never answers.
      const timeout = setTimeout(() => {
        this.worker.removeEventListener('message', onMessage);
        resolve({});
      }, STATS_TIMEOUT_MS);
      const onMessage = (event) => {
        if (event.data.type !== 'stats') return;
        clearTimeout(timeout);
        this.worker.removeEventListener('message', onMessage);
        resolve(event.data);
      };
      this.worker.addEventListener('message', onMessage);
      this.worker.postMessage({ type: 'stats' });
    });
  }

  stop() {
    this.worker.postMessage({ type: 'stop' });
    this.track.stop();
    for (const video of this.videos.values()) video.remove();
    this.videos.clear();
    setTimeout(() => this.worker.terminate(), 500);
  }
}
