// For streamers who compose in OBS: a broadcast's WHIP URL and bearer token, which is all
// OBS' WHIP output needs.

import { h } from '../lib/dom.js';

export function obsView(studio) {
  const body = h('div', {});
  const create = h('button', { type: 'button', class: 'secondary', text: 'Create a broadcast for OBS', onClick: () => studio.createObsBroadcast() });
  const copyable = (label, value) => {
    const input = h('input', { type: 'text', readonly: true, value, 'aria-label': label });
    return h('div', { class: 'field' }, h('label', { text: label }), h('div', { class: 'row' }, input,
      h('button', { type: 'button', class: 'secondary small', 'aria-label': `Copy ${label}`, text: 'Copy', onClick: () => navigator.clipboard?.writeText(value) })));
  };
  let shown = null;
  studio.store.subscribe((s) => {
    const b = s.broadcast ?? s.obs;
    const mine = s.errors.filter((e) => e.source === 'obs');
    const key = JSON.stringify([b?.id ?? '', mine.map((e) => e.message)]);
    if (key === shown) return;
    shown = key;
    const errors = mine.map((e) => h('p', { class: 'alert', role: 'alert', text: e.message }));
    body.replaceChildren(...(b
      ? [copyable('WHIP URL', b.whipUrl), copyable('Bearer token', b.token),
        h('small', { class: 'hint', text: 'OBS: Settings → Stream → Service "WHIP", Server = the WHIP URL, Bearer Token = the token. The destinations are this broadcast\'s.' })]
      : [h('p', { text: 'Creates a broadcast to the destinations above, for OBS to publish to.' }), create, ...errors]));
  });
  studio.store.set({});
  return h('details', { class: 'panel obs' }, h('summary', { text: 'Stream from OBS instead' }), body);
}
