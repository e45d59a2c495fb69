// console (port 9008, layer 2, non-blocking): a small web UI listing an account's indexes.
//
// Plain `node:http`, no front-end build. The page in public/ signs in to Cognito in the browser
// with amazon-cognito-identity-js (SRP, as a React console would; the library's prebuilt browser
// bundle is served from node_modules) and calls this server's /api/indexes with the id token. This
// server verifies the token (cognito.js), finds the account the user owns and asks the controller
// (CONTROLLER_URL) with the system key. An API key typed in the page (header x-api-key) or
// CONSOLE_API_KEY from the env works as before, without signing in.
//
//   GET /                     the page (public/index.html, public/app.js)
//   GET /vendor/amazon-cognito-identity.min.js   the library's browser bundle (from `npm ci`)
//   GET /healthz              200 {"status":"ok"} once listening
//   GET /api/config           {"controllerUrl", "hasDefaultKey", "cognito": {endpoint, userPoolId, clientId} | null}
//   GET /api/me               Authorization: Bearer <Cognito token> → {"user", "groups", "account"}
//   GET /api/indexes          the controller's GET /api/v2/indexes (status and JSON passed through) for the
//                             Bearer token's account, the typed key's or CONSOLE_API_KEY's; 401 without any;
//                             404 when the signed-in user owns no account; 502 JSON when the controller
//                             (or the JWKS) is down, slow (5 s) or answers garbage
//   anything else             JSON 404 / 405
//
// Only the stack's origins and Hosts are answered (origins.js): another Origin, or a Host that is not
// loopback (DNS rebinding), is a 403 in JSON. What Node's HTTP parser refuses itself (a URL or header over
// its 16 KiB limit: 431, a malformed request: 400) is answered in JSON too, with the status Node chose.
//
// Env: PORT, HOST, CONTROLLER_URL, CONSOLE_API_KEY (optional), COGNITO_ENDPOINT_URL,
// COGNITO_USER_POOL_ID, COGNITO_CLIENT_ID, COGNITO_ISSUER, COGNITO_JWKS_URL (sign-in; without a
// pool id and client id the page offers the API key only), CELL_API_KEY (the system key),
// HIPPODROME_ALLOWED_ORIGINS, HIPPODROME_ALLOWED_HOSTS, HIPPODROME_POD_IP (origins.js).
'use strict';

const http = require('node:http');
const fs = require('node:fs');
const path = require('node:path');
const { Verifier, TokenError, userOf } = require('./cognito');
const { Policy } = require('./origins');

const PORT = Number(process.env.PORT || 9008);
const HOST = process.env.HOST || '127.0.0.1';
const CONTROLLER_URL = (process.env.CONTROLLER_URL || 'http://127.0.0.1:9002').replace(/\/+$/, '');
const DEFAULT_KEY = process.env.CONSOLE_API_KEY || '';
const SYSTEM_KEY = process.env.CELL_API_KEY || '';
const UPSTREAM_TIMEOUT_MS = 5000;
const PUBLIC = path.join(__dirname, 'public');
const STATIC = { '/': ['index.html', 'text/html; charset=utf-8'], '/app.js': ['app.js', 'text/javascript; charset=utf-8'] };
const VENDOR = '/vendor/amazon-cognito-identity.min.js';
const COGNITO = process.env.COGNITO_USER_POOL_ID && process.env.COGNITO_CLIENT_ID ? {
  endpoint: process.env.COGNITO_ENDPOINT_URL || null, // null: the library talks to AWS itself
  userPoolId: process.env.COGNITO_USER_POOL_ID,
  clientId: process.env.COGNITO_CLIENT_ID,
} : null;
const policy = Policy.fromEnv();
const verifier = COGNITO && process.env.COGNITO_JWKS_URL && process.env.COGNITO_ISSUER ? new Verifier({
  jwksUrl: process.env.COGNITO_JWKS_URL, issuer: process.env.COGNITO_ISSUER, clientId: COGNITO.clientId,
}) : null;

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

