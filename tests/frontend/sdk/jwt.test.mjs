// tests/frontend/sdk/jwt.test.mjs — inbound JWT: a real OpenID provider (`oidc-provider`, on
// loopback) issues client_credentials access tokens (RS256 JWTs); a runtime with a
// customJWTAuthorizer accepts only its valid bearer tokens, and iss|sub reaches the guest as
// the user id. SigV4 is refused for that runtime, and bearer tokens for SigV4 runtimes.
// customClaims: the provider adds `department`/`groups` claims per client (extraTokenClaims), and
// a runtime whose rules they meet or miss answers 200 or 403. InvokeAgentRuntimeCommand
// takes the same bearer tokens (its event stream decoded with the SDK's codec).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import Provider from 'oidc-provider';
import { EventStreamCodec } from '@smithy/core/event-streams';
import { toUtf8, fromUtf8 } from '@smithy/core/serde';
import {
  InvokeAgentRuntimeCommand, InvokeAgentRuntimeCommandCommand, AccessDeniedException,
  ValidationException as DataValidationException,
} from '@aws-sdk/client-bedrock-agentcore';
import { DeleteAgentRuntimeCommand, CreateAgentRuntimeCommand, ValidationException }
  from '@aws-sdk/client-bedrock-agentcore-control';
import { control, data, endpoint, readyRuntime, sessionId, invokeUrl, baseRuntime, uniqueName } from './lib.mjs';

const RESOURCE = 'urn:silo:agents';
const clients = {
  allowed: { id: 'silo-allowed-client', secret: 'allowed-secret-0123456789abcdef0123456789' },
  other: { id: 'silo-other-client', secret: 'other-secret-0123456789abcdef0123456789abc' },
  typed: { id: 'silo-typed-client', secret: 'typed-secret-0123456789abcdef0123456789abc' },
};
// the extra claims the provider puts into each client's access tokens
const extraClaims = {
  [clients.allowed.id]: { department: 'engineering', groups: ['agents', 'admins'] },
  [clients.other.id]: { department: 'sales', groups: ['agents'] },
  [clients.typed.id]: { department: ['engineering'], groups: ['agents', 'admins'] },   // wrong JSON type
};
const rule = (name, type, operator, value) => ({
  inboundTokenClaimName: name, inboundTokenClaimValueType: type,
  authorizingClaimMatchValue: { claimMatchOperator: operator, claimMatchValue: value },
});
const customClaims = [
  rule('department', 'STRING', 'EQUALS', { matchValueString: 'engineering' }),
  rule('groups', 'STRING_ARRAY', 'CONTAINS', { matchValueString: 'agents' }),
  rule('groups', 'STRING_ARRAY', 'CONTAINS_ANY', { matchValueStringList: ['owners', 'admins'] }),
];
let server, issuer, jwtRuntime, sigv4Runtime, claimsRuntime;

function jwk(kid) {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' };
}

before(async () => {
  server = http.createServer();
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, {
    jwks: { keys: [jwk('silo-test-key-1')] },
    clients: Object.values(clients).map((c) => ({
      client_id: c.id, client_secret: c.secret, grant_types: ['client_credentials'],
      redirect_uris: [], response_types: [], token_endpoint_auth_method: 'client_secret_basic',
    })),
    scopes: ['invoke'],
    extraTokenClaims: async (_ctx, token) => extraClaims[token.clientId],
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => RESOURCE,
        useGrantedResource: () => true,
        getResourceServerInfo: () => ({
          scope: 'invoke', audience: RESOURCE, accessTokenTTL: 600, accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'RS256' } },
        }),
      },
    },
  });
  server.on('request', provider.callback());
  jwtRuntime = await readyRuntime('jwt', {
    authorizerConfiguration: {
      customJWTAuthorizer: {
        discoveryUrl: `${issuer}/.well-known/openid-configuration`,
        allowedClients: [clients.allowed.id], allowedAudience: [RESOURCE],
      },
    },
  });
  sigv4Runtime = await readyRuntime('sigv4only');
  claimsRuntime = await readyRuntime('claims', {
    authorizerConfiguration: {
      customJWTAuthorizer: {
        discoveryUrl: `${issuer}/.well-known/openid-configuration`, allowedAudience: [RESOURCE], customClaims,
      },
    },
  });
});

