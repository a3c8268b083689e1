// What the server says about a destination, in a streamer's words. The server's reasons are
// written for operators ("connection failed: Connection refused (os error 111)"); the card
// leads with what it means and what to do, and keeps the server's reason after it.

const REASONS = [
  [/BadName|already publishing|Publish\.BadName/i, 'the platform refused this stream key, or it is already in use'],
  [/refused publish|Publish\.(Denied|Rejected)|unauthori[sz]ed|forbidden/i, 'the platform refused the stream key: check it'],
  [/connection refused/i, 'nothing answers at that server address: check the server URL'],
  [/dns|resolve|no such host|name or service not known/i, 'the server name was not found: check the server URL'],
  [/certificate|tls|handshake/i, 'a secure (RTMPS) connection could not be made: check the URL, or try rtmp://'],
  [/timed out|timeout/i, 'the server did not answer in time'],
  [/stopped reading|stalled/i, 'the platform stopped taking the stream'],
  [/closed|reset|broken pipe/i, 'the platform closed the connection'],
  [/private|not public|loopback/i, 'that address is on a private network, which this server does not send to'],
];

/** The meaning of a server's error text, or the text itself when we do not know it. */
export function humanReason(error) {
  if (!error) return '';
  const known = REASONS.find(([pattern]) => pattern.test(error));
  return known ? known[1] : error;
}

/**
 * A destination's state as words on its card.
 * @param {{state: string, last_error?: string|null, retry_at_ms?: number}|null} view
 */
export function statusText(view, now = Date.now()) {
  if (!view) return 'Not live';
  switch (view.state) {
    case 'connecting': return 'Connecting…';
    case 'live': return 'Live';
    case 'stalled': return 'Stalled: nothing has reached the platform for a few seconds';
    case 'retrying': {
      const seconds = view.retry_at_ms ? Math.max(0, Math.ceil((view.retry_at_ms - now) / 1000)) : null;
      const why = view.last_error ? ` (${humanReason(view.last_error)})` : '';
      if (seconds === null || seconds === 0) return `Retrying now${why}`;
      return `Retrying in ${seconds} s${why}`;
    }
    case 'failed': return `Failed: ${humanReason(view.last_error) || 'the server gave up on this destination'}`;
    case 'stopped': return 'Stopped';
    default: return view.state;
  }
}

/**
 * While the publisher is away the server keeps every platform on air with the last picture
 * and silence, for a limited time: what the streamer should know about it, or ''.
 * @param {{state: string, ends_in_ms?: number|null}|null} view the broadcast as the server sees it
 */
export function standbyText(view) {
  if (!view || view.state !== 'reconnecting' || typeof view.ends_in_ms !== 'number') return '';
  const seconds = Math.max(0, Math.ceil(view.ends_in_ms / 1000));
  return `Viewers see your last picture; the broadcast ends in ${seconds} s unless the connection comes back.`;
}
