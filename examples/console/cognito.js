// Verifies Cognito tokens (RS256 JWTs) the way a real backend does: the key from the pool's JWKS
// (COGNITO_JWKS_URL, fetched with a timeout, cached by kid, refetched at most every 30 s for an
// unknown kid), then the issuer (COGNITO_ISSUER), the expiry, and the app client (`aud` on an id
// token, `client_id` on an access token: COGNITO_CLIENT_ID). Only node:crypto, no dependency.
'use strict';

const crypto = require('node:crypto');

const JWKS_TIMEOUT_MS = 3000;
const REFETCH_MS = 30000;
const LEEWAY_S = 30;

class TokenError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

function decodePart(part, what) {
  try {
    return JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
  } catch (e) {
    throw new TokenError(401, 'invalid_token', `The token's ${what} is not base64url JSON`);
  }
}

class Verifier {
  constructor({ jwksUrl, issuer, clientId, fetchImpl = fetch, now = () => Date.now() }) {
    this.jwksUrl = jwksUrl;
    this.issuer = issuer;
    this.clientId = clientId;
    this.fetch = fetchImpl;
    this.now = now;
    this.keys = new Map();
    this.fetchedAt = -Infinity;
  }

  async key(kid) {
    if (!this.keys.has(kid) && this.now() - this.fetchedAt > REFETCH_MS) {
      let body;
      try {
        const response = await this.fetch(this.jwksUrl, { signal: AbortSignal.timeout(JWKS_TIMEOUT_MS) });
        if (!response.ok) throw new Error(`HTTP ${response.status}`);
        body = await response.json();
      } catch (e) {
        throw new TokenError(502, 'jwks_unavailable', `Cannot fetch the Cognito JWKS at ${this.jwksUrl}: ${e.message}`);
      }
      this.fetchedAt = this.now();
      this.keys = new Map((body.keys || []).filter((k) => k.kty === 'RSA').map((k) => [k.kid, crypto.createPublicKey({ key: k, format: 'jwk' })]));
    }
    const key = this.keys.get(kid);
    if (!key) throw new TokenError(401, 'invalid_token', 'The token was not signed by a key of this user pool');
    return key;
  }

  // The verified claims of a Cognito id or access token, or a TokenError.
  async verify(token) {
    const parts = String(token || '').split('.');
    if (parts.length !== 3) throw new TokenError(401, 'invalid_token', 'Not a JWT');
    const header = decodePart(parts[0], 'header');
    if (header.alg !== 'RS256') throw new TokenError(401, 'invalid_token', 'Only RS256 tokens are accepted');
    const key = await this.key(header.kid);
    const signed = crypto.verify('RSA-SHA256', Buffer.from(`${parts[0]}.${parts[1]}`), key, Buffer.from(parts[2], 'base64url'));
    if (!signed) throw new TokenError(401, 'invalid_token', 'Bad signature');
    const claims = decodePart(parts[1], 'payload');
    if (claims.iss !== this.issuer) throw new TokenError(401, 'invalid_token', 'The token was issued by another user pool');
    if (typeof claims.exp !== 'number' || claims.exp + LEEWAY_S < this.now() / 1000) {
      throw new TokenError(401, 'token_expired', 'The token has expired');
    }
    const client = claims.token_use === 'id' ? claims.aud : claims.token_use === 'access' ? claims.client_id : null;
    if (client !== this.clientId) throw new TokenError(401, 'invalid_token', 'The token was issued to another app client');
    return claims;
  }
}

// The user a token names: the email on an id token, the username otherwise.
function userOf(claims) {
  return claims.email || claims.username || claims['cognito:username'];
}

module.exports = { Verifier, TokenError, userOf };
