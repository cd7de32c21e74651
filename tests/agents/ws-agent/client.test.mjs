// tests/agents/ws-agent/client.test.mjs — WebSocket connections through silod with the official
// AgentCore TypeScript SDK's client (bedrock-agentcore/runtime RuntimeClient) and `ws`, as a user
// writes them: generateWsConnection (SigV4 headers), generatePresignedUrl (SigV4 in the query)
// and generateWsConnectionOAuth (a bearer JWT for a runtime with a customJWTAuthorizer), plus the
// browser form of OAuth (the token as a Sec-WebSocket-Protocol). Messages go both ways and come
// back from the agent: on x86 the agent is the test VMM's WebSocket echo (tests/frontend/fake_vmm.c,
// GET /ws); in the dev host (WS_AGENT_IMAGE set) it is this directory's agent.mjs in a real
// microVM. Refusals: bad signatures, an expired presigned URL, a bad token, bad upgrades, an agent
// that refuses, and StopRuntimeSession ending an open connection.
//
// Environment (tests/host/websocket_sdk.sh, or the dev-host script): SILOD_ENDPOINT, SILO_REGION,
// SILO_ACCOUNT_ID, SILO_ACCESS_KEY_ID, SILO_SECRET_ACCESS_KEY, WS_CONTAINER_URI (the image a
// runtime is created from), WS_AGENT ("fake" or "sdk": what the agent answers to "whoami").
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { generateKeyPairSync, createSign, randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import { RuntimeClient } from 'bedrock-agentcore/runtime';
import { BedrockAgentCoreControlClient, CreateAgentRuntimeCommand, GetAgentRuntimeCommand,
  DeleteAgentRuntimeCommand } from '@aws-sdk/client-bedrock-agentcore-control';
import { BedrockAgentCoreClient, StopRuntimeSessionCommand } from '@aws-sdk/client-bedrock-agentcore';

function need(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run tests/host/websocket_sdk.sh`);
  return v;
}
const endpoint = need('SILOD_ENDPOINT');
const region = need('SILO_REGION');
const accountId = need('SILO_ACCOUNT_ID');
const credentials = { accessKeyId: need('SILO_ACCESS_KEY_ID'), secretAccessKey: need('SILO_SECRET_ACCESS_KEY') };
const containerUri = need('WS_CONTAINER_URI');
const agentKind = process.env.WS_AGENT ?? 'fake';
const noJwt = process.env.WS_NO_JWT === '1' && 'no OpenID provider silod can reach here (x86 suite only)';
process.env.BEDROCK_AGENTCORE_DATA_PLANE_ENDPOINT = endpoint;   // the SDK's endpoint override

const control = new BedrockAgentCoreControlClient({ endpoint, region, credentials, maxAttempts: 1 });
const data = new BedrockAgentCoreClient({ endpoint, region, credentials, maxAttempts: 1 });
const client = new RuntimeClient({ region, credentialsProvider: async () => credentials });
const wrongClient = new RuntimeClient({
  region, credentialsProvider: async () => ({ ...credentials, secretAccessKey: `${credentials.secretAccessKey}x` }),
});

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const sessionId = (tag = 'ws') => `silo-${tag}-session-${randomBytes(16).toString('hex')}`;

/** The SDK's presigned URL names the host without its port and always wss:// (it assumes AWS's
 * endpoint on 443): a client of silod on another port puts silod's scheme, host and port back.
 * The signature covers the host name only, so it still verifies (silod accepts a signed host
 * without its port). */
async function presign(c, params) {
  const url = await c.generatePresignedUrl(params);
  const e = new URL(endpoint);
  assert.ok(url.startsWith(`wss://${e.hostname}/runtimes/`), url);
  return url.replace(`wss://${e.hostname}/`, `${e.protocol === 'https:' ? 'wss' : 'ws'}://${e.host}/`);
}

async function readyRuntime(extra = {}) {
  const c = await control.send(new CreateAgentRuntimeCommand({
    agentRuntimeName: `ws_${randomBytes(4).toString('hex')}`,
    agentRuntimeArtifact: { containerConfiguration: { containerUri } },
    roleArn: `arn:aws:iam::${accountId}:role/silo-test`,
    networkConfiguration: { networkMode: 'PUBLIC' },
    ...extra,
  }));
  for (let i = 0; i < 3000; i++) {       // the dev host's image build takes a while
    const g = await control.send(new GetAgentRuntimeCommand({ agentRuntimeId: c.agentRuntimeId }));
    if (g.status === 'READY') return g;
    if (g.status.endsWith('FAILED')) throw new Error(`runtime ${c.agentRuntimeId}: ${g.status} ${g.failureReason}`);
    await sleep(100);
  }
  throw new Error(`runtime ${c.agentRuntimeId} never READY`);
}

/** Opens a WebSocket; resolves with a small message queue around it, or rejects with the HTTP
 * refusal ({status, type, body}) when the upgrade was answered with an error. */
function open(url, options = {}, protocols = undefined) {
  return new Promise((resolve, reject) => {
    const ws = protocols ? new WebSocket(url, protocols, options) : new WebSocket(url, options);
    const queue = [];
    let waiter = null;
    ws.on('message', (m, isBinary) => {
      queue.push({ data: m, isBinary });
      if (waiter) { const w = waiter; waiter = null; w(); }
    });
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c) => { body += c; });
      res.on('end', () => reject(Object.assign(new Error(`refused ${res.statusCode} ${body}`),
        { status: res.statusCode, type: res.headers['x-amzn-errortype'], body })));
    });
    ws.on('error', (e) => reject(e));
    ws.on('open', () => resolve({
      ws,
      protocol: ws.protocol,
      async next(ms = 10000) {
        const t0 = Date.now();
        while (queue.length === 0) {
          if (Date.now() - t0 > ms) throw new Error('no message within the time limit');
          await new Promise((r) => { waiter = r; setTimeout(r, 100); });
        }
        return queue.shift();
      },
      closed: new Promise((r) => ws.on('close', (code, reason) => r({ code, reason: String(reason) }))),
    }));
  });
}

