// The studio's connection to the server: one RTCPeerConnection carrying the program's video
// and audio over WHIP, kept up by itself.
//
// When the connection drops, it first restarts ICE on the same WHIP session (a network change
// or a short outage: the server keeps the session, the platforms see nothing). When the
// session is gone, or the restart does not bring media back, it publishes a new WHIP session
// to the same broadcast, which takes over the same RTMP connections. Attempts back off from
// 1 s to 30 s with jitter, and every step is reported as a state the page shows.

import { WhipClient, WhipError, preferH264, configureVideoSender } from './whip.js';
import { backoffDelay } from '../lib/backoff.js';

/** How long `disconnected` may last before we act (Chrome often recovers by itself). */
const DISCONNECTED_GRACE_MS = 2000;
/** How long an ICE restart may take to reconnect before a new session is tried. */
const RESTART_TIMEOUT_MS = 6000;
/** How long a new session may take to connect. */
const CONNECT_TIMEOUT_MS = 10000;

/**
 * @typedef {'connecting'|'live'|'reconnecting'|'reconnected'|'failed'|'stopped'} PublisherState
 */

export class Publisher {
  /**
   * @param {{whipUrl: string, token: string, video: MediaStreamTrack, audio: MediaStreamTrack,
   *   bitrateKbps: number, frameRate: number, onState: (state: PublisherState, detail?: string) => void}} options
   */
  constructor(options) {
    this.options = options;
    this.whip = new WhipClient(options.whipUrl, options.token);
    this.pc = null;
    this.state = 'connecting';
    this.stopped = false;
    this.attempt = 0;
    this.reconnecting = null;
    this.disconnectTimer = 0;
  }

  /**
   * Connects for the first time; throws (with the server's reason) when it cannot. Returns
   * quietly when stopped meanwhile.
   */
  async start() {
    this.#setState('connecting');
    await this.#newSession();
    if (this.stopped) return;
    await this.#waitConnected(CONNECT_TIMEOUT_MS);
    this.#setState('live');
  }

  /** The sender of the program video (stats, bitrate). */
  get videoSender() {
    return this.pc?.getSenders().find((s) => s.track?.kind === 'video') ?? null;
  }

  async setBitrate(kbps) {
    this.options.bitrateKbps = kbps;
    const sender = this.videoSender;
    if (sender) await configureVideoSender(sender, kbps, this.options.frameRate);
  }

  async stop() {
    this.stopped = true;
    clearTimeout(this.disconnectTimer);
    await this.whip.close();
    this.pc?.close();
    this.pc = null;
    this.#setState('stopped');
  }

  async #newSession() {
    this.pc?.close();
    // The old session, if the server still has it, is ended first (RFC 9725 §4.2): the new
    // one takes over the broadcast either way.
    await this.whip.close();
    const pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle', iceCandidatePoolSize: 0 });
    this.pc = pc;
    const video = pc.addTransceiver(this.options.video, { direction: 'sendonly' });
    pc.addTransceiver(this.options.audio, { direction: 'sendonly' });
    preferH264(video);
    await configureVideoSender(video.sender, this.options.bitrateKbps, this.options.frameRate);
    pc.addEventListener('connectionstatechange', () => this.#onConnectionState(pc));
    const whip = new WhipClient(this.options.whipUrl, this.options.token);
    this.whip = whip;
    try {
      await whip.publish(pc);
    } catch (error) {
      // Once stopped, the answer cannot be applied to the closed connection; that is no error.
      if (!this.stopped) throw error;
    }
    if (this.stopped) {
      // Stop was pressed while the offer was on its way: end what the server just made.
      await whip.close();
      pc.close();
    }
  }

  #setState(state, detail) {
    if (this.stopped && state !== 'stopped') return;
    this.state = state;
    this.options.onState(state, detail);
  }

  #onConnectionState(pc) {
    if (pc !== this.pc || this.stopped) return;
    const s = pc.connectionState;
    if (s === 'connected') {
      clearTimeout(this.disconnectTimer);
      return;
    }
    if (s === 'disconnected') {
      clearTimeout(this.disconnectTimer);
      this.disconnectTimer = setTimeout(() => {
        if (pc === this.pc && pc.connectionState !== 'connected') this.#reconnect();
      }, DISCONNECTED_GRACE_MS);
    } else if (s === 'failed') {
      this.#reconnect();
    }
  }

  /** Runs until connected again or stopped; one loop at a time. */
  #reconnect() {
    if (this.reconnecting || this.stopped || this.state === 'connecting') return;
    this.reconnecting = (async () => {
      this.#setState('reconnecting');
      let tryRestart = true;
      while (!this.stopped) {
        try {
          if (tryRestart && this.whip.location) {
            await this.whip.restartIce(this.pc);
            await this.#waitConnected(RESTART_TIMEOUT_MS);
          } else {
            await this.#newSession();
            await this.#waitConnected(CONNECT_TIMEOUT_MS);
          }
          this.attempt = 0;
          this.#setState('reconnected');
          setTimeout(() => this.state === 'reconnected' && this.#setState('live'), 5000);
          return;
        } catch (error) {
          if (this.stopped) return;
          if (error instanceof WhipError && (error.status === 401 || error.status === 404) && !tryRestart) {
            // The broadcast itself is gone (stopped elsewhere, or the server forgot it).
            this.#setState('failed', error.message);
            return;
          }
          // A restart the server no longer knows (404), or that did not reconnect: next time,
          // a new session. A network error: retry whatever we were trying.
          if (error instanceof WhipError || error.name === 'TimeoutError') tryRestart = false;
          const delay = backoffDelay(this.attempt);
          this.attempt += 1;
          this.#setState('reconnecting', `attempt ${this.attempt + 1} in ${Math.round(delay / 1000)} s`);
          await new Promise((resolve) => setTimeout(resolve, delay));
        }
      }
    })().finally(() => {
      this.reconnecting = null;
    });
  }

  #waitConnected(ms) {
    const pc = this.pc;
    return new Promise((resolve, reject) => {
      if (pc.connectionState === 'connected') return resolve();
      const timer = setTimeout(() => {
        cleanup();
        const error = new Error('the connection did not come up in time');
        error.name = 'TimeoutError';
        reject(error);
      }, ms);
      const check = () => {
        if (pc.connectionState === 'connected') {
          cleanup();
          resolve();
        } else if (pc.connectionState === 'failed' || pc.connectionState === 'closed') {
          cleanup();
          const error = new Error('the connection failed');
          error.name = 'TimeoutError';
          reject(error);
        }
      };
      const cleanup = () => {
        clearTimeout(timer);
        pc.removeEventListener('connectionstatechange', check);
      };
      pc.addEventListener('connectionstatechange', check);
    });
  }
}
