// One-click layouts, the picture-in-picture corner and the slates' countdown.

import { h, uid } from '../lib/dom.js';
import { dropdown, number, sync, panel } from './controls.js';
import { LAYOUTS, CORNERS } from '../studio/scenes.js';

export function scenesView(studio) {
  const name = uid('layout');
  const radios = LAYOUTS.map((layout) => {
    const input = h('input', { type: 'radio', name, id: uid('ly'), value: layout.id });
    input.addEventListener('change', () => input.checked && studio.updateScene({ layout: layout.id }));
    return { input, el: h('label', { class: 'layout-choice', for: input.id }, input, h('span', { text: layout.name })) };
  });
  const legendId = uid('lg');
  const group = h('div', { role: 'radiogroup', 'aria-labelledby': legendId, class: 'layouts' },
    h('span', { id: legendId, class: 'group-label', text: 'Layout' }),
    ...radios.map((r) => r.el));
  const corner = dropdown('Picture-in-picture corner', CORNERS, studio.state.scene.corner, (c) => studio.updateScene({ corner: c }));
  const minutes = number('Countdown (minutes)', studio.state.scene.countdownMinutes, { min: 0, max: 120 }, (m) => studio.updateScene({ countdownMinutes: m }));
  const render = (s) => {
    for (const r of radios) r.input.checked = r.input.value === s.scene.layout;
    sync(corner.input, s.scene.corner);
    sync(minutes.input, String(s.scene.countdownMinutes));
  };
  studio.store.subscribe(render);
  render(studio.state);
  return panel('Scenes', group, corner.el, minutes.el);
}