/** Sends text and binary messages and checks they come back unchanged. */
async function echoBothWays(conn) {
  for (const text of ['hello silo', 'ü ✓ ' + 'x'.repeat(70000)]) {
    conn.ws.send(text);
    const m = await conn.next();
    assert.equal(m.isBinary, false);
    assert.equal(String(m.data), text);
  }
  const bin = randomBytes(5000);
  conn.ws.send(bin);
  const b = await conn.next();
  assert.equal(b.isBinary, true);
  assert.deepEqual(Buffer.from(b.data), bin);
}

/** What the agent saw of the upgrade request (its headers, lower-cased), asked over the socket. */
async function whoami(conn) {
  conn.ws.send('whoami');
  const m = await conn.next();
  return JSON.parse(String(m.data));
}

async function closeCleanly(conn) {
  conn.ws.close(1000, 'done');
  const c = await Promise.race([conn.closed, sleep(10000).then(() => ({ code: 'timeout' }))]);
  assert.equal(c.code, 1000);
}

// ---------------------------------------------------------------- a local OpenID provider
const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
let oidc, issuer;
const b64u = (b) => Buffer.from(b).toString('base64url');
function jwt(claims, key = privateKey) {
  const head = b64u(JSON.stringify({ alg: 'RS256', typ: 'JWT', kid: 'ws-test-key' }));
  const body = b64u(JSON.stringify({ iss: issuer, iat: Math.floor(Date.now() / 1000),
    exp: Math.floor(Date.now() / 1000) + 600, ...claims }));
  const sig = createSign('RSA-SHA256').update(`${head}.${body}`).sign(key);
  return `${head}.${body}.${b64u(sig)}`;
}

let runtime, jwtRuntime;
before(async () => {
  oidc = http.createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    if (req.url === '/.well-known/openid-configuration')
      res.end(JSON.stringify({ issuer, jwks_uri: `${issuer}/jwks` }));
    else if (req.url === '/jwks')
      res.end(JSON.stringify({ keys: [{ ...publicKey.export({ format: 'jwk' }), kid: 'ws-test-key', alg: 'RS256', use: 'sig' }] }));
    else { res.statusCode = 404; res.end('{}'); }
  });
  await new Promise((r) => oidc.listen(0, '127.0.0.1', r));
  issuer = `http://127.0.0.1:${oidc.address().port}`;
  runtime = await readyRuntime();
  if (!noJwt) jwtRuntime = await readyRuntime({
    authorizerConfiguration: { customJWTAuthorizer: {
      discoveryUrl: `${issuer}/.well-known/openid-configuration`, allowedClients: ['ws-client'] } },
  });
});

after(async () => {
  for (const r of [runtime, jwtRuntime])
    if (r) await control.send(new DeleteAgentRuntimeCommand({ agentRuntimeId: r.agentRuntimeId })).catch(() => {});
  oidc?.close();
});

