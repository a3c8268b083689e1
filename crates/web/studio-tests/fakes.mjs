// Stand-ins for the browser's WebRTC and for the WHIP server, for the connection modules'
// unit tests. Importing this module installs them on globalThis (import it before whip.js and
// publisher.js): the modules only ever reach `fetch`, `RTCPeerConnection` and `RTCRtpSender`
// through the globals, as they do in a browser.

/** The SDP a fake peer connection offers: two sections, ICE credentials per section. */
export function offerSdp(generation) {
  const ice = [`a=ice-ufrag:uf${generation}`, `a=ice-pwd:pw${generation}`];
  return [
    'v=0', 'o=- 1 2 IN IP4 127.0.0.1', 's=-', 't=0 0', 'a=group:BUNDLE 0 1',
    'm=video 9 UDP/TLS/RTP/SAVPF 96', 'c=IN IP4 0.0.0.0', ...ice, 'a=mid:0', 'a=sendonly',
    `a=candidate:1 1 udp 2122260223 192.0.2.${generation} 5000${generation} typ host`,
    `a=candidate:2 1 tcp 1518280447 192.0.2.${generation} 9 typ host tcptype active`,
    'm=audio 9 UDP/TLS/RTP/SAVPF 111', 'c=IN IP4 0.0.0.0', ...ice, 'a=mid:1', 'a=sendonly',
    `a=candidate:3 1 udp 2122260223 198.51.100.${generation} 6000${generation} typ host`,
  ].join('\r\n') + '\r\n';
}

/** What a WHIP server answers: both sections, credentials and candidates in each. */
export const ANSWER = [
  'v=0', 'o=- 9 9 IN IP4 127.0.0.1', 's=-', 't=0 0', 'a=group:BUNDLE 0 1', 'a=ice-lite',
  'm=video 9 UDP/TLS/RTP/SAVPF 96', 'c=IN IP4 0.0.0.0', 'a=ice-ufrag:srv1', 'a=ice-pwd:srvpwd1',
  'a=mid:0', 'a=recvonly', 'a=candidate:1 1 udp 2130706431 127.0.0.1 40000 typ host',
  'a=candidate:2 1 udp 2130706431 10.0.0.1 40000 typ host', 'a=end-of-candidates',
  'm=audio 9 UDP/TLS/RTP/SAVPF 111', 'c=IN IP4 0.0.0.0', 'a=ice-ufrag:srv1', 'a=ice-pwd:srvpwd1',
  'a=mid:1', 'a=recvonly', 'a=candidate:1 1 udp 2130706431 127.0.0.1 40000 typ host',
  'a=end-of-candidates',
].join('\r\n') + '\r\n';

/** What the server answers an ICE restart: its new credentials. */
export const RESTART_REPLY = 'a=ice-ufrag:srv2\r\na=ice-pwd:srvpwd2\r\n';

/** A sender whose parameters round-trip, as Chrome's do. */
export class FakeSender {
  constructor(track) {
    this.track = track;
    this.params = { encodings: [], transactionId: 't1' };
    this.applied = [];
  }

  getParameters() {
    return structuredClone(this.params);
  }

  async setParameters(params) {
    this.params = structuredClone(params);
    this.applied.push(this.params);
  }
}

/**
 * A peer connection that gathers at once and, unless told otherwise, connects as soon as an
 * answer is applied. Tests move it through states with `setConnectionState`.
 */
export class FakePeerConnection extends EventTarget {
  /** Every connection made, newest last. */
  static created = [];
  /** Whether applying an answer brings the connection up (a reachable server). */
  static connectOnAnswer = true;

  constructor(config) {
    super();
    this.config = config;
    this.connectionState = 'new';
    this.iceGatheringState = 'complete';
    this.localDescription = null;
    this.remoteDescriptions = [];
    this.transceivers = [];
    this.generation = 1;
    this.restarts = 0;
    this.closed = false;
    FakePeerConnection.created.push(this);
  }

  addTransceiver(track, init) {
    const transceiver = {
      track, init, sender: new FakeSender(track), preferences: null,
      setCodecPreferences(codecs) { this.preferences = codecs; },
    };
    this.transceivers.push(transceiver);
    return transceiver;
  }

  getSenders() {
    return this.transceivers.map((t) => t.sender);
  }

