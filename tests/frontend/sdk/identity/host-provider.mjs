// tests/frontend/sdk/identity/host-provider.mjs — owned by the x86 identity host suite
// (tests/host/identity_host.sh; the test itself is host-identity.mjs). The EXTERNAL
// authorization servers of that suite, both real `oidc-provider` instances on loopback:
//
//   startResourceProvider(): the OAuth2 provider of the protected resource, the one silod's
//     credential providers point at. Clients:
//       m2m       client_credentials, client_secret_basic  (CustomOauth2 with discoveryUrl)
//       m2mPost   client_credentials, client_secret_post   (CustomOauth2 with explicit
//                                                            authorizationServerMetadata)
//       threeLo   authorization_code + PKCE (required) + refresh_token, redirect URI = silod's
//                 OAuth2 callback, client_secret_basic
//       harness   authorization_code + PKCE, redirect URI = the test's own page (the suite's
//                 self-check, without silod)
//       resource  the protected resource's own client: only calls the introspection endpoint
//     Users log in and consent on the provider's own pages (devInteractions: any login name is
//     the account id, any password). Access tokens are OPAQUE (the resource checks them by
//     introspection), refresh tokens are issued to every client allowed to use them, the access
//     token lifetime can be shortened at run time (setAccessTtl) to exercise refreshing.
//     Every token-endpoint exchange is recorded (grant type, client, status, the tokens handed
//     out, the code redeemed, whether a PKCE verifier came with it): tests count them to tell
//     "served from silod's cache" from "fetched again", and collect every secret silod was
//     given so they can grep its database and log for them.
//
//   startUserIdp(): the users' identity provider for INBOUND auth (GetWorkloadAccessTokenForJWT):
//     a "user" is a client_credentials client whose access token is an RS256 JWT for audience
//     AGENTS_AUDIENCE (as tests/frontend/sdk/jwt.test.mjs does); silod takes iss|sub.
import http from 'node:http';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import Provider from 'oidc-provider';

export const RESOURCE_SCOPE = 'resource.read';
export const AGENTS_AUDIENCE = 'urn:silo:identity-host-agents';

// oidc-provider warns (once each) about the development pieces this suite wants on purpose
// (devInteractions, the in-memory adapter, default policies): keep them out of the verdicts
for (const level of ['warn', 'info', 'log']) {
  const orig = console[level].bind(console);
  console[level] = (...args) => {
    if (typeof args[0] === 'string' && /oidc-provider (WARNING|NOTICE): /.test(args[0])) return;
    orig(...args);
  };
}

const secret = (tag) => `${tag}-secret-${randomBytes(20).toString('hex')}`;

function signingKey(kid) {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' };
}

