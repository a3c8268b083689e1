// When a camera stops delivering frames, the studio reopens it.
//
// A camera can stall without ending: a USB hiccup, a driver that lost the device, or Chromium
// handing a new track a capture source that is being shut down (closing one studio and
// opening another quickly on the same camera does it). The track still reads `live`, the
// compositor keeps drawing the last frame it got, and every viewer sees a frozen picture
// while the preview looks plausible. Cameras deliver frames at a steady rate whatever they
// see, so a long silence means the capture is gone; reopening the same device brings it back
// (or, if it is unplugged, says so).

/** No frame from the camera for this long: it has stalled. Cameras send 15–60 a second. */
export const STALL_MS = 3000;
/** Reopen at most this often, so a camera that keeps failing is not hammered. */
export const REOPEN_EVERY_MS = 10_000;

/**
 * Whether to reopen the camera now.
 * @param {{ageMs: number|null|undefined, sinceReopenMs: number}} state `ageMs`: since the
 *   compositor's newest camera frame (or since the camera was attached, before its first);
 *   `sinceReopenMs`: since the last reopen (Infinity if none).
 */
export function cameraStalled({ ageMs, sinceReopenMs }) {
  return typeof ageMs === 'number' && ageMs >= STALL_MS && sinceReopenMs >= REOPEN_EVERY_MS;
}
