// Stream stats: what the encoder sends (size, frame rate, bitrate, keyframe interval) and
// how long the broadcast has been live.

import { h, uid } from '../lib/dom.js';
import { bitrate, duration } from '../lib/format.js';

export function statsView(studio) {
  const cells = {};
  const row = (name) => {
    cells[name] = h('dd', { text: '—' });
    return [h('dt', { text: name }), cells[name]];
  };
  const id = uid('st');
  const list = h('dl', { class: 'stats' },
    ...row('Resolution'), ...row('Frame rate'), ...row('Bitrate'), ...row('Uptime'), ...row('Keyframe interval'));
  const render = () => {
    const s = studio.state;
    const st = s.stats;
    const live = studio.isLive && st;
    cells.Resolution.textContent = live && st.width ? `${st.width}x${st.height}` : '—';
    cells['Frame rate'].textContent = live ? `${Math.round(st.fps)} fps` : '—';
    cells.Bitrate.textContent = live ? bitrate(st.bitrateBps) : '—';
    cells.Uptime.textContent = studio.isLive && s.startedAt ? duration((Date.now() - s.startedAt) / 1000) : '—';
    cells['Keyframe interval'].textContent = live && st.keyframeIntervalS ? `${st.keyframeIntervalS.toFixed(1)} s` : '—';
  };
  studio.store.subscribe(render);
  render();
  return h('section', { class: 'panel stats-panel', role: 'region', 'aria-labelledby': id },
    h('h2', { id, text: 'Stream stats' }), list);
}
