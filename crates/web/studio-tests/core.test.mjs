import { test } from 'node:test';
import assert from 'node:assert/strict';
import { peakDb, decayed, FLOOR_DB, DECAY_DB_PER_SECOND } from '../studio/js/studio/meter.js';
import { backoffDelay, MAX_DELAY_MS } from '../studio/js/lib/backoff.js';
import { preflight } from '../studio/js/studio/preflight.js';
import { clampBitrate, preset } from '../studio/js/studio/quality.js';
import { normalizeScene, DEFAULT_SCENE } from '../studio/js/studio/scene_settings.js';
import { insecureContextProblem } from '../studio/js/secure_context.js';
import { duration, bitrate } from '../studio/js/lib/format.js';
import { keyframeInterval } from '../studio/js/studio/stats.js';

test('a meter shows peaks at once and lets them fall at a steady rate', () => {
  assert.equal(peakDb(new Float32Array(64)), FLOOR_DB);
  assert.equal(Math.round(peakDb(Float32Array.of(0, -0.5, 0.25))), -6);
  assert.equal(decayed(-40, -6, 100), -6);
  assert.equal(decayed(-6, -60, 1000), -6 - DECAY_DB_PER_SECOND);
  assert.equal(decayed(-55, -60, 5000), FLOOR_DB);
});

test('reconnect delays double from 1 s to 30 s, with bounded jitter', () => {
  const mid = () => 0.5;
  assert.deepEqual([0, 1, 2, 3, 4, 5, 6].map((n) => backoffDelay(n, mid)), [1000, 2000, 4000, 8000, 16000, 30000, 30000]);
  for (let n = 0; n < 10; n += 1) {
    assert.ok(backoffDelay(n, () => 0.999) <= MAX_DELAY_MS);
    assert.ok(backoffDelay(n, () => 0) >= 800);
  }
});

const ready = {
  secure: true, h264: true, hasCamera: true, hasScreen: false, hasMicrophone: true,
  destinations: [{ label: 'Twitch', enabled: true, serverUrl: 'rtmps://live.twitch.tv/app', key: 'k' }],
  bitrateKbps: 2500, uplinkKbps: null,
};

test('preflight passes a ready studio and blocks on what cannot work', () => {
  assert.equal(preflight(ready).ok, true);
  assert.equal(preflight({ ...ready, h264: false }).ok, false);
  assert.equal(preflight({ ...ready, destinations: [] }).ok, false);
  const empty = preflight({ ...ready, destinations: [{ label: 'Kick', enabled: true, serverUrl: 'rtmps://k/app', key: '' }] });
  assert.equal(empty.ok, false);
  assert.match(empty.checks.find((c) => c.name === 'Kick').text, /stream key/);
});

test('preflight warns, without blocking, about a slow uplink or no microphone', () => {
  const slow = preflight({ ...ready, uplinkKbps: 1000, hasMicrophone: false });
  assert.equal(slow.ok, true);
  assert.equal(slow.checks.find((c) => c.name === 'Upload bandwidth').ok, false);
  assert.equal(slow.checks.find((c) => c.name === 'Microphone').ok, false);
});

test('bitrates stay within what platforms take; unknown presets fall back to 720p30', () => {
  assert.equal(clampBitrate(50), 300);
  assert.equal(clampBitrate(99999), 12000);
  assert.equal(clampBitrate('abc'), 2500);
  assert.equal(preset('nope').width, 1280);
  assert.deepEqual([preset('vertical').width, preset('vertical').height], [720, 1280]);
});

test('saved scenes are merged over the defaults and junk is dropped', () => {
  assert.deepEqual(normalizeScene(null), normalizeScene({}));
  assert.equal(normalizeScene({}).bar.color, DEFAULT_SCENE.bar.color);
  const s = normalizeScene({ bar: { color: 'red; background: url(x)', text: 'x'.repeat(999) }, logo: { size: 1e9 } });
  assert.equal(s.bar.color, DEFAULT_SCENE.bar.color);
  assert.equal(s.bar.text.length, 200);
  assert.equal(s.logo.size, 40);
  assert.equal(normalizeScene({ bar: { color: '#FF00ff' } }).bar.color, '#FF00ff');
});

