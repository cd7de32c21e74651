// tests/frontend/sdk/a2a.test.mjs — an A2A runtime (serverProtocol A2A) through silod, driven by
// the real @aws-sdk/client-bedrock-agentcore: InvokeAgentRuntime relays JSON-RPC 2.0 to the
// guest's port 9000 `POST /` (message/send answered as JSON, message/stream as SSE relayed event
// by event), on the session's microVM; GetAgentCard answers the guest's
// /.well-known/agent-card.json as the API's agentCard document, through a session; a card that
// is not JSON is RuntimeClientError; GetAgentCard on an HTTP runtime is ValidationException.
// The guest's A2A agent is fake_vmm's minimal responder on port 9000.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { InvokeAgentRuntimeCommand, GetAgentCardCommand, ValidationException, RuntimeClientError }
  from '@aws-sdk/client-bedrock-agentcore';
import { DeleteAgentRuntimeCommand } from '@aws-sdk/client-bedrock-agentcore-control';
import { control, data, readyRuntime, sessionId, testDir, invokeUrl, signedFetch } from './lib.mjs';

let a2a, http, badCard, trailCard;
before(async () => {
  a2a = await readyRuntime('a2a', { protocolConfiguration: { serverProtocol: 'A2A' } });
  http = await readyRuntime('a2a_http');
  const dir = `${testDir}/agent-a2a-badcard`;
  mkdirSync(dir, { recursive: true });
  badCard = await readyRuntime('a2a_bad', {
    protocolConfiguration: { serverProtocol: 'A2A' },
    agentRuntimeArtifact: { containerConfiguration: { containerUri: dir } },
  });
  const trail = `${testDir}/agent-a2a-trailcard`;
  mkdirSync(trail, { recursive: true });
  trailCard = await readyRuntime('a2a_trail', {
    protocolConfiguration: { serverProtocol: 'A2A' },
    agentRuntimeArtifact: { containerConfiguration: { containerUri: trail } },
  });
});
after(async () => {
  for (const rt of [a2a, http, badCard, trailCard])
    if (rt) await control.send(new DeleteAgentRuntimeCommand({ agentRuntimeId: rt.agentRuntimeId }));
});

const rpc = (id, method, text) => Buffer.from(JSON.stringify({
  jsonrpc: '2.0', id, method,
  params: { message: { role: 'user', messageId: `m-${id}`, parts: [{ kind: 'text', text }] } },
}));
const seenOf = (part) => JSON.parse(part.text);

test('a2a: InvokeAgentRuntime relays message/send to the guest\'s port 9000 POST / with the session and A2A headers', async () => {
  const sid = sessionId();
  const r = await data.send(new InvokeAgentRuntimeCommand({
    agentRuntimeArn: a2a.agentRuntimeArn, runtimeSessionId: sid, contentType: 'application/json',
    accept: 'application/json', payload: rpc('req-1', 'message/send', 'hello'),
  }));
  assert.equal(r.statusCode, 200);
  assert.equal(r.runtimeSessionId, sid);
  assert.match(r.contentType, /^application\/json/);
  const body = JSON.parse(await r.response.transformToString());
  assert.equal(body.jsonrpc, '2.0');
  assert.equal(body.id, 'req-1');
  assert.equal(body.result.kind, 'message');
  const seen = seenOf(body.result.parts[0]);
  assert.equal(seen.runtimeSessionId, sid, 'the guest got the runtime session header');
  assert.equal(seen.params.message.parts[0].text, 'hello', 'the JSON-RPC body arrived unchanged');
  // the same session id: the same microVM; another: another
  const again = await data.send(new InvokeAgentRuntimeCommand({
    agentRuntimeArn: a2a.agentRuntimeArn, runtimeSessionId: sid, payload: rpc('req-2', 'message/send', 'again'),
  }));
  const other = await data.send(new InvokeAgentRuntimeCommand({
    agentRuntimeArn: a2a.agentRuntimeArn, runtimeSessionId: sessionId(), payload: rpc('req-3', 'message/send', 'x'),
  }));
  const vmAgain = seenOf(JSON.parse(await again.response.transformToString()).result.parts[0]).vmm_pid;
  const vmOther = seenOf(JSON.parse(await other.response.transformToString()).result.parts[0]).vmm_pid;
  assert.equal(vmAgain, seen.vmm_pid, 'one session, one microVM');
  assert.notEqual(vmOther, seen.vmm_pid, 'another session, another microVM');
});

test('a2a: an unknown JSON-RPC method is the agent\'s JSON-RPC error, passed through (200)', async () => {
  const r = await data.send(new InvokeAgentRuntimeCommand({
    agentRuntimeArn: a2a.agentRuntimeArn, payload: rpc(7, 'tasks/nothing', 'x'),
  }));
  const body = JSON.parse(await r.response.transformToString());
  assert.equal(body.error.code, -32601);
  assert.equal(body.id, 7);
});

