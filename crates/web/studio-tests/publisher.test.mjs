// The publisher's reconnection, against a scripted WHIP server and fake peer connections
// (fakes.mjs), on mocked timers: a test moves the clock itself, so a 30 s backoff takes no time.
import { test, beforeEach, afterEach, mock } from 'node:test';
import assert from 'node:assert/strict';
import { reset, FakePeerConnection, jsonError, held } from './fakes.mjs';
import { Publisher } from '../studio/js/studio/publisher.js';

const URL_ = 'http://studio.test:8080/whip/broadcasts/b1';
const SESSION = (n) => `http://studio.test:8080/whip/sessions/s${n}`;
let server;

beforeEach(() => {
  server = reset();
  mock.timers.enable({ apis: ['setTimeout'] });
  mock.method(Math, 'random', () => 0.5); // no jitter: backoff delays of exactly 1 s, 2 s, 4 s…
});

afterEach(() => {
  mock.timers.reset();
  mock.restoreAll();
});

/** Lets every pending promise chain (fetch, body reads, SDP) run to its next timer. */
async function settle() {
  for (let i = 0; i < 30; i += 1) await new Promise((resolve) => setImmediate(resolve));
}

/** Lets what is under way set its timers, moves the mocked clock by `ms`, lets what woke run. */
async function elapse(ms) {
  await settle();
  mock.timers.tick(ms);
  await settle();
}

function publisher() {
  const states = [];
  const p = new Publisher({
    whipUrl: URL_, token: 'tok', video: { kind: 'video' }, audio: { kind: 'audio' },
    bitrateKbps: 2500, frameRate: 30,
    onState: (state, detail) => states.push(detail ? `${state}: ${detail}` : state),
  });
  return { p, states };
}

/** A publisher that went live on session s1. */
async function live() {
  const { p, states } = publisher();
  await p.start();
  return { p, states, pc: FakePeerConnection.created[0] };
}

test('going live posts one offer of sendonly H.264 video and audio, then reports live', async () => {
  const { p, states, pc } = await live();
  assert.deepEqual(states, ['connecting', 'live']);
  assert.deepEqual(server.methods(), [`POST ${URL_}`]);
  assert.equal(pc.config.bundlePolicy, 'max-bundle');
  assert.deepEqual(pc.transceivers.map((t) => [t.track.kind, t.init.direction]), [['video', 'sendonly'], ['audio', 'sendonly']]);
  assert.equal(pc.transceivers[0].preferences[0].mimeType, 'video/H264');
  assert.equal(p.videoSender.params.encodings[0].maxBitrate, 2500000);
  assert.equal(p.whip.location, SESSION(1));
});

test('a refused first offer makes start throw the server\'s reason', async () => {
  server.next('POST', () => jsonError(401, 'unauthorized', 'this broadcast\'s token is not valid'));
  const { p, states } = publisher();
  await assert.rejects(p.start(), { status: 401, message: 'this broadcast\'s token is not valid' });
  assert.deepEqual(states, ['connecting']);
});

test('a failed connection restarts ICE on the same session first, and comes back live', async () => {
  const { states, pc } = await live();
  pc.setConnectionState('failed');
  await settle();
  assert.deepEqual(states, ['connecting', 'live', 'reconnecting', 'reconnected']);
  assert.deepEqual(server.methods(), [`POST ${URL_}`, `PATCH ${SESSION(1)}`]);
  assert.equal(pc.restarts, 1);
  assert.equal(FakePeerConnection.created.length, 1, 'no new connection');
  assert.match(pc.remoteDescriptions.at(-1).sdp, /a=ice-ufrag:srv2/);
  await elapse(4999);
  assert.equal(states.at(-1), 'reconnected');
  await elapse(1);
  assert.equal(states.at(-1), 'live');
});

test('a short disconnection is given 2 s to recover by itself before ICE is restarted', async () => {
  const { states, pc } = await live();
  pc.setConnectionState('disconnected');
  await elapse(1999);
  pc.setConnectionState('connected');
  await elapse(10000);
  assert.deepEqual(states, ['connecting', 'live']);
  assert.equal(server.requests.length, 1);
  pc.setConnectionState('disconnected');
  await elapse(1999);
  assert.equal(server.requests.length, 1);
  await elapse(1);
  assert.deepEqual(server.methods().slice(1), [`PATCH ${SESSION(1)}`]);
  assert.deepEqual(states.slice(2), ['reconnecting', 'reconnected']);
});

test('a restart the server no longer knows ends the old session and publishes a new one', async () => {
  const { p, states, pc } = await live();
  server.next('PATCH', () => jsonError(404, 'not_found', 'no such WHIP session'));
  pc.setConnectionState('failed');
  await settle();
  assert.deepEqual(states.slice(2), ['reconnecting', 'reconnecting: attempt 2 in 1 s']);
  await elapse(999);
  assert.equal(server.requests.length, 2, 'waits out the backoff');
  await elapse(1);
  assert.deepEqual(server.methods(), [`POST ${URL_}`, `PATCH ${SESSION(1)}`, `DELETE ${SESSION(1)}`, `POST ${URL_}`]);
  assert.equal(states.at(-1), 'reconnected');
  assert.equal(pc.closed, true);
  const [, fresh] = FakePeerConnection.created;
  assert.equal(fresh.connectionState, 'connected');
  assert.equal(p.pc, fresh);
  assert.equal(p.whip.location, SESSION(2));
});