test('an insecure page explains HTTPS and the localhost alternative', () => {
  assert.equal(insecureContextProblem(true, {}), null);
  const text = insecureContextProblem(false, { hostname: '192.168.1.5', port: '8080' });
  assert.match(text, /HTTPS/);
  assert.match(text, /https:\/\/192\.168\.1\.5:8080\//);
  assert.match(text, /http:\/\/localhost:8080\//);
});

test('numbers read as a streamer expects', () => {
  assert.equal(duration(65), '1:05');
  assert.equal(duration(3725), '1:02:05');
  assert.equal(bitrate(2_500_000), '2.50 Mb/s');
  assert.equal(bitrate(640_000), '640 kb/s');
  assert.equal(keyframeInterval([[0, 10], [4000, 12]]), 2);
  assert.equal(keyframeInterval([[0, 10], [1000, 10]]), null);
  assert.equal(keyframeInterval([[0, 1]]), null);
});

test('saved layouts, corners and numbers outside what exists fall back to defaults', () => {
  const s = normalizeScene({ layout: 'evil', corner: 'middle', countdownMinutes: NaN, logo: { position: 'x', size: NaN } });
  assert.equal(s.layout, DEFAULT_SCENE.layout);
  assert.equal(s.corner, DEFAULT_SCENE.corner);
  assert.equal(s.countdownMinutes, DEFAULT_SCENE.countdownMinutes);
  assert.equal(s.logo.position, DEFAULT_SCENE.logo.position);
  assert.equal(s.logo.size, DEFAULT_SCENE.logo.size);
  assert.equal(normalizeScene({ layout: 'pip', countdownMinutes: 500 }).countdownMinutes, 120);
});

test('scene saves go one at a time and the newest is always the last one sent', async () => {
  const { sceneSaver } = await import('../studio/js/studio/settings.js');
  const sent = [];
  let release;
  const save = (scene) => new Promise((resolve) => { sent.push(scene.n); release = resolve; });
  const saver = sceneSaver(() => {}, save);
  const tick = () => new Promise((r) => setTimeout(r, 0));
  saver({ n: 1 });
  const done = saver.flush();
  saver({ n: 2 });
  saver({ n: 3 });
  saver.flush(); // while 1 is in flight: nothing more is sent yet
  await tick();
  assert.deepEqual(sent, [1]);
  release();
  await tick();
  assert.deepEqual(sent, [1, 3]);
  release();
  await done;
  assert.deepEqual(sent, [1, 3]);
});

test('a request the server never answers fails in words after its timeout; a caller\'s abort stays an abort', async () => {
  const { request, ApiError } = await import('../studio/js/api.js');
  const realFetch = globalThis.fetch;
  // A connection that never answers: the promise settles only when the request is aborted.
  globalThis.fetch = (_path, init) => new Promise((_resolve, reject) => {
    init.signal.addEventListener('abort', () => reject(init.signal.reason));
  });
  // Node's AbortSignal.timeout does not keep the process alive on its own (browsers' do).
  const keepAlive = setTimeout(() => {}, 5_000);
  try {
    await assert.rejects(request('GET', '/api/instance', { timeoutMs: 20 }), (error) => {
      assert.ok(error instanceof ApiError);
      assert.equal(error.code, 'timeout');
      assert.match(error.message, /did not answer in time/);
      return true;
    });
    const caller = new AbortController();
    const pending = request('GET', '/api/broadcasts', { signal: caller.signal, timeoutMs: 60_000 });
    caller.abort();
    await assert.rejects(pending, (error) => error.name === 'AbortError');
  } finally {
    clearTimeout(keepAlive);
    globalThis.fetch = realFetch;
  }
});

test('a camera silent for 3 s is reopened, at most once every 10 s', async () => {
  const { cameraStalled, STALL_MS, REOPEN_EVERY_MS } = await import('../studio/js/studio/camera_watch.js');
  assert.equal(cameraStalled({ ageMs: 40, sinceReopenMs: Infinity }), false);
  assert.equal(cameraStalled({ ageMs: STALL_MS - 1, sinceReopenMs: Infinity }), false);
  assert.equal(cameraStalled({ ageMs: STALL_MS, sinceReopenMs: Infinity }), true);
  assert.equal(cameraStalled({ ageMs: 60_000, sinceReopenMs: REOPEN_EVERY_MS - 1 }), false);
  assert.equal(cameraStalled({ ageMs: 60_000, sinceReopenMs: REOPEN_EVERY_MS }), true);
  // No camera in the compositor (none chosen, or not attached yet): nothing to reopen.
  assert.equal(cameraStalled({ ageMs: undefined, sinceReopenMs: Infinity }), false);
});
