// What the encoder sends, from the sender's WebRTC statistics: size, frame rate, bitrate and
// the keyframe interval. Video is relayed untouched, so this interval is the one the
// platforms see (the server asks for a keyframe at least every 2 s).

export class SendStats {
  constructor() {
    this.previous = null;
    /** Times (ms) at which the count of encoded keyframes went up. */
    this.keyframeTimes = [];
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
      if ((video.keyFramesEncoded ?? 0) > (this.previous.keyFramesEncoded ?? 0)) {
        this.keyframeTimes.push(now);
        if (this.keyframeTimes.length > 6) this.keyframeTimes.shift();
      }
    }
    this.previous = video;
    return {
      width: video.frameWidth ?? 0,
      height: video.frameHeight ?? 0,
      fps: video.framesPerSecond ?? 0,
      bitrateBps,
      keyframeIntervalS: keyframeInterval(this.keyframeTimes),
      encoder: video.encoderImplementation ?? '',
      limitedBy: video.qualityLimitationReason ?? 'none',
    };
  }
}

/** The mean gap between keyframes in seconds, or null before two have been seen. */
export function keyframeInterval(times) {
  if (times.length < 2) return null;
  return (times[times.length - 1] - times[0]) / (times.length - 1) / 1000;
}
