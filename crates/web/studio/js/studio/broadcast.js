// A broadcast on the server: created with the enabled destinations (the only moment keys
// leave this browser), watched through its event stream, changed while live, stopped.

import { api } from '../api.js';
import { toRequest } from './destinations.js';

export class Broadcast {
  /** @param {{id: string, whip_url: string, token: string}} created */
  constructor(created) {
    this.id = created.id;
    // The page publishes to its own origin (the CSP allows no other): a whip_url made for a
    // --public-url this page was not opened from keeps only its path.
    this.whipUrl = new URL(new URL(created.whip_url, location.href).pathname, location.origin).href;
    this.token = created.token;
    this.source = null;
  }

  static async create(destinations) {
    return new Broadcast(await api.createBroadcast(destinations.map(toRequest)));
  }

  /** Calls `onView(view)` with each state the server sends (SSE), until closed. */
  watch(onView, onError) {
    this.source?.close();
    this.source = new EventSource(`/api/broadcasts/${encodeURIComponent(this.id)}/events`);
    this.source.onmessage = (event) => {
      try {
        onView(JSON.parse(event.data));
      } catch { /* a malformed event is skipped; the next one comes within 2 s */ }
    };
    // EventSource reconnects by itself; the page only says the status may be stale.
    this.source.onerror = () => onError?.();
  }

  /** Adds a destination while live; returns its server view (with its id). */
  add(destination) {
    return api.addDestination(this.id, toRequest(destination));
  }

  remove(serverId) {
    return api.removeDestination(this.id, serverId);
  }

  async stop() {
    this.source?.close();
    this.source = null;
    await api.stopBroadcast(this.id).catch(() => {});
  }
}
