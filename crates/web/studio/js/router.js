// Path routing for the one-document app: the server answers index.html on each page's path.

const routes = new Map();
let current = null;
/** Asked before leaving the page; returns false to stay (e.g. while live). */
let guard = () => true;
/** The path of the page on screen. */
let shownPath = '/';

/** Sets the question asked before navigating away from the current page. */
export function setLeaveGuard(fn) {
  guard = fn ?? (() => true);
}

/** Asks the page whether it may be left; once it says yes, it is not asked again. */
export function mayLeave() {
  if (!guard()) return false;
  guard = () => true;
  return true;
}

/** Registers `render(main)` for `path`; it may return a cleanup function. */
export function route(path, render) {
  routes.set(path, render);
}

/** Goes to `path` (pushing history unless `replace`). */
export function navigate(path, { replace = false } = {}) {
  if (!mayLeave()) return Promise.resolve();
  if (replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  return render();
}

let generation = 0;

/**
 * Renders the page for the current path into a container of its own. A page still loading
 * when the next navigation starts renders into its detached container, unseen, and is cleaned
 * up as soon as it finishes.
 */
export async function render() {
  const mine = ++generation;
  const main = document.getElementById('main');
  const cleanup = current;
  current = null;
  if (typeof cleanup === 'function') await cleanup();
  if (mine !== generation) return;
  const path = location.pathname;
  shownPath = path;
  const page = routes.get(path) || routes.get('/');
  const container = document.createElement('div');
  container.className = 'page';
  main.replaceChildren(container);
  const result = await page(container);
  if (mine !== generation) {
    if (typeof result === 'function') await result();
    return;
  }
  current = result;
  main.focus({ preventScroll: true });
}

/** Same-document navigation for `<a data-link>` and browser back/forward. */
export function start() {
  document.addEventListener('click', (event) => {
    const link = event.target.closest('a[data-link]');
    if (!link || event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey) {
      return;
    }
    event.preventDefault();
    navigate(link.getAttribute('href'));
  });
  window.addEventListener('popstate', () => {
    if (!mayLeave()) {
      // Back/forward was pressed while the page asked to stay: put the address back.
      history.pushState(null, '', shownPath);
      return;
    }
    render();
  });
  return render();
}
