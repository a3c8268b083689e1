// Quality preset and bitrate. The size is fixed while live.

import { h } from '../lib/dom.js';
import { dropdown, number, sync, panel } from './controls.js';
import { PRESETS, MIN_BITRATE_KBPS, MAX_BITRATE_KBPS } from '../studio/quality.js';

export function outputView(studio) {
  const quality = dropdown('Quality', PRESETS.map((p) => [p.id, p.name]), studio.state.presetId, (id) => studio.setPreset(id));
  const bitrate = number('Bitrate (kbps)', studio.state.bitrateKbps, { min: MIN_BITRATE_KBPS, max: MAX_BITRATE_KBPS, step: 100 }, (v) => studio.setBitrate(v));
  const note = h('small', { class: 'hint', text: '' });
  studio.store.subscribe((s) => {
    sync(quality.input, s.presetId);
    sync(bitrate.input, String(s.bitrateKbps));
    quality.input.disabled = studio.isLive;
    note.textContent = studio.isLive ? 'The size stays fixed while live; the bitrate can change.' : '';
  });
  return panel('Output', quality.el, bitrate.el, note);
}
