// Where streamers go live, and the ingest address each platform gives them. RTMPS wherever the
// platform offers it: the stream key then never crosses the internet in clear.

/** @typedef {{id: string, name: string, label: string, url: string, hint: string}} Platform */

/** @type {Platform[]} */
export const PLATFORMS = [
  {
    id: 'twitch', name: 'Twitch', label: 'Twitch', url: 'rtmps://live.twitch.tv:443/app',
    hint: 'Stream key: Twitch Creator Dashboard → Settings → Stream.',
  },
  {
    id: 'youtube', name: 'YouTube', label: 'YouTube', url: 'rtmps://a.rtmps.youtube.com/live2',
    hint: 'Stream key: YouTube Studio → Go live → Stream settings.',
  },
  {
    id: 'facebook', name: 'Facebook', label: 'Facebook', url: 'rtmps://live-api-s.facebook.com:443/rtmp',
    hint: 'Stream key: Facebook → Live Producer → Streaming software.',
  },
  {
    id: 'kick', name: 'Kick', label: 'Kick',
    url: 'rtmps://fa723fc1b171.global-contribute.live-video.net/app',
    hint: 'Server URL and stream key: Kick → Dashboard → Settings → Stream key.',
  },
  {
    id: 'linkedin', name: 'LinkedIn', label: 'LinkedIn', url: '',
    hint: 'LinkedIn shows a stream URL and key for each event: paste both.',
  },
  {
    id: 'custom', name: 'Custom RTMP', label: 'Custom', url: '',
    hint: 'Any rtmp:// or rtmps:// server, e.g. rtmp://example.com/live.',
  },
];

/** The platform called `id`, or Custom. */
export function platform(id) {
  return PLATFORMS.find((p) => p.id === id) ?? PLATFORMS[PLATFORMS.length - 1];
}

/** The name the API's `platforms` field uses, as shown to people. */
export function platformName(id) {
  return PLATFORMS.find((p) => p.id === id)?.name ?? 'Custom';
}
