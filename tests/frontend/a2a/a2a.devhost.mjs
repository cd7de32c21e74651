// tests/frontend/a2a/a2a.devhost.mjs — the sample A2A agent (tests/agents/a2a-agent) in real
// microVMs behind silod in the dev host, driven from this machine (tests/host/a2a_devhost.sh):
//   - the A2A JavaScript SDK's client (ClientFactory + JsonRpcTransportFactory, A2A 1.0) resolves
//     the agent card at the runtime URL's /.well-known/agent-card.json (GetAgentCard's path) and
//     sends a message and a streamed message to the runtime URL, its fetch SigV4-signing each
//     request and pinning the session with X-Amzn-Bedrock-AgentCore-Runtime-Session-Id;
//   - the AWS SDK's GetAgentCard and InvokeAgentRuntime (AgentCore's documented v0.3
//     `message/send` body) reach the same microVM in the same session; another session gets
//     another microVM.
// The runtime is built by the real image builder from the agent's OCI archive; version 2 carries
// AGENTCORE_RUNTIME_URL, so the card advertises silod's runtime URL. The AWS SDK clients and the
// signing fetch are tests/frontend/sdk/lib.mjs's.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ClientFactory, ClientFactoryOptions, DefaultAgentCardResolver, JsonRpcTransportFactory }
  from '@a2a-js/sdk/client';
import { Role } from '@a2a-js/sdk';
import { createRequire } from 'node:module';
import { control, data, endpoint, accountId, signedFetch, sessionId, uniqueName, sleep } from '../sdk/lib.mjs';

// the AWS SDK packages are tests/frontend/sdk's (installed there), loaded as lib.mjs loads them
const sdkRequire = createRequire(new URL('../sdk/lib.mjs', import.meta.url));
const { CreateAgentRuntimeCommand, UpdateAgentRuntimeCommand, GetAgentRuntimeCommand, DeleteAgentRuntimeCommand } =
  sdkRequire('@aws-sdk/client-bedrock-agentcore-control');
const { GetAgentCardCommand, InvokeAgentRuntimeCommand, StopRuntimeSessionCommand } =
  sdkRequire('@aws-sdk/client-bedrock-agentcore');

const SESSION_HEADER = 'X-Amzn-Bedrock-AgentCore-Runtime-Session-Id';
let rt, runtimeUrl;
const session = sessionId();

/** Polls GetAgentRuntime until pred holds (the real builder: build + boot check, 5 min at most). */
async function waitRuntime(id, pred, what) {
  for (let i = 0; i < 1500; i++) {
    const g = await control.send(new GetAgentRuntimeCommand({ agentRuntimeId: id }));
    if (pred(g)) return g;
    if (/FAILED/.test(g.status)) throw new Error(`${what}: ${g.status} ${g.failureReason ?? ''}`);
    await sleep(200);
  }
  throw new Error(`timed out waiting for ${what}`);
}

before(async () => {
  const base = {
    agentRuntimeArtifact: { containerConfiguration: { containerUri: 'silo.local/agents/a2a-agent:latest' } },
    roleArn: `arn:aws:iam::${accountId}:role/silo-a2a-test`,
    networkConfiguration: { networkMode: 'PUBLIC' },
    protocolConfiguration: { serverProtocol: 'A2A' },
  };
  let t0 = Date.now();
  const c = await control.send(new CreateAgentRuntimeCommand({ agentRuntimeName: uniqueName('a2a'), ...base }));
  await waitRuntime(c.agentRuntimeId, (g) => g.status === 'READY', 'v1 READY');
  console.log(`CreateAgentRuntime -> READY (real builder, A2A boot check): ${Date.now() - t0} ms`);
  // AgentCore's convention: the agent learns its public URL (for its card) from
  // AGENTCORE_RUNTIME_URL, the runtime's invocation URL, which exists once the ARN does
  runtimeUrl = `${endpoint}/runtimes/${encodeURIComponent(c.agentRuntimeArn)}/invocations/`;
  t0 = Date.now();
  await control.send(new UpdateAgentRuntimeCommand({ agentRuntimeId: c.agentRuntimeId, ...base,
    environmentVariables: { AGENTCORE_RUNTIME_URL: runtimeUrl } }));
  rt = await waitRuntime(c.agentRuntimeId, (g) => g.status === 'READY' && g.agentRuntimeVersion === '2', 'v2 READY');
  console.log(`UpdateAgentRuntime -> v2 READY: ${Date.now() - t0} ms`);
});
after(async () => {
  if (rt) await control.send(new DeleteAgentRuntimeCommand({ agentRuntimeId: rt.agentRuntimeId }));
});

/** The A2A SDK's client factory, every request signed and carrying the session `sid`. */
function factoryFor(sid) {
  const fetchImpl = (url, init = {}) => signedFetch(String(url), {
    ...init, headers: { ...Object.fromEntries(new Headers(init.headers ?? {})), [SESSION_HEADER]: sid },
  });
  return new ClientFactory(ClientFactoryOptions.createFrom(ClientFactoryOptions.default, {
    cardResolver: new DefaultAgentCardResolver({ fetchImpl, legacyCompat: { enabled: true } }),
    transports: [new JsonRpcTransportFactory({ fetchImpl, legacyCompat: { enabled: true } })],
  }));
}
const clientFor = (sid) => factoryFor(sid).createFromUrl(`${runtimeUrl}.well-known/agent-card.json`, '');

