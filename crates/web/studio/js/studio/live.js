// Going live and stopping: preflight, the broadcast on the server, the WHIP publisher, the
// event stream, stats and the local recording. Functions of the Studio (controller.js), which
// holds the state they change.

import { Broadcast } from './broadcast.js';
import { Publisher } from './publisher.js';
import { SendStats } from './stats.js';
import { preflight, measureUplinkKbps } from './preflight.js';
import { canSendH264 } from './whip.js';
import { LocalRecorder } from './recorder.js';

/** @typedef {import('./controller.js').Studio} Studio */

/** @param {Studio} studio */
export async function runPreflight(studio) {
  const uplinkKbps = await measureUplinkKbps().catch(() => null);
  const result = preflight({
    secure: window.isSecureContext,
    h264: canSendH264(),
    hasCamera: !!studio.tracks.camera,
    hasScreen: !!studio.tracks.screen,
    hasMicrophone: !!studio.tracks.microphone,
    destinations: studio.state.destinations,
    bitrateKbps: studio.state.bitrateKbps,
    uplinkKbps,
  });
  studio.store.set({ preflight: result });
  return result;
}

/**
 * Goes live. Every await may be overtaken by Stop or by leaving the page: `stale()` says so,
 * and whatever this attempt made by then is torn down by `stopLive`, never left running.
 * @param {Studio} studio
 */
export async function goLive(studio) {
  studio.mixer.resume();
  if (studio.isLive) return;
  const attempt = ++studio.liveAttempt;
  const stale = () => attempt !== studio.liveAttempt || studio.disposed;
  if (studio.state.recording) URL.revokeObjectURL(studio.state.recording.url);
  studio.store.set({ phase: 'connecting', connectionDetail: '', recording: null });
  studio.setError('live', null);
  const checked = await runPreflight(studio);
  if (stale()) return;
  if (!checked.ok) {
    studio.store.set({ phase: 'offline' });
    return;
  }
  try {
    const enabled = studio.state.destinations.filter((d) => d.enabled);
    const broadcast = await Broadcast.create(enabled);
    if (stale()) {
      await broadcast.stop();
      return;
    }
    studio.broadcast = broadcast;
    const { id, whipUrl, token } = broadcast;
    studio.store.set({ broadcast: { id, whipUrl, token } });
    broadcast.watch((view) => onView(studio, view), () => studio.store.set({ statusStale: true }));
    studio.sendStats = new SendStats();
    studio.publisher = new Publisher({
      whipUrl,
      token,
      video: studio.compositor.track,
      audio: studio.mixer.track,
      bitrateKbps: studio.state.bitrateKbps,
      frameRate: studio.output.frameRate,
      onState: (phase, detail) => onPublisherState(studio, phase, detail),
    });
    await studio.publisher.start();
    if (stale()) return;
    studio.store.set({ startedAt: Date.now() });
    if (studio.state.recordLocally) {
      studio.recorder = new LocalRecorder(studio.program);
      studio.recorder.start();
    }
  } catch (error) {
    if (stale()) return;
    await stopLive(studio);
    studio.setError('live', `Could not go live: ${error.message}`);
  }
}

function onPublisherState(studio, phase, detail) {
  if (phase === 'stopped') return;
  if (phase === 'failed') {
    studio.setError('live', `The stream stopped: ${detail}`);
    stopLive(studio);
    return;
  }
  studio.store.set({ phase, connectionDetail: detail ?? '' });
}

function onView(studio, view) {
  // The server says how long until a retry; the card counts down from when this arrived.
  const now = Date.now();
  for (const d of view.destinations) {
    if (d.retry_in_ms !== null && d.retry_in_ms !== undefined) d.retry_at_ms = now + d.retry_in_ms;
  }
  studio.store.set({ view, statusStale: false });
  if (view.state === 'ended' && studio.isLive && studio.state.phase !== 'connecting') {
    studio.setError('live', 'The broadcast was ended on the server.');
    stopLive(studio);
  }
}

/** @param {Studio} studio */
export async function stopLive(studio) {
  studio.liveAttempt += 1; // a Go live still on its way gives up at its next step
  const { publisher, broadcast } = studio;
  studio.publisher = null;
  studio.broadcast = null;
  await publisher?.stop();
  await broadcast?.stop();
  let recording = null;
  if (studio.recorder) {
    recording = await studio.recorder.stop();
    studio.recorder = null;
  }
  studio.store.set({ phase: 'offline', broadcast: null, view: null, stats: null, recording });
}

/** @param {Studio} studio */
export async function sampleStats(studio) {
  const sender = studio.publisher?.videoSender;
  if (!sender || !studio.sendStats) return;
  const stats = await studio.sendStats.sample(sender).catch(() => null);
  if (stats) studio.store.set({ stats });
}

/** A broadcast for streaming from OBS instead: its WHIP URL and token. @param {Studio} studio */
export async function createObsBroadcast(studio) {
  const enabled = studio.state.destinations.filter((d) => d.enabled);
  const result = preflight({
    secure: true, h264: true, hasCamera: true, hasScreen: false, hasMicrophone: true,
    destinations: enabled, bitrateKbps: 0, uplinkKbps: null,
  });
  if (!result.ok) {
    studio.store.set({ preflight: result });
    return;
  }
  try {
    const b = await Broadcast.create(enabled);
    studio.store.set({ obs: { id: b.id, whipUrl: b.whipUrl, token: b.token } });
    studio.setError('obs', null);
  } catch (error) {
    studio.setError('obs', error.message);
  }
}
