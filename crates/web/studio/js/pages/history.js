// The user's broadcasts, newest first: when, how long, where to, and how they ended.

import { h } from '../lib/dom.js';
import { api } from '../api.js';
import { navigate } from '../router.js';
import { refreshSession } from '../session.js';
import { duration } from '../lib/format.js';
import { platformName } from '../studio/platforms.js';

export async function historyPage(main) {
  if (!(await refreshSession())) {
    navigate('/login', { replace: true });
    return;
  }
  const { broadcasts } = await api.broadcasts();
  const caption = h('caption', { text: 'Broadcast history' });
  const table = h('table', { class: 'history', 'aria-label': 'Broadcast history' },
    caption,
    h('thead', {}, h('tr', {},
      ...['Started', 'Duration', 'Destinations', 'Platforms', 'State'].map((c) => h('th', { scope: 'col', text: c })))),
    h('tbody', {}, ...broadcasts.map((b) => h('tr', {},
      h('td', {}, h('time', {
        datetime: new Date(b.created_at * 1000).toISOString(),
        text: new Date(b.created_at * 1000).toLocaleString(),
      })),
      h('td', { text: duration(b.duration_seconds) }),
      h('td', { text: String(b.destination_count) }),
      h('td', { text: b.platforms.map(platformName).join(', ') || '—' }),
      h('td', { text: b.state })))));
  main.append(h('section', { class: 'card' },
    h('h1', { text: 'History' }),
    broadcasts.length ? table : h('p', { text: 'No broadcasts yet. Go live from the studio.' })));
}
