// tests/frontend/sdk/identity/host-identity.mjs — owned by the x86 identity host suite: the
// test that tests/host/identity_host.sh runs (node --test; not a *.test.mjs beside lib.mjs, so
// frontend_sdk.sh does not pick it up). AgentCore Identity (issue 14) in a native silod (fake
// VMM) with REAL clients and a REAL authorization server:
//   - @aws-sdk/client-bedrock-agentcore-control creates, reads, updates, lists and deletes
//     workload identities, OAuth2 credential providers (CustomOauth2 by discoveryUrl and by
//     explicit authorizationServerMetadata) and API-key providers, and reads the token vault;
//     no output ever carries a secret;
//   - @aws-sdk/client-bedrock-agentcore mints workload access tokens (…ForUserId, …ForJWT with a
//     JWT from a real IdP, plain) and gets resource tokens: M2M (cached: counted at the
//     provider) and the full 3LO flow: authorizationUrl -> headless chromium (puppeteer-core)
//     signs in to oidc-provider's own pages and consents -> silod's callback -> the app's return
//     URL -> the app calls CompleteResourceTokenAuth for its signed-in user -> polling with
//     sessionUri gives the access token -> the protected resource (introspection) accepts it
//     for that user; the refresh token is used when the access token expires;
//   - the failures, each with its AgentCore error type: the wrong user completing
//     (AccessDeniedException, and no token ever reaches him), a return URL not allow-listed
//     (ValidationException), a replayed callback (4xx, store unchanged), an expired or tampered
//     workload access token (AccessDeniedException; a second silod with token_ttl_s = 2);
//   - silod restarted in the middle of a 3LO flow and with tokens stored: both survive; then
//     the database file (+ -wal/-shm) and silod's logs are searched for every secret.
// Pieces: host-provider.mjs, host-resource.mjs, host-app.mjs, host-browser.mjs, host-silod.mjs.
// Tests run in order and share state; each says what it needs from earlier ones.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import {
  BedrockAgentCoreControlClient,
  CreateWorkloadIdentityCommand, GetWorkloadIdentityCommand, UpdateWorkloadIdentityCommand,
  DeleteWorkloadIdentityCommand, ListWorkloadIdentitiesCommand,
  CreateOauth2CredentialProviderCommand, GetOauth2CredentialProviderCommand,
  UpdateOauth2CredentialProviderCommand, DeleteOauth2CredentialProviderCommand,
  ListOauth2CredentialProvidersCommand,
  CreateApiKeyCredentialProviderCommand, GetApiKeyCredentialProviderCommand,
  UpdateApiKeyCredentialProviderCommand, DeleteApiKeyCredentialProviderCommand,
  ListApiKeyCredentialProvidersCommand, GetTokenVaultCommand,
  GetAgentRuntimeCommand, DeleteAgentRuntimeCommand,
} from '@aws-sdk/client-bedrock-agentcore-control';
import {
  BedrockAgentCoreClient,
  GetWorkloadAccessTokenCommand, GetWorkloadAccessTokenForJWTCommand,
  GetWorkloadAccessTokenForUserIdCommand, GetResourceOauth2TokenCommand, GetResourceApiKeyCommand,
  CompleteResourceTokenAuthCommand,
} from '@aws-sdk/client-bedrock-agentcore';
import { control, data, credentials, region, readyRuntime, sleep } from '../lib.mjs';
import { startResourceProvider, startUserIdp, RESOURCE_SCOPE, AGENTS_AUDIENCE } from './host-provider.mjs';
import { startResource } from './host-resource.mjs';
import { startApp } from './host-app.mjs';
import { startBrowser } from './host-browser.mjs';
import { Silod } from './host-silod.mjs';