function sendJson(res, status, body, headers = {}) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function error(res, status, code, message, headers) {
  sendJson(res, status, { message, code, type: status >= 500 ? 'bad_gateway' : 'invalid_request', link: '' }, headers);
}

// One call to the controller: [status, parsed JSON body]; ApiError 502 when it is down, slow or not JSON.
async function controller(route, headers) {
  let upstream;
  try {
    upstream = await fetch(`${CONTROLLER_URL}${route}`, { headers, signal: AbortSignal.timeout(UPSTREAM_TIMEOUT_MS) });
  } catch (e) {
    const timedOut = e && (e.name === 'TimeoutError' || e.name === 'AbortError');
    throw new ApiError(502, timedOut ? 'upstream_timeout' : 'upstream_unavailable',
      `The controller ${timedOut ? 'did not answer in time' : 'is unreachable'} at ${CONTROLLER_URL}`);
  }
  let body;
  try {
    body = JSON.parse(await upstream.text());
  } catch (e) {
    throw new ApiError(502, 'upstream_bad_response', `The controller answered HTTP ${upstream.status} with a body that is not JSON`);
  }
  if (upstream.status >= 500) {
    throw new ApiError(502, 'upstream_error', `The controller failed (HTTP ${upstream.status}): ${(body && body.message) || ''}`);
  }
  return [upstream.status, body];
}

// The signed-in user (verified claims) when the request carries a Bearer token, else null.
async function signedIn(req) {
  const [scheme, token] = String(req.headers.authorization || '').split(' ');
  if (!scheme) return null;
  if (scheme.toLowerCase() !== 'bearer' || !token) throw new ApiError(401, 'unauthorized', 'Send Authorization: Bearer <Cognito token>');
  if (!verifier) throw new ApiError(401, 'unauthorized', 'Cognito sign-in is not configured on this console');
  return verifier.verify(token);
}

async function accountOf(claims) {
  if (!SYSTEM_KEY) throw new ApiError(502, 'not_configured', 'CELL_API_KEY is not set: the console cannot look up accounts');
  const owner = userOf(claims);
  const [status, body] = await controller(`/api/v2/accounts?owner=${encodeURIComponent(owner)}`, { 'x-api-key': SYSTEM_KEY });
  if (status !== 200) throw new ApiError(502, 'upstream_error', `The controller refused the account lookup (HTTP ${status})`);
  return (body.results || [])[0] || null;
}

async function me(req, res) {
  const claims = await signedIn(req);
  if (!claims) throw new ApiError(401, 'unauthorized', 'Sign in first (Authorization: Bearer <Cognito token>)');
  const account = await accountOf(claims);
  sendJson(res, 200, { user: userOf(claims), groups: claims['cognito:groups'] || [], account });
}

async function listIndexes(req, res) {
  const claims = await signedIn(req);
  let headers;
  if (claims) {
    const account = await accountOf(claims);
    if (!account) throw new ApiError(404, 'account_not_found', `${userOf(claims)} owns no account yet`);
    headers = { 'x-api-key': SYSTEM_KEY, 'x-hippodrome-account': account.accountId };
  } else {
    const key = req.headers['x-api-key'] || DEFAULT_KEY;
    if (!key) throw new ApiError(401, 'unauthorized', 'Sign in, or enter an API key (or set CONSOLE_API_KEY)');
    headers = { 'x-api-key': key };
  }
  const [status, body] = await controller('/api/v2/indexes', headers);
  sendJson(res, status, body);
}

async function vendor(req, res) {
  let file;
  try {
    file = require.resolve('amazon-cognito-identity-js/dist/amazon-cognito-identity.min.js');
  } catch (e) {
    throw new ApiError(503, 'not_installed', 'amazon-cognito-identity-js is not installed: run `npm ci` in examples/console');
  }
  const data = await fs.promises.readFile(file);
  res.writeHead(200, { 'Content-Type': 'text/javascript; charset=utf-8', 'Content-Length': data.length, 'Cache-Control': 'max-age=3600' });
  res.end(req.method === 'HEAD' ? undefined : data);
}

