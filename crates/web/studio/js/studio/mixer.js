// The program's audio: each source (microphone, screen audio) → its own gain → one bus →
// a gentle compressor/limiter → the program track. A silent constant source is always mixed
// in, so the track keeps producing samples (and the platforms keep getting audio) when every
// source is muted or gone.

import { peakDb, decayed, FLOOR_DB } from './meter.js';

export class Mixer {
  constructor() {
    this.context = new AudioContext({ latencyHint: 'interactive', sampleRate: 48000 });
    this.bus = this.context.createGain();
    // Catches peaks before they clip on the platforms; quiet speech passes untouched.
    this.limiter = this.context.createDynamicsCompressor();
    this.limiter.threshold.value = -3;
    this.limiter.knee.value = 3;
    this.limiter.ratio.value = 20;
    this.limiter.attack.value = 0.003;
    this.limiter.release.value = 0.25;
    this.programMeter = this.#analyser();
    this.destination = this.context.createMediaStreamDestination();
    this.bus.connect(this.limiter).connect(this.programMeter).connect(this.destination);
    const silence = this.context.createConstantSource();
    silence.offset.value = 0;
    silence.connect(this.destination);
    silence.start();
    /** @type {Map<string, {node: MediaStreamAudioSourceNode, gain: GainNode, meter: AnalyserNode, volume: number, muted: boolean}>} */
    this.sources = new Map();
    this.levels = new Map([['program', FLOOR_DB]]);
    this.lastLevelAt = performance.now();
    this.buffer = new Float32Array(1024);
  }

  #analyser() {
    const analyser = this.context.createAnalyser();
    analyser.fftSize = 1024;
    return analyser;
  }

  /** The program audio track (always present, silent when nothing plays). */
  get track() {
    return this.destination.stream.getAudioTracks()[0];
  }

  /** Browsers start audio contexts suspended until the page is used; call on a user action. */
  resume() {
    if (this.context.state === 'suspended') return this.context.resume().catch(() => {});
    return Promise.resolve();
  }

  /** Sets (or with null removes) source `id` from an audio track. */
  setSource(id, track) {
    const old = this.sources.get(id);
    if (old) {
      old.node.disconnect();
      old.gain.disconnect();
      this.sources.delete(id);
    }
    if (!track) {
      this.levels.delete(id);
      return;
    }
    const node = this.context.createMediaStreamSource(new MediaStream([track]));
    const gain = this.context.createGain();
    const meter = this.#analyser();
    const volume = old?.volume ?? 1;
    const muted = old?.muted ?? false;
    gain.gain.value = muted ? 0 : volume;
    // The meter reads before the gain: a muted microphone still shows it hears you.
    node.connect(meter);
    node.connect(gain).connect(this.bus);
    this.sources.set(id, { node, gain, meter, volume, muted });
    this.levels.set(id, FLOOR_DB);
  }

  setVolume(id, volume) {
    const source = this.sources.get(id);
    if (!source) return;
    source.volume = volume;
    if (!source.muted) source.gain.gain.setTargetAtTime(volume, this.context.currentTime, 0.02);
  }

  setMuted(id, muted) {
    const source = this.sources.get(id);
    if (!source) return;
    source.muted = muted;
    source.gain.gain.setTargetAtTime(muted ? 0 : source.volume, this.context.currentTime, 0.02);
  }

  /** Levels in dBFS with peak decay: `{program, microphone?, screen?}`. */
  readLevels() {
    const now = performance.now();
    const elapsed = now - this.lastLevelAt;
    this.lastLevelAt = now;
    const read = (id, analyser) => {
      analyser.getFloatTimeDomainData(this.buffer);
      this.levels.set(id, decayed(this.levels.get(id) ?? FLOOR_DB, peakDb(this.buffer), elapsed));
    };
    read('program', this.programMeter);
    for (const [id, source] of this.sources) read(id, source.meter);
    return Object.fromEntries(this.levels);
  }

  close() {
    this.context.close().catch(() => {});
  }
}
