// The WHIP client against a scripted server and a fake peer connection (fakes.mjs).
import { test, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { reset, FakeServer, FakePeerConnection, ANSWER, VIDEO_CODECS, jsonError } from './fakes.mjs';
import { WhipClient, WhipError, preferH264, canSendH264, configureVideoSender } from '../studio/js/studio/whip.js';

const URL_ = 'http://studio.test:8080/whip/broadcasts/b1';
let server;
beforeEach(() => {
  server = reset();
});

/** A client with a published session (the default server answers 201). */
async function published() {
  const client = new WhipClient(URL_, 'tok');
  const pc = new FakePeerConnection({});
  await client.publish(pc);
  return { client, pc };
}

/** The attribute lines of one m-section (0-based) of an SDP. */
function section(sdp, index) {
  const all = sdp.split('\r\n').filter(Boolean);
  const starts = all.flatMap((l, i) => (l.startsWith('m=') ? [i] : []));
  return all.slice(starts[index], starts[index + 1] ?? all.length);
}

test('publish posts the gathered offer as application/sdp with the bearer token', async () => {
  const { pc } = await published();
  assert.equal(server.requests.length, 1);
  const [post] = server.requests;
  assert.equal(post.method, 'POST');
  assert.equal(post.url, URL_);
  assert.equal(post.headers.Authorization, 'Bearer tok');
  assert.equal(post.headers['Content-Type'], 'application/sdp');
  assert.equal(post.body, pc.localDescription.sdp);
  assert.match(post.body, /a=candidate:1 1 udp/);
  assert.ok(post.signal instanceof AbortSignal, 'the request is bounded in time');
});

test('a 201 keeps the session URL resolved against the WHIP URL, its ETag, and applies the answer', async () => {
  const { client, pc } = await published();
  assert.equal(client.location, 'http://studio.test:8080/whip/sessions/s1');
  assert.equal(client.etag, '"e1"');
  assert.equal(client.answer, ANSWER);
  assert.deepEqual(pc.remoteDescriptions, [{ type: 'answer', sdp: ANSWER }]);
});

test('an absolute Location is kept as the server gave it', async () => {
  server.next('POST', () => new Response(ANSWER, { status: 201, headers: { Location: 'https://edge.test/s/9' } }));
  const client = new WhipClient(URL_, 'tok');
  await client.publish(new FakePeerConnection({}));
  assert.equal(client.location, 'https://edge.test/s/9');
  assert.equal(client.etag, null);
});

test('a refused offer throws a WhipError with the status and the server\'s message', async () => {
  server.next('POST', () => jsonError(401, 'unauthorized', 'this broadcast\'s token is not valid'));
  const client = new WhipClient(URL_, 'bad');
  const pc = new FakePeerConnection({});
  const error = await client.publish(pc).catch((e) => e);
  assert.ok(error instanceof WhipError);
  assert.equal(error.status, 401);
  assert.equal(error.message, 'this broadcast\'s token is not valid');
  assert.equal(client.location, null);
  assert.deepEqual(pc.remoteDescriptions, []);
});

test('a refusal that is not JSON is reported as its text, or its status when empty', async () => {
  server.next('POST', () => new Response('broadcast busy', { status: 409 }));
  server.next('POST', () => new Response('', { status: 503 }));
  const client = new WhipClient(URL_, 'tok');
  const busy = await client.publish(new FakePeerConnection({})).catch((e) => e);
  assert.deepEqual([busy.status, busy.message], [409, 'broadcast busy']);
  const down = await client.publish(new FakePeerConnection({})).catch((e) => e);
  assert.deepEqual([down.status, down.message], [503, 'the server answered 503']);
});

test('a 200 instead of a 201 is not a session', async () => {
  server.next('POST', () => new Response(ANSWER, { status: 200, headers: { Location: '/s/1' } }));
  const error = await new WhipClient(URL_, 'tok').publish(new FakePeerConnection({})).catch((e) => e);
  assert.ok(error instanceof WhipError);
  assert.equal(error.status, 200);
});

test('a 201 without a Location is an error, and no answer is applied', async () => {
  server.next('POST', () => new Response(ANSWER, { status: 201 }));
  const client = new WhipClient(URL_, 'tok');
  const pc = new FakePeerConnection({});
  const error = await client.publish(pc).catch((e) => e);
  assert.ok(error instanceof WhipError);
  assert.match(error.message, /Location/);
  assert.equal(client.location, null);
  assert.deepEqual(pc.remoteDescriptions, []);
});

test('a server that never answers the offer times out', async () => {
  server.next('POST', FakeServer.hang);
  const client = new WhipClient(URL_, 'tok', { timeoutMs: 20 });
  const started = Date.now();
  const error = await client.publish(new FakePeerConnection({})).catch((e) => e);
  assert.equal(error.name, 'TimeoutError');
  assert.ok(Date.now() - started < 2000, 'gave up near the timeout');
  assert.equal(client.location, null);
});

test('an ICE restart patches the session with the new credentials, first m-line, mid and candidates', async () => {
  const { client, pc } = await published();
  server.next('PATCH', () => new Response('a=ice-ufrag:srv2\r\na=ice-pwd:srvpwd2\r\n', { status: 200, headers: { ETag: '"e1-2"' } }));
  await client.restartIce(pc);
  assert.equal(pc.restarts, 1);
  const patch = server.requests[1];
  assert.equal(patch.method, 'PATCH');
  assert.equal(patch.url, 'http://studio.test:8080/whip/sessions/s1');
  assert.equal(patch.headers.Authorization, 'Bearer tok');
  assert.equal(patch.headers['If-Match'], '*');
  assert.equal(patch.headers['Content-Type'], 'application/trickle-ice-sdpfrag');
  assert.ok(patch.signal instanceof AbortSignal);
  assert.deepEqual(patch.body.split('\r\n'), [
    'a=ice-ufrag:uf2',
    'a=ice-pwd:pw2',
    'm=video 9 UDP/TLS/RTP/SAVPF 96',
    'a=mid:0',
    'a=candidate:1 1 udp 2122260223 192.0.2.2 50002 typ host',
    'a=candidate:2 1 tcp 1518280447 192.0.2.2 9 typ host tcptype active',
    'a=end-of-candidates',
    '',
  ]);
  assert.equal(client.etag, '"e1-2"');
});

test('the restart\'s fragment replaces the credentials and candidates of every section, once each', async () => {
  const { client, pc } = await published();
  const reply = [
    'a=ice-ufrag:srv2', 'a=ice-pwd:srvpwd2', 'm=video 9 UDP/TLS/RTP/SAVPF 96', 'a=mid:0',
    'a=candidate:7 1 udp 2130706431 127.0.0.1 41000 typ host',
    'a=candidate:8 1 udp 2130706431 10.0.0.2 41000 typ host', 'a=end-of-candidates',
  ].join('\r\n') + '\r\n';
  server.next('PATCH', () => new Response(reply, { status: 200 }));
  await client.restartIce(pc);
  const renewed = client.answer;
  assert.deepEqual(pc.remoteDescriptions.at(-1), { type: 'answer', sdp: renewed });
  assert.doesNotMatch(renewed, /srv1|srvpwd1|40000/);
  const fresh = ['a=candidate:7 1 udp 2130706431 127.0.0.1 41000 typ host', 'a=candidate:8 1 udp 2130706431 10.0.0.2 41000 typ host'];
  for (const index of [0, 1]) {
    const lines = section(renewed, index);
    assert.deepEqual(lines.filter((l) => l.startsWith('a=ice-')), ['a=ice-ufrag:srv2', 'a=ice-pwd:srvpwd2']);
    assert.deepEqual(lines.filter((l) => l.startsWith('a=candidate:')), fresh);
    assert.equal(lines.filter((l) => l === 'a=end-of-candidates').length, 1);
    assert.equal(lines.filter((l) => l.startsWith('a=mid:')).length, 1);
  }
  // Everything that is not ICE is untouched.
  const rest = (sdp) => sdp.split('\r\n').filter((l) => !/^a=(ice-ufrag|ice-pwd|candidate):/.test(l));
  assert.deepEqual(rest(renewed), rest(ANSWER));
});

test('a restart the server no longer knows is a WhipError 404 and changes nothing', async () => {
  const { client, pc } = await published();
  server.next('PATCH', () => jsonError(404, 'not_found', 'no such WHIP session'));
  const error = await client.restartIce(pc).catch((e) => e);
  assert.ok(error instanceof WhipError);
  assert.equal(error.status, 404);
  assert.equal(error.message, 'no such WHIP session');
  assert.equal(client.answer, ANSWER);
  assert.equal(pc.remoteDescriptions.length, 1);
});

test('a restart answered without credentials is refused rather than applied', async () => {
  const { client, pc } = await published();
  server.next('PATCH', () => new Response('a=candidate:7 1 udp 1 127.0.0.1 41000 typ host\r\n', { status: 200 }));
  const error = await client.restartIce(pc).catch((e) => e);
  assert.ok(error instanceof WhipError);
  assert.match(error.message, /credentials/);
  assert.equal(pc.remoteDescriptions.length, 1);
});

test('close deletes the session once, with the token, and a second close sends nothing', async () => {
  const { client } = await published();
  await client.close();
  await client.close();
  assert.deepEqual(server.methods(), [`POST ${URL_}`, 'DELETE http://studio.test:8080/whip/sessions/s1']);
  const del = server.requests[1];
  assert.equal(del.headers.Authorization, 'Bearer tok');
  assert.equal(del.keepalive, true);
  assert.equal(client.location, null);
});

test('close without a session sends nothing, and a failing DELETE is not thrown', async () => {
  await new WhipClient(URL_, 'tok').close();
  assert.equal(server.requests.length, 0);
  const { client } = await published();
  server.next('DELETE', () => Promise.reject(new TypeError('Failed to fetch')));
  await client.close();
  assert.equal(server.requests.at(-1).method, 'DELETE');
});

test('H.264 is preferred, packetization-mode 1 first, the other codecs after in their order', () => {
  const transceiver = new FakePeerConnection({}).addTransceiver({ kind: 'video' }, {});
  preferH264(transceiver);
  const [vp8, h264Mode0, rtx, h264Mode1, vp9, h264HighMode1] = VIDEO_CODECS;
  assert.deepEqual(transceiver.preferences, [h264Mode1, h264HighMode1, h264Mode0, vp8, rtx, vp9]);
  assert.equal(canSendH264(), true);
});

test('a browser without H.264 cannot send it', () => {
  const real = globalThis.RTCRtpSender;
  globalThis.RTCRtpSender = { getCapabilities: () => ({ codecs: [VIDEO_CODECS[0], VIDEO_CODECS[4]] }) };
  try {
    assert.equal(canSendH264(), false);
  } finally {
    globalThis.RTCRtpSender = real;
  }
});

test('the video sender keeps its resolution and takes the streamer\'s bitrate and frame rate', async () => {
  const sender = new FakePeerConnection({}).addTransceiver({ kind: 'video' }, {}).sender;
  await configureVideoSender(sender, 4500, 30);
  const [params] = sender.applied;
  assert.equal(params.degradationPreference, 'maintain-resolution');
  assert.equal(params.transactionId, 't1');
  assert.equal(params.encodings.length, 1);
  assert.deepEqual(
    [params.encodings[0].maxBitrate, params.encodings[0].maxFramerate, params.encodings[0].scaleResolutionDownBy],
    [4500000, 30, 1],
  );
});