after(async () => {
  for (const rt of [jwtRuntime, sigv4Runtime, claimsRuntime])
    if (rt) await control.send(new DeleteAgentRuntimeCommand({ agentRuntimeId: rt.agentRuntimeId }));
  server?.close();
});

async function token(client) {
  const res = await fetch(`${issuer}/token`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${client.id}:${client.secret}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'invoke', resource: RESOURCE }),
  });
  const body = await res.json();
  assert.equal(res.status, 200, JSON.stringify(body));
  assert.equal(body.access_token.split('.').length, 3, 'a JWT access token');
  return body.access_token;
}

function bearerInvoke(rt, tok, payload = 'whoami', headers = {}) {
  return fetch(invokeUrl(rt.agentRuntimeArn), {
    method: 'POST', body: payload,
    headers: { authorization: `Bearer ${tok}`, 'content-type': 'text/plain', ...headers },
  });
}

async function expectError(res, status, type) {
  const text = await res.text();
  assert.equal(res.status, status, text);
  assert.equal(res.headers.get('x-amzn-errortype'), type);
  assert.ok(JSON.parse(text).message);
}

test('jwt: a client_credentials token from the provider invokes; iss|sub is the user id in the guest', async () => {
  const tok = await token(clients.allowed);
  const sid = sessionId();
  const res = await bearerInvoke(jwtRuntime, tok, 'whoami', {
    'x-amzn-bedrock-agentcore-runtime-session-id': sid,
    'x-amzn-bedrock-agentcore-runtime-user-id': 'someone-else',   // ignored: the token says who
  });
  assert.equal(res.status, 200, await res.clone().text());
  assert.equal(res.headers.get('x-amzn-bedrock-agentcore-runtime-session-id'), sid);
  const who = await res.json();
  assert.equal(who.headers['x-amzn-bedrock-agentcore-runtime-user-id'], `${issuer}|${clients.allowed.id}`);
  assert.equal(who.headers.authorization, undefined, 'Authorization is not allow-listed: not forwarded');
});

test('jwt: a valid token of a client not in allowedClients is AccessDeniedException (403)', async () => {
  await expectError(await bearerInvoke(jwtRuntime, await token(clients.other)), 403, 'AccessDeniedException');
});

test('jwt: tampered, malformed, alg=none and missing tokens are UnauthorizedException (401)', async () => {
  const tok = await token(clients.allowed);
  const [h, p, s] = tok.split('.');
  const flipped = s.slice(0, 10) + (s[10] === 'A' ? 'B' : 'A') + s.slice(11);
  await expectError(await bearerInvoke(jwtRuntime, `${h}.${p}.${flipped}`), 401, 'UnauthorizedException');
  const claims = JSON.parse(Buffer.from(p, 'base64url'));
  const forged = Buffer.from(JSON.stringify({ ...claims, client_id: clients.allowed.id, sub: 'admin' })).toString('base64url');
  await expectError(await bearerInvoke(jwtRuntime, `${h}.${forged}.${s}`), 401, 'UnauthorizedException');
  const none = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url');
  await expectError(await bearerInvoke(jwtRuntime, `${none}.${p}.`), 401, 'UnauthorizedException');
  await expectError(await bearerInvoke(jwtRuntime, 'not-a-jwt'), 401, 'UnauthorizedException');
  const anonymous = await fetch(invokeUrl(jwtRuntime.agentRuntimeArn), { method: 'POST', body: 'x' });
  await expectError(anonymous, 401, 'UnauthorizedException');
});

test('jwt: SigV4 (the AWS SDK) is refused for a JWT runtime: AccessDeniedException', async () => {
  await assert.rejects(data.send(new InvokeAgentRuntimeCommand({
    agentRuntimeArn: jwtRuntime.agentRuntimeArn, payload: Buffer.from('x'),
  })), (e) => e instanceof AccessDeniedException && e.$metadata.httpStatusCode === 403 && /mismatch/i.test(e.message));
});

test('jwt: a bearer token is refused for a SigV4 runtime and for the control plane', async () => {
  const tok = await token(clients.allowed);
  await expectError(await bearerInvoke(sigv4Runtime, tok), 403, 'AccessDeniedException');
  const cp = await fetch(`${endpoint}/runtimes/`, { method: 'POST', headers: { authorization: `Bearer ${tok}` } });
  await expectError(cp, 403, 'AccessDeniedException');
});