function need(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run tests/host/identity_host.sh`);
  return v;
}
const env = {
  bin: need('SILO_SILOD_BIN'),
  mainConfig: need('SILO_MAIN_CONFIG'), mainLog: need('SILO_MAIN_LOG'), mainDb: need('SILO_MAIN_DB'),
  mainPort: Number(need('SILO_MAIN_PORT')), callbackUrl: need('SILO_CALLBACK_URL'),
  shortConfig: need('SILO_SHORT_CONFIG'), shortLog: need('SILO_SHORT_LOG'), shortDb: need('SILO_SHORT_DB'),
  shortWrongKeyConfig: need('SILO_SHORT_WRONG_KEY_CONFIG'), shortKeyHex: need('SILO_SHORT_KEY_HEX'),
  sigv4Secret: credentials.secretAccessKey,
};

const rnd = () => randomBytes(4).toString('hex');
const name = (base) => `${base}-${rnd()}`;
const USER_FLOW = 'USER_FEDERATION';

// ------------------------------------------------------------------ shared state
let provider, idp, resource, app, browser, silod, short;
const s = {};                        // what the tests create and hand on
const givenSecrets = [];             // every secret this test handed to silod: {what, value}
const watsHandedOut = [];            // workload access tokens (bearer credentials: never in a log)
const controlOutputs = [];           // every control-plane output, to check none has a secret

function secretGiven(what, value) { givenSecrets.push({ what, value }); return value; }
function requireState(...keys) {
  for (const k of keys) if (s[k] === undefined) throw new Error(`needs ${k} from an earlier test (which failed)`);
}

/** control-plane call whose output is kept for the no-secret check */
async function cp(cmd, client = control) {
  const out = await client.send(cmd, { abortSignal: AbortSignal.timeout(30000) });
  controlOutputs.push({ op: cmd.constructor.name, out });
  return out;
}
const dp = (cmd, client = data) => client.send(cmd, { abortSignal: AbortSignal.timeout(30000) });

/** asserts that promise rejects with the AgentCore error `type` (name, or list of names) */
async function rejectsWith(promise, type, what) {
  const types = [].concat(type);
  let result;
  try {
    result = await promise;
  } catch (e) {
    assert.ok(types.includes(e.name), `${what}: expected ${types.join(' or ')}, got ${e.name} (${e.$metadata?.httpStatusCode}): ${e.message}`);
    return e;
  }
  assert.fail(`${what}: expected ${types.join(' or ')}, but it succeeded: ${JSON.stringify(result)}`);
}

async function watForUser(workloadName, userId, client = data) {
  const r = await dp(new GetWorkloadAccessTokenForUserIdCommand({ workloadName, userId }), client);
  assert.equal(typeof r.workloadAccessToken, 'string');
  assert.ok(r.workloadAccessToken.length >= 16, 'a workload access token of some length');
  watsHandedOut.push(r.workloadAccessToken);
  return r.workloadAccessToken;
}

function tamper(token) {
  // change one character in the middle (never the last: base64 padding bits could hide it)
  const i = Math.floor(token.length / 2);
  const c = token[i] === 'A' ? 'B' : 'A';
  return token.slice(0, i) + c + token.slice(i + 1);
}

function oauth2Token(params, client = data) {
  return dp(new GetResourceOauth2TokenCommand({ scopes: [RESOURCE_SCOPE], ...params }), client);
}

/** starts a 3LO flow for wat on workload/provider; { authorizationUrl, sessionUri } */
async function startFlow(wat, extra = {}) {
  const r = await oauth2Token({
    workloadIdentityToken: wat, resourceCredentialProviderName: s.threeLoProvider, oauth2Flow: USER_FLOW,
    resourceOauth2ReturnUrl: app.returnUrl, ...extra,
  });
  assert.equal(r.accessToken, undefined, `a new flow hands out no token yet: ${JSON.stringify(r)}`);
  assert.match(r.authorizationUrl ?? '', /^http:\/\/127\.0\.0\.1:\d+\/auth\?/, `authorizationUrl at the provider: ${JSON.stringify(r)}`);
  assert.ok(r.sessionUri, `a sessionUri: ${JSON.stringify(r)}`);
  return r;
}

/** polls GetResourceOauth2Token with sessionUri until an accessToken (ms at most) */
async function pollToken(wat, sessionUri, ms = 15000) {
  const until = Date.now() + ms;
  let last;
  while (Date.now() < until) {
    last = await oauth2Token({
      workloadIdentityToken: wat, resourceCredentialProviderName: s.threeLoProvider, oauth2Flow: USER_FLOW,
      sessionUri, resourceOauth2ReturnUrl: app.returnUrl,
    });
    if (last.accessToken) return last.accessToken;
    await sleep(250);
  }
  throw new Error(`no accessToken for session ${sessionUri} within ${ms} ms; last answer ${JSON.stringify(last)}`);
}

/** the user's browser: signs in to the app as appUser, then consents at the provider as login */
async function consentIn(authorizationUrl, { appUser, login }) {
  const u = await browser.user();
  try {
    const signin = await u.visit(`${app.base}/login?user=${appUser}`);
    assert.equal(signin.status, 200, signin.text);
    const r = await u.consent(authorizationUrl, { login, stopAt: app.returnUrl });
    const cb = r.chain.find((x) => x.startsWith(`${env.callbackUrl}?`));
    return { ...r, callback: cb };
  } finally { await u.close(); }
}

function noSecretIn(text, where, list = givenSecrets) {
  for (const { what, value } of list)
    assert.ok(!text.includes(value), `${where} contains the ${what}`);
}

// ------------------------------------------------------------------ set-up
before(async () => {
  app = await startApp({ dataClient: data });
  provider = await startResourceProvider({ callbackUrl: env.callbackUrl, harnessRedirect: app.harnessRedirect });
  idp = await startUserIdp({ users: ['alice', 'bob'] });
  resource = await startResource({
    provider, scope: RESOURCE_SCOPE,
    userClientIds: [provider.clients.threeLo.id, provider.clients.harness.id],
    serviceClientIds: [provider.clients.m2m.id, provider.clients.m2mPost.id],
  });
  browser = await startBrowser();
  console.log(`provider ${provider.issuer}, user IdP ${idp.issuer}, resource ${resource.base}, app ${app.base}, ${await browser.version()}`);
  silod = new Silod({ bin: env.bin, config: env.mainConfig, log: env.mainLog, name: 'silod' });
  short = new Silod({ bin: env.bin, config: env.shortConfig, log: env.shortLog, name: 'silod (token_ttl_s 2)' });
});

after(async () => {
  if (s.runtime) await control.send(new DeleteAgentRuntimeCommand({ agentRuntimeId: s.runtime.agentRuntimeId })).catch(() => {});
  await silod?.stop();
  await short?.stop();
  await browser?.close().catch(() => {});
  await Promise.allSettled([provider?.close(), idp?.close(), resource?.close(), app?.close()]);
});

// ------------------------------------------------------------------ the harness on its own
test('harness: chromium signs in to oidc-provider, consents, and the code (PKCE) gives a token the resource accepts', async () => {
  const { createHash } = await import('node:crypto');
  const verifier = randomBytes(32).toString('base64url');
  const state = rnd() + rnd();
  const auth = new URL(provider.authorizationEndpoint);
  Object.entries({
    client_id: provider.clients.harness.id, response_type: 'code', redirect_uri: app.harnessRedirect,
    scope: RESOURCE_SCOPE, state, code_challenge_method: 'S256',
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
  }).forEach(([k, v]) => auth.searchParams.set(k, v));
  const u = await browser.user();
  let r;
  try { r = await u.consent(auth.href, { login: 'alice', stopAt: app.harnessRedirect }); } finally { await u.close(); }
  const arrival = await app.waitArrival((a) => a.path === '/harness/callback' && a.query.state === state, 5000);
  assert.ok(arrival.query.code, `a code came back: ${JSON.stringify(arrival.query)}`);
  assert.match(r.text, /harness got its code/);
  const basic = Buffer.from(`${provider.clients.harness.id}:${provider.clients.harness.secret}`).toString('base64');
  const tok = await fetch(provider.tokenEndpoint, {
    method: 'POST', signal: AbortSignal.timeout(10000),
    headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'authorization_code', code: arrival.query.code,
      redirect_uri: app.harnessRedirect, code_verifier: verifier }),
  });
  const body = await tok.json();
  assert.equal(tok.status, 200, JSON.stringify(body));
  assert.ok(body.access_token && body.refresh_token, 'access and refresh tokens');
  assert.equal(body.access_token.split('.').length, 1, 'opaque access tokens (introspected by the resource)');
  const ok = await resource.call('/users/alice/profile', body.access_token);
  assert.equal(ok.status, 200, JSON.stringify(ok.body));
  assert.equal(ok.body.sub, 'alice');
  // the resource refuses what it must refuse (so its "200" later means something)
  assert.equal((await resource.call('/users/bob/profile', body.access_token)).status, 403, "alice's token for bob's data");
  assert.equal((await resource.call('/users/alice/profile')).status, 401, 'no token');
  assert.equal((await resource.call('/users/alice/profile', 'bogus-token')).status, 401, 'an unknown token');
  assert.equal((await resource.call('/service/status', body.access_token)).status, 403, 'a user token for the service');
  // the code is single-use at the provider
  const again = await fetch(provider.tokenEndpoint, {
    method: 'POST', signal: AbortSignal.timeout(10000),
    headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'authorization_code', code: arrival.query.code,
      redirect_uri: app.harnessRedirect, code_verifier: verifier }),
  });
  assert.equal(again.status, 400, 'a code redeemed twice is refused by the provider');
});

// ------------------------------------------------------------------ silod up
test('silod starts with the identity configuration; the vault key file is created with mode 0600', async () => {
  const port = await silod.start();
  assert.equal(port, env.mainPort);
  const keyFile = `${env.mainDb}.vault-key`;
  assert.ok(existsSync(keyFile), `${keyFile} exists`);
  const st = statSync(keyFile);
  assert.equal(st.mode & 0o777, 0o600, `mode ${(st.mode & 0o777).toString(8)}`);
  assert.equal(st.size, 32);
  s.vaultKey = readFileSync(keyFile);
});

// ------------------------------------------------------------------ control plane
test('control: workload identities: Create (allowedResourceOauth2ReturnUrls), Get, Update, List', async () => {
  const wl = name('idhost-wl');
  const c = await cp(new CreateWorkloadIdentityCommand({ name: wl, allowedResourceOauth2ReturnUrls: [`${app.base}/old-return`] }));
  assert.equal(c.name, wl);
  assert.match(c.workloadIdentityArn, new RegExp(`^arn:aws:bedrock-agentcore:${region}:\\d{12}:workload-identity-directory/default/workload-identity/${wl}$`));
  assert.deepEqual(c.allowedResourceOauth2ReturnUrls, [`${app.base}/old-return`]);
  const u = await cp(new UpdateWorkloadIdentityCommand({ name: wl, allowedResourceOauth2ReturnUrls: [app.returnUrl, `${app.base}/second`] }));
  assert.deepEqual(u.allowedResourceOauth2ReturnUrls, [app.returnUrl, `${app.base}/second`]);
  const g = await cp(new GetWorkloadIdentityCommand({ name: wl }));
  assert.deepEqual(g.allowedResourceOauth2ReturnUrls, [app.returnUrl, `${app.base}/second`]);
  assert.equal(g.workloadIdentityArn, c.workloadIdentityArn);
  assert.ok(g.createdTime instanceof Date && g.lastUpdatedTime instanceof Date);
  const wl2 = name('idhost-wl2');
  await cp(new CreateWorkloadIdentityCommand({ name: wl2, allowedResourceOauth2ReturnUrls: [app.returnUrl] }));
  const names = [];
  let nextToken;
  do {
    const l = await cp(new ListWorkloadIdentitiesCommand({ maxResults: 2, nextToken }));
    names.push(...l.workloadIdentities.map((w) => w.name));
    nextToken = l.nextToken;
  } while (nextToken && names.length < 200);
  assert.ok(names.includes(wl) && names.includes(wl2), `List (paged by 2) has both: ${names}`);
  await rejectsWith(cp(new CreateWorkloadIdentityCommand({ name: wl })), 'ConflictException', 'a second workload identity of the same name');
  await rejectsWith(cp(new GetWorkloadIdentityCommand({ name: `nope-${rnd()}` })), 'ResourceNotFoundException', 'Get of an unknown workload');
  Object.assign(s, { wl, wl2 });
});

test('control: CustomOauth2 providers by discoveryUrl (M2M and 3LO clients): Create, Get, List; no secret in any output', async () => {
  const mk = (n, client, method) => cp(new CreateOauth2CredentialProviderCommand({
    name: n, credentialProviderVendor: 'CustomOauth2',
    oauth2ProviderConfigInput: { customOauth2ProviderConfig: {
      oauthDiscovery: { discoveryUrl: provider.discoveryUrl },
      clientId: client.id, clientSecret: secretGiven(`client secret of ${client.id}`, client.secret),
      ...(method ? { clientAuthenticationMethod: method } : {}),
    } },
  }));
  const m2m = name('idhost-m2m'), threeLo = name('idhost-3lo');
  const c = await mk(m2m, provider.clients.m2m, 'CLIENT_SECRET_BASIC');
  await mk(threeLo, provider.clients.threeLo);
  assert.equal(c.name, m2m);
  assert.match(c.credentialProviderArn, /^arn:aws:bedrock-agentcore:[^:]+:\d{12}:token-vault\/default\/oauth2credentialprovider\//);
  assert.ok(c.clientSecretArn?.secretArn, `clientSecretArn: ${JSON.stringify(c)}`);
  assert.equal(c.callbackUrl, env.callbackUrl, 'callbackUrl is silod\'s callback (identity.callback_url)');
  const g = await cp(new GetOauth2CredentialProviderCommand({ name: m2m }));
  assert.equal(g.credentialProviderVendor, 'CustomOauth2');
  assert.equal(g.oauth2ProviderConfigOutput?.customOauth2ProviderConfig?.clientId, provider.clients.m2m.id);
  assert.equal(g.oauth2ProviderConfigOutput.customOauth2ProviderConfig.oauthDiscovery?.discoveryUrl, provider.discoveryUrl);
  assert.equal(g.callbackUrl, env.callbackUrl);
  assert.equal(g.clientSecretArn?.secretArn, c.clientSecretArn.secretArn);
  const l = await cp(new ListOauth2CredentialProvidersCommand({}));
  const listed = l.credentialProviders.map((p) => p.name);
  assert.ok(listed.includes(m2m) && listed.includes(threeLo), `listed: ${listed}`);
  assert.equal(l.credentialProviders.find((p) => p.name === m2m).credentialProviderVendor, 'CustomOauth2');
  await rejectsWith(mk(m2m, provider.clients.m2m), 'ConflictException', 'a second provider of the same name');
  for (const o of controlOutputs) noSecretIn(JSON.stringify(o.out), `${o.op} output`);
  Object.assign(s, { m2mProvider: m2m, threeLoProvider: threeLo });
});

test('control: CustomOauth2 by explicit authorizationServerMetadata (CLIENT_SECRET_POST); Update replaces the client secret', async () => {
  const n = name('idhost-meta');
  const metadata = { issuer: provider.issuer, authorizationEndpoint: provider.authorizationEndpoint,
    tokenEndpoint: provider.tokenEndpoint, responseTypes: ['code'], tokenEndpointAuthMethods: ['client_secret_post'] };
  const config = (secret) => ({ customOauth2ProviderConfig: {
    oauthDiscovery: { authorizationServerMetadata: metadata }, clientId: provider.clients.m2mPost.id,
    clientSecret: secret, clientAuthenticationMethod: 'CLIENT_SECRET_POST' } });
  const stale = secretGiven('stale client secret', `stale-secret-${randomBytes(16).toString('hex')}`);
  await cp(new CreateOauth2CredentialProviderCommand({ name: n, credentialProviderVendor: 'CustomOauth2', oauth2ProviderConfigInput: config(stale) }));
  const g = await cp(new GetOauth2CredentialProviderCommand({ name: n }));
  const out = g.oauth2ProviderConfigOutput?.customOauth2ProviderConfig;
  assert.deepEqual(out?.oauthDiscovery?.authorizationServerMetadata?.tokenEndpoint, provider.tokenEndpoint, JSON.stringify(g));
  assert.equal(out.oauthDiscovery.authorizationServerMetadata.issuer, provider.issuer);
  assert.equal(out.clientAuthenticationMethod, 'CLIENT_SECRET_POST');
  // the stale secret does not work at the provider (so the working call after Update proves Update)
  const wat = (await dp(new GetWorkloadAccessTokenCommand({ workloadName: s.wl }))).workloadAccessToken;
  watsHandedOut.push(wat);
  const before = provider.count({ grantType: 'client_credentials', clientId: provider.clients.m2mPost.id });
  await assert.rejects(oauth2Token({ workloadIdentityToken: wat, resourceCredentialProviderName: n, oauth2Flow: 'M2M' }),
    (e) => { console.log(`with the stale secret: ${e.name}: ${e.message}`); return typeof e.name === 'string' && e.$metadata?.httpStatusCode >= 400; });
  assert.ok(provider.count({ grantType: 'client_credentials', clientId: provider.clients.m2mPost.id }) > before &&
    provider.count({ grantType: 'client_credentials', clientId: provider.clients.m2mPost.id, status: 200 }) === 0,
  'silod asked the provider, which refused the stale secret');
  const u = await cp(new UpdateOauth2CredentialProviderCommand({ name: n, credentialProviderVendor: 'CustomOauth2',
    oauth2ProviderConfigInput: config(secretGiven(`client secret of ${provider.clients.m2mPost.id}`, provider.clients.m2mPost.secret)) }));
  assert.equal(u.name, n);
  const r = await oauth2Token({ workloadIdentityToken: wat, resourceCredentialProviderName: n, oauth2Flow: 'M2M' });
  assert.ok(r.accessToken, JSON.stringify(r));
  const ok = await resource.call('/service/status', r.accessToken);
  assert.equal(ok.status, 200, JSON.stringify(ok.body));
  assert.equal(ok.body.client_id, provider.clients.m2mPost.id, 'the token of the client_secret_post client');
  assert.equal(provider.count({ grantType: 'client_credentials', clientId: provider.clients.m2mPost.id, status: 200 }), 1);
  for (const o of controlOutputs) noSecretIn(JSON.stringify(o.out), `${o.op} output`);
  s.metaProvider = n;
});

test('control: API-key providers: Create, Get, Update, List; no key in any output', async () => {
  const n = name('idhost-key');
  const key1 = secretGiven('API key (first)', `sk-first-${randomBytes(18).toString('hex')}`);
  const key2 = secretGiven('API key (updated)', `sk-second-${randomBytes(18).toString('hex')}`);
  const c = await cp(new CreateApiKeyCredentialProviderCommand({ name: n, apiKey: key1 }));
  assert.equal(c.name, n);
  assert.ok(c.apiKeySecretArn?.secretArn, JSON.stringify(c));
  assert.match(c.credentialProviderArn, /apikeycredentialprovider\//);
  const g = await cp(new GetApiKeyCredentialProviderCommand({ name: n }));
  assert.equal(g.apiKeySecretArn?.secretArn, c.apiKeySecretArn.secretArn);
  await cp(new UpdateApiKeyCredentialProviderCommand({ name: n, apiKey: key2 }));
  const l = await cp(new ListApiKeyCredentialProvidersCommand({}));
  assert.ok(l.credentialProviders.some((p) => p.name === n), JSON.stringify(l));
  await rejectsWith(cp(new GetApiKeyCredentialProviderCommand({ name: `nope-${rnd()}` })), 'ResourceNotFoundException', 'Get of an unknown API-key provider');
  await rejectsWith(cp(new CreateApiKeyCredentialProviderCommand({ name: n, apiKey: key1 })), 'ConflictException', 'a second API-key provider of the same name');
  for (const o of controlOutputs) noSecretIn(JSON.stringify(o.out), `${o.op} output`);
  Object.assign(s, { apiKeyProvider: n, apiKey: key2, apiKeyOld: key1 });
});

test('control: GetTokenVault; Delete of each kind (then Get is ResourceNotFoundException, List no longer has it)', async () => {
  const v = await cp(new GetTokenVaultCommand({}));
  assert.ok(v.tokenVaultId, JSON.stringify(v));
  assert.ok(v.kmsConfiguration, JSON.stringify(v));
  const wl = name('idhost-gone'), op = name('idhost-gone'), kp = name('idhost-gone');
  await cp(new CreateWorkloadIdentityCommand({ name: wl }));
  await cp(new CreateOauth2CredentialProviderCommand({ name: op, credentialProviderVendor: 'CustomOauth2',
    oauth2ProviderConfigInput: { customOauth2ProviderConfig: { oauthDiscovery: { discoveryUrl: provider.discoveryUrl },
      clientId: provider.clients.m2m.id, clientSecret: provider.clients.m2m.secret } } }));
  await cp(new CreateApiKeyCredentialProviderCommand({ name: kp, apiKey: secretGiven('API key (deleted provider)', `sk-gone-${randomBytes(16).toString('hex')}`) }));
  await cp(new DeleteWorkloadIdentityCommand({ name: wl }));
  await cp(new DeleteOauth2CredentialProviderCommand({ name: op }));
  await cp(new DeleteApiKeyCredentialProviderCommand({ name: kp }));
  await rejectsWith(cp(new GetWorkloadIdentityCommand({ name: wl })), 'ResourceNotFoundException', 'Get of a deleted workload');
  await rejectsWith(cp(new GetOauth2CredentialProviderCommand({ name: op })), 'ResourceNotFoundException', 'Get of a deleted OAuth2 provider');
  await rejectsWith(cp(new GetApiKeyCredentialProviderCommand({ name: kp })), 'ResourceNotFoundException', 'Get of a deleted API-key provider');
  await rejectsWith(cp(new DeleteApiKeyCredentialProviderCommand({ name: kp })), 'ResourceNotFoundException', 'Delete twice');
  assert.ok(!(await cp(new ListOauth2CredentialProvidersCommand({}))).credentialProviders.some((p) => p.name === op));
  assert.ok(!(await cp(new ListApiKeyCredentialProvidersCommand({}))).credentialProviders.some((p) => p.name === kp));
  for (const o of controlOutputs) noSecretIn(JSON.stringify(o.out), `${o.op} output`);
});

test('control: invalid requests are ValidationException (no discovery, bad vendor, non-URL return URL)', async () => {
  await rejectsWith(cp(new CreateOauth2CredentialProviderCommand({ name: name('idhost-bad'), credentialProviderVendor: 'CustomOauth2',
    oauth2ProviderConfigInput: { customOauth2ProviderConfig: { clientId: 'x', clientSecret: 'y' } } })), 'ValidationException', 'CustomOauth2 without oauthDiscovery');
  await rejectsWith(cp(new CreateOauth2CredentialProviderCommand({ name: name('idhost-bad'), credentialProviderVendor: 'NoSuchVendor',
    oauth2ProviderConfigInput: { customOauth2ProviderConfig: { oauthDiscovery: { discoveryUrl: provider.discoveryUrl }, clientId: 'x', clientSecret: 'y' } } })),
  'ValidationException', 'an unknown vendor');
  await rejectsWith(cp(new CreateWorkloadIdentityCommand({ name: name('idhost-bad'), allowedResourceOauth2ReturnUrls: ['not a url'] })),
    'ValidationException', 'a return URL that is no URL');
  await rejectsWith(cp(new CreateApiKeyCredentialProviderCommand({ name: 'has space' + rnd(), apiKey: 'k' })), 'ValidationException', 'a bad provider name');
});

// ------------------------------------------------------------------ workload access tokens
test('data: GetWorkloadAccessTokenForUserId / GetWorkloadAccessToken mint distinct tokens; unknown workload is ResourceNotFoundException', async () => {
  requireState('wl', 'wl2');
  const alice = await watForUser(s.wl, 'alice');
  const alice2 = await watForUser(s.wl2, 'alice');
  const bob = await watForUser(s.wl, 'bob');
  const plain = (await dp(new GetWorkloadAccessTokenCommand({ workloadName: s.wl }))).workloadAccessToken;
  watsHandedOut.push(plain);
  assert.ok(plain && plain.length >= 16);
  assert.equal(new Set([alice, alice2, bob, plain]).size, 4);
  await rejectsWith(dp(new GetWorkloadAccessTokenForUserIdCommand({ workloadName: `nope-${rnd()}`, userId: 'alice' })),
    ['ResourceNotFoundException', 'ValidationException'], 'a token for an unknown workload');
  Object.assign(s, { watAlice: alice, watAliceWl2: alice2, watBob: bob, watPlain: plain });
});

test('data: GetWorkloadAccessTokenForJWT takes a real IdP JWT for a runtime\'s workload; a tampered JWT is refused', async () => {
  requireState('apiKeyProvider');
  s.runtime = await readyRuntime('idhost_jwt', { authorizerConfiguration: { customJWTAuthorizer: {
    discoveryUrl: idp.discoveryUrl, allowedAudience: [AGENTS_AUDIENCE] } } });
  const rt = await control.send(new GetAgentRuntimeCommand({ agentRuntimeId: s.runtime.agentRuntimeId }));
  const arn = rt.workloadIdentityDetails?.workloadIdentityArn;
  assert.ok(arn, `GetAgentRuntime has workloadIdentityDetails: ${JSON.stringify(rt.workloadIdentityDetails)}`);
  const workloadName = arn.split('/').pop();
  const jwt = await idp.userToken('alice');
  const r = await dp(new GetWorkloadAccessTokenForJWTCommand({ workloadName, userToken: jwt }));
  assert.ok(r.workloadAccessToken, JSON.stringify(r));
  watsHandedOut.push(r.workloadAccessToken);
  // the token works where a workload token is needed
  const k = await dp(new GetResourceApiKeyCommand({ workloadIdentityToken: r.workloadAccessToken, resourceCredentialProviderName: s.apiKeyProvider }));
  assert.equal(k.apiKey, s.apiKey);
  const [h, p, sig] = jwt.split('.');
  await rejectsWith(dp(new GetWorkloadAccessTokenForJWTCommand({ workloadName, userToken: `${h}.${p}.${tamper(sig)}` })),
    ['AccessDeniedException', 'UnauthorizedException'], 'a JWT with a tampered signature');
  await rejectsWith(dp(new GetWorkloadAccessTokenForJWTCommand({ workloadName, userToken: 'not-a-jwt' })),
    ['AccessDeniedException', 'UnauthorizedException', 'ValidationException'], 'a token that is no JWT');
  // a workload identity without a runtime has no authorizer to check a JWT against
  await rejectsWith(dp(new GetWorkloadAccessTokenForJWTCommand({ workloadName: s.wl, userToken: jwt })),
    ['AccessDeniedException', 'ValidationException', 'UnauthorizedException'], 'ForJWT for a workload without an inbound authorizer');
});

// ------------------------------------------------------------------ API keys
test('data: GetResourceApiKey returns the (updated) key only with a valid workload token', async () => {
  requireState('watAlice', 'apiKeyProvider');
  const k = await dp(new GetResourceApiKeyCommand({ workloadIdentityToken: s.watAlice, resourceCredentialProviderName: s.apiKeyProvider }));
  assert.equal(k.apiKey, s.apiKey, 'the key as updated');
  await rejectsWith(dp(new GetResourceApiKeyCommand({ workloadIdentityToken: tamper(s.watAlice), resourceCredentialProviderName: s.apiKeyProvider })),
    'AccessDeniedException', 'a tampered workload token');
  await rejectsWith(dp(new GetResourceApiKeyCommand({ workloadIdentityToken: 'not-a-token', resourceCredentialProviderName: s.apiKeyProvider })),
    'AccessDeniedException', 'a made-up workload token');
  await rejectsWith(dp(new GetResourceApiKeyCommand({ workloadIdentityToken: s.watAlice, resourceCredentialProviderName: `nope-${rnd()}` })),
    'ResourceNotFoundException', 'an unknown API-key provider');
});

// ------------------------------------------------------------------ M2M
test('data: M2M: client credentials at the provider (discoveryUrl); the resource accepts the token; the second call is served from cache', async () => {
  requireState('watPlain', 'm2mProvider');
  const filter = { grantType: 'client_credentials', clientId: provider.clients.m2m.id };
  assert.equal(provider.count(filter), 0);
  const r1 = await oauth2Token({ workloadIdentityToken: s.watPlain, resourceCredentialProviderName: s.m2mProvider, oauth2Flow: 'M2M' });
  assert.ok(r1.accessToken, JSON.stringify(r1));
  assert.equal(provider.count({ ...filter, status: 200 }), 1, 'one client_credentials request at the provider');
  assert.equal(provider.exchanges.find((e) => e.clientId === provider.clients.m2m.id).accessToken, r1.accessToken);
  const ok = await resource.call('/service/status', r1.accessToken);
  assert.equal(ok.status, 200, JSON.stringify(ok.body));
  assert.equal(ok.body.client_id, provider.clients.m2m.id);
  const r2 = await oauth2Token({ workloadIdentityToken: s.watPlain, resourceCredentialProviderName: s.m2mProvider, oauth2Flow: 'M2M' });
  assert.equal(r2.accessToken, r1.accessToken, 'the cached token');
  assert.equal(provider.count(filter), 1, 'no second token request at the provider');
  await rejectsWith(oauth2Token({ workloadIdentityToken: tamper(s.watPlain), resourceCredentialProviderName: s.m2mProvider, oauth2Flow: 'M2M' }),
    'AccessDeniedException', 'M2M with a tampered workload token');
  assert.equal(provider.count(filter), 1);
  s.m2mToken = r1.accessToken;
});

// ------------------------------------------------------------------ 3LO
test('data: 3LO: authorizationUrl -> chromium signs in as alice and consents -> callback -> app completes as alice -> poll gives the token -> resource accepts it as alice', async () => {
  requireState('watAlice', 'threeLoProvider');
  const customState = `cs-${rnd()}${rnd()}`;
  const flow = await startFlow(s.watAlice, { customState });
  const au = new URL(flow.authorizationUrl);
  assert.equal(au.origin, provider.issuer);
  assert.equal(au.searchParams.get('client_id'), provider.clients.threeLo.id);
  assert.equal(au.searchParams.get('redirect_uri'), env.callbackUrl);
  assert.equal(au.searchParams.get('response_type'), 'code');
  assert.equal(au.searchParams.get('code_challenge_method'), 'S256');
  assert.ok(au.searchParams.get('code_challenge') && au.searchParams.get('state'), flow.authorizationUrl);
  assert.ok(au.searchParams.get('scope').split(' ').includes(RESOURCE_SCOPE));
  assert.notEqual(au.searchParams.get('state'), customState, 'silod\'s own state, not the agent\'s');
  const exchangesBefore = provider.count({ grantType: 'authorization_code', clientId: provider.clients.threeLo.id });
  const r = await consentIn(flow.authorizationUrl, { appUser: 'alice', login: 'alice' });
  assert.ok(r.callback, `the browser passed silod's callback: ${r.chain.map((x) => x.split('?')[0]).join(' -> ')}`);
  assert.match(r.text, /completed for alice/, `the app's page: ${r.text}`);
  const arrival = await app.waitArrival((a) => a.query.session_id === flow.sessionUri, 5000);
  assert.equal(arrival.outcome, 'completed', JSON.stringify(arrival));
  assert.equal(arrival.query.state, customState, 'the agent\'s customState comes back to the app');
  const token = await pollToken(s.watAlice, flow.sessionUri);
  const codeEx = provider.exchanges.filter((e) => e.grantType === 'authorization_code' && e.clientId === provider.clients.threeLo.id);
  assert.equal(codeEx.length, exchangesBefore + 1, 'exactly one code redeemed');
  assert.ok(codeEx.at(-1).pkce, 'silod sent a PKCE code_verifier');
  assert.equal(codeEx.at(-1).status, 200);
  assert.equal(token, codeEx.at(-1).accessToken, 'the token the provider issued');
  assert.ok(codeEx.at(-1).refreshToken, 'the provider issued a refresh token too');
  const ok = await resource.call('/users/alice/profile', token);
  assert.equal(ok.status, 200, JSON.stringify(ok.body));
  assert.equal(ok.body.sub, 'alice');
  // next time the stored token is handed out at once (no new flow, no provider request)
  const again = await oauth2Token({ workloadIdentityToken: s.watAlice, resourceCredentialProviderName: s.threeLoProvider,
    oauth2Flow: USER_FLOW, resourceOauth2ReturnUrl: app.returnUrl });
  assert.equal(again.accessToken, token, `the stored token: ${JSON.stringify(again)}`);
  assert.equal(provider.count({ clientId: provider.clients.threeLo.id }), codeEx.length);
  Object.assign(s, { aliceToken: token, aliceSession: flow.sessionUri, aliceCallback: r.callback });
});

