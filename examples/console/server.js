// console (port 9008, layer 2, non-blocking): a small web UI listing an account's indexes.
//
// Plain `node:http`, no dependencies, no front-end build: the page in public/ calls this
// server's /api/indexes, which asks the controller (CONTROLLER_URL) with the API key typed in
// the page (header x-api-key) or, when none is given, CONSOLE_API_KEY from the env.
//
//   GET /              the page (public/index.html, public/app.js)
//   GET /healthz       200 {"status":"ok"} once listening
//   GET /api/config    {"controllerUrl", "hasDefaultKey"}
//   GET /api/indexes   the controller's GET /api/v2/indexes (status and JSON passed through);
//                      502 JSON when the controller is down, slow (5 s) or answers garbage
//   anything else      JSON 404 / 405
//
// Env: PORT, HOST, CONTROLLER_URL, CONSOLE_API_KEY (optional).
'use strict';

const http = require('node:http');
const fs = require('node:fs');
const path = require('node:path');

const PORT = Number(process.env.PORT || 9008);
const HOST = process.env.HOST || '127.0.0.1';
const CONTROLLER_URL = (process.env.CONTROLLER_URL || 'http://127.0.0.1:9002').replace(/\/+$/, '');
const DEFAULT_KEY = process.env.CONSOLE_API_KEY || '';
const UPSTREAM_TIMEOUT_MS = 5000;
const PUBLIC = path.join(__dirname, 'public');
const STATIC = { '/': ['index.html', 'text/html; charset=utf-8'], '/app.js': ['app.js', 'text/javascript; charset=utf-8'] };

function sendJson(res, status, body, headers = {}) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function error(res, status, code, message, headers) {
  sendJson(res, status, { message, code, type: status >= 500 ? 'bad_gateway' : 'invalid_request', link: '' }, headers);
}

async function listIndexes(req, res) {
  const key = req.headers['x-api-key'] || DEFAULT_KEY;
  if (!key) return error(res, 401, 'unauthorized', 'Enter an API key (or set CONSOLE_API_KEY)');
  let upstream;
  try {
    upstream = await fetch(`${CONTROLLER_URL}/api/v2/indexes`, {
      headers: { 'x-api-key': key }, signal: AbortSignal.timeout(UPSTREAM_TIMEOUT_MS),
    });
  } catch (e) {
    const timedOut = e && (e.name === 'TimeoutError' || e.name === 'AbortError');
    return error(res, 502, timedOut ? 'upstream_timeout' : 'upstream_unavailable',
      `The controller ${timedOut ? 'did not answer in time' : 'is unreachable'} at ${CONTROLLER_URL}`);
  }
  let body;
  try {
    body = JSON.parse(await upstream.text());
  } catch (e) {
    return error(res, 502, 'upstream_bad_response', `The controller answered HTTP ${upstream.status} with a body that is not JSON`);
  }
  if (upstream.status >= 500) {
    return error(res, 502, 'upstream_error', `The controller failed (HTTP ${upstream.status}): ${(body && body.message) || ''}`);
  }
  sendJson(res, upstream.status, body);
}

async function handle(req, res) {
  const url = new URL(req.url, 'http://console');
  const route = url.pathname;
  const known = route === '/healthz' || route === '/api/config' || route === '/api/indexes' || route in STATIC;
  if (!known) return error(res, 404, 'not_found', `No route for ${req.method} ${route}`);
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    return error(res, 405, 'method_not_allowed', `Method ${req.method} is not allowed on ${route}`, { Allow: 'GET, HEAD' });
  }
  if (route === '/healthz') return sendJson(res, 200, { status: 'ok', service: 'console' });
  if (route === '/api/config') return sendJson(res, 200, { controllerUrl: CONTROLLER_URL, hasDefaultKey: Boolean(DEFAULT_KEY) });
  if (route === '/api/indexes') return listIndexes(req, res);
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
server.listen(PORT, HOST, () => console.log(`console: listening on http://${HOST}:${PORT} (controller ${CONTROLLER_URL})`));

function stop() {
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 3000).unref();
  server.closeAllConnections();
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
