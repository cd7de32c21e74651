// tests/frontend/sdk/identity/devhost-identity.mjs — owned by the dev-host identity test
// (tests/host/identity_devhost.sh runs it; not a *.test.mjs). AgentCore Identity end to end on
// the REAL path: silod (arm64), the real silo-vmm and the sample Node agent (tests/agents/
// node-sdk, its identity tools written with the bedrock-agentcore SDK's withAccessToken /
// withApiKey) run inside the dev host; this file runs on this machine with the real AWS SDK
// clients, and everything outside AgentCore lives here too, the host suite's pieces reused:
// the resource's OAuth2 provider and the users' IdP (host-provider.mjs, oidc-provider), the
// protected resource (host-resource.mjs: introspection, /users/<name>/profile), the user's
// browser (host-browser.mjs, headless chromium); plus this test's own app behind the return URL
// (devhost-app.mjs: completes with the user's JWT) and API-key stand-in (devhost-apikey.mjs).
// Environment (from the host script):
//   SILO_CALLBACK_URL  silod's callback through the forwarded port (the 3LO client's redirect);
//   SILO_SERVERS_READY the file this writes once its servers listen: their ports, which the host
//       script then forwards into the dev host (guestfwd) before booting it;
//   SILO_SILOD_UP      the file the host script writes when silod listens;
//   SILO_CONSOLE_LOG   the dev host's console (silod's log).
// Inside the dev host the providers keep their http://127.0.0.1:PORT URLs (a relay there on the
// same port, identity-inside.sh), so silod, the browser and the tokens' issuers agree on every
// URL; the agent reaches the resource and the API-key service as resource.test:PORT.
// The flow: a runtime with a customJWTAuthorizer (the users' IdP) and its workload identity
// allow-listing the app's return URL; alice invokes with her JWT → the agent has a workload
// access token; user_resource: the authorization URL is streamed back, the browser (signed in to
// the app as alice) signs in to the provider as alice and consents, silod's callback redirects to
// the app, which completes the session with alice's JWT (mallory's attempt refused), the agent's
// poll gets the token, the agent calls the protected resource through egress and the stream says
// done; a second call uses the stored token; mallory gets her own consent, never alice's token;
// api_key_resource calls the stand-in with the vault's API key; no secret in any log.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync, appendFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import {
  CreateAgentRuntimeCommand, GetAgentRuntimeCommand, DeleteAgentRuntimeCommand, UpdateWorkloadIdentityCommand,
  GetWorkloadIdentityCommand, CreateOauth2CredentialProviderCommand, GetOauth2CredentialProviderCommand,
  CreateApiKeyCredentialProviderCommand, GetApiKeyCredentialProviderCommand,
} from '@aws-sdk/client-bedrock-agentcore-control';
import { control, data, uniqueName, sessionId, sleep, testDir, accountId, invokeUrl } from '../lib.mjs';
import { startResourceProvider, startUserIdp, RESOURCE_SCOPE, AGENTS_AUDIENCE } from './host-provider.mjs';
import { startResource } from './host-resource.mjs';
import { startBrowser } from './host-browser.mjs';
import { startApp } from './devhost-app.mjs';
import { startApiKeyService } from './devhost-apikey.mjs';

