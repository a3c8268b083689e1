// What the encoder sends, from the sender's WebRTC statistics: size, frame rate, bitrate and
// the keyframe interval. Video is relayed untouched, so this interval is the one the
// platforms see (the server asks for a keyframe at least every 2 s).

export class SendStats {
  constructor() {
    this.previous = null;
    /** `[time ms, keyframes encoded]`, the last ~10 s. */
    this.keyframeSamples = [];
  }

  /** @param {RTCRtpSender} sender */
  async sample(sender) {
    const report = await sender.getStats();
    let video = null;
    report.forEach((s) => {
      if (s.type === 'outbound-rtp' && s.kind === 'video') video = s;
    });
    if (!video) return null;
    const now = video.timestamp;
    let bitrateBps = 0;
    if (this.previous && now > this.previous.timestamp) {
      bitrateBps = ((video.bytesSent - this.previous.bytesSent) * 8 * 1000) / (now - this.previous.timestamp);
      this.keyframeSamples.push([now, video.keyFramesEncoded ?? 0]);
      while (this.keyframeSamples.length > 11) this.keyframeSamples.shift();
    }
    this.previous = video;
    return {
      width: video.frameWidth ?? 0,
      height: video.frameHeight ?? 0,
      fps: video.framesPerSecond ?? 0,
      bitrateBps,
      keyframeIntervalS: keyframeInterval(this.keyframeSamples),
      encoder: video.encoderImplementation ?? '',
      limitedBy: video.qualityLimitationReason ?? 'none',
    };
  }
}

/**
 * The mean gap between keyframes in seconds over the samples' window: elapsed time over the
 * keyframes encoded in it. Null until the window holds one.
 * @param {[number, number][]} samples `[time ms, keyframes encoded so far]`
 */
export function keyframeInterval(samples) {
  if (samples.length < 2) return null;
  const [t0, k0] = samples[0];
  const [t1, k1] = samples[samples.length - 1];
  return k1 > k0 ? (t1 - t0) / (k1 - k0) / 1000 : null;
}
