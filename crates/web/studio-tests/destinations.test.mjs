import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nextLabel, newDestination, fullUrl, problem, persist, restore } from '../studio/js/studio/destinations.js';
import { statusText, humanReason, standbyText } from '../studio/js/studio/status_words.js';

class MemoryStorage {
  constructor() { this.map = new Map(); }
  getItem(k) { return this.map.has(k) ? this.map.get(k) : null; }
  setItem(k, v) { this.map.set(k, String(v)); }
  removeItem(k) { this.map.delete(k); }
}

test('labels are the platform name, then numbered', () => {
  const a = newDestination([], 'twitch');
  const b = newDestination([a], 'twitch');
  assert.equal(a.label, 'Twitch');
  assert.equal(b.label, 'Twitch 2');
  assert.equal(nextLabel([a, b], 'custom'), 'Custom');
  assert.match(a.serverUrl, /^rtmps:\/\//);
});

test('the key becomes the last path segment with exactly one slash', () => {
  assert.equal(fullUrl({ serverUrl: 'rtmp://h/app/', key: '/k' }), 'rtmp://h/app/k');
  assert.equal(fullUrl({ serverUrl: ' rtmps://h:443/app ', key: ' k ' }), 'rtmps://h:443/app/k');
});

test('problems are explained per destination', () => {
  assert.match(problem({ label: 'X', serverUrl: '', key: 'k' }), /server URL/);
  assert.match(problem({ label: 'X', serverUrl: 'http://h/app', key: 'k' }), /rtmp:\/\//);
  assert.match(problem({ label: 'X', serverUrl: 'rtmp://h/app', key: ' ' }), /stream key/);
  assert.equal(problem({ label: 'X', serverUrl: 'rtmp://h/app', key: 'k' }), null);
});

test('destinations are kept in the browser only when asked, and erased when not', () => {
  const storage = new MemoryStorage();
  const d = { ...newDestination([], 'youtube'), key: 'secret' };
  persist([d], false, storage);
  assert.deepEqual(restore(storage), []);
  persist([d], true, storage);
  assert.equal(restore(storage)[0].key, 'secret');
  persist([d], false, storage);
  assert.equal(storage.map.size, 0);
});

test('garbage in storage restores nothing', () => {
  const storage = new MemoryStorage();
  storage.setItem('streamhard.remember.v1', '1');
  storage.setItem('streamhard.destinations.v1', '{not json');
  assert.deepEqual(restore(storage), []);
});

test('server states read as words', () => {
  assert.equal(statusText(null), 'Not live');
  assert.equal(statusText({ state: 'live' }), 'Live');
  assert.equal(statusText({ state: 'failed', last_error: 'something new' }), 'Failed: something new');
  assert.equal(statusText({ state: 'failed', last_error: 'RTMP: the server refused publish: NetStream.Publish.BadName' }),
    'Failed: the platform refused this stream key, or it is already in use');
  assert.equal(statusText({ state: 'retrying', retry_at_ms: 10_000 }, 7_100), 'Retrying in 3 s');
  assert.match(statusText({ state: 'stalled' }), /^Stalled/);
});

test('standby is explained with the time left, and only while reconnecting', () => {
  assert.equal(standbyText({ state: 'reconnecting', ends_in_ms: 24_100 }),
    'Viewers see your last picture; the broadcast ends in 25 s unless the connection comes back.');
  assert.equal(standbyText({ state: 'live', ends_in_ms: null }), '');
  assert.equal(standbyText({ state: 'reconnecting' }), '');
  assert.equal(standbyText(null), '');
});

test('operator errors become what they mean for a streamer', () => {
  assert.match(humanReason('connection failed: Connection refused (os error 111)'), /check the server URL/);
  assert.match(humanReason('TLS handshake failed: invalid peer certificate'), /RTMPS/);
  assert.match(humanReason('connect timed out after 10 s'), /in time/);
  assert.equal(humanReason(null), '');
});
