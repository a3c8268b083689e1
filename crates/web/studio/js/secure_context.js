// Browsers give the camera and microphone only to secure contexts: https:// pages, and
// http://localhost / 127.0.0.1. A self-hoster who opens http://192.168.1.5:8080 from a laptop
// would otherwise meet a camera that silently never starts.

/**
 * The sentence to show when this page cannot use the camera, or null.
 * @param {boolean} isSecure window.isSecureContext
 * @param {{protocol: string, host: string, hostname: string, port: string}} where location
 */
export function insecureContextProblem(isSecure, where) {
  if (isSecure) return null;
  const port = where.port ? `:${where.port}` : '';
  return 'This page was opened over plain HTTP from another machine, so the browser will not '
    + 'let it use your camera, microphone or screen. Open it over HTTPS instead: start the '
    + `server with --tls-self-signed (then https://${where.hostname}${port}/), or put it behind `
    + 'a reverse proxy with a certificate. On the server\'s own machine, '
    + `http://localhost${port}/ also works.`;
}
