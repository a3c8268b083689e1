// Go live / Stop, the connection's state in words, the preflight and the local recording.

import { h, uid } from '../lib/dom.js';
import { checkbox } from './controls.js';
import { standbyText } from '../studio/status_words.js';

const CONNECTION_TEXT = {
  offline: 'Offline',
  preflight: 'Offline',
  connecting: 'Connecting…',
  live: 'Live',
  reconnecting: 'Connection lost — reconnecting…',
  reconnected: 'Reconnected',
  failed: 'Offline',
};

export function goLiveView(studio) {
  const button = h('button', { type: 'button', class: 'go-live', text: 'Go live' });
  button.addEventListener('click', () => (studio.isLive ? studio.stop() : studio.goLive()));
  const connection = h('p', { class: 'connection', role: 'status', 'aria-label': 'Connection', 'aria-live': 'polite', text: 'Offline' });
  const detail = h('small', { class: 'hint' });
  const record = checkbox('Record locally', studio.state.recordLocally, (on) => studio.store.set({ recordLocally: on }));
  const download = h('a', { class: 'download', hidden: true, text: 'Download recording' });
  const errors = h('div', { class: 'errors' });
  const preflightId = uid('pf');
  const checks = h('ul', { class: 'checks' });
  const preflight = h('section', { class: 'preflight', role: 'region', 'aria-labelledby': preflightId, hidden: true },
    h('h3', { id: preflightId, text: 'Preflight' }), checks);

  studio.store.subscribe((s) => {
    const live = studio.isLive;
    const label = live ? 'Stop' : 'Go live';
    if (button.textContent !== label) button.textContent = label;
    button.classList.toggle('live', live);
    // Stop stays available while connecting: it cancels the attempt.
    const text = CONNECTION_TEXT[s.phase] ?? s.phase;
    if (connection.textContent !== text) connection.textContent = text;
    connection.dataset.phase = s.phase;
    detail.textContent = s.phase === 'reconnecting' ? [s.connectionDetail, standbyText(s.view)].filter(Boolean).join(' ')
      : s.statusStale && live ? 'Destination status may be out of date: reconnecting to the server…' : '';
    record.input.disabled = live;
    if (s.recording) {
      download.href = s.recording.url;
      download.download = s.recording.name;
      download.hidden = false;
    } else {
      download.hidden = true;
    }
    const mine = s.errors.filter((e) => e.source === 'live');
    const key = mine.map((e) => e.message).join('\n');
    if (errors.dataset.key !== key) {
      errors.dataset.key = key;
      errors.replaceChildren(...mine.map((e) => h('p', { class: 'alert', role: 'alert', text: e.message })));
    }
    if (s.preflight && preflight.dataset.key !== JSON.stringify(s.preflight)) {
      preflight.dataset.key = JSON.stringify(s.preflight);
      preflight.hidden = false;
      checks.replaceChildren(...s.preflight.checks.map((c) => h('li', {
        class: c.ok ? 'ok' : c.blocking ? 'blocking' : 'warning',
        role: !c.ok && c.blocking ? 'alert' : null,
      }, h('strong', { text: `${c.ok ? '✓' : c.blocking ? '✗' : '!'} ${c.name}: ` }), c.text)));
    }
  });
  return h('div', { class: 'go-live-bar' },
    h('div', { class: 'row' }, button, h('div', {}, connection, detail)),
    errors, preflight,
    h('div', { class: 'row' }, record.el, download));
}
