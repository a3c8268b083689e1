// Destination cards: platform presets, server URL + masked key, on/off, remove, and each
// one's live status from the server's event stream.

import { h, uid } from '../lib/dom.js';
import { dropdown, checkbox, panel } from './controls.js';
import { PLATFORMS, platform } from '../studio/platforms.js';
import { statusText } from '../studio/status_words.js';

export function destinationsView(studio) {
  const adder = dropdown('Platform to add', PLATFORMS.map((p) => [p.id, p.name]), 'twitch', () => {});
  const add = h('button', { type: 'button', text: 'Add destination', onClick: () => {
    const d = studio.addDestination(adder.input.value);
    requestAnimationFrame(() => cards.get(d.uid)?.focusFirst());
  } });
  const list = h('div', { class: 'destinations' });
  const remember = checkbox('Remember destinations on this device', studio.state.remember, (on) => studio.setRemember(on));
  const rememberHint = h('small', { class: 'hint', text: 'Keeps server URLs and stream keys in this browser only (localStorage). The server never stores them.' });
  /** @type {Map<string, ReturnType<typeof card>>} */
  const cards = new Map();

  studio.store.subscribe((s) => {
    const uids = s.destinations.map((d) => d.uid);
    for (const [id, c] of cards) {
      if (!uids.includes(id)) {
        // Focus would fall to the page's body: keep it where the streamer was working.
        const hadFocus = c.el.contains(document.activeElement);
        c.el.remove();
        cards.delete(id);
        if (hadFocus) add.focus();
      }
    }
    for (const d of s.destinations) {
      if (!cards.has(d.uid)) {
        const c = card(studio, d);
        cards.set(d.uid, c);
        list.append(c.el);
      }
      cards.get(d.uid).update(d, s);
    }
  });
  studio.store.set({});
  // Statuses count down ("Retrying in 3 s") between server events.
  studio.every(1000, () => {
    for (const [id, c] of cards) {
      const dest = studio.state.destinations.find((d) => d.uid === id);
      if (dest) c.update(dest, studio.state);
    }
  });

  return panel('Destinations', h('div', { class: 'row' }, adder.el, add), list, remember.el, rememberHint);
}

function card(studio, d) {
  const label = d.label;
  const info = platform(d.platform);
  const server = h('input', { type: 'url', id: uid('srv'), value: d.serverUrl, 'aria-label': `${label} server URL`, placeholder: 'rtmps://…', spellcheck: 'false', autocomplete: 'off' });
  server.addEventListener('input', () => studio.updateDestination(d.uid, { serverUrl: server.value }));
  const key = h('input', { type: 'password', id: uid('key'), value: d.key, 'aria-label': `${label} stream key`, autocomplete: 'off', spellcheck: 'false' });
  key.addEventListener('input', () => studio.updateDestination(d.uid, { key: key.value }));
  // A toggle: its name stays "Show … stream key" and aria-pressed says whether it is shown.
  const reveal = h('button', { type: 'button', class: 'secondary small', 'aria-pressed': 'false', 'aria-label': `Show ${label} stream key`, text: 'Show' });
  reveal.addEventListener('click', () => {
    const shown = key.type === 'password';
    key.type = shown ? 'text' : 'password';
    reveal.setAttribute('aria-pressed', String(shown));
  });
  const enabled = checkbox(`${label} enabled`, d.enabled, (on) => studio.updateDestination(d.uid, { enabled: on }));
  const remove = h('button', { type: 'button', class: 'danger small', 'aria-label': `Remove ${label}`, text: 'Remove', onClick: () => studio.removeDestination(d.uid) });
  const addLive = h('button', { type: 'button', class: 'small', text: `Add ${label} to the live stream`, hidden: true, onClick: () => studio.addToLive(d.uid) });
  // Changes of state are announced; the per-second countdown is not (aria-live off while
  // retrying), or a screen reader would read it every second.
  const status = h('output', { class: 'dest-status', 'aria-label': `${label} status`, role: 'status', text: 'Not live' });
  const error = h('p', { class: 'alert', role: 'alert', hidden: true });
  const legendId = uid('dl');
  const el = h('fieldset', { class: 'destination', 'aria-labelledby': legendId },
    h('legend', { id: legendId }, h('span', { class: `badge badge-${info.id}`, text: info.name }), ' ', label),
    h('div', { class: 'field' }, h('label', { for: server.id, text: 'Server URL' }), server),
    h('div', { class: 'field' }, h('label', { for: key.id, text: 'Stream key' }), h('div', { class: 'row' }, key, reveal)),
    h('small', { class: 'hint', text: info.hint }),
    h('div', { class: 'row' }, enabled.el, status, addLive, remove),
    error);

  const text = (dest) => {
    const view = studio.serverDestination(dest);
    if (view) return statusText(view);
    return studio.isLive ? 'Not in this broadcast' : 'Not live';
  };
  return {
    el,
    focusFirst: () => (server.value ? key : server).focus(),
    update(dest, s) {
      if (document.activeElement !== server && server.value !== dest.serverUrl) server.value = dest.serverUrl;
      if (document.activeElement !== key && key.value !== dest.key) key.value = dest.key;
      enabled.input.checked = dest.enabled;
      const view = studio.serverDestination(dest);
      const t = text(dest);
      const state = view?.state ?? 'offline';
      status.setAttribute('aria-live', state === 'retrying' && status.dataset.state === 'retrying' ? 'off' : 'polite');
      if (status.textContent !== t) status.textContent = t;
      status.dataset.state = state;
      addLive.hidden = !(studio.isLive && s.broadcast && !view);
      enabled.input.disabled = studio.isLive;
      const mine = s.errors.find((e) => e.source === `destination-${dest.uid}`);
      error.hidden = !mine;
      // Rewriting an alert's text re-announces it: write only changes.
      if (error.textContent !== (mine?.message ?? '')) error.textContent = mine?.message ?? '';
    },
  };
}