  restartIce() {
    this.restarts += 1;
    this.generation += 1;
  }

  async createOffer() {
    return { type: 'offer', sdp: offerSdp(this.generation) };
  }

  async setLocalDescription(description) {
    this.localDescription = description;
  }

  async setRemoteDescription(description) {
    // As in a browser: a closed connection takes no description.
    if (this.closed) throw new DOMException('The RTCPeerConnection is closed.', 'InvalidStateError');
    this.remoteDescriptions.push(description);
    if (FakePeerConnection.connectOnAnswer) this.setConnectionState('connected');
  }

  setConnectionState(state) {
    if (this.closed) return;
    this.connectionState = state;
    this.dispatchEvent(new Event('connectionstatechange'));
  }

  close() {
    this.closed = true;
    this.connectionState = 'closed';
  }
}

/** What `RTCRtpSender.getCapabilities('video')` reports: H.264 mixed among the others. */
export const VIDEO_CODECS = [
  { mimeType: 'video/VP8', clockRate: 90000 },
  { mimeType: 'video/H264', clockRate: 90000, sdpFmtpLine: 'level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42e01f' },
  { mimeType: 'video/rtx', clockRate: 90000 },
  { mimeType: 'video/H264', clockRate: 90000, sdpFmtpLine: 'level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f' },
  { mimeType: 'video/VP9', clockRate: 90000, sdpFmtpLine: 'profile-id=0' },
  { mimeType: 'video/h264', clockRate: 90000, sdpFmtpLine: 'level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=640c1f' },
];

/**
 * A scripted WHIP server: every request is recorded; each is answered by the first handler
 * queued for its method, or, with none queued, by the default for its method: 201 and a new session for a
 * POST, 200 and new credentials for a PATCH, 204 for a DELETE.
 */
export class FakeServer {
  constructor() {
    this.requests = [];
    this.queues = { POST: [], PATCH: [], DELETE: [] };
    this.sessions = 0;
  }

  /** Queues `handler(request)` → Response (or a promise of one) for the next `method` request. */
  next(method, handler) {
    this.queues[method].push(handler);
  }

  /**
   * A request that is never answered, only aborted by its signal (as fetch does). Node's
   * timeout signals do not keep it running, so the pending request does.
   */
  static hang(request) {
    return new Promise((_, reject) => {
      const pending = setInterval(() => {}, 1000);
      request.signal?.addEventListener('abort', () => {
        clearInterval(pending);
        reject(request.signal.reason);
      });
    });
  }

  created() {
    this.sessions += 1;
    return new Response(ANSWER, {
      status: 201,
      headers: { Location: `/whip/sessions/s${this.sessions}`, ETag: `"e${this.sessions}"`, 'Content-Type': 'application/sdp' },
    });
  }

  methods() {
    return this.requests.map((r) => `${r.method} ${r.url}`);
  }

  fetch = async (url, init = {}) => {
    const request = { url: String(url), ...init, method: init.method ?? 'GET', headers: { ...init.headers } };
    this.requests.push(request);
    const handler = this.queues[request.method]?.shift();
    if (handler) return handler(request);
    if (request.method === 'POST') return this.created();
    if (request.method === 'PATCH') return new Response(RESTART_REPLY, { status: 200 });
    return new Response(null, { status: 204 });
  };
}

/** A response the test releases when it chooses: `{ handler, release(response) }`. */
export function held() {
  let release;
  const response = new Promise((resolve) => {
    const pending = setInterval(() => {}, 1000);
    release = (value) => {
      clearInterval(pending);
      resolve(value);
    };
  });
  return { handler: () => response, release: (value) => release(value) };
}

/** A JSON error as the server sends it. */
export function jsonError(status, error, message) {
  return new Response(JSON.stringify({ error, message }), { status, headers: { 'Content-Type': 'application/json' } });
}

const server = { current: new FakeServer() };

/** A fresh server and no connections: call at the start of every test. */
export function reset() {
  server.current = new FakeServer();
  FakePeerConnection.created = [];
  FakePeerConnection.connectOnAnswer = true;
  return server.current;
}

globalThis.fetch = (url, init) => server.current.fetch(url, init);
globalThis.RTCPeerConnection = FakePeerConnection;
globalThis.RTCRtpSender = { getCapabilities: (kind) => (kind === 'video' ? { codecs: VIDEO_CODECS } : null) };
