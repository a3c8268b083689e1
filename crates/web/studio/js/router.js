// Path routing for the one-document app: the server answers index.html on each page's path.

const routes = new Map();
let current = null;

/** Registers `render(main)` for `path`; it may return a cleanup function. */
export function route(path, render) {
  routes.set(path, render);
}

/** Goes to `path` (pushing history unless `replace`). */
export function navigate(path, { replace = false } = {}) {
  if (replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  return render();
}

export async function render() {
  const main = document.getElementById('main');
  if (typeof current === 'function') await current();
  current = null;
  const path = location.pathname;
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
  window.addEventListener('popstate', render);
  return render();
}
