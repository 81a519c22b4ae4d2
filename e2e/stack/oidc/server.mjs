// Keycloak-shaped OpenID Connect provider for the webhook gateway's e2e tests.
//
// oidc-provider serves discovery, the JWKS and the client-credentials token endpoint
// under /realms/<realm>, on Keycloak's paths, and issues RS256 JWT access tokens with
// Keycloak's claims. Token introspection is answered here instead: oidc-provider
// refuses to introspect JWT access tokens. Every client is a confidential
// client-credentials client; test users are clients too, so tests get their tokens
// without a browser.
//
// Environment:
//   OIDC_CLIENTS_FILE  JSON: {"<client id>": {"secret": "...", "username": "...",
//                      "sub": "...", "claims": {...}}}; only "secret" is required,
//                      "username" and "sub" default to the client id
//   OIDC_HOST, OIDC_PORT   listen address, also the issuer's (127.0.0.1, 8180)
//   OIDC_REALM         realm name in the paths (flowx)
//   OIDC_AUDIENCE      "aud" of issued tokens (webhook-gateway)
//   OIDC_SCOPE         "scope" of tokens when the client asks for none ("profile email")
//   OIDC_TOKEN_TTL     access token lifetime in seconds (300)
//   OIDC_TEST_MINT=1   enables POST /test/mint (tokens with chosen claims, see mint())

import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';

import * as jose from 'jose';
import Provider, { errors } from 'oidc-provider';

const env = process.env;
const host = env.OIDC_HOST || '127.0.0.1';
const port = Number(env.OIDC_PORT || 8180);
const realm = env.OIDC_REALM || 'flowx';
const audience = env.OIDC_AUDIENCE || 'webhook-gateway';
const defaultScope = env.OIDC_SCOPE ?? 'profile email';
const tokenTtl = Number(env.OIDC_TOKEN_TTL || 300);
const mintEnabled = env.OIDC_TEST_MINT === '1';
if (!env.OIDC_CLIENTS_FILE) throw new Error('OIDC_CLIENTS_FILE is not set');
const clients = JSON.parse(readFileSync(env.OIDC_CLIENTS_FILE, 'utf8'));

const realmPath = `/realms/${realm}`;
const issuer = `http://${host}:${port}${realmPath}`;
const introspectionPath = `${realmPath}/protocol/openid-connect/token/introspect`;
// oidc-provider wants resource indicators to be absolute URIs; the token's "aud" is
// the plain audience all the same (getResourceServerInfo below).
const resource = `urn:${realm}:${audience}`;

// A fresh key on every start: clients are expected to read the JWKS.
const kid = randomUUID();
const { privateKey, publicKey } = await jose.generateKeyPair('RS256', { extractable: true });
const signingJwk = { ...(await jose.exportJWK(privateKey)), kid, alg: 'RS256', use: 'sig' };
let untrustedKey;

// The claims Keycloak puts in a service account's access token, beyond the standard ones.
function keycloakClaims(clientId) {
  const client = clients[clientId] ?? {};
  return {
    typ: 'Bearer',
    azp: clientId,
    sub: client.sub ?? clientId,
    preferred_username: client.username ?? clientId,
    ...client.claims,
  };
}

const provider = new Provider(issuer, {
  clients: Object.entries(clients).map(([clientId, client]) => ({
    client_id: clientId,
    client_secret: client.secret,
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: 'client_secret_basic',
  })),
  // Keycloak accepts the secret in a Basic header or in the form; so does oidc-provider
  // for a client_secret_basic client once both methods are enabled.
  clientAuthMethods: ['client_secret_basic', 'client_secret_post'],
  jwks: { keys: [signingJwk] },
  scopes: ['openid', ...defaultScope.split(' ').filter(Boolean)],
  cookies: { keys: [randomBytes(32).toString('hex')] },
  routes: {
    authorization: '/protocol/openid-connect/auth',
    token: '/protocol/openid-connect/token',
    jwks: '/protocol/openid-connect/certs',
    introspection: '/protocol/openid-connect/token/introspect',
    userinfo: '/protocol/openid-connect/userinfo',
    end_session: '/protocol/openid-connect/logout',
  },
  ttl: { AccessToken: tokenTtl, ClientCredentials: tokenTtl },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    // Enabled only so that discovery names the endpoint; handle() answers it.
    introspection: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => resource,
      useGrantedResource: () => true,
      getResourceServerInfo(ctx, indicator) {
        if (indicator !== resource) throw new errors.InvalidTarget();
        return {
          audience,
          scope: defaultScope,
          accessTokenTTL: tokenTtl,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'RS256' } },
        };
      },
    },
  },
  formats: {
    customizers: {
      jwt(ctx, token, jwt) {
        // Keycloak's header says JWT, not RFC 9068's at+jwt.
        jwt.header = { typ: 'JWT' };
        Object.assign(jwt.payload, keycloakClaims(token.clientId));
        jwt.payload.scope ??= defaultScope;
      },
    },
  },
});
provider.on('server_error', (ctx, err) => console.error('server_error', err));

function send(res, status, body, headers = {}) {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers });
  res.end(JSON.stringify(body));
}

async function readBody(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > 64 * 1024) throw Object.assign(new Error('request body too large'), { status: 413 });
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

