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

export async function render() {
  const main = document.getElementById('main');
  if (typeof current === 'function') await current();
  current = null;
  const path = location.pathname;
  shownPath = path;
  const page = routes.get(path) || routes.get('/');
  main.replaceChildren();
  current = await page(main);
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