test('data: a replayed callback (same state and code) is refused with 4xx and changes nothing', async () => {
  requireState('aliceCallback', 'aliceToken');
  const before = provider.exchanges.length;
  const res = await fetch(s.aliceCallback, { redirect: 'manual', signal: AbortSignal.timeout(15000) });
  const text = await res.text();
  assert.ok(res.status >= 400 && res.status < 500, `replay answered ${res.status} ${res.headers.get('location') ?? ''} ${text}`);
  assert.equal(res.headers.get('location'), null, 'no redirect to the app');
  const bogus = new URL(s.aliceCallback);
  bogus.searchParams.set('state', `made-up-${rnd()}`);
  const r2 = await fetch(bogus, { redirect: 'manual', signal: AbortSignal.timeout(15000) });
  assert.ok(r2.status >= 400 && r2.status < 500, `an unknown state answered ${r2.status}`);
  const r3 = await fetch(env.callbackUrl, { redirect: 'manual', signal: AbortSignal.timeout(15000) });
  assert.ok(r3.status >= 400 && r3.status < 500, `no state at all answered ${r3.status}`);
  console.log(`callback replayed: ${res.status} "${text.trim().slice(0, 120)}"; unknown state: ${r2.status}; no state: ${r3.status}`);
  noSecretIn(text, 'the callback\'s refusal', [{ what: 'access token', value: s.aliceToken }]);
  assert.equal(provider.exchanges.length, before, 'silod did not go to the provider again');
  const again = await oauth2Token({ workloadIdentityToken: s.watAlice, resourceCredentialProviderName: s.threeLoProvider,
    oauth2Flow: USER_FLOW, resourceOauth2ReturnUrl: app.returnUrl });
  assert.equal(again.accessToken, s.aliceToken, 'alice\'s stored token is unchanged');
});

