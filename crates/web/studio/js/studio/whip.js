// A WHIP client (RFC 9725): POST the offer, keep the session's URL and entity tag, PATCH it
// for an ICE restart, DELETE it to end. Non-trickle: the offer carries the candidates
// gathered within a short wait, which on a LAN or localhost is all of them.

const GATHER_WAIT_MS = 1500;
/** An answer (or a restart's answer) that takes longer than this is not coming. */
const REQUEST_TIMEOUT_MS = 10000;

export class WhipError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

const lines = (sdp) => sdp.split(/\r?\n/).filter((l) => l !== '');
const attr = (list, name) => list.find((l) => l.startsWith(`a=${name}:`))?.slice(name.length + 3);

async function readError(response) {
  const text = await response.text();
  try {
    const body = JSON.parse(text);
    return body.message || text;
  } catch {
    return text || `the server answered ${response.status}`;
  }
}

/** Resolves when gathering completes, or after `ms`. */
function gathered(pc, ms) {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      pc.removeEventListener('icegatheringstatechange', check);
      clearTimeout(timer);
      resolve();
    };
    const check = () => pc.iceGatheringState === 'complete' && done();
    const timer = setTimeout(done, ms);
    pc.addEventListener('icegatheringstatechange', check);
  });
}

export class WhipClient {
  /**
   * @param {string} url the broadcast's whip_url  @param {string} token its bearer token
   * @param {{timeoutMs?: number}} [options] how long a request may take (tests shorten it)
   */
  constructor(url, token, { timeoutMs = REQUEST_TIMEOUT_MS } = {}) {
    this.url = url;
    this.token = token;
    this.timeoutMs = timeoutMs;
    this.location = null;
    this.etag = null;
    this.answer = null;
  }

  #headers(extra) {
    return { Authorization: `Bearer ${this.token}`, ...extra };
  }

  /** Offers `pc`'s media and applies the answer. Throws WhipError with the server's reason. */
  async publish(pc) {
    await pc.setLocalDescription(await pc.createOffer());
    await gathered(pc, GATHER_WAIT_MS);
    const response = await fetch(this.url, {
      method: 'POST',
      headers: this.#headers({ 'Content-Type': 'application/sdp' }),
      body: pc.localDescription.sdp,
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    if (response.status !== 201) throw new WhipError(response.status, await readError(response));
    const location = response.headers.get('Location');
    if (!location) throw new WhipError(502, 'the server answered without the session\'s Location');
    this.location = new URL(location, this.url).href;
    this.etag = response.headers.get('ETag');
    this.answer = await response.text();
    await pc.setRemoteDescription({ type: 'answer', sdp: this.answer });
  }

  /**
   * An ICE restart on the same session (RFC 9725 §4.3): the new credentials and candidates go
   * in a PATCH with `If-Match: *`; the fragment the server answers replaces the ICE lines of
   * its answer. DTLS and the media carry on. A 404 means the session is gone (start anew).
   */
  async restartIce(pc) {
    pc.restartIce();
    await pc.setLocalDescription(await pc.createOffer());
    await gathered(pc, GATHER_WAIT_MS);
    const local = lines(pc.localDescription.sdp);
    const first = local.findIndex((l) => l.startsWith('m='));
    const next = local.findIndex((l, i) => i > first && l.startsWith('m='));
    const section = local.slice(first, next === -1 ? local.length : next);
    const fragment = [
      `a=ice-ufrag:${attr(section, 'ice-ufrag') ?? attr(local, 'ice-ufrag')}`,
      `a=ice-pwd:${attr(section, 'ice-pwd') ?? attr(local, 'ice-pwd')}`,
      section[0],
      `a=mid:${attr(section, 'mid')}`,
      ...section.filter((l) => l.startsWith('a=candidate:')),
      'a=end-of-candidates',
    ].join('\r\n') + '\r\n';
    const response = await fetch(this.location, {
      method: 'PATCH',
      headers: this.#headers({ 'Content-Type': 'application/trickle-ice-sdpfrag', 'If-Match': '*' }),
      body: fragment,
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    if (response.status !== 200) throw new WhipError(response.status, await readError(response));
    this.etag = response.headers.get('ETag');
    const reply = lines(await response.text());
    const ufrag = attr(reply, 'ice-ufrag');
    const pwd = attr(reply, 'ice-pwd');
    if (!ufrag || !pwd) throw new WhipError(500, 'the server answered an ICE restart without credentials');
    const candidates = reply.filter((l) => l.startsWith('a=candidate:'));
    const renewed = [];
    let placed = false;
    for (const line of lines(this.answer)) {
      if (line.startsWith('m=')) placed = false;
      if (line.startsWith('a=ice-ufrag:')) renewed.push(`a=ice-ufrag:${ufrag}`);
      else if (line.startsWith('a=ice-pwd:')) renewed.push(`a=ice-pwd:${pwd}`);
      else if (line.startsWith('a=candidate:')) {
        if (!placed) renewed.push(...candidates);
        placed = true;
      } else renewed.push(line);
    }
    this.answer = renewed.join('\r\n') + '\r\n';
    await pc.setRemoteDescription({ type: 'answer', sdp: this.answer });
  }

  /** Ends the session on the server (best effort: the page may be closing). */
  async close() {
    if (!this.location) return;
    const location = this.location;
    this.location = null;
    await fetch(location, {
      method: 'DELETE', headers: this.#headers(), keepalive: true, signal: AbortSignal.timeout(this.timeoutMs),
    }).catch(() => {});
  }
}

/** Whether this browser can send H.264, which is all the platforms take without re-encoding. */
export function canSendH264() {
  const codecs = globalThis.RTCRtpSender?.getCapabilities?.('video')?.codecs ?? [];
  return codecs.some((c) => c.mimeType.toLowerCase() === 'video/h264');
}

/** H.264 first (its packetization-mode 1 variants before mode 0), everything else after. */
export function preferH264(transceiver) {
  const codecs = RTCRtpSender.getCapabilities('video').codecs;
  const h264 = codecs.filter((c) => c.mimeType.toLowerCase() === 'video/h264');
  const mode1 = h264.filter((c) => /packetization-mode=1/.test(c.sdpFmtpLine ?? ''));
  const ordered = [...mode1, ...h264.filter((c) => !mode1.includes(c))];
  transceiver.setCodecPreferences([...ordered, ...codecs.filter((c) => !h264.includes(c))]);
}

/**
 * A fixed output: the encoder may lower the frame rate or quality under pressure but never
 * the resolution (platforms restart their transcoders on a size change); the target bitrate
 * is the streamer's.
 */
export async function configureVideoSender(sender, bitrateKbps, frameRate) {
  const params = sender.getParameters();
  params.degradationPreference = 'maintain-resolution';
  if (!params.encodings || params.encodings.length === 0) params.encodings = [{}];
  params.encodings[0].maxBitrate = bitrateKbps * 1000;
  params.encodings[0].maxFramerate = frameRate;
  params.encodings[0].scaleResolutionDownBy = 1;
  params.encodings[0].priority = 'high';
  params.encodings[0].networkPriority = 'high';
  await sender.setParameters(params);
}
