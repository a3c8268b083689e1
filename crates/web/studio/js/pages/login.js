// Log in with email and password; the server sets an HttpOnly session cookie.

import { h, field } from '../lib/dom.js';
import { api } from '../api.js';
import { navigate } from '../router.js';
import { refreshSession } from '../session.js';
import { alertArea, busy } from '../views/form.js';

export async function loginPage(main) {
  const email = h('input', { type: 'email', name: 'email', autocomplete: 'username', required: true });
  const password = h('input', {
    type: 'password', name: 'password', autocomplete: 'current-password', required: true,
  });
  const alert = alertArea();
  const form = h('form', { class: 'card narrow', novalidate: true },
    h('h1', { text: 'Log in' }),
    field('Email', email),
    field('Password', password),
    alert.el,
    h('button', { type: 'submit', text: 'Log in' }),
    h('p', {}, 'New here? ', h('a', { href: '/signup', 'data-link': true, text: 'Create an account' })));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    alert.clear();
    await busy(form, async () => {
      try {
        await api.login(email.value.trim(), password.value);
        await refreshSession();
        navigate('/');
      } catch (error) {
        alert.show(error.message);
      }
    });
  });
  main.append(form);
  await refreshSession().catch(() => null);
  email.focus();
}