const ROLE = `arn:aws:iam::${accountId}:role/SiloIdentityAgent`;
const CALLBACK = process.env.SILO_CALLBACK_URL;
const consoleText = () => readFileSync(process.env.SILO_CONSOLE_LOG, 'latin1').replace(/\r/g, '');
const bench = (line) => appendFileSync(`${testDir}/bench.txt`, `${line}\n`);
const progress = (line) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${line}`);
const OAUTH_PROVIDER = uniqueName('devhost_idp');
const KEY_PROVIDER = uniqueName('devhost_key');
const API_KEY = `devhost-api-key-${randomBytes(16).toString('hex')}`;

let idp, provider, resource, apiKeyService, app, browser, aliceBrowser, runtime;
let RESOURCE_URL, API_KEY_URL;
const sessions = { alice: sessionId(), mallory: sessionId() };
const userJwts = [];
/** A fresh JWT for a user from the provider (each one remembered for the log check). */
const jwtFor = async (name) => { const t = await idp.userToken(name); userJwts.push(t); return t; };

async function waitForFile(path, seconds) {
  for (let i = 0; i < seconds * 5; i++) {
    if (existsSync(path)) return;
    await sleep(200);
  }
  throw new Error(`${path} did not appear within ${seconds} s`);
}

before(async () => {
  idp = await startUserIdp({ users: ['alice', 'mallory'] });
  app = await startApp({ data, userToken: jwtFor, wrongUser: 'mallory' });
  provider = await startResourceProvider({ callbackUrl: CALLBACK, harnessRedirect: `${app.base}/unused` });
  resource = await startResource({ provider, scope: RESOURCE_SCOPE, userClientIds: [provider.clients.threeLo.id], serviceClientIds: [] });
  apiKeyService = await startApiKeyService({ apiKey: API_KEY });
  browser = await startBrowser();
  aliceBrowser = await browser.user();
  const resourcePort = Number(new URL(resource.base).port);
  RESOURCE_URL = `http://resource.test:${resourcePort}/users/alice/profile`;
  API_KEY_URL = `http://resource.test:${apiKeyService.port}/status`;
  // relay: reached inside the dev host as 127.0.0.1:PORT (silod's fetches); direct: as
  // resource.test:PORT (the agent's egress)
  writeFileSync(process.env.SILO_SERVERS_READY, JSON.stringify({
    relay: [idp.port, provider.port], direct: [resourcePort, apiKeyService.port] }));
  progress(`users' IdP ${idp.issuer}, resource provider ${provider.issuer}, resource :${resourcePort}, `
    + `API-key service :${apiKeyService.port}, app ${app.base}, chromium up; waiting for silod`);
  await waitForFile(process.env.SILO_SILOD_UP, 240);

  const c = await control.send(new CreateAgentRuntimeCommand({
    agentRuntimeName: uniqueName('identity_agent'),
    agentRuntimeArtifact: { containerConfiguration: { containerUri: 'silo.local/agents/node-sdk:latest' } },
    roleArn: ROLE, networkConfiguration: { networkMode: 'PUBLIC' },
    authorizerConfiguration: { customJWTAuthorizer: {
      discoveryUrl: idp.discoveryUrl, allowedAudience: [AGENTS_AUDIENCE],
      allowedClients: [idp.userClients.alice.id, idp.userClients.mallory.id],
    } },
  }));
  for (let i = 0; i < 600 && !runtime; i++) {
    const g = await control.send(new GetAgentRuntimeCommand({ agentRuntimeId: c.agentRuntimeId }));
    if (g.status === 'READY') runtime = g;
    else if (g.status.endsWith('FAILED')) throw new Error(`runtime ${g.status} ${g.failureReason}`);
    else await sleep(200);
  }
  assert.ok(runtime, 'the runtime became READY');
  progress(`runtime ${runtime.agentRuntimeId} READY`);
});

after(async () => {
  if (runtime) for (const user of Object.keys(sessions)) await stopAs(user).catch(() => {});
  if (runtime) await control.send(new DeleteAgentRuntimeCommand({ agentRuntimeId: runtime.agentRuntimeId })).catch(() => {});
  await browser?.close().catch(() => {});
  await Promise.all([app?.close(), resource?.close(), apiKeyService?.close(), provider?.close(), idp?.close()]);
});

/** POST an invocation with a user's JWT; resolves with the fetch Response (headers only). */
async function invokeAs(user, payload, { sid = sessions[user], headers = {} } = {}) {
  return fetch(invokeUrl(runtime.agentRuntimeArn), {
    method: 'POST', body: JSON.stringify(payload),
    headers: { authorization: `Bearer ${await jwtFor(user)}`, 'content-type': 'application/json',
               accept: 'text/event-stream, application/json', 'x-amzn-bedrock-agentcore-runtime-session-id': sid, ...headers },
  });
}

/** StopRuntimeSession of a user's session: a JWT runtime is stopped with the user's bearer
 * token too (SigV4 is refused: "Authorization method mismatch"). Resolves with the status. */
async function stopAs(user, sid = sessions[user]) {
  const res = await fetch(invokeUrl(runtime.agentRuntimeArn).replace('/invocations?', '/stopruntimesession?'), {
    method: 'POST', signal: AbortSignal.timeout(60000),
    headers: { authorization: `Bearer ${await jwtFor(user)}`, 'x-amzn-bedrock-agentcore-runtime-session-id': sid },
  });
  await res.arrayBuffer();
  return res.status;
}

/** The SSE events of a response, as they arrive: an async iterator of {event, data}. */
async function* sseEvents(response) {
  const decoder = new TextDecoder();
  let buffered = '';
  for await (const chunk of response.body) {
    buffered += decoder.decode(chunk, { stream: true }).replace(/\r/g, '');
    let cut;
    while ((cut = buffered.indexOf('\n\n')) >= 0) {
      const block = buffered.slice(0, cut);
      buffered = buffered.slice(cut + 2);
      let event = 'message';
      const lines = [];
      for (const line of block.split('\n')) {
        if (line.startsWith('event:')) event = line.slice(6).trim();
        else if (line.startsWith('data:')) lines.push(line.slice(5).trimStart());
      }
      if (!lines.length) continue;   // a comment (heartbeat)
      let parsed = lines.join('\n');
      try { parsed = JSON.parse(parsed); } catch { /* text */ }
      yield { event, data: parsed };
    }
  }
}

