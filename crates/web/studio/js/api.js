// The server's HTTP API, as the pages use it. Every failure becomes an ApiError whose message
// is the server's own sentence (it is written for people), or one of ours for the network.

export class ApiError extends Error {
  /**
   * @param {number} status HTTP status, 0 when the server could not be reached
   * @param {string} code the server's error code, e.g. "invalid_credentials"
   * @param {string} message
   */
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/**
 * How long a request may take before the page gives up on it. Our own server answers in
 * milliseconds; a request still open after this is on a dead connection, and waiting on it
 * forever would leave a page blank or a button busy with nothing said. Uploads are the slowest
 * (a 2 MiB logo on a 1 Mbit/s uplink takes ~17 s).
 */
export const REQUEST_TIMEOUT_MS = 30_000;

/**
 * `signal` aborted by the caller, or by the timeout: whichever comes first. Without
 * AbortSignal.any (browsers before 2023), a caller's own signal is kept and no timeout is added.
 */
function withTimeout(signal, timeoutMs) {
  const timeout = AbortSignal.timeout(timeoutMs);
  if (!signal) return timeout;
  return typeof AbortSignal.any === 'function' ? AbortSignal.any([signal, timeout]) : signal;
}

/**
 * What to throw for a request that failed before a whole answer arrived: the caller's own
 * abort stays an AbortError; the timeout and a lost connection become sentences.
 */
function networkFailure(error, unreachable) {
  if (error.name === 'TimeoutError') {
    return new ApiError(0, 'timeout', 'The server did not answer in time. Check your connection and try again.');
  }
  if (error.name === 'AbortError') return error;
  return new ApiError(0, 'unreachable', unreachable);
}

export async function request(method, path, {
  json, body, headers = {}, signal, timeoutMs = REQUEST_TIMEOUT_MS,
} = {}) {
  const init = {
    method, headers: { ...headers }, credentials: 'same-origin', signal: withTimeout(signal, timeoutMs),
  };
  if (json !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(json);
  } else if (body !== undefined) {
    init.body = body;
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    throw networkFailure(error, 'The server cannot be reached. Check your connection.');
  }
  if (response.ok) {
    if (response.status === 204) return null;
    const type = response.headers.get('Content-Type') || '';
    try {
      return await (type.includes('json') ? response.json() : response.text());
    } catch (error) {
      // The timeout (or the connection) may end the body after the status arrived.
      throw networkFailure(error, 'The server stopped answering. Check your connection and try again.');
    }
  }
  let code = 'http_error';
  let message = `The server answered ${response.status}.`;
  try {
    const problem = await response.json();
    code = problem.error || code;
    message = problem.message || message;
  } catch { /* not JSON: keep the generic sentence */ }
  throw new ApiError(response.status, code, message);
}

export const api = {
  // Only whether sign-up is on: the sign-up page waits for it, so it may not wait long.
  instance: () => request('GET', '/api/instance', { timeoutMs: 5_000 }),
  me: () => request('GET', '/api/auth/me'),
  signup: (name, email, password) =>
    request('POST', '/api/auth/signup', { json: { name, email, password } }),
  login: (email, password) => request('POST', '/api/auth/login', { json: { email, password } }),
  logout: () => request('POST', '/api/auth/logout'),

  broadcasts: () => request('GET', '/api/broadcasts'),
  createBroadcast: (destinations) => request('POST', '/api/broadcasts', { json: { destinations } }),
  stopBroadcast: (id) => request('DELETE', `/api/broadcasts/${encodeURIComponent(id)}`),
  addDestination: (id, destination) =>
    request('POST', `/api/broadcasts/${encodeURIComponent(id)}/destinations`, { json: destination }),
  removeDestination: (id, destinationId) => request('DELETE',
    `/api/broadcasts/${encodeURIComponent(id)}/destinations/${encodeURIComponent(destinationId)}`),

  studioSettings: () => request('GET', '/api/me/studio'),
  saveStudioSettings: (settings) => request('PUT', '/api/me/studio', { json: settings }),
  uploadLogo: (file) =>
    request('PUT', '/api/me/logo', { body: file, headers: { 'Content-Type': file.type } }),
  deleteLogo: () => request('DELETE', '/api/me/logo'),
  logoUrl: '/api/me/logo',
};