test('a network error retries the restart after a doubling backoff', async () => {
  const { states, pc } = await live();
  const offline = () => Promise.reject(new TypeError('Failed to fetch'));
  server.next('PATCH', offline);
  server.next('PATCH', offline);
  pc.setConnectionState('failed');
  await settle();
  assert.equal(states.at(-1), 'reconnecting: attempt 2 in 1 s');
  await elapse(999);
  assert.equal(server.requests.length, 2);
  await elapse(1);
  assert.equal(states.at(-1), 'reconnecting: attempt 3 in 2 s');
  await elapse(1999);
  assert.equal(server.requests.length, 3);
  await elapse(1);
  assert.deepEqual(server.methods().slice(1), Array(3).fill(`PATCH ${SESSION(1)}`), 'the same session each time');
  assert.equal(states.at(-1), 'reconnected');
  assert.equal(FakePeerConnection.created.length, 1);
});

test('after reconnecting, the next outage starts again from the first delay', async () => {
  const { states, pc } = await live();
  server.next('PATCH', () => Promise.reject(new TypeError('Failed to fetch')));
  pc.setConnectionState('failed');
  await elapse(1000);
  assert.equal(states.at(-1), 'reconnected');
  server.next('PATCH', () => Promise.reject(new TypeError('Failed to fetch')));
  pc.setConnectionState('failed');
  await settle();
  assert.equal(states.at(-1), 'reconnecting: attempt 2 in 1 s');
});

test('a restart that does not bring media back within 6 s gives way to a new session', async () => {
  const { states, pc } = await live();
  FakePeerConnection.connectOnAnswer = false;
  pc.setConnectionState('failed');
  await settle();
  assert.deepEqual(server.methods().slice(1), [`PATCH ${SESSION(1)}`]);
  await elapse(6000);
  assert.equal(states.at(-1), 'reconnecting: attempt 2 in 1 s');
  FakePeerConnection.connectOnAnswer = true;
  await elapse(1000);
  assert.deepEqual(server.methods().slice(2), [`DELETE ${SESSION(1)}`, `POST ${URL_}`]);
  assert.equal(states.at(-1), 'reconnected');
});

for (const [status, error, message] of [
  [404, 'not_found', 'this broadcast has ended'],
  [401, 'unauthorized', 'this broadcast\'s token is not valid'],
]) {
  test(`a ${status} on the new session's offer stops retrying and reports the server's reason`, async () => {
    const { states, pc } = await live();
    server.next('PATCH', () => jsonError(404, 'not_found', 'no such WHIP session'));
    server.next('POST', () => jsonError(status, error, message));
    pc.setConnectionState('failed');
    await elapse(1000);
    assert.deepEqual(server.methods().slice(1), [`PATCH ${SESSION(1)}`, `DELETE ${SESSION(1)}`, `POST ${URL_}`]);
    assert.equal(states.at(-1), `failed: ${message}`);
    await elapse(120000);
    assert.equal(server.requests.length, 4, 'no more attempts');
    assert.equal(states.at(-1), `failed: ${message}`);
  });
}

test('a server error on the new session\'s offer is retried, not fatal', async () => {
  const { states, pc } = await live();
  server.next('PATCH', () => jsonError(404, 'not_found', 'no such WHIP session'));
  server.next('POST', () => jsonError(503, 'unavailable', 'try again'));
  pc.setConnectionState('failed');
  await elapse(1000);
  assert.equal(states.at(-1), 'reconnecting: attempt 3 in 2 s');
  await elapse(2000);
  assert.deepEqual(server.methods().slice(-1), [`POST ${URL_}`]);
  assert.equal(states.at(-1), 'reconnected');
});

test('stop ends the session once and nothing is reported after stopped', async () => {
  const { p, states, pc } = await live();
  await p.stop();
  assert.deepEqual(server.methods().slice(1), [`DELETE ${SESSION(1)}`]);
  assert.equal(pc.closed, true);
  pc.dispatchEvent(new Event('connectionstatechange'));
  await elapse(60000);
  assert.deepEqual(states, ['connecting', 'live', 'stopped']);
  assert.equal(server.requests.length, 2);
});

test('stop while the first offer is on its way ends the session the server then creates', async () => {
  const post = held();
  server.next('POST', post.handler);
  const { p, states } = publisher();
  const starting = p.start();
  await settle();
  await p.stop();
  post.release(server.created());
  await starting;
  await settle();
  assert.deepEqual(server.methods(), [`POST ${URL_}`, `DELETE ${SESSION(1)}`]);
  assert.equal(FakePeerConnection.created[0].closed, true);
  await elapse(60000);
  assert.deepEqual(states, ['connecting', 'stopped']);
});

test('stop while a new session\'s offer is on its way ends that session too', async () => {
  const { p, states, pc } = await live();
  const post = held();
  server.next('PATCH', () => jsonError(404, 'not_found', 'no such WHIP session'));
  server.next('POST', post.handler);
  pc.setConnectionState('failed');
  await elapse(1000);
  assert.deepEqual(server.methods().slice(1), [`PATCH ${SESSION(1)}`, `DELETE ${SESSION(1)}`, `POST ${URL_}`]);
  await p.stop();
  post.release(server.created());
  await elapse(60000);
  assert.deepEqual(server.methods().slice(4), [`DELETE ${SESSION(2)}`]);
  assert.equal(FakePeerConnection.created[1].closed, true);
  assert.equal(states.at(-1), 'stopped');
  assert.equal(states.filter((s) => s === 'stopped').length, 1);
});
