// A WHIP publisher as a web page would write one, for the browser tests: the camera and
// microphone (Chromium's fake devices, fed from a y4m/wav file) → RTCPeerConnection →
// POST the offer to the WHIP endpoint. Evaluated in a page of the server's own origin, so
// `fetch` needs no CORS and getUserMedia sees a secure context (127.0.0.1, or an origin the
// test marks as secure).
window.streamhardTest = (() => {
  let pc = null;
  let location = null;
  let token = null;

  const waitFor = (what, test, ms) =>
    new Promise((resolve, reject) => {
      const started = performance.now();
      const poll = () => {
        if (test()) return resolve(performance.now() - started);
        if (performance.now() - started > ms) return reject(new Error(`${what} did not happen within ${ms} ms`));
        setTimeout(poll, 20);
      };
      poll();
    });

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
    const answer = await response.text();
    if (response.status !== 201) throw new Error(`WHIP answered ${response.status}: ${answer}`);
    location = response.headers.get('Location');
    await pc.setRemoteDescription({ type: 'answer', sdp: answer });
    const iceMs = await waitFor(
      'ICE connection',
      () => ['connected', 'completed'].includes(pc.iceConnectionState),
      5000,
    );
    return { iceMs, location, etag: response.headers.get('ETag'), offer: pc.localDescription.sdp, answer };
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

  return { publish, stats, stop };
})();