// Compares digests, so that the comparison takes the same time for any guess.
function sameSecret(given, expected) {
  const digest = (s) => createHash('sha256').update(String(s)).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

// The client id, if the request carries a registered client's credentials either as
// HTTP Basic (client_secret_basic) or as form fields (client_secret_post).
function authenticatedClient(req, form) {
  let id;
  let secret;
  const auth = req.headers.authorization ?? '';
  if (/^basic /i.test(auth)) {
    const pair = Buffer.from(auth.slice(6).trim(), 'base64').toString('utf8');
    const colon = pair.indexOf(':');
    if (colon < 0) return undefined;
    try {
      // RFC 6749 form-encodes both parts before joining them.
      id = decodeURIComponent(pair.slice(0, colon).replace(/\+/g, ' '));
      secret = decodeURIComponent(pair.slice(colon + 1).replace(/\+/g, ' '));
    } catch {
      return undefined;
    }
  } else {
    id = form.get('client_id');
    secret = form.get('client_secret');
  }
  const client = Object.hasOwn(clients, id ?? '') ? clients[id] : undefined;
  return client && secret && sameSecret(secret, client.secret) ? id : undefined;
}

// Keycloak's answer: the token's claims plus active, client_id, username and
// token_type, or only {"active": false} for a token that is not valid here.
async function introspect(req, res) {
  if (req.method !== 'POST') return send(res, 405, { error: 'invalid_request' });
  const form = new URLSearchParams(await readBody(req));
  if (!authenticatedClient(req, form)) {
    return send(res, 401, { error: 'invalid_client', error_description: 'Authentication failed' },
      { 'www-authenticate': `Basic realm="${realm}"` });
  }
  const token = form.get('token');
  if (!token) return send(res, 400, { error: 'invalid_request', error_description: 'Token not provided' });
  let claims;
  try {
    ({ payload: claims } = await jose.jwtVerify(token, publicKey, { issuer, algorithms: ['RS256'] }));
  } catch {
    return send(res, 200, { active: false });
  }
  return send(res, 200, {
    ...claims,
    client_id: claims.azp,
    username: claims.preferred_username,
    token_type: 'Bearer',
    active: true,
  });
}

// Test-only: POST /test/mint with JSON {"client_id": "alice", "ttl": 300,
// "claims": {...}, "key": "untrusted"}. Builds the claims a real token of that
// client would carry, with "exp" = now + ttl (a negative ttl gives an expired token),
// then applies "claims" on top (a null value removes the claim). Signed with the
// provider's key, or with "key": "untrusted" by a key the JWKS does not hold (same kid).
async function mint(req, res) {
  if (req.method !== 'POST') return send(res, 405, { error: 'invalid_request' });
  let body;
  try {
    body = JSON.parse((await readBody(req)) || '{}');
  } catch {
    return send(res, 400, { error: 'invalid_request', error_description: 'body is not JSON' });
  }
  const { client_id: clientId, ttl = tokenTtl, claims = {}, key = 'provider' } = body;
  if (typeof clientId !== 'string' || !Number.isInteger(ttl) || typeof claims !== 'object'
      || !['provider', 'untrusted'].includes(key)) {
    return send(res, 400, {
      error: 'invalid_request',
      error_description: 'expected {"client_id": string, "ttl"?: integer, "claims"?: object, "key"?: "provider"|"untrusted"}',
    });
  }
  const now = Math.floor(Date.now() / 1000);
  const exp = now + ttl;
  const payload = {
    exp,
    // An expired token was issued one lifetime before it expired.
    iat: ttl > 0 ? now : exp - tokenTtl,
    jti: randomUUID(),
    iss: issuer,
    aud: audience,
    scope: defaultScope,
    client_id: clientId,
    ...keycloakClaims(clientId),
    ...claims,
  };
  for (const [name, value] of Object.entries(payload)) if (value === null) delete payload[name];
  if (key === 'untrusted') untrustedKey ??= (await jose.generateKeyPair('RS256')).privateKey;
  const accessToken = await new jose.SignJWT(payload)
    .setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid })
    .sign(key === 'untrusted' ? untrustedKey : privateKey);
  return send(res, 200, { access_token: accessToken, token_type: 'Bearer', expires_in: ttl, claims: payload });
}

// Keycloak's realm document, which some clients read the public key from.
async function realmInfo(res) {
  const pem = await jose.exportSPKI(publicKey);
  return send(res, 200, {
    realm,
    public_key: pem.replace(/-----[A-Z ]+-----|\s/g, ''),
    'token-service': `${issuer}/protocol/openid-connect`,
    'account-service': `${issuer}/account`,
    'tokens-not-before': 0,
  });
}

const providerCallback = provider.callback();

async function handle(req, res) {
  const { pathname } = new URL(req.url, 'http://localhost');
  if (pathname === '/health') return send(res, 200, { status: 'UP' });
  if (pathname === introspectionPath) return introspect(req, res);
  if (pathname === realmPath && req.method === 'GET') return realmInfo(res);
  if (pathname === '/test/mint' && mintEnabled) return mint(req, res);
  if (pathname.startsWith(`${realmPath}/`)) {
    // oidc-provider takes its mount path from what originalUrl has in front of url.
    req.originalUrl = req.url;
    req.url = req.url.slice(realmPath.length);
    return providerCallback(req, res);
  }
  return send(res, 404, { error: 'not_found' });
}

const server = http.createServer((req, res) => {
  res.on('finish', () => console.log(`${req.method} ${req.originalUrl ?? req.url} ${res.statusCode}`));
  handle(req, res).catch((err) => {
    console.error(err);
    if (res.headersSent) res.destroy();
    else send(res, err.status ?? 500, { error: err.status ? 'invalid_request' : 'server_error' });
  });
});
server.listen(port, host, () => {
  console.log(`issuer ${issuer} ready; clients: ${Object.keys(clients).join(', ')}; test mint ${mintEnabled ? 'on' : 'off'}`);
});
