// Sign up: name, email, password. The server signs the new account in straight away.

import { h, field } from '../lib/dom.js';
import { api } from '../api.js';
import { navigate } from '../router.js';
import { refreshSession } from '../session.js';
import { alertArea, busy } from '../views/form.js';

export async function signupPage(main) {
  const instance = await api.instance().catch(() => ({ signup_enabled: true }));
  const heading = h('h1', { text: 'Create your account' });
  if (!instance.signup_enabled) {
    main.append(h('section', { class: 'card narrow' }, heading,
      h('p', {
        text: 'Sign-up is turned off on this server. Ask its administrator for an account '
          + '(they create one with "streamhard user add"), then log in.',
      }),
      h('p', {}, h('a', { href: '/login', 'data-link': true, text: 'Log in' }))));
    return;
  }
  const name = h('input', { type: 'text', name: 'name', autocomplete: 'name', required: true, maxlength: 100 });
  const email = h('input', { type: 'email', name: 'email', autocomplete: 'email', required: true });
  const password = h('input', {
    type: 'password', name: 'password', autocomplete: 'new-password', required: true, minlength: 8,
  });
  const alert = alertArea();
  const form = h('form', { class: 'card narrow', novalidate: true },
    heading,
    field('Name', name),
    field('Email', email),
    field('Password', password, 'At least 8 characters.'),
    alert.el,
    h('button', { type: 'submit', text: 'Create account' }),
    h('p', {}, 'Already have an account? ', h('a', { href: '/login', 'data-link': true, text: 'Log in' })));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    alert.clear();
    await busy(form, async () => {
      try {
        await api.signup(name.value.trim(), email.value.trim(), password.value);
        await refreshSession();
        navigate('/');
      } catch (error) {
        alert.show(error.message);
      }
    });
  });
  main.append(form);
  name.focus();
}