test('a2a: message/stream answers text/event-stream, relayed event by event as the agent sends them', async () => {
  const sid = sessionId();
  const t0 = Date.now();
  const r = await data.send(new InvokeAgentRuntimeCommand({
    agentRuntimeArn: a2a.agentRuntimeArn, runtimeSessionId: sid, contentType: 'application/json',
    accept: 'text/event-stream', payload: rpc('s-1', 'message/stream', 'stream me'),
  }));
  assert.match(r.contentType, /^text\/event-stream/);
  const arrivals = [];
  let text = '';
  for await (const chunk of r.response) {
    text += Buffer.from(chunk).toString('utf8');
    arrivals.push(Date.now() - t0);
  }
  const events = text.split('\n\n').filter((e) => e.startsWith('data: ')).map((e) => JSON.parse(e.slice(6)));
  assert.deepEqual(events.map((e) => e.result.kind), ['status-update', 'artifact-update', 'status-update']);
  assert.equal(events[2].result.final, true);
  assert.equal(seenOf(events[1].result.artifact.parts[0]).runtimeSessionId, sid);
  // the agent sends the events 50 ms apart: they arrive in more than one piece, spread out
  assert.ok(arrivals.length >= 2 && arrivals[arrivals.length - 1] - arrivals[0] >= 40,
    `streamed, not buffered (pieces at ${arrivals.join(', ')} ms)`);
});

test('a2a: the A2A-Version header reaches the agent (a v1.0 client\'s SendMessage)', async () => {
  const res = await signedFetch(invokeUrl(a2a.agentRuntimeArn), {
    method: 'POST', body: rpc('v1', 'SendMessage', 'v1 body').toString(),
    headers: { 'content-type': 'application/a2a+json', 'a2a-version': '1.0', accept: 'application/a2a+json' },
  });
  assert.equal(res.status, 200);
  const seen = seenOf((await res.json()).result.parts[0]);
  assert.equal(seen.a2aVersion, '1.0');
});

test('a2a: the runtime URL with a trailing slash (…/invocations/, as A2A clients use a base URL) is the same operation', async () => {
  const url = invokeUrl(a2a.agentRuntimeArn).replace('/invocations?', '/invocations/?');
  const res = await signedFetch(url, { method: 'POST', body: rpc('slash', 'message/send', 'slash').toString(),
    headers: { 'content-type': 'application/json' } });
  assert.equal(res.status, 200);
  assert.equal(seenOf((await res.json()).result.parts[0]).params.message.parts[0].text, 'slash');
});

test('a2a: GetAgentCard answers the guest\'s agent card as the agentCard document, through the session', async () => {
  const sid = sessionId();
  const card = await data.send(new GetAgentCardCommand({ agentRuntimeArn: a2a.agentRuntimeArn, runtimeSessionId: sid }));
  assert.equal(card.statusCode, 200);
  assert.equal(card.runtimeSessionId, sid);
  assert.equal(card.agentCard.name, 'fake-vmm-a2a');
  assert.equal(card.agentCard.capabilities.streaming, true);
  assert.equal(card.agentCard['x-silo-seen'].runtimeSessionId, sid, 'the card was fetched in that session');
  // an invocation in the same session reaches the same microVM the card came from
  const r = await data.send(new InvokeAgentRuntimeCommand({
    agentRuntimeArn: a2a.agentRuntimeArn, runtimeSessionId: sid, payload: rpc('c-1', 'message/send', 'after card'),
  }));
  const seen = seenOf(JSON.parse(await r.response.transformToString()).result.parts[0]);
  assert.equal(seen.vmm_pid, card.agentCard['x-silo-seen'].vmm_pid);
  // without a session id the SDK makes one up (idempotencyToken): a session of its own
  const auto = await data.send(new GetAgentCardCommand({ agentRuntimeArn: a2a.agentRuntimeArn }));
  assert.match(auto.runtimeSessionId, /^[0-9a-f-]{36}$/);
  assert.equal(auto.agentCard['x-silo-seen'].runtimeSessionId, auto.runtimeSessionId);
  assert.notEqual(auto.agentCard['x-silo-seen'].vmm_pid, seen.vmm_pid);
  // with a qualifier (the DEFAULT endpoint), the same
  const q = await data.send(new GetAgentCardCommand({ agentRuntimeArn: a2a.agentRuntimeArn, runtimeSessionId: sid,
    qualifier: 'DEFAULT' }));
  assert.equal(q.agentCard['x-silo-seen'].vmm_pid, seen.vmm_pid);
});

test('a2a: GetAgentCard on an HTTP runtime is ValidationException (400), and a card that is not one JSON object is RuntimeClientError (424)', async () => {
  await assert.rejects(data.send(new GetAgentCardCommand({ agentRuntimeArn: http.agentRuntimeArn })),
    (e) => e instanceof ValidationException && e.$metadata.httpStatusCode === 400 && /serverProtocol A2A/.test(e.message),
    'HTTP runtime');
  await assert.rejects(data.send(new GetAgentCardCommand({ agentRuntimeArn: badCard.agentRuntimeArn })),
    (e) => e instanceof RuntimeClientError && e.$metadata.httpStatusCode === 424 && /not a JSON object/.test(e.message),
    'bad card');
  await assert.rejects(data.send(new GetAgentCardCommand({ agentRuntimeArn: trailCard.agentRuntimeArn })),
    (e) => e instanceof RuntimeClientError && e.$metadata.httpStatusCode === 424 && /not a JSON object/.test(e.message),
    'a card with bytes after the object');
  // and a GET with a body, or a POST to the card path, is no operation
  const res = await signedFetch(`${invokeUrl(a2a.agentRuntimeArn).replace('/invocations?', '/invocations/.well-known/agent-card.json?')}`,
    { method: 'POST', body: '{}' });
  assert.equal(res.status, 404);
  assert.equal(res.headers.get('x-amzn-errortype'), 'UnknownOperationException');
});