/** Reads events until `done` or `error` (or the time is up); onEvent sees each as it comes. */
async function collect(response, onEvent = () => {}, seconds = 240) {
  const events = [];
  const reading = (async () => {
    for await (const e of sseEvents(response)) {
      events.push(e);
      progress(`  stream: ${e.event}${e.event === 'authorization_url' ? '' : ` ${JSON.stringify(e.data).slice(0, 160)}`}`);
      await onEvent(e);
      if (e.event === 'done' || e.event === 'error') break;
    }
  })();
  let timer;
  const timeout = new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(
    `no done/error event within ${seconds} s; got ${events.map((e) => e.event).join(',') || 'nothing'}`)), seconds * 1000); });
  try { await Promise.race([reading, timeout]); } finally { clearTimeout(timer); }
  return events;
}

async function jsonAnswer(response) {
  const text = await response.text();
  assert.equal(response.status, 200, text.slice(0, 400));
  const dataLines = text.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6));
  return JSON.parse(dataLines.length ? dataLines.at(-1) : text);
}

test('the runtime has a workload identity named after it (GetAgentRuntime); UpdateWorkloadIdentity allow-lists the app\'s return URL', async () => {
  const arn = runtime.workloadIdentityDetails?.workloadIdentityArn;
  assert.ok(arn?.endsWith(`/${runtime.agentRuntimeId}`), `workloadIdentityArn ${arn}`);
  await control.send(new UpdateWorkloadIdentityCommand({ name: runtime.agentRuntimeId, allowedResourceOauth2ReturnUrls: [app.returnUrl] }));
  const w = await control.send(new GetWorkloadIdentityCommand({ name: runtime.agentRuntimeId }));
  assert.deepEqual(w.allowedResourceOauth2ReturnUrls, [app.returnUrl]);
  assert.equal(w.workloadIdentityArn, arn);
});

test('CreateOauth2CredentialProvider (CustomOauth2, discovery on this machine) answers silod\'s callback as the browser reaches it; CreateApiKeyCredentialProvider; Get answers name no secret', async () => {
  const o = await control.send(new CreateOauth2CredentialProviderCommand({
    name: OAUTH_PROVIDER, credentialProviderVendor: 'CustomOauth2',
    oauth2ProviderConfigInput: { customOauth2ProviderConfig: {
      oauthDiscovery: { discoveryUrl: provider.discoveryUrl },
      clientId: provider.clients.threeLo.id, clientSecret: provider.clients.threeLo.secret,
    } },
  }));
  assert.equal(o.callbackUrl, CALLBACK);
  assert.ok(o.clientSecretArn?.secretArn, 'a secret ARN, not the secret');
  const k = await control.send(new CreateApiKeyCredentialProviderCommand({ name: KEY_PROVIDER, apiKey: API_KEY }));
  assert.ok(k.apiKeySecretArn?.secretArn);
  const got = JSON.stringify([
    await control.send(new GetOauth2CredentialProviderCommand({ name: OAUTH_PROVIDER })),
    await control.send(new GetApiKeyCredentialProviderCommand({ name: KEY_PROVIDER })),
  ]);
  assert.ok(!got.includes(provider.clients.threeLo.secret) && !got.includes(API_KEY), 'no secret in Get answers');
});

test('an invocation with alice\'s JWT reaches the Node agent in its microVM with a workload access token; the OAuth2CallbackUrl header is passed on', async () => {
  const t0 = Date.now();
  const ctx = await jsonAnswer(await invokeAs('alice', { action: 'identity_context' }, { headers: { OAuth2CallbackUrl: app.returnUrl } }));
  bench(`identity: Node agent cold session -> first answer ${Date.now() - t0} ms`);
  assert.equal(ctx.workloadAccessToken, 'set', JSON.stringify(ctx));
  assert.ok(ctx.workloadAccessTokenLength >= 32, JSON.stringify(ctx));
  assert.equal(ctx.oauth2CallbackUrl, app.returnUrl);
});

// the 3LO flow, in three verdicts; flow holds what the first starts and the later ones check
const flow = {};

