// A WHIP publisher as a web page would write one, for the browser tests: the camera and
// microphone (Chromium's fake devices, fed from a y4m/wav file) → RTCPeerConnection →
// POST the offer to the WHIP endpoint; an ICE restart PATCHes the session (RFC 9725 §4.3).
// Evaluated in a page of the server's own origin, so `fetch` needs no CORS and getUserMedia
// sees a secure context (127.0.0.1, or an origin the test marks as secure).
window.streamhardTest = (() => {
  let pc = null;
  let location = null;
  let token = null;
  // The server's answer and the session's entity tag as they now stand (a restart changes both).
  let answer = null;
  let etag = null;

  // `test` may be async (a getStats look).
  const waitFor = (what, test, ms) =>
    new Promise((resolve, reject) => {
      const started = performance.now();
      const poll = async () => {
        if (await test()) return resolve(performance.now() - started);
        if (performance.now() - started > ms) return reject(new Error(`${what} did not happen within ${ms} ms`));
        setTimeout(poll, 20);
      };
      poll().catch(reject);
    });

  const sdpLines = (sdp) => sdp.split(/\r?\n/).filter((l) => l !== '');
  const attr = (lines, name) => {
    const line = lines.find((l) => l.startsWith(`a=${name}:`));
    return line && line.slice(name.length + 3);
  };

  async function publish(whipPath, bearer) {
    token = bearer;
    const media = await navigator.mediaDevices.getUserMedia({
      video: { width: { ideal: 1280 }, height: { ideal: 720 }, frameRate: { ideal: 30 } },
      audio: true,
    });
    pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle' });
    const video = pc.addTransceiver(media.getVideoTracks()[0], { direction: 'sendonly' });
    pc.addTransceiver(media.getAudioTracks()[0], { direction: 'sendonly' });
    const codecs = RTCRtpSender.getCapabilities('video').codecs;
    const h264 = codecs.filter((c) => c.mimeType.toLowerCase() === 'video/h264');
    if (h264.length === 0) throw new Error('this Chromium has no H.264 encoder');
    video.setCodecPreferences([...h264, ...codecs.filter((c) => !h264.includes(c))]);
    const params = video.sender.getParameters();
    params.degradationPreference = 'maintain-resolution';
    params.encodings[0].maxBitrate = 2_500_000;
    await video.sender.setParameters(params);

    await pc.setLocalDescription(await pc.createOffer());
    // Non-trickle WHIP: the offer carries the candidates gathered within 2 s.
    await waitFor('ICE gathering', () => pc.iceGatheringState === 'complete', 2000).catch(() => {});
    const response = await fetch(whipPath, {
      method: 'POST',
      headers: { 'Content-Type': 'application/sdp', Authorization: `Bearer ${token}` },
      body: pc.localDescription.sdp,
    });
    const body = await response.text();
    if (response.status !== 201) throw new Error(`WHIP answered ${response.status}: ${body}`);
    location = response.headers.get('Location');
    etag = response.headers.get('ETag');
    answer = body;
    await pc.setRemoteDescription({ type: 'answer', sdp: answer });
    const iceMs = await waitFor(
      'ICE connection',
      () => ['connected', 'completed'].includes(pc.iceConnectionState),
      5000,
    );
    return { iceMs, location, etag, offer: pc.localDescription.sdp, answer };
  }

  // The local ICE ufrag of the candidate pair media now flows on (null if stats do not say).
  async function selectedUfrag() {
    const report = await pc.getStats();
    let ufrag = null;
    report.forEach((s) => {
      if (s.type !== 'transport' || !s.selectedCandidatePairId) return;
      const pair = report.get(s.selectedCandidatePairId);
      const local = pair && report.get(pair.localCandidateId);
      ufrag = (local && local.usernameFragment) || s.iceLocalUsernameFragment || null;
    });
    return ufrag;
  }

  // An ICE restart as a WHIP client does it: a new offer's credentials and candidates go to
  // the session in a PATCH with If-Match: *, and the fragment answering it takes the place of
  // the ICE lines of the answer we have. DTLS and the media carry on.
  async function restartIce() {
    const started = performance.now();
    const etagBefore = etag;
    pc.restartIce();
    // Listening before setLocalDescription: this end of gathering is the new generation's.
    const gathered = new Promise((resolve) => {
      const onCandidate = (e) => {
        if (e.candidate) return;
        pc.removeEventListener('icecandidate', onCandidate);
        resolve();
      };
      pc.addEventListener('icecandidate', onCandidate);
    });
    await pc.setLocalDescription(await pc.createOffer());
    await Promise.race([gathered, new Promise((resolve) => setTimeout(resolve, 2000))]);

    const local = sdpLines(pc.localDescription.sdp);
    const first = local.findIndex((l) => l.startsWith('m='));
    const next = local.findIndex((l, i) => i > first && l.startsWith('m='));
    const section = local.slice(first, next === -1 ? local.length : next);
    const ufrag = attr(section, 'ice-ufrag') || attr(local, 'ice-ufrag');
    const pwd = attr(section, 'ice-pwd') || attr(local, 'ice-pwd');
    const frag = [
      `a=ice-ufrag:${ufrag}`,
      `a=ice-pwd:${pwd}`,
      section[0],
      `a=mid:${attr(section, 'mid')}`,
      ...section.filter((l) => l.startsWith('a=candidate:')),
      'a=end-of-candidates',
    ];
    const response = await fetch(location, {
      method: 'PATCH',
      headers: {
        'Content-Type': 'application/trickle-ice-sdpfrag',
        'If-Match': '*',
        Authorization: `Bearer ${token}`,
      },
      body: frag.join('\r\n') + '\r\n',
    });
    const reply = await response.text();
    if (response.status !== 200) throw new Error(`WHIP PATCH answered ${response.status}: ${reply}`);
    const etagAfter = response.headers.get('ETag');

    // The previous answer with the fragment's credentials, and its candidates where the old
    // ones were (once per section that had them).
    const got = sdpLines(reply);
    const remoteUfrag = attr(got, 'ice-ufrag');
    const remotePwd = attr(got, 'ice-pwd');
    const candidates = got.filter((l) => l.startsWith('a=candidate:'));
    if (!remoteUfrag || !remotePwd) throw new Error(`the restart answer has no credentials: ${reply}`);
    const renewed = [];
    let placed = false;
    for (const line of sdpLines(answer)) {
      if (line.startsWith('m=')) placed = false;
      if (line.startsWith('a=ice-ufrag:')) renewed.push(`a=ice-ufrag:${remoteUfrag}`);
      else if (line.startsWith('a=ice-pwd:')) renewed.push(`a=ice-pwd:${remotePwd}`);
      else if (line.startsWith('a=candidate:')) {
        if (!placed) renewed.push(...candidates);
        placed = true;
      } else renewed.push(line);
    }
    answer = renewed.join('\r\n') + '\r\n';
    etag = etagAfter;
    await pc.setRemoteDescription({ type: 'answer', sdp: answer });
    // The ICE state may never leave `connected` (the old pair carries media meanwhile): the
    // restart is done when the selected pair is one of the new ICE session.
    const reconnectMs = await waitFor(
      'ICE reconnection',
      async () =>
        ['connected', 'completed'].includes(pc.iceConnectionState) && (await selectedUfrag()) === ufrag,
      5000,
    );
    return {
      status: response.status,
      etagBefore,
      etagAfter,
      reconnectMs,
      totalMs: performance.now() - started,
      iceState: pc.iceConnectionState,
      ufrag,
      fragment: frag.join('\n'),
      reply,
    };
  }

  async function stats() {
    const report = await pc.getStats();
    const out = { framesSent: 0, framesEncoded: 0, keyFramesEncoded: 0, width: 0, height: 0, fps: 0, localCandidate: null, remoteCandidate: null };
    let pair = null;
    report.forEach((s) => {
      if (s.type === 'outbound-rtp' && s.kind === 'video') {
        out.framesSent = s.framesSent;
        out.framesEncoded = s.framesEncoded;
        out.keyFramesEncoded = s.keyFramesEncoded;
        out.width = s.frameWidth;
        out.height = s.frameHeight;
        out.fps = s.framesPerSecond;
        out.encoder = s.encoderImplementation;
      }
      if (s.type === 'transport' && s.selectedCandidatePairId) pair = report.get(s.selectedCandidatePairId);
    });
    if (pair) {
      const local = report.get(pair.localCandidateId);
      const remote = report.get(pair.remoteCandidateId);
      out.localCandidate = local && `${local.address}:${local.port}`;
      out.remoteCandidate = remote && `${remote.address}:${remote.port}`;
    }
    return out;
  }

  async function stop() {
    const final = await stats();
    pc.getSenders().forEach((s) => s.track && s.track.stop());
    pc.close();
    const response = await fetch(location, { method: 'DELETE', headers: { Authorization: `Bearer ${token}` } });
    return { ...final, deleteStatus: response.status };
  }

  return { publish, restartIce, stats, stop };
})();
