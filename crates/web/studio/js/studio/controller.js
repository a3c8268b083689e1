// The studio's state and every action a control can take. Views render from `store` and call
// these methods; nothing else changes the state.

import { createStore } from '../lib/store.js';
import { Compositor } from './compositor.js';
import { Mixer } from './mixer.js';
import { listDevices, openCamera, openMicrophone, openScreen, explainMediaError } from './devices.js';
import { preset, clampBitrate } from './quality.js';
import { loadScene, loadLogo, logoProblem, sceneSaver } from './settings.js';
import { newDestination, persist, initialDestinations, keepInMemory, rememberEnabled } from './destinations.js';
import { isSlate } from './scenes.js';
import { normalizeScene } from './scene_settings.js';
import { api } from '../api.js';
import { runPreflight, goLive, stopLive, sampleStats, createObsBroadcast } from './live.js';
import { cameraStalled } from './camera_watch.js';

export class Studio {
  constructor() {
    this.store = createStore({
      cameras: [], microphones: [],
      cameraId: '', microphoneId: '',
      sharing: false, muted: false,
      volumes: { microphone: 1, screen: 1 },
      presetId: '720p30', bitrateKbps: 2500,
      scene: null, logoUrl: null, saved: '',
      destinations: initialDestinations(), remember: rememberEnabled(),
      /** offline | preflight | connecting | live | reconnecting | reconnected | failed */
      phase: 'offline', connectionDetail: '',
      broadcast: null, view: null, stats: null, startedAt: 0,
      preflight: null, errors: [], recordLocally: false, recording: null,
      obs: null, slateUntil: null,
    });
    this.compositor = null;
    this.mixer = null;
    this.timers = [];
    this.tracks = { camera: null, microphone: null, screen: null, screenAudio: null };
    /** Audio levels, 10 times a second: a store of their own so only the meters re-render. */
    this.levels = createStore({});
    /** The latest device request per source: an older open that resolves late is discarded. */
    this.requests = { camera: 0, microphone: 0 };
    /** When the camera was last reopened because it stalled (camera_watch.js). */
    this.cameraReopenedAt = -Infinity;
    this.disposed = false;
    /** Counts Go live attempts; Stop moves it on, so an attempt in flight knows it was cancelled. */
    this.liveAttempt = 0;
    this.cleanups = [];
    this.saveScene = sceneSaver((error) => this.store.set({
      saved: error ? `Overlay settings were not saved: ${error.message}` : 'Overlay settings saved',
    }));
  }

  get state() {
    return this.store.get();
  }

  get output() {
    const p = preset(this.state.presetId);
    return { width: p.width, height: p.height, frameRate: p.fps };
  }