const ROUTES = {
  '/healthz': (req, res) => sendJson(res, 200, { status: 'ok', service: 'console' }),
  '/api/config': (req, res) => sendJson(res, 200, { controllerUrl: CONTROLLER_URL, hasDefaultKey: Boolean(DEFAULT_KEY), cognito: COGNITO }),
  '/api/me': me,
  '/api/indexes': listIndexes,
  [VENDOR]: vendor,
};

async function handle(req, res) {
  let route;
  try {
    route = new URL(req.url, 'http://console').pathname;
  } catch (e) {
    return error(res, 400, 'bad_request', 'The request target is not a valid URL');
  }
  const { host, origin } = req.headers;
  const refusal = policy.refusal(route, host, origin);
  if (refusal) return error(res, 403, 'forbidden', refusal);
  const cors = policy.corsHeaders(origin, host);
  for (const [name, value] of Object.entries(cors)) res.setHeader(name, value);
  if (origin !== undefined && req.method === 'OPTIONS' && req.headers['access-control-request-method']) {
    const requested = req.headers['access-control-request-headers'];
    res.writeHead(204, { 'Access-Control-Allow-Methods': 'GET, HEAD, OPTIONS',
      ...(requested ? { 'Access-Control-Allow-Headers': requested } : {}) });
    return res.end();
  }
  if (!(route in ROUTES) && !(route in STATIC)) return error(res, 404, 'not_found', `No route for ${req.method} ${route}`);
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    return error(res, 405, 'method_not_allowed', `Method ${req.method} is not allowed on ${route}`, { Allow: 'GET, HEAD' });
  }
  if (route in ROUTES) {
    try {
      return await ROUTES[route](req, res);
    } catch (e) {
      if (e instanceof ApiError || e instanceof TokenError) return error(res, e.status, e.code, e.message);
      throw e;
    }
  }
  const [file, type] = STATIC[route];
  const data = await fs.promises.readFile(path.join(PUBLIC, file));
  res.writeHead(200, { 'Content-Type': type, 'Content-Length': data.length, 'Cache-Control': 'no-store' });
  res.end(req.method === 'HEAD' ? undefined : data);
}

const server = http.createServer((req, res) => {
  handle(req, res).catch((e) => {
    console.error(`console: ${req.method} ${req.url} failed:`, e);
    if (!res.headersSent) error(res, 500, 'internal', 'Internal error (see the console log)');
    else res.end();
  });
});
server.requestTimeout = 30000;
// Node's parser refuses some requests before `handle` sees them (by default with an empty body): the same
// status, a JSON body. A socket that cannot be written to any more is only closed.
const CLIENT_ERRORS = { HPE_HEADER_OVERFLOW: 431, ERR_HTTP_REQUEST_TIMEOUT: 408, HPE_CHUNK_EXTENSIONS_OVERFLOW: 413 };
server.on('clientError', (err, socket) => {
  if (err.code === 'ECONNRESET' || !socket.writable) return socket.destroy();
  const status = CLIENT_ERRORS[err.code] || 400;
  const text = JSON.stringify({ message: `${http.STATUS_CODES[status]}: ${err.code || err.message}`,
    code: status === 431 ? 'headers_too_large' : 'bad_request', type: 'invalid_request', link: '' });
  socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nContent-Type: application/json\r\n`
    + `Content-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`);
});
server.listen(PORT, HOST, () => {
  console.log(`console: listening on http://${HOST}:${PORT} (controller ${CONTROLLER_URL}; `
    + `${COGNITO ? `sign-in with user pool ${COGNITO.userPoolId} at ${COGNITO.endpoint || 'AWS'}` : 'no Cognito sign-in'})`);
  try {
    require.resolve('amazon-cognito-identity-js/dist/amazon-cognito-identity.min.js');
  } catch (e) { // e.g. a node_modules/ left from before the console had a dependency
    console.error('console: warning: amazon-cognito-identity-js is not installed, so the page cannot sign in: '
      + 'run `npm ci` in examples/console (or remove its node_modules/ and restart the stack)');
  }
});

function stop() {
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 3000).unref();
  server.closeAllConnections();
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
