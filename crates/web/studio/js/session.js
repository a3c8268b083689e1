// Who is logged in, for the pages and the navigation bar.

import { api, ApiError } from './api.js';
import { createStore } from './lib/store.js';

/** `{user: {id, name, email} | null, known: boolean}` */
export const session = createStore({ user: null, known: false });

/** Asks the server once per page load (or after login/logout). */
export async function refreshSession() {
  try {
    const me = await api.me();
    session.set({ user: me.user ?? me, known: true });
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 401) throw error;
    session.set({ user: null, known: true });
  }
  return session.get().user;
}