test('data: a resourceOauth2ReturnUrl not allow-listed is ValidationException, and nobody is sent there', async () => {
  requireState('watBob', 'threeLoProvider');
  const other = new URL(app.returnUrl);
  other.port = String(Number(other.port) === 1 ? 2 : 1);
  for (const url of [app.elsewhereUrl, `${app.returnUrl}-evil`, other.href, `${app.returnUrl}?x=1`]) {
    await rejectsWith(oauth2Token({ workloadIdentityToken: s.watBob, resourceCredentialProviderName: s.threeLoProvider,
      oauth2Flow: USER_FLOW, resourceOauth2ReturnUrl: url }), 'ValidationException', `return URL ${url}`);
  }
  assert.ok(!app.arrivals.some((a) => a.path === '/elsewhere'));
});

test('data: the wrong user completing is AccessDeniedException, and no token ever reaches him', async () => {
  requireState('watAliceWl2', 'threeLoProvider', 'wl2');
  const watBob2 = await watForUser(s.wl2, 'bob');
  const flow = await startFlow(s.watAliceWl2);
  const before = provider.count({ grantType: 'authorization_code', clientId: provider.clients.threeLo.id });
  // alice consents at the provider, but the return lands in bob's app session
  const r = await consentIn(flow.authorizationUrl, { appUser: 'bob', login: 'alice' });
  const arrival = await app.waitArrival((a) => a.query.session_id === flow.sessionUri, 5000);
  assert.equal(arrival.user, 'bob');
  assert.equal(arrival.outcome, 'refused', `CompleteResourceTokenAuth as bob: ${JSON.stringify(arrival)}; page: ${r.text}`);
  assert.equal(arrival.errorName, 'AccessDeniedException', JSON.stringify(arrival));
  console.log(`bob completing alice's session: ${arrival.errorName} (${arrival.status}): ${arrival.message}`);
  // a direct second try by bob with the SDK
  await rejectsWith(dp(new CompleteResourceTokenAuthCommand({ sessionUri: flow.sessionUri, userIdentifier: { userId: 'bob' } })),
    'AccessDeniedException', 'CompleteResourceTokenAuth by bob for alice\'s session');
  // whatever silod got from the provider for this flow
  const obtained = provider.exchanges.filter((e) => e.grantType === 'authorization_code' && e.clientId === provider.clients.threeLo.id)
    .slice(before).map((e) => e.accessToken).filter(Boolean);
  const never = [s.aliceToken, ...obtained].filter(Boolean);
  const bobAsks = async (params) => {
    try { return await oauth2Token({ workloadIdentityToken: watBob2, resourceCredentialProviderName: s.threeLoProvider,
      oauth2Flow: USER_FLOW, resourceOauth2ReturnUrl: app.returnUrl, ...params }); } catch (e) { return { error: e.name }; }
  };
  for (let i = 0; i < 4; i++) {
    for (const answer of [await bobAsks({ sessionUri: flow.sessionUri }), await bobAsks({})]) {
      for (const t of never) assert.ok(!JSON.stringify(answer).includes(t), `bob got a token: ${JSON.stringify(answer)}`);
      assert.equal(answer.accessToken, undefined, `bob got an access token: ${JSON.stringify(answer)}`);
    }
    await sleep(250);
  }
  // nor does alice's session count as completed by bob's attempt
  const aliceView = await oauth2Token({ workloadIdentityToken: s.watAliceWl2, resourceCredentialProviderName: s.threeLoProvider,
    oauth2Flow: USER_FLOW, resourceOauth2ReturnUrl: app.returnUrl, sessionUri: flow.sessionUri }).catch((e) => ({ error: e.name }));
  assert.equal(aliceView.accessToken, undefined, `bob's completion did not bind the token: ${JSON.stringify(aliceView)}`);
});