// ---------------------------------------------------------------- the tests
test('SigV4 headers (generateWsConnection): messages echoed both ways, the session headers reach the agent', async () => {
  const sid = sessionId();
  const { url, headers } = await client.generateWsConnection({
    runtimeArn: runtime.agentRuntimeArn, sessionId: sid, endpointName: 'DEFAULT' });
  assert.match(url, /\/runtimes\/arn%3Aaws%3Abedrock-agentcore%3A.*\/ws\?qualifier=DEFAULT$/);
  const conn = await open(url, { headers });
  await echoBothWays(conn);
  const who = await whoami(conn);
  assert.equal(who.path, '/ws');
  assert.equal(who.headers['x-amzn-bedrock-agentcore-runtime-session-id'], sid);
  assert.match(who.headers['x-amzn-bedrock-agentcore-runtime-request-id'] ?? '', /^[0-9a-f-]{36}$/);
  assert.equal(who.headers.authorization, undefined, 'the caller\'s signature is not passed to the agent');
  await closeCleanly(conn);
});

test('a presigned URL (generatePresignedUrl): the same session (and microVM) as the header-signed one', async () => {
  const sid = sessionId();
  const a = await client.generateWsConnection({ runtimeArn: runtime.agentRuntimeArn, sessionId: sid });
  const first = await open(a.url, { headers: a.headers });
  const whoFirst = await whoami(first);
  const url = await presign(client, { runtimeArn: runtime.agentRuntimeArn, sessionId: sid,
    endpointName: 'DEFAULT', expires: 60 });
  assert.match(url, /X-Amz-Signature=/);
  const conn = await open(url);
  await echoBothWays(conn);
  const who = await whoami(conn);
  assert.equal(who.headers['x-amzn-bedrock-agentcore-runtime-session-id'], sid);
  if (agentKind === 'fake') assert.equal(who.vmm_pid, whoFirst.vmm_pid, 'one session, one microVM');
  else assert.equal(who.pid, whoFirst.pid, 'one session, one microVM (the agent process)');
  await closeCleanly(conn);
  await closeCleanly(first);
});

test('refused before any upgrade: a wrong secret, a tampered or expired presigned URL, no signature', async () => {
  const sid = sessionId();
  const bad = await wrongClient.generateWsConnection({ runtimeArn: runtime.agentRuntimeArn, sessionId: sid });
  await assert.rejects(open(bad.url, { headers: bad.headers }), (e) => e.status === 403 && e.type === 'InvalidSignatureException');
  const url = await presign(client, { runtimeArn: runtime.agentRuntimeArn, sessionId: sid, expires: 60 });
  const tampered = url.replace(/X-Amz-Signature=([0-9a-f])/, (_m, c) => `X-Amz-Signature=${c === '0' ? '1' : '0'}`);
  await assert.rejects(open(tampered), (e) => e.status === 403 && e.type === 'InvalidSignatureException');
  const otherSession = url.replace(sid, sessionId());   // the session id is signed too
  await assert.rejects(open(otherSession), (e) => e.status === 403 && e.type === 'InvalidSignatureException');
  const expiring = await presign(client, { runtimeArn: runtime.agentRuntimeArn, sessionId: sid, expires: 1 });
  // expired by silod's clock: in the dev host it may lag this machine's (an emulated guest's
  // clock drifts), so wait out that lag too, read from silod's Date header (1 s resolution)
  const served = Date.parse((await fetch(`${endpoint}/ping`)).headers.get('date') ?? '');
  const lag = Number.isNaN(served) ? 0 : Math.max(0, Date.now() - served);
  await sleep(2100 + lag + (lag > 0 ? 1000 : 0));
  await assert.rejects(open(expiring), (e) => e.status === 403 && e.type === 'InvalidSignatureException');
  const wrongKey = await presign(wrongClient, { runtimeArn: runtime.agentRuntimeArn, sessionId: sid, expires: 60 });
  await assert.rejects(open(wrongKey), (e) => e.status === 403 && e.type === 'InvalidSignatureException');
  const plain = url.slice(0, url.indexOf('?'));
  await assert.rejects(open(plain), (e) => e.status === 401 && e.type === 'UnauthorizedException');
});

/** A raw upgrade request with the SDK's signed headers, some of them changed. */
function rawUpgrade(url, headers) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { headers });
    req.on('response', (res) => {
      let body = '';
      res.on('data', (c) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode, type: res.headers['x-amzn-errortype'], body }));
    });
    req.on('upgrade', (res, socket) => { socket.destroy(); resolve({ status: res.statusCode }); });
    req.on('error', reject);
    req.end();
  });
}

