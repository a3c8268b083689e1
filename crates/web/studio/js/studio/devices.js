// Cameras, microphones and screens, and what to tell the streamer when one fails.

/** Lists devices; labels are empty until the page has been granted access once. */
export async function listDevices() {
  const devices = await navigator.mediaDevices.enumerateDevices();
  return {
    cameras: devices.filter((d) => d.kind === 'videoinput'),
    microphones: devices.filter((d) => d.kind === 'audioinput'),
  };
}

/** A camera track near the output's size (the compositor scales; this keeps it sharp). */
export async function openCamera(deviceId, output) {
  const stream = await navigator.mediaDevices.getUserMedia({
    video: {
      deviceId: deviceId ? { exact: deviceId } : undefined,
      width: { ideal: output.width >= output.height ? output.width : output.height },
      height: { ideal: output.width >= output.height ? output.height : output.width },
      frameRate: { ideal: output.frameRate },
    },
  });
  return stream.getVideoTracks()[0];
}

export async function openMicrophone(deviceId) {
  const stream = await navigator.mediaDevices.getUserMedia({
    audio: {
      deviceId: deviceId ? { exact: deviceId } : undefined,
      echoCancellation: true,
      noiseSuppression: true,
      autoGainControl: true,
      channelCount: { ideal: 2 },
    },
  });
  return stream.getAudioTracks()[0];
}

/** A screen, window or tab, with the tab's (or system's) audio when the browser offers it. */
export async function openScreen(frameRate) {
  const stream = await navigator.mediaDevices.getDisplayMedia({
    video: { frameRate: { ideal: frameRate } },
    audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false },
    systemAudio: 'include',
    surfaceSwitching: 'include',
    selfBrowserSurface: 'exclude',
  });
  return { video: stream.getVideoTracks()[0], audio: stream.getAudioTracks()[0] ?? null };
}

/**
 * A getUserMedia/getDisplayMedia failure in words a streamer can act on.
 * @param {DOMException} error
 * @param {'camera'|'microphone'|'screen'} what
 */
export function explainMediaError(error, what) {
  const thing = { camera: 'camera', microphone: 'microphone', screen: 'screen sharing' }[what];
  switch (error?.name) {
    case 'NotAllowedError':
    case 'SecurityError':
      if (what === 'screen') return 'Screen sharing was cancelled or is blocked.';
      return `The browser blocked the ${thing}. Allow it for this site (the icon in the address bar), then pick it again.`;
    case 'NotReadableError':
    case 'AbortError':
      return `The ${thing} is in use by another application, or the system would not start it. Close the other app or pick another ${thing}.`;
    case 'NotFoundError':
    case 'OverconstrainedError':
      return `No ${thing} was found. Plug one in, or pick another.`;
    case 'TypeError':
      return 'This page is not in a secure context, so the browser offers no camera or microphone. Open it over HTTPS.';
    default:
      return `The ${thing} could not be started (${error?.message || error}).`;
  }
}