test('data: a workload token binds workload and user: alice on another workload, a user-less token, bob: none gets alice\'s token', async () => {
  requireState('aliceToken', 'watAliceWl2', 'watPlain', 'watBob');
  const ask = (wat, extra = {}) => oauth2Token({ workloadIdentityToken: wat, resourceCredentialProviderName: s.threeLoProvider,
    oauth2Flow: USER_FLOW, resourceOauth2ReturnUrl: app.returnUrl, ...extra });
  const otherWl = await ask(s.watAliceWl2);
  assert.notEqual(otherWl.accessToken, s.aliceToken, 'alice on workload 2 does not get her workload-1 token');
  assert.ok(otherWl.authorizationUrl, `alice on workload 2 must start her own flow: ${JSON.stringify(otherWl)}`);
  const otherWlPoll = await ask(s.watAliceWl2, { sessionUri: s.aliceSession }).catch((e) => ({ error: e.name }));
  assert.equal(otherWlPoll.accessToken, undefined, `workload 2 polling workload 1's session: ${JSON.stringify(otherWlPoll)}`);
  const bobPoll = await ask(s.watBob, { sessionUri: s.aliceSession }).catch((e) => ({ error: e.name }));
  assert.equal(bobPoll.accessToken, undefined, `bob polling alice's session: ${JSON.stringify(bobPoll)}`);
  const bobOwn = await ask(s.watBob);
  assert.notEqual(bobOwn.accessToken, s.aliceToken);
  await rejectsWith(ask(s.watPlain), ['ValidationException', 'AccessDeniedException'], 'USER_FEDERATION with a user-less workload token');
  await rejectsWith(ask(tamper(s.watAlice)), 'AccessDeniedException', 'USER_FEDERATION with a tampered workload token');
});

