// Who may call the console from a browser: the Origin and Host allow-lists the stack renders into the env,
// the same policy as every Python service (hippodrome_k8s/core/origins.py, examples/common/origins.py).
//
// Why: the console answers on loopback with the demo account's default key; a page on a rebound DNS name
// (Host: evil.example:9008) read the account's indexes, and any page could call it. So a request whose
// Host is not listed, or whose Origin is not listed (and is not the console's own), is a 403 in JSON;
// /healthz is exempt from the Host check (the kubelet probes by the pod's address); requests without an
// Origin pass. An allowed origin gets itself back in Access-Control-Allow-Origin, never `*`.
//
//   HIPPODROME_ALLOWED_ORIGINS  comma-separated origins (the stack's loopback origins + spec.allowedOrigins)
//   HIPPODROME_ALLOWED_HOSTS    comma-separated host names (loopback, plus the cluster's names on Kubernetes)
//   HIPPODROME_POD_IP           on Kubernetes, the pod's address (allowed as a Host)
'use strict';

const LOOPBACK = ['127.0.0.1', 'localhost', '[::1]'];
const EXEMPT = new Set(['/healthz']);

function items(text) {
  return String(text || '').split(',').map((s) => s.trim()).filter(Boolean);
}

function normalizeOrigin(origin) {
  try {
    return new URL(String(origin).trim()).origin; // lower-cases scheme and host, drops a default port
  } catch (e) {
    return String(origin);
  }
}

function hostName(host) {
  const h = String(host).trim().toLowerCase();
  if (h.startsWith('[')) return h.includes(']') ? h.slice(0, h.indexOf(']') + 1) : h;
  const name = h.includes(':') ? h.slice(0, h.lastIndexOf(':')) : h;
  return name.replace(/\.$/, '');
}

class Policy {
  constructor(origins, hosts) {
    this.origins = new Set(origins.map(normalizeOrigin));
    this.hosts = new Set([...hosts.map(hostName), ...LOOPBACK]);
  }

  static fromEnv(env = process.env) {
    const hosts = items(env.HIPPODROME_ALLOWED_HOSTS);
    const podIp = String(env.HIPPODROME_POD_IP || '').trim();
    if (podIp) hosts.push(podIp.includes(':') ? `[${podIp}]` : podIp);
    return new Policy(items(env.HIPPODROME_ALLOWED_ORIGINS), hosts);
  }

  originAllowed(origin, host) {
    const wanted = normalizeOrigin(origin);
    if (this.origins.has(wanted)) return true;
    return host !== undefined && this.hosts.has(hostName(host)) && wanted === normalizeOrigin(`http://${host}`);
  }

  // Why this request is refused (a 403), or null.
  refusal(path, host, origin) {
    if (!EXEMPT.has(path) && host !== undefined && !this.hosts.has(hostName(host))) {
      return `Host '${host}' is not allowed here (a guard against DNS rebinding): use http://127.0.0.1:<port>, `
        + 'or add the origin you browse from to spec.allowedOrigins in the stack file';
    }
    if (origin !== undefined && !this.originAllowed(origin, host)) {
      return `cross-origin request from '${origin}' refused: only the stack's own origins may call this service; `
        + 'add it to spec.allowedOrigins in the stack file to allow it';
    }
    return null;
  }

  corsHeaders(origin, host) {
    if (origin === undefined || !this.originAllowed(origin, host)) return {};
    return { 'Access-Control-Allow-Origin': origin, Vary: 'Origin' };
  }
}

module.exports = { Policy };
