// The top bar's links, which depend on who is logged in.

import { h, replace } from '../lib/dom.js';
import { api } from '../api.js';
import { navigate, mayLeave } from '../router.js';
import { session } from '../session.js';

export function renderNav(nav) {
  const { user } = session.get();
  if (!user) {
    replace(nav,
      h('a', { href: '/login', 'data-link': true, text: 'Log in' }),
      h('a', { href: '/signup', 'data-link': true, text: 'Sign up' }));
    return;
  }
  const here = location.pathname;
  const link = (href, text) => h('a', {
    href, 'data-link': true, text, 'aria-current': here === href ? 'page' : false,
  });
  replace(nav,
    link('/', 'Studio'),
    link('/history', 'History'),
    h('span', { class: 'who', text: user.name }),
    h('button', {
      type: 'button',
      class: 'secondary',
      text: 'Log out',
      async onClick() {
        if (!mayLeave()) return;
        try { await api.logout(); } finally {
          session.set({ user: null, known: true });
          navigate('/login');
        }
      },
    }));
}