test('data: an expired access token is refreshed with the refresh token', async () => {
  requireState('wl', 'threeLoProvider');
  const wat = await watForUser(s.wl, 'frank');
  provider.setAccessTtl(3);
  let first;
  try {
    const flow = await startFlow(wat);
    const r = await consentIn(flow.authorizationUrl, { appUser: 'frank', login: 'frank' });
    assert.match(r.text, /completed for frank/);
    first = await pollToken(wat, flow.sessionUri);
  } finally { provider.setAccessTtl(600); }
  const refreshFilter = { grantType: 'refresh_token', clientId: provider.clients.threeLo.id };
  const refreshesBefore = provider.count(refreshFilter);
  await sleep(4000);   // the 3 s access token has expired
  const r2 = await oauth2Token({ workloadIdentityToken: wat, resourceCredentialProviderName: s.threeLoProvider,
    oauth2Flow: USER_FLOW, resourceOauth2ReturnUrl: app.returnUrl });
  assert.ok(r2.accessToken, `a token without a new flow: ${JSON.stringify(r2)}`);
  assert.notEqual(r2.accessToken, first, 'a new access token');
  assert.ok(provider.count({ ...refreshFilter, status: 200 }) > refreshesBefore, 'silod used the refresh token');
  assert.equal(provider.exchanges.filter((e) => e.grantType === 'refresh_token').at(-1).accessToken, r2.accessToken);
  assert.equal((await resource.call('/users/frank/profile', first)).status, 401, 'the old token is dead at the resource');
  const ok = await resource.call('/users/frank/profile', r2.accessToken);
  assert.equal(ok.status, 200, JSON.stringify(ok.body));
  assert.equal(ok.body.sub, 'frank');
});