test('3LO: user_resource streams the authorization URL back at once (the provider\'s /auth, silod\'s callback as redirect_uri, PKCE S256, a state)', async () => {
  const login = await aliceBrowser.visit(app.loginUrl('alice'));
  assert.match(login.text, /signed in as alice/);
  flow.t0 = Date.now();
  const response = await invokeAs('alice', { action: 'user_resource', provider: OAUTH_PROVIDER, scopes: [RESOURCE_SCOPE],
                                             url: RESOURCE_URL, returnUrl: app.returnUrl });
  if (response.status !== 200) assert.fail(`invocation answered ${response.status}: ${await response.text()}`);
  assert.match(response.headers.get('content-type') ?? '', /text\/event-stream/);
  let gotUrl;
  const urlSeen = new Promise((resolve) => { gotUrl = resolve; });
  flow.completion = app.waitForCompletion();
  flow.events = collect(response, async (e) => {
    if (e.event !== 'authorization_url') return;
    flow.urlMs = Date.now() - flow.t0;
    gotUrl(e.data.authorizationUrl);
    // the user's browser consents while the agent's poll waits
    flow.consent = aliceBrowser.consent(e.data.authorizationUrl, { login: 'alice', stopAt: app.returnUrl, timeoutMs: 90000 })
      .then((r) => { flow.consentMs = Date.now() - flow.t0; progress(`  browser: ended on ${r.finalUrl.split('?')[0]}`); return r; });
    flow.consent.catch(() => {});
  });
  flow.events.catch(() => {});
  const url = new URL(await Promise.race([urlSeen, flow.events.then((ev) => {
    throw new Error(`the stream ended without an authorization URL: ${JSON.stringify(ev).slice(0, 500)}`);
  })]));
  assert.equal(`${url.origin}${url.pathname}`, provider.authorizationEndpoint);
  assert.equal(url.searchParams.get('response_type'), 'code');
  assert.equal(url.searchParams.get('client_id'), provider.clients.threeLo.id);
  assert.equal(url.searchParams.get('redirect_uri'), CALLBACK);
  assert.equal(url.searchParams.get('code_challenge_method'), 'S256');
  assert.ok(url.searchParams.get('code_challenge')?.length >= 43);
  assert.ok(url.searchParams.get('state')?.length >= 16);
  assert.match(url.searchParams.get('scope') ?? '', new RegExp(RESOURCE_SCOPE.replace('.', '\\.')));
  bench(`identity: 3LO authorization URL streamed back ${flow.urlMs} ms after the invocation`);
});

test('3LO: the browser signs in and consents on the provider\'s pages; silod\'s callback sends it to the app\'s return URL, which completes the session for alice (mallory completing it is refused)', async () => {
  assert.ok(flow.consent, 'the consent started (previous test)');
  const r = await flow.consent;
  assert.ok(r.finalUrl.startsWith(`${app.returnUrl}?`), `ended on ${r.finalUrl}`);
  assert.ok(r.chain.some((u) => u.split('?')[0] === CALLBACK), `the browser went through silod's callback: ${r.chain.map((u) => u.split('?')[0]).join(' -> ')}`);
  assert.match(r.text, /authorization complete for alice/);
  const done = await flow.completion;
  assert.equal(done.user, 'alice');
  assert.ok(done.sessionUri, 'session_id in the return URL');
  const codes = provider.exchanges.filter((e) => e.grantType === 'authorization_code' && e.clientId === provider.clients.threeLo.id);
  assert.equal(codes.length, 1, `silod redeemed the code once: ${JSON.stringify(codes.map((e) => e.status))}`);
  assert.equal(codes[0].status, 200);
  assert.equal(codes[0].pkce, true, 'with the PKCE verifier');
  assert.equal(done.ok, true, JSON.stringify(done));
  assert.equal(done.wrongUser?.ok, false, `mallory's CompleteResourceTokenAuth must fail: ${JSON.stringify(done.wrongUser)}`);
  assert.match(done.wrongUser.error, /^(AccessDenied|Validation|Unauthorized)\w*Exception/, done.wrongUser.error);
  bench(`identity: 3LO consent done in the browser ${flow.consentMs} ms after the invocation (mallory refused: ${done.wrongUser.error.split(':')[0]})`);
});

