// A local recording of the program, in the browser: nothing is uploaded, the file is offered
// for download when the stream ends.

const TYPES = ['video/mp4;codecs=avc1,mp4a.40.2', 'video/webm;codecs=h264,opus', 'video/webm;codecs=vp8,opus', 'video/webm'];

export class LocalRecorder {
  /** @param {MediaStream} program */
  constructor(program) {
    const type = TYPES.find((t) => MediaRecorder.isTypeSupported(t)) ?? '';
    this.recorder = new MediaRecorder(program, type ? { mimeType: type, videoBitsPerSecond: 6_000_000 } : {});
    this.chunks = [];
    this.recorder.ondataavailable = (event) => event.data.size && this.chunks.push(event.data);
  }

  start() {
    this.recorder.start(1000);
  }

  /** Stops and returns `{url, name}` for a download link. */
  stop() {
    return new Promise((resolve) => {
      this.recorder.onstop = () => {
        const type = this.recorder.mimeType || 'video/webm';
        const blob = new Blob(this.chunks, { type });
        const extension = type.startsWith('video/mp4') ? 'mp4' : 'webm';
        const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
        resolve({ url: URL.createObjectURL(blob), name: `stream-${stamp}.${extension}`, bytes: blob.size });
      };
      if (this.recorder.state !== 'inactive') this.recorder.stop();
      else this.recorder.onstop();
    });
  }
}
