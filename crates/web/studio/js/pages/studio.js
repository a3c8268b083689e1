// The studio: preview, sources, output, scenes, overlays, destinations, Go live.

import { h } from '../lib/dom.js';
import { navigate, setLeaveGuard } from '../router.js';
import { refreshSession } from '../session.js';
import { Studio } from '../studio/controller.js';
import { previewView } from '../views/preview.js';
import { sourcesView } from '../views/sources.js';
import { outputView } from '../views/output.js';
import { scenesView } from '../views/scenes.js';
import { overlaysView } from '../views/overlays.js';
import { destinationsView } from '../views/destinations.js';
import { goLiveView } from '../views/golive.js';
import { statsView } from '../views/stats.js';
import { obsView } from '../views/obs.js';

export async function studioPage(main) {
  if (!(await refreshSession())) {
    navigate('/login', { replace: true });
    return null;
  }
  const studio = new Studio();
  main.append(h('p', { class: 'loading', role: 'status', text: 'Starting the studio…' }));
  try {
    await studio.init();
  } catch (error) {
    studio.dispose();
    main.replaceChildren(h('p', { class: 'alert', role: 'alert', text: `The studio could not start: ${error.message}` }));
    return null;
  }
  main.replaceChildren(h('h1', { class: 'visually-hidden', text: 'Studio' }),
    h('div', { class: 'studio' },
      h('div', { class: 'stage' }, previewView(studio), goLiveView(studio), statsView(studio)),
      h('div', { class: 'col-sources' }, sourcesView(studio), outputView(studio)),
      h('div', { class: 'col-scenes' }, scenesView(studio), overlaysView(studio)),
      h('div', { class: 'wide' }, destinationsView(studio), obsView(studio))));
  const leave = (event) => {
    if (studio.isLive) {
      event.preventDefault();
      event.returnValue = '';
    }
  };
  window.addEventListener('beforeunload', leave);
  setLeaveGuard(() => !studio.isLive
    // eslint-disable-next-line no-alert -- the browser's own dialog is the accessible one here
    || window.confirm('You are live. Leaving the studio stops the stream on every destination. Leave?'));
  return () => {
    setLeaveGuard(null);
    window.removeEventListener('beforeunload', leave);
    studio.dispose();
  };
}