test('jwt: StopRuntimeSession with the bearer token ends the session', async () => {
  const tok = await token(clients.allowed);
  const sid = sessionId();
  const first = await (await bearerInvoke(jwtRuntime, tok, 'whoami', { 'x-amzn-bedrock-agentcore-runtime-session-id': sid })).json();
  const stop = await fetch(`${endpoint}/runtimes/${encodeURIComponent(jwtRuntime.agentRuntimeArn)}/stopruntimesession`, {
    method: 'POST', body: '{}',
    headers: { authorization: `Bearer ${tok}`, 'content-type': 'application/json', 'x-amzn-bedrock-agentcore-runtime-session-id': sid },
  });
  assert.equal(stop.status, 200, await stop.clone().text());
  const again = await (await bearerInvoke(jwtRuntime, tok, 'whoami', { 'x-amzn-bedrock-agentcore-runtime-session-id': sid })).json();
  assert.notEqual(again.vmm_pid, first.vmm_pid);
});

test('jwt: a session is bound to the user who opened it: another user can neither use nor stop it', async () => {
  const rt = await readyRuntime('bound', {
    authorizerConfiguration: { customJWTAuthorizer: {
      discoveryUrl: `${issuer}/.well-known/openid-configuration`, allowedAudience: [RESOURCE] } },
  });
  const alice = await token(clients.allowed), bob = await token(clients.other);
  const sid = sessionId();
  const sidHeader = { 'x-amzn-bedrock-agentcore-runtime-session-id': sid };
  const first = await bearerInvoke(rt, alice, 'whoami', sidHeader);
  assert.equal(first.status, 200, await first.clone().text());
  const pid = (await first.json()).vmm_pid;
  await expectError(await bearerInvoke(rt, bob, 'whoami', sidHeader), 403, 'AccessDeniedException');
  const stop = await fetch(`${endpoint}/runtimes/${encodeURIComponent(rt.agentRuntimeArn)}/stopruntimesession`, {
    method: 'POST', body: '{}',
    headers: { authorization: `Bearer ${bob}`, 'content-type': 'application/json', ...sidHeader },
  });
  await expectError(stop, 404, 'ResourceNotFoundException');
  const again = await bearerInvoke(rt, alice, 'whoami', sidHeader);
  assert.equal((await again.json()).vmm_pid, pid, 'the owner still has the same microVM');
  await control.send(new DeleteAgentRuntimeCommand({ agentRuntimeId: rt.agentRuntimeId }));
});

test('jwt: customClaims round-trip through GetAgentRuntime as given', async () => {
  assert.deepEqual(claimsRuntime.authorizerConfiguration.customJWTAuthorizer.customClaims, customClaims);
});

test('jwt: customClaims — a token whose provider-added claims meet every rule invokes', async () => {
  const tok = await token(clients.allowed);
  const claims = JSON.parse(Buffer.from(tok.split('.')[1], 'base64url'));
  assert.equal(claims.department, 'engineering', 'oidc-provider put the extra claims into the JWT');
  const res = await bearerInvoke(claimsRuntime, tok);
  assert.equal(res.status, 200, await res.clone().text());
  assert.equal((await res.json()).headers['x-amzn-bedrock-agentcore-runtime-user-id'], `${issuer}|${clients.allowed.id}`);
});

test('jwt: customClaims — a valid token whose claims do not match, or have the wrong JSON type, is 403', async () => {
  const other = await token(clients.other);
  assert.equal(JSON.parse(Buffer.from(other.split('.')[1], 'base64url')).department, 'sales');
  await expectError(await bearerInvoke(claimsRuntime, other), 403, 'AccessDeniedException');
  await expectError(await bearerInvoke(claimsRuntime, await token(clients.typed)), 403, 'AccessDeniedException');
  // the same tokens are fine where no custom claims are asked for (the 403 is the rules' doing)
  const plain = await readyRuntime('noclaims', {
    authorizerConfiguration: {
      customJWTAuthorizer: { discoveryUrl: `${issuer}/.well-known/openid-configuration`, allowedAudience: [RESOURCE] },
    },
  });
  try {
    const res = await bearerInvoke(plain, other);
    assert.equal(res.status, 200, await res.text());
  } finally {
    await control.send(new DeleteAgentRuntimeCommand({ agentRuntimeId: plain.agentRuntimeId }));
  }
});