test('bad upgrades answered with AWS errors: no Upgrade, wrong version, bad key; an agent that refuses', async () => {
  const sid = sessionId();
  const { url, headers } = await client.generateWsConnection({ runtimeArn: runtime.agentRuntimeArn, sessionId: sid });
  const base = { ...headers, 'Sec-WebSocket-Key': randomBytes(16).toString('base64') };
  const good = await rawUpgrade(url, base);
  assert.equal(good.status, 101);
  const noUpgrade = { ...base };
  delete noUpgrade.Upgrade;
  noUpgrade.Connection = 'keep-alive';
  let r = await rawUpgrade(url, noUpgrade);
  assert.equal(r.status, 400);
  assert.equal(r.type, 'ValidationException');
  assert.match(r.body, /WebSocket/);
  r = await rawUpgrade(url, { ...base, 'Sec-WebSocket-Version': '8' });
  assert.equal(r.status, 400);
  assert.match(r.body, /Sec-WebSocket-Version must be 13/);
  r = await rawUpgrade(url, { ...base, 'Sec-WebSocket-Key': 'c2hvcnQ=' });
  assert.equal(r.status, 400);
  assert.match(r.body, /Sec-WebSocket-Key/);
  if (agentKind === 'fake') {
    // the test VMM refuses sessions whose id starts "ws-refuse": RuntimeClientError, as for invocations
    const refused = await client.generateWsConnection({ runtimeArn: runtime.agentRuntimeArn,
      sessionId: `ws-refuse-${randomBytes(16).toString('hex')}` });
    await assert.rejects(open(refused.url, { headers: refused.headers }),
      (e) => e.status === 424 && e.type === 'RuntimeClientError' && /\(403\)/.test(e.body));
  }
});

test('OAuth bearer (generateWsConnectionOAuth) on a JWT runtime: echo, the user id reaches the agent; bad tokens and SigV4 refused', { skip: noJwt }, async () => {
  const token = jwt({ sub: 'alice', client_id: 'ws-client' });
  const sid = sessionId();
  const { url, headers } = await client.generateWsConnectionOAuth({
    runtimeArn: jwtRuntime.agentRuntimeArn, bearerToken: token, sessionId: sid, endpointName: 'DEFAULT' });
  const conn = await open(url, { headers });
  await echoBothWays(conn);
  const who = await whoami(conn);
  assert.equal(who.headers['x-amzn-bedrock-agentcore-runtime-user-id'], `${issuer}|alice`);
  assert.equal(who.headers['x-amzn-bedrock-agentcore-runtime-session-id'], sid);
  await closeCleanly(conn);

  const stranger = jwt({ sub: 'mallory', client_id: 'ws-client' }, generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey);
  const badHeaders = (await client.generateWsConnectionOAuth({ runtimeArn: jwtRuntime.agentRuntimeArn,
    bearerToken: stranger, sessionId: sessionId() })).headers;
  await assert.rejects(open(url, { headers: badHeaders }), (e) => e.status === 401 && e.type === 'UnauthorizedException');
  const otherClient = jwt({ sub: 'bob', client_id: 'someone-else' });
  const deniedHeaders = (await client.generateWsConnectionOAuth({ runtimeArn: jwtRuntime.agentRuntimeArn,
    bearerToken: otherClient, sessionId: sessionId() })).headers;
  await assert.rejects(open(url, { headers: deniedHeaders }), (e) => e.status === 403 && e.type === 'AccessDeniedException');
  const sig = await client.generateWsConnection({ runtimeArn: jwtRuntime.agentRuntimeArn, sessionId: sessionId() });
  await assert.rejects(open(sig.url, { headers: sig.headers }), (e) => e.status === 403 && e.type === 'AccessDeniedException');
});

test('OAuth as a browser sends it: the token in Sec-WebSocket-Protocol (base64UrlBearerAuthorization)', { skip: noJwt }, async () => {
  const token = jwt({ sub: 'carol', client_id: 'ws-client' });
  const sid = sessionId();
  const base = (await client.generateWsConnectionOAuth({ runtimeArn: jwtRuntime.agentRuntimeArn,
    bearerToken: token, sessionId: sid })).url;
  const url = `${base}${base.includes('?') ? '&' : '?'}X-Amzn-Bedrock-AgentCore-Runtime-Session-Id=${sid}`;
  const conn = await open(url, {}, [`base64UrlBearerAuthorization.${b64u(token)}`, 'base64UrlBearerAuthorization']);
  assert.equal(conn.protocol, 'base64UrlBearerAuthorization');
  await echoBothWays(conn);
  const who = await whoami(conn);
  assert.equal(who.headers['x-amzn-bedrock-agentcore-runtime-user-id'], `${issuer}|carol`);
  assert.equal(who.headers['x-amzn-bedrock-agentcore-runtime-session-id'], sid);
  assert.ok(!String(who.headers['sec-websocket-protocol'] ?? '').includes('base64UrlBearerAuthorization'),
    'the token is not passed to the agent');
  await closeCleanly(conn);
});