// ------------------------------------------------------------------ expiry (second silod)
test('data: an expired workload access token is AccessDeniedException (silod with token_ttl_s = 2)', async () => {
  const port = await short.start();
  const ep = `http://127.0.0.1:${port}`;
  const cfg = { endpoint: ep, region, credentials, maxAttempts: 1 };
  const c2 = new BedrockAgentCoreControlClient(cfg), d2 = new BedrockAgentCoreClient(cfg);
  const wl = name('idhost-short'), kp = name('idhost-short-key');
  const key = secretGiven('API key (short-lived silod)', `sk-short-${randomBytes(18).toString('hex')}`);
  await cp(new CreateWorkloadIdentityCommand({ name: wl }), c2);
  await cp(new CreateApiKeyCredentialProviderCommand({ name: kp, apiKey: key }), c2);
  const o = await cp(new CreateOauth2CredentialProviderCommand({ name: name('idhost-short-o'), credentialProviderVendor: 'CustomOauth2',
    oauth2ProviderConfigInput: { customOauth2ProviderConfig: { oauthDiscovery: { discoveryUrl: provider.discoveryUrl },
      clientId: provider.clients.m2m.id, clientSecret: provider.clients.m2m.secret } } }), c2);
  assert.equal(o.callbackUrl, `${ep}/identities/oauth2/callback`, 'the default callback URL: listen address and actual port');
  const wat = await watForUser(wl, 'alice', d2);
  const k = await dp(new GetResourceApiKeyCommand({ workloadIdentityToken: wat, resourceCredentialProviderName: kp }), d2);
  assert.equal(k.apiKey, key, 'the fresh token works');
  await sleep(3500);
  await rejectsWith(dp(new GetResourceApiKeyCommand({ workloadIdentityToken: wat, resourceCredentialProviderName: kp }), d2),
    'AccessDeniedException', 'GetResourceApiKey with an expired workload token');
  await rejectsWith(dp(new GetResourceOauth2TokenCommand({ workloadIdentityToken: wat, resourceCredentialProviderName: o.name,
    scopes: [RESOURCE_SCOPE], oauth2Flow: 'M2M' }), d2), 'AccessDeniedException', 'M2M with an expired workload token');
  const fresh = await watForUser(wl, 'alice', d2);
  assert.equal((await dp(new GetResourceApiKeyCommand({ workloadIdentityToken: fresh, resourceCredentialProviderName: kp }), d2)).apiKey, key);
  s.short = { kp, key, wl };
});

test('vault: a silod given another master key (key_command) refuses to start; with its own key it starts and opens its secrets', async () => {
  requireState('short');
  await short.stop();
  const wrong = new Silod({ bin: env.bin, config: env.shortWrongKeyConfig, log: env.shortLog, name: 'silod (wrong key)' });
  const r = await wrong.expectRefusal();
  assert.ok(r.exited, `silod with the wrong key kept running: ${r.text.slice(-400)}`);
  assert.notEqual(r.exited.code, 0, `exit status: ${JSON.stringify(r.exited)}`);
  assert.match(r.text, /key/i, `it says why: ${r.text.slice(-400)}`);
  const port = await short.start();
  const cfg = { endpoint: `http://127.0.0.1:${port}`, region, credentials, maxAttempts: 1 };
  const d2 = new BedrockAgentCoreClient(cfg);
  const wat = await watForUser(s.short.wl, 'alice', d2);
  assert.equal((await dp(new GetResourceApiKeyCommand({ workloadIdentityToken: wat, resourceCredentialProviderName: s.short.kp }), d2)).apiKey, s.short.key);
  await short.stop();
  noSecretIn(readFileSync(env.shortDb).toString('latin1'), 'the short silod\'s database', [{ what: 'vault master key (hex)', value: env.shortKeyHex }]);
});