const userMessage = (text) => ({
  tenant: '', metadata: {}, configuration: undefined,
  message: { messageId: crypto.randomUUID(), role: Role.ROLE_USER, taskId: '', contextId: '', extensions: [],
    metadata: {}, referenceTaskIds: [],
    parts: [{ content: { $case: 'text', value: text }, metadata: undefined, filename: '', mediaType: 'text/plain' }] },
});
const textOf = (parts) => parts.map((p) => (p.content?.$case === 'text' ? p.content.value : p.text ?? '')).join('');
/** "echo: TEXT | session=S | instance=I" → { text, session, instance } */
function parseEcho(s) {
  const m = /^echo: (.*) \| session=(.*) \| instance=([0-9a-f-]{36})$/.exec(s);
  assert.ok(m, `the agent's echo: ${JSON.stringify(s)}`);
  return { text: m[1], session: m[2], instance: m[3] };
}
let instance;

test('GetAgentCard (AWS SDK) answers the agent\'s card from its microVM, with its public URL from AGENTCORE_RUNTIME_URL', async () => {
  const t0 = Date.now();
  const r = await data.send(new GetAgentCardCommand({ agentRuntimeArn: rt.agentRuntimeArn, runtimeSessionId: session }));
  console.log(`GetAgentCard with a new session (cold microVM, Node agent): ${Date.now() - t0} ms`);
  assert.equal(r.statusCode, 200);
  assert.equal(r.runtimeSessionId, session);
  assert.equal(r.agentCard.name, 'silo-sample-a2a');
  assert.equal(r.agentCard.capabilities.streaming, true);
  assert.equal(r.agentCard.url, runtimeUrl, 'the card advertises silod\'s runtime URL (v0.3 shape: no A2A-Version sent)');
});

test('A2A SDK client: resolves the card through silod and sendMessage gets the agent\'s task back', async () => {
  const client = await clientFor(session);
  assert.equal(client.protocolVersion, '1.0', 'the A2A-Version 1.0 card and transport, through silod');
  const task = await client.sendMessage(userMessage('hello over A2A'));
  assert.equal(task.status?.state, 3, `completed (TASK_STATE_COMPLETED), got ${JSON.stringify(task.status)}`);
  const echo = parseEcho(textOf(task.artifacts[0].parts));
  assert.equal(echo.text, 'hello over A2A');
  assert.equal(echo.session, session, 'the agent saw the runtime session header');
  instance = echo.instance;
});

test('A2A SDK client: sendMessageStream gets each SSE event as the agent sends it (task, working, 3 chunks, completed)', async () => {
  const client = await clientFor(session);
  const t0 = Date.now();
  const events = [];
  for await (const ev of client.sendMessageStream(userMessage('stream it'))) events.push({ at: Date.now() - t0, ev });
  const kinds = events.map((e) => e.ev.payload?.$case);
  assert.deepEqual(kinds, ['task', 'statusUpdate', 'artifactUpdate', 'artifactUpdate', 'artifactUpdate', 'statusUpdate']);
  const chunks = events.filter((e) => e.ev.payload.$case === 'artifactUpdate');
  // the agent waits 100 ms before each chunk: relayed one by one, they arrive spread out
  assert.ok(chunks[2].at - chunks[0].at >= 150, `streamed, not buffered: chunks at ${chunks.map((c) => c.at)} ms`);
  const echo = parseEcho(chunks.map((c) => textOf(c.ev.payload.value.artifact.parts)).join(''));
  assert.equal(echo.text, 'stream it');
  assert.equal(echo.instance, instance, 'the same session: the same microVM');
  assert.equal(events.at(-1).ev.payload.value.status.state, 3);
});

test('InvokeAgentRuntime (AWS SDK) with AgentCore\'s documented message/send body reaches the same microVM', async () => {
  const body = { jsonrpc: '2.0', id: 'req-001', method: 'message/send',
    params: { message: { role: 'user', parts: [{ kind: 'text', text: 'from the AWS SDK' }], messageId: crypto.randomUUID() } } };
  const r = await data.send(new InvokeAgentRuntimeCommand({ agentRuntimeArn: rt.agentRuntimeArn, runtimeSessionId: session,
    contentType: 'application/json', accept: 'application/json', payload: Buffer.from(JSON.stringify(body)) }));
  assert.equal(r.statusCode, 200);
  const answer = JSON.parse(await r.response.transformToString());
  assert.equal(answer.id, 'req-001');
  assert.equal(answer.result.kind, 'task');
  const echo = parseEcho(answer.result.artifacts[0].parts.map((p) => p.text).join(''));
  assert.equal(echo.text, 'from the AWS SDK');
  assert.equal(echo.instance, instance);
});

test('another session is another microVM; StopRuntimeSession ends a session and its next call boots afresh', async () => {
  const other = sessionId();
  const a = await (await clientFor(other)).sendMessage(userMessage('second session'));
  const echoOther = parseEcho(textOf(a.artifacts[0].parts));
  assert.equal(echoOther.session, other);
  assert.notEqual(echoOther.instance, instance, 'not the first session\'s agent');
  await data.send(new StopRuntimeSessionCommand({ agentRuntimeArn: rt.agentRuntimeArn, runtimeSessionId: other }));
  const card = await data.send(new GetAgentCardCommand({ agentRuntimeArn: rt.agentRuntimeArn, runtimeSessionId: other }));
  assert.equal(card.agentCard.name, 'silo-sample-a2a');
  const b = await (await clientFor(other)).sendMessage(userMessage('after stop'));
  const echoAfter = parseEcho(textOf(b.artifacts[0].parts));
  assert.notEqual(echoAfter.instance, echoOther.instance, 'a fresh microVM after the stop');
});
