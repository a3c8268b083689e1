// The preview plays the program track itself: what it shows is the frame that goes out.

import { h } from '../lib/dom.js';

export function previewView(studio) {
  const video = h('video', { class: 'preview', 'aria-label': 'Program preview', muted: true, autoplay: true, playsinline: true });
  video.muted = true;
  let track = null;
  const update = () => {
    if (studio.compositor && studio.compositor.track !== track) {
      track = studio.compositor.track;
      video.srcObject = new MediaStream([track]);
      video.play().catch(() => {});
    }
  };
  studio.store.subscribe(update);
  update();
  return h('div', { class: 'preview-wrap' }, video);
}