  /** Loads the saved scene and logo, starts the compositor and mixer, opens the default devices. */
  async init() {
    const [scene, logo] = await Promise.all([loadScene(), loadLogo().catch(() => null)]);
    this.store.set({ scene });
    this.compositor = new Compositor(this.output);
    this.mixer = new Mixer();
    this.#pushScene();
    if (logo) {
      // A saved logo this browser cannot decode must not keep the studio from opening.
      await this.#showLogo(logo).catch(() => {
        this.#showLogo(null);
        this.setError('logo', 'Your saved logo could not be read by this browser. Upload it again, or another image.');
      });
    }
    if (!navigator.mediaDevices) {
      // Only in an insecure context; the page's banner explains what to do.
      this.setError('camera', 'This page is not in a secure context, so the browser offers no camera or microphone. Open it over HTTPS.');
      return;
    }
    await Promise.all([this.selectCamera(''), this.selectMicrophone('')]);
    await this.refreshDevices();
    this.#listen(navigator.mediaDevices, 'devicechange', () => this.refreshDevices());
    this.every(100, () => this.levels.set({ microphone: -60, screen: -60, ...this.mixer.readLevels() }));
    this.every(1000, () => sampleStats(this));
    this.every(1000, () => this.#watchCamera());
    // Browsers may start the audio context suspended until the page is used.
    const resume = () => this.mixer.resume();
    for (const type of ['pointerdown', 'keydown']) this.#listen(document, type, resume);
  }

  #listen(target, type, fn) {
    target.addEventListener(type, fn);
    this.cleanups.push(() => target.removeEventListener(type, fn));
  }

  /** The program: what the preview plays and what goes out. */
  get program() {
    return new MediaStream([this.compositor.track, this.mixer.track]);
  }

  async refreshDevices() {
    if (!navigator.mediaDevices) return;
    const { cameras, microphones } = await listDevices();
    const cameraId = this.tracks.camera?.getSettings().deviceId ?? this.state.cameraId;
    const microphoneId = this.tracks.microphone?.getSettings().deviceId ?? this.state.microphoneId;
    this.store.set({ cameras, microphones, cameraId: cameraId ?? '', microphoneId: microphoneId ?? '' });
  }

  setError(source, message) {
    this.store.set((s) => ({ errors: [...s.errors.filter((e) => e.source !== source), ...(message ? [{ source, message }] : [])] }));
  }

  /** `deviceId` '' = the default, 'none' = no camera. The program track stays the same. */
  async selectCamera(deviceId) {
    const request = ++this.requests.camera;
    this.tracks.camera?.stop();
    this.tracks.camera = null;
    this.compositor.setSource('camera', null);
    this.store.set({ cameraId: deviceId });
    if (deviceId === 'none') return this.setError('camera', null);
    try {
      const track = await openCamera(deviceId, this.output);
      if (request !== this.requests.camera || this.disposed) {
        track.stop(); // a newer choice (or leaving the page) overtook this one
        return;
      }
      this.tracks.camera = track;
      this.compositor.setSource('camera', this.tracks.camera);
      this.store.set({ cameraId: this.tracks.camera.getSettings().deviceId ?? deviceId });
      this.setError('camera', null);
    } catch (error) {
      this.setError('camera', explainMediaError(error, 'camera'));
    }
  }

  /** Reopens the camera if it stopped delivering frames (see camera_watch.js). */
  async #watchCamera() {
    const track = this.tracks.camera;
    if (!track || !this.compositor) return;
    // Without insertable streams the page posts the camera's frames itself, and a hidden
    // page may post them slowly: that is not the camera stalling.
    if (this.compositor.mode === 'canvas' && document.hidden) return;
    // A muted track is one the system paused (another app took the camera, a privacy
    // switch): reopening would not bring its frames back, only flicker.
    if (track.muted) return;
    const { ages } = await this.compositor.stats();
    if (track !== this.tracks.camera || this.disposed) return;
    const now = performance.now();
    if (!cameraStalled({ ageMs: ages?.camera, sinceReopenMs: now - this.cameraReopenedAt })) return;
    this.cameraReopenedAt = now;
    console.warn(`camera: no frame for ${Math.round(ages.camera)} ms; reopening it`);
    await this.selectCamera(this.state.cameraId);
  }

  async selectMicrophone(deviceId) {
    const request = ++this.requests.microphone;
    this.tracks.microphone?.stop();
    this.tracks.microphone = null;
    this.mixer.setSource('microphone', null);
    this.store.set({ microphoneId: deviceId });
    if (deviceId === 'none') return this.setError('microphone', null);
    try {
      const track = await openMicrophone(deviceId);
      if (request !== this.requests.microphone || this.disposed) {
        track.stop();
        return;
      }
      this.tracks.microphone = track;
      this.mixer.setSource('microphone', this.tracks.microphone);
      this.mixer.setMuted('microphone', this.state.muted);
      this.mixer.setVolume('microphone', this.state.volumes.microphone);
      this.store.set({ microphoneId: this.tracks.microphone.getSettings().deviceId ?? deviceId });
      this.setError('microphone', null);
    } catch (error) {
      this.setError('microphone', explainMediaError(error, 'microphone'));
    }
  }

  async toggleScreen() {
    this.mixer.resume();
    if (this.state.sharing) return this.#stopScreen();
    try {
      const { video, audio } = await openScreen(this.output.frameRate);
      this.tracks.screen = video;
      this.tracks.screenAudio = audio;
      this.compositor.setSource('screen', video);
      if (audio) {
        this.mixer.setSource('screen', audio);
        this.mixer.setVolume('screen', this.state.volumes.screen);
      }
      // The browser's own "Stop sharing" bar ends the track.
      video.addEventListener('ended', () => this.#stopScreen());
      this.store.set({ sharing: true });
      if (this.state.scene.layout === 'camera') this.updateScene({ layout: 'pip' });
      this.setError('screen', null);
    } catch (error) {
      this.setError('screen', explainMediaError(error, 'screen'));
    }
  }

  #stopScreen() {
    this.tracks.screen?.stop();
    this.tracks.screenAudio?.stop();
    this.tracks.screen = null;
    this.tracks.screenAudio = null;
    this.compositor.setSource('screen', null);
    this.mixer.setSource('screen', null);
    this.store.set({ sharing: false });
  }

  setMuted(muted) {
    this.mixer.setMuted('microphone', muted);
    this.store.set({ muted });
  }

  setVolume(id, volume) {
    this.mixer.setVolume(id, volume);
    this.store.set((s) => ({ volumes: { ...s.volumes, [id]: volume } }));
  }

  /** Changes the output size; refused while live (platforms end the video on a size change). */
  async setPreset(presetId) {
    if (this.isLive) return;
    const p = preset(presetId);
    this.store.set({ presetId: p.id, bitrateKbps: p.bitrateKbps });
    this.compositor.stop();
    this.compositor = new Compositor(this.output);
    this.#pushScene();
    if (this.logoBlob) await this.#showLogo(this.logoBlob);
    if (this.tracks.camera) {
      await this.selectCamera(this.state.cameraId);
    }
    if (this.tracks.screen) this.compositor.setSource('screen', this.tracks.screen);
    this.store.set({});
  }

  async setBitrate(kbps) {
    const bitrateKbps = clampBitrate(kbps);
    this.store.set({ bitrateKbps });
    await this.publisher?.setBitrate(bitrateKbps);
  }

  /** Merges `patch` into the scene (nested objects one level deep), shows it, saves it. */
  updateScene(patch) {
    const merged = { ...this.state.scene };
    for (const [key, value] of Object.entries(patch)) {
      merged[key] = value && typeof value === 'object' ? { ...merged[key], ...value } : value;
    }
    const scene = normalizeScene(merged);
    const slateChanged = 'layout' in patch || 'countdownMinutes' in patch;
    const slateUntil = slateChanged
      ? (isSlate(scene.layout) && scene.countdownMinutes > 0 ? Date.now() + scene.countdownMinutes * 60000 : null)
      : this.state.slateUntil;
    this.store.set({ scene, slateUntil, saved: '' });
    this.#pushScene();
    this.saveScene(scene);
  }

  #pushScene() {
    this.compositor?.setScene(this.state.scene, this.state.slateUntil);
  }

  async #showLogo(blob) {
    this.logoBlob = blob;
    if (this.state.logoUrl) URL.revokeObjectURL(this.state.logoUrl);
    this.store.set({ logoUrl: blob ? URL.createObjectURL(blob) : null });
    await this.compositor.setLogo(blob);
  }

  async setLogo(file) {
    const why = logoProblem(file);
    if (why) return this.setError('logo', why);
    try {
      // Decode first: an image this browser cannot draw is refused before it is saved.
      const bitmap = await createImageBitmap(file);
      bitmap.close();
    } catch {
      return this.setError('logo', 'This image could not be read. Save it again as PNG or JPEG and retry.');
    }
    try {
      await api.uploadLogo(file);
      await this.#showLogo(file);
      this.setError('logo', null);
    } catch (error) {
      this.setError('logo', error.message);
    }
  }

  async removeLogo() {
    await api.deleteLogo().catch(() => {});
    await this.#showLogo(null);
  }

  // Destinations --------------------------------------------------------------------------

  addDestination(platformId) {
    const d = newDestination(this.state.destinations, platformId);
    this.#setDestinations([...this.state.destinations, d]);
    return d;
  }

  updateDestination(uid, patch) {
    this.#setDestinations(this.state.destinations.map((d) => (d.uid === uid ? { ...d, ...patch } : d)));
  }

  /** Removes a card; while live, also from the running broadcast. */
  async removeDestination(uid) {
    const d = this.state.destinations.find((x) => x.uid === uid);
    const live = this.serverDestination(d);
    if (live && this.broadcast) {
      try {
        await this.broadcast.remove(live.id);
      } catch (error) {
        return this.setError(`destination-${uid}`, `${d.label} could not be removed: ${error.message}`);
      }
    }
    this.#setDestinations(this.state.destinations.filter((x) => x.uid !== uid));
  }

  /** Sends a card added while live to the running broadcast. */
  async addToLive(uid) {
    const d = this.state.destinations.find((x) => x.uid === uid);
    if (!d || !this.broadcast) return;
    try {
      await this.broadcast.add(d);
      this.updateDestination(uid, { enabled: true });
      this.setError(`destination-${uid}`, null);
    } catch (error) {
      this.setError(`destination-${uid}`, `${d.label}: ${error.message}`);
    }
  }

  setRemember(remember) {
    this.store.set({ remember });
    persist(this.state.destinations, remember);
  }

  #setDestinations(destinations) {
    this.store.set({ destinations });
    keepInMemory(destinations);
    persist(destinations, this.state.remember);
  }

  /** The server's view of a card's destination in the running broadcast. */
  serverDestination(d) {
    return d && this.state.view?.destinations.find((v) => v.name === d.label);
  }

  // Going live (live.js) -------------------------------------------------------------------

  get isLive() {
    return !['offline', 'failed'].includes(this.state.phase);
  }

  runPreflight() {
    return runPreflight(this);
  }

  goLive() {
    return goLive(this);
  }

  stop() {
    return stopLive(this);
  }

  createObsBroadcast() {
    return createObsBroadcast(this);
  }

  /** Runs `fn` every `ms` until the studio is disposed. */
  every(ms, fn) {
    this.timers.push(setInterval(fn, ms));
  }

  dispose() {
    this.disposed = true;
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
    for (const cleanup of this.cleanups) cleanup();
    this.cleanups = [];
    this.saveScene.flush();
    if (this.state.logoUrl) URL.revokeObjectURL(this.state.logoUrl);
    if (this.state.recording) URL.revokeObjectURL(this.state.recording.url);
    this.stop();
    for (const track of Object.values(this.tracks)) track?.stop();
    this.compositor?.stop();
    this.mixer?.close();
  }
}
