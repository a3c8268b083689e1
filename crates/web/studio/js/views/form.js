// The parts every account form shares: an alert area and a busy state.

import { h } from '../lib/dom.js';

/** `{el, show(message), clear()}`: a role=alert paragraph. */
export function alertArea() {
  const el = h('p', { class: 'alert', role: 'alert', hidden: true });
  return {
    el,
    show(message) {
      el.textContent = message;
      el.hidden = false;
    },
    clear() {
      el.textContent = '';
      el.hidden = true;
    },
  };
}

/** Runs `work` with the form's submit button disabled. */
export async function busy(form, work) {
  const button = form.querySelector('button[type=submit]');
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  try {
    return await work();
  } finally {
    button.disabled = false;
    button.removeAttribute('aria-busy');
  }
}