test('a large message from the agent: 1 MB, every byte as sent', async () => {
  const { url, headers } = await client.generateWsConnection({ runtimeArn: runtime.agentRuntimeArn, sessionId: sessionId() });
  const conn = await open(url, { headers });
  conn.ws.send('big:1000000');
  const m = await conn.next(30000);
  const buf = Buffer.from(m.data);
  assert.equal(buf.length, 1000000);
  let same = true;
  for (let i = 0; i < buf.length && same; i++) same = buf[i] === i % 251;
  assert.ok(same, 'every byte as the agent sent it');
  await closeCleanly(conn);
});

// The agent closes: its close frame, then (after the client's answering close frame) its FIN,
// which must reach the client through silod so the client's 'close' comes at once (the ws
// client otherwise gives up after its 30 s closeTimeout).
test('the agent closing the connection: close frame and end of stream reach the client', async () => {
  const { url, headers } = await client.generateWsConnection({ runtimeArn: runtime.agentRuntimeArn, sessionId: sessionId() });
  const conn = await open(url, { headers });
  conn.ws.send('hello');
  assert.equal(String((await conn.next()).data), 'hello');
  conn.ws.send('close');
  const c = await Promise.race([conn.closed, sleep(10000).then(() => ({ code: 'timeout' }))]);
  assert.equal(c.code, 1000, 'closed within 10 s with the agent\'s code');
  assert.equal(c.reason, 'bye');
});

test('StopRuntimeSession ends the session\'s open WebSocket', async () => {
  const sid = sessionId();
  const { url, headers } = await client.generateWsConnection({ runtimeArn: runtime.agentRuntimeArn, sessionId: sid });
  const conn = await open(url, { headers });
  conn.ws.send('still here');
  assert.equal(String((await conn.next()).data), 'still here');
  const t0 = Date.now();
  await data.send(new StopRuntimeSessionCommand({ agentRuntimeArn: runtime.agentRuntimeArn, runtimeSessionId: sid }));
  const c = await Promise.race([conn.closed, sleep(15000).then(() => ({ code: 'timeout' }))]);
  assert.notEqual(c.code, 'timeout', 'the connection closed');
  assert.ok(Date.now() - t0 < 15000);
});

// ~2.5 minutes (WS_SLOW=1, the x86 suite): with idleRuntimeSessionTimeout 60 s, a session whose
// only traffic is an open WebSocket is not idle-reaped (the same microVM answers after 75 s
// without any invocation); when no byte moves either way for 60 s, silod ends the connection.
test('an open WebSocket keeps its session from the idle reaper; 60 s of silence ends the connection', {
  skip: process.env.WS_SLOW !== '1' && 'WS_SLOW=1 only (2.5 minutes)', timeout: 240000,
}, async () => {
  const short = await readyRuntime({ lifecycleConfiguration: { idleRuntimeSessionTimeout: 60, maxLifetime: 3600 } });
  try {
    const { url, headers } = await client.generateWsConnection({ runtimeArn: short.agentRuntimeArn, sessionId: sessionId() });
    const conn = await open(url, { headers });
    const first = await whoami(conn);
    const t0 = Date.now();
    await sleep(40000);
    conn.ws.send('still here');
    assert.equal(String((await conn.next()).data), 'still here');
    await sleep(35000);                       // 75 s since the last request began: past the idle timeout
    const later = await whoami(conn);
    assert.equal(agentKind === 'fake' ? later.vmm_pid : later.pid, agentKind === 'fake' ? first.vmm_pid : first.pid,
      'the same microVM: the session was not reaped while its WebSocket was open');
    const quiet = Date.now();
    const c = await Promise.race([conn.closed, sleep(90000).then(() => ({ code: 'timeout' }))]);
    assert.notEqual(c.code, 'timeout', 'silod ended the silent connection');
    const silent = (Date.now() - quiet) / 1000;
    assert.ok(silent >= 55 && silent < 75, `ended after ${silent} s of silence (idle limit 60 s)`);
    assert.ok(Date.now() - t0 > 130000);
  } finally {
    await control.send(new DeleteAgentRuntimeCommand({ agentRuntimeId: short.agentRuntimeId })).catch(() => {});
  }
});