test('3LO: the agent\'s poll gets the token; it calls the protected stand-in through egress as alice and the stream reports done', async () => {
  assert.ok(flow.events, 'the flow started (previous tests)');
  const events = await flow.events;
  const res = events.find((e) => e.event === 'resource');
  const err = events.find((e) => e.event === 'error');
  assert.ok(!err, `the agent failed: ${JSON.stringify(err?.data)}`);
  assert.equal(res?.data.status, 200, JSON.stringify(res?.data));
  assert.equal(res.data.body.sub, 'alice');
  assert.equal(res.data.body.profile, 'profile of alice');
  assert.equal(res.data.body.client_id, provider.clients.threeLo.id);
  assert.match(res.data.body.scope, /resource\.read/);
  assert.equal(events.at(-1).event, 'done');
  assert.equal(events.at(-1).data.ok, true);
  assert.equal(resource.stats.accepted, 1, JSON.stringify(resource.stats));
  // silod logs an egress connection when it closes (the agent's fetch keeps it alive a while)
  const target = `target=${new URL(RESOURCE_URL).host}`;
  let egress = [];
  for (let i = 0; i < 60 && !egress.length; i++, await sleep(500))
    egress = consoleText().split('\n').filter((l) => l.startsWith('silod: egress closed') && l.includes(target));
  assert.ok(egress.length >= 1, `silod logged the agent's egress connection to ${target} (within 30 s)`);
  assert.match(egress[0], /rule=allow:10\.0\.2\.100\/32/);
  bench(`identity: 3LO whole flow ${Date.now() - flow.t0} ms (authorization URL ${flow.urlMs} ms, consent ${flow.consentMs} ms, then the SDK's 5 s polls)`);
});

test('a second user_resource call for alice uses her stored token: no authorization URL, the stand-in answers', async () => {
  const t0 = Date.now();
  const events = await collect(await invokeAs('alice', { action: 'user_resource', provider: OAUTH_PROVIDER,
    scopes: [RESOURCE_SCOPE], url: RESOURCE_URL, returnUrl: app.returnUrl }), undefined, 60);
  assert.ok(!events.some((e) => e.event === 'authorization_url'), events.map((e) => e.event).join(','));
  const res = events.find((e) => e.event === 'resource');
  assert.equal(res?.data.status, 200, JSON.stringify(events));
  assert.equal(res.data.body.sub, 'alice');
  assert.equal(provider.count({ grantType: 'authorization_code' }), 1, 'no second code exchange');
  bench(`identity: user_resource with the stored token ${Date.now() - t0} ms`);
});

test('mallory (another user, her own session) gets her own authorization URL, never alice\'s token', async () => {
  const before_ = resource.stats.accepted + resource.stats.refused;
  const response = await invokeAs('mallory', { action: 'user_resource', provider: OAUTH_PROVIDER,
    scopes: [RESOURCE_SCOPE], url: RESOURCE_URL, returnUrl: app.returnUrl });
  if (response.status !== 200) assert.fail(`invocation answered ${response.status}: ${await response.text()}`);
  const first = await (async () => { for await (const e of sseEvents(response)) return e; })();
  assert.equal(first?.event, 'authorization_url', JSON.stringify(first));
  assert.equal(new URL(first.data.authorizationUrl).origin, provider.issuer);
  assert.notEqual(new URL(first.data.authorizationUrl).searchParams.get('state'), null);
  assert.equal(await stopAs('mallory'), 200, 'StopRuntimeSession with mallory\'s JWT ends her session (and its polling agent)');
  assert.equal(resource.stats.accepted + resource.stats.refused, before_, 'mallory\'s agent never reached the resource');
});

test('api_key_resource: the agent gets the API key from the vault (withApiKey) and the stand-in accepts it', async () => {
  const r = await jsonAnswer(await invokeAs('alice', { action: 'api_key_resource', provider: KEY_PROVIDER, url: API_KEY_URL }));
  assert.equal(r.status, 200, JSON.stringify(r));
  assert.equal(r.body.apiKey, 'valid');
  assert.equal(apiKeyService.calls.filter((c) => c.ok).length, 1, JSON.stringify(apiKeyService.calls));
  assert.ok(!JSON.stringify(r).includes(API_KEY));
});

test('no secret in the dev host console (silod\'s and the agents\' logs): not the API key, the client secret, the access token, the users\' JWTs', async () => {
  const text = consoleText();
  const issued = provider.issuedSecrets();
  const secrets = { 'API key': API_KEY, 'client secret': provider.clients.threeLo.secret,
                    ...Object.fromEntries(issued.map((x, i) => [`${x.what} #${i}`, x.value])),
                    ...Object.fromEntries(userJwts.map((t, i) => [`user JWT ${i}`, t])) };
  assert.ok(issued.length >= 2 && userJwts.length >= 1, `there are tokens to look for (${issued.length} issued)`);
  for (const [what, s] of Object.entries(secrets)) assert.ok(!text.includes(s), `the console contains the ${what}`);
  assert.ok(text.split('\n').filter((l) => l.startsWith('silod: ')).length > 10, 'silod logged');
});