test('jwt: customClaims that make no sense are ValidationException at create', async () => {
  const bad = [
    [rule('department', 'STRING', 'CONTAINS', { matchValueString: 'engineering' })],
    [rule('groups', 'STRING_ARRAY', 'CONTAINS_ANY', { matchValueString: 'admins' })],
    [rule('client_id', 'STRING', 'EQUALS', { matchValueString: 'x' })],
    [rule('department', 'STRING', 'EQUALS', { matchValueString: 'has space' })],
  ];
  for (const cc of bad) {
    await assert.rejects(control.send(new CreateAgentRuntimeCommand(baseRuntime(uniqueName('badclaims'), {
      authorizerConfiguration: {
        customJWTAuthorizer: { discoveryUrl: `${issuer}/.well-known/openid-configuration`, customClaims: cc },
      },
    }))), (e) => e instanceof ValidationException && e.$metadata.httpStatusCode === 400 && /customClaims/.test(e.message),
    JSON.stringify(cc));
  }
});

/** InvokeAgentRuntimeCommand with a bearer token over fetch; the event stream decoded with the
 * AWS SDK's own codec: [{type, body}] of every message. */
async function bearerCommand(rt, tok, command, headers = {}) {
  const res = await fetch(`${endpoint}/runtimes/${encodeURIComponent(rt.agentRuntimeArn)}/commands`, {
    method: 'POST', body: JSON.stringify({ command, timeout: 10 }),
    headers: { authorization: `Bearer ${tok}`, 'content-type': 'application/json', ...headers },
  });
  if (res.status !== 200) return { res };
  const bytes = Buffer.from(await res.arrayBuffer());
  const codec = new EventStreamCodec(toUtf8, fromUtf8);
  const messages = [];
  for (let off = 0; off < bytes.length;) {
    const len = bytes.readUInt32BE(off);
    const m = codec.decode(bytes.subarray(off, off + len));
    messages.push({ type: m.headers[':event-type']?.value, body: JSON.parse(toUtf8(m.body)) });
    off += len;
  }
  return { res, messages };
}

test('jwt: InvokeAgentRuntimeCommand with the bearer token runs in the session its invocation opened', async () => {
  const tok = await token(clients.allowed);
  const sid = `jwt-command-session-${randomBytes(12).toString('hex')}`;
  const who = await (await bearerInvoke(jwtRuntime, tok, 'whoami', { 'x-amzn-bedrock-agentcore-runtime-session-id': sid })).json();
  const { res, messages } = await bearerCommand(jwtRuntime, tok, "cut -d' ' -f4 /proc/$PPID/stat; exit 4",
    { 'x-amzn-bedrock-agentcore-runtime-session-id': sid });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'application/vnd.amazon.eventstream');
  assert.ok(messages.every((m) => m.type === 'chunk'));
  assert.deepEqual(messages[0].body, { contentStart: {} });
  assert.equal(Number(messages.filter((m) => m.body.contentDelta).map((m) => m.body.contentDelta.stdout).join('').trim()),
    who.vmm_pid, 'the same microVM (fake VMM) as the invocation');
  assert.deepEqual(messages.at(-1).body, { contentStop: { exitCode: 4, status: 'COMPLETED' } });
});

test('jwt: InvokeAgentRuntimeCommand refuses a bad token (401), another client (403) and SigV4 on a JWT runtime', async () => {
  const tok = await token(clients.allowed);
  const [h, p, s] = tok.split('.');
  await expectError((await bearerCommand(jwtRuntime, `${h}.${p}.${s.slice(0, -4)}AAAA`, 'echo no')).res, 401,
    'UnauthorizedException');
  await expectError((await bearerCommand(jwtRuntime, await token(clients.other), 'echo no')).res, 403,
    'AccessDeniedException');
  await expectError((await bearerCommand(sigv4Runtime, tok, 'echo no')).res, 403, 'AccessDeniedException');
  await assert.rejects(data.send(new InvokeAgentRuntimeCommandCommand({
    agentRuntimeArn: jwtRuntime.agentRuntimeArn, body: { command: 'echo no' },
  })), (e) => e instanceof AccessDeniedException && /mismatch/i.test(e.message));
});
