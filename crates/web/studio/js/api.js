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

async function request(method, path, { json, body, headers = {}, signal } = {}) {
  const init = { method, headers: { ...headers }, credentials: 'same-origin', signal };
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
    if (error.name === 'AbortError') throw error;
    throw new ApiError(0, 'unreachable', 'The server cannot be reached. Check your connection.');
  }
  if (response.ok) {
    if (response.status === 204) return null;
    const type = response.headers.get('Content-Type') || '';
    return type.includes('json') ? response.json() : response.text();
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
  instance: () => request('GET', '/api/instance'),
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