// ------------------------------------------------------------------ restart
test('restart: silod restarted mid-3LO (after authorizationUrl, before the callback): the flow completes; stored tokens and keys survive', async () => {
  requireState('aliceToken', 'watAlice', 'm2mToken', 'apiKeyProvider');
  const watDave = await watForUser(s.wl, 'dave');
  const flow = await startFlow(watDave);
  const exchangesBefore = provider.exchanges.length;
  const pidBefore = silod.proc.pid;
  const port = await silod.restart();
  assert.equal(port, env.mainPort);
  assert.notEqual(silod.proc.pid, pidBefore, 'a new silod process');
  console.log(`silod restarted (pid ${pidBefore} -> ${silod.proc.pid}) with dave's flow pending`);
  // stored before the restart, handed out after it without asking the provider
  const a = await oauth2Token({ workloadIdentityToken: s.watAlice, resourceCredentialProviderName: s.threeLoProvider,
    oauth2Flow: USER_FLOW, resourceOauth2ReturnUrl: app.returnUrl });
  assert.equal(a.accessToken, s.aliceToken, `alice's stored token after the restart (with her pre-restart workload token): ${JSON.stringify(a)}`);
  const k = await dp(new GetResourceApiKeyCommand({ workloadIdentityToken: s.watAlice, resourceCredentialProviderName: s.apiKeyProvider }));
  assert.equal(k.apiKey, s.apiKey);
  assert.equal(provider.exchanges.length, exchangesBefore, 'nothing fetched again');
  // dave's pending session completes through the restarted silod
  const r = await consentIn(flow.authorizationUrl, { appUser: 'dave', login: 'dave' });
  assert.ok(r.callback, 'the callback reached the restarted silod');
  assert.match(r.text, /completed for dave/, `the app's page: ${r.text}`);
  const token = await pollToken(watDave, flow.sessionUri);
  const ok = await resource.call('/users/dave/profile', token);
  assert.equal(ok.status, 200, JSON.stringify(ok.body));
  assert.equal(ok.body.sub, 'dave');
  // after a second restart the token stored across the first one is still there
  await silod.restart();
  const again = await oauth2Token({ workloadIdentityToken: watDave, resourceCredentialProviderName: s.threeLoProvider,
    oauth2Flow: USER_FLOW, resourceOauth2ReturnUrl: app.returnUrl });
  assert.equal(again.accessToken, token);
});

test('data: forceAuthentication starts a new flow even with a stored token', async () => {
  requireState('aliceToken', 'watAlice');
  const r = await startFlow(s.watAlice, { forceAuthentication: true });
  assert.notEqual(r.sessionUri, s.aliceSession);
});

// ------------------------------------------------------------------ secrets at rest and in logs
function secretsForGrep() {
  const silodClients = new Set([provider.clients.m2m.id, provider.clients.m2mPost.id, provider.clients.threeLo.id]);
  const issued = [];
  for (const e of provider.exchanges) {
    if (!silodClients.has(e.clientId)) continue;
    if (e.accessToken) issued.push({ what: `access token (${e.grantType}, ${e.clientId})`, value: e.accessToken });
    if (e.refreshToken) issued.push({ what: `refresh token (${e.clientId})`, value: e.refreshToken });
  }
  return [...givenSecrets, ...issued];
}

function grepFiles(files, secrets) {
  const found = [];
  for (const f of files) {
    if (!existsSync(f)) continue;
    const buf = readFileSync(f);
    for (const { what, value } of secrets)
      if (buf.includes(Buffer.from(value, 'utf8'))) found.push(`${what} in ${f}`);
  }
  return found;
}

test('vault: the database file, its -wal and -shm hold no secret in clear (client secrets, API keys, access and refresh tokens)', async () => {
  const secrets = secretsForGrep();
  const kinds = new Set(secrets.map((x) => x.what.split(' (')[0]));
  assert.ok(secrets.length >= 10 && ['access token', 'refresh token', 'API key'].every((k) => kinds.has(k)) &&
    secrets.some((x) => x.what.startsWith('client secret')), `enough secrets to look for: ${[...kinds]}`);
  const files = [env.mainDb, `${env.mainDb}-wal`, `${env.mainDb}-shm`, env.shortDb, `${env.shortDb}-wal`, `${env.shortDb}-shm`];
  const size = (f) => (existsSync(f) ? statSync(f).size : 0);
  assert.ok(size(env.mainDb) + size(`${env.mainDb}-wal`) > 0, 'the database is there');
  const present = () => files.filter(existsSync).map((f) => `${f.split('/').pop()} ${size(f)} B`).join(', ');
  console.log(`silod running: searching ${present()} for ${secrets.length} secrets`);
  // the search can see what silod stores in clear (so "not found" means something): the
  // names and client ids it keeps beside the sealed secrets
  const visible = [{ what: 'client id', value: provider.clients.threeLo.id }, { what: 'provider name', value: s.apiKeyProvider },
    { what: 'workload name', value: s.wl }].filter((x) => x.value);
  assert.equal(visible.length, 3, 'names from the earlier tests');
  assert.equal(new Set(grepFiles(files, visible).map((x) => x.split(' in /')[0])).size, visible.length, 'the names stored in clear are found by the same search');
  const running = grepFiles(files, secrets);   // silod running: recent writes are in the -wal
  await silod.stop();
  const stopped = grepFiles(files, secrets);   // after a clean stop (checkpointed)
  // and the refresh tokens / access tokens really were handed to silod (not vacuous)
  assert.ok(secrets.some((x) => x.what.startsWith('refresh token')), 'silod was given refresh tokens');
  console.log(`silod stopped: searched ${present()} again`);
  assert.deepEqual([...new Set([...running, ...stopped])], [], 'secrets in clear at rest');
});

test('logs: silod\'s logs hold no secret (nor the SigV4 secret key, nor a workload access token)', () => {
  const secrets = [...secretsForGrep(), { what: 'SigV4 secret key', value: env.sigv4Secret },
    ...watsHandedOut.map((value) => ({ what: 'workload access token', value }))];
  const found = grepFiles([env.mainLog, env.shortLog], secrets);
  const lines = (f) => (existsSync(f) ? readFileSync(f, 'utf8').split('\n').length : 0);
  assert.ok(lines(env.mainLog) > 3, 'silod logged something');
  console.log(`searched ${lines(env.mainLog) + lines(env.shortLog)} log lines for ${secrets.length} secrets`);
  assert.deepEqual(found, [], 'secrets in the logs');
});