async function listen(server) {
  await new Promise((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  return server.address().port;
}

function closer(server) {
  return () => new Promise((resolve) => { server.closeAllConnections?.(); server.close(() => resolve()); });
}

/**
 * callbackUrl: silod's OAuth2 callback (the 3LO client's one redirect URI); harnessRedirect:
 * the test's own redirect URI for the self-check.
 */
export async function startResourceProvider({ callbackUrl, harnessRedirect }) {
  const server = http.createServer();
  const port = await listen(server);
  const issuer = `http://127.0.0.1:${port}`;
  const clients = {
    m2m: { id: 'silo-host-m2m', secret: secret('m2m') },
    m2mPost: { id: 'silo-host-m2m-post', secret: secret('m2mpost') },
    threeLo: { id: 'silo-host-3lo', secret: secret('threelo') },
    harness: { id: 'silo-host-harness', secret: secret('harness') },
    resource: { id: 'silo-host-resource', secret: secret('resource') },
  };
  let accessTtl = 600;
  const exchanges = [];

  const provider = new Provider(issuer, {
    jwks: { keys: [signingKey('identity-host-rs-1')] },
    clients: [
      { client_id: clients.m2m.id, client_secret: clients.m2m.secret, grant_types: ['client_credentials'],
        redirect_uris: [], response_types: [], token_endpoint_auth_method: 'client_secret_basic' },
      { client_id: clients.m2mPost.id, client_secret: clients.m2mPost.secret, grant_types: ['client_credentials'],
        redirect_uris: [], response_types: [], token_endpoint_auth_method: 'client_secret_post' },
      { client_id: clients.threeLo.id, client_secret: clients.threeLo.secret,
        grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'],
        redirect_uris: [callbackUrl], token_endpoint_auth_method: 'client_secret_basic' },
      { client_id: clients.harness.id, client_secret: clients.harness.secret,
        grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'],
        redirect_uris: [harnessRedirect], token_endpoint_auth_method: 'client_secret_basic' },
      { client_id: clients.resource.id, client_secret: clients.resource.secret, grant_types: [],
        redirect_uris: [], response_types: [], token_endpoint_auth_method: 'client_secret_basic' },
    ],
    scopes: ['openid', 'offline_access', RESOURCE_SCOPE, 'resource.write'],
    pkce: { required: () => true },
    ttl: {
      AccessToken: () => accessTtl, ClientCredentials: 600, AuthorizationCode: 120, Grant: 3600,
      Interaction: 600, RefreshToken: 86400, Session: 3600,
    },
    // a refresh token whenever the client may use one (no offline_access dance)
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    features: {
      devInteractions: { enabled: true },   // the provider's own login and consent pages
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      revocation: { enabled: true },
    },
  });
  // record every token-endpoint exchange (after oidc-provider answered it)
  provider.use(async (ctx, next) => {
    await next();
    if (ctx.path !== '/token' || ctx.method !== 'POST') return;
    const params = ctx.oidc?.params ?? {};
    const body = typeof ctx.body === 'object' && ctx.body ? ctx.body : {};
    exchanges.push({
      grantType: params.grant_type, clientId: ctx.oidc?.client?.clientId, status: ctx.status,
      accessToken: body.access_token, refreshToken: body.refresh_token, code: params.code,
      refreshTokenUsed: params.refresh_token, pkce: typeof params.code_verifier === 'string',
      scope: body.scope, error: body.error, at: Date.now(),
    });
  });
  provider.on('server_error', (_ctx, err) => console.error(`host-provider: server_error ${err.message}`));
  server.on('request', provider.callback());

  return {
    issuer, port, clients, exchanges,
    discoveryUrl: `${issuer}/.well-known/openid-configuration`,
    authorizationEndpoint: `${issuer}/auth`,
    tokenEndpoint: `${issuer}/token`,
    introspectionEndpoint: `${issuer}/token/introspection`,
    setAccessTtl(s) { accessTtl = s; },
    /** exchanges matching a filter, e.g. count({grantType: 'client_credentials', clientId}) */
    count(filter) {
      return exchanges.filter((e) => Object.entries(filter).every(([k, v]) => e[k] === v)).length;
    },
    /** every access/refresh token this provider handed out, and every code redeemed */
    issuedSecrets() {
      const out = [];
      for (const e of exchanges) {
        if (e.accessToken) out.push({ what: `access token (${e.grantType}, ${e.clientId})`, value: e.accessToken });
        if (e.refreshToken) out.push({ what: `refresh token (${e.clientId})`, value: e.refreshToken });
      }
      return out;
    },
    close: closer(server),
  };
}

/** The inbound users' IdP. users: names; each becomes a client_credentials client. */
export async function startUserIdp({ users }) {
  const server = http.createServer();
  const port = await listen(server);
  const issuer = `http://127.0.0.1:${port}`;
  const userClients = Object.fromEntries(users.map((u) => [u, { id: `idp-user-${u}`, secret: secret(`idp-${u}`) }]));
  const provider = new Provider(issuer, {
    jwks: { keys: [signingKey('identity-host-idp-1')] },
    clients: Object.values(userClients).map((c) => ({
      client_id: c.id, client_secret: c.secret, grant_types: ['client_credentials'],
      redirect_uris: [], response_types: [], token_endpoint_auth_method: 'client_secret_basic',
    })),
    scopes: ['invoke'],
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => AGENTS_AUDIENCE,
        useGrantedResource: () => true,
        getResourceServerInfo: () => ({
          scope: 'invoke', audience: AGENTS_AUDIENCE, accessTokenTTL: 600, accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'RS256' } },
        }),
      },
    },
  });
  provider.on('server_error', (_ctx, err) => console.error(`host-idp: server_error ${err.message}`));
  server.on('request', provider.callback());

  /** user's inbound JWT, fetched from the IdP */
  async function userToken(name) {
    const c = userClients[name];
    const res = await fetch(`${issuer}/token`, {
      method: 'POST', signal: AbortSignal.timeout(10000),
      headers: { authorization: `Basic ${Buffer.from(`${c.id}:${c.secret}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'invoke', resource: AGENTS_AUDIENCE }),
    });
    const body = await res.json();
    if (res.status !== 200 || typeof body.access_token !== 'string' || body.access_token.split('.').length !== 3)
      throw new Error(`IdP token for ${name}: ${res.status} ${JSON.stringify(body)}`);
    return body.access_token;
  }
  return {
    issuer, port, userClients, userToken,
    discoveryUrl: `${issuer}/.well-known/openid-configuration`,
    close: closer(server),
  };
}
