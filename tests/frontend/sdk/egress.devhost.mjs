// tests/frontend/sdk/egress.devhost.mjs — agents reaching the world, on the REAL path: silod,
// the real silo-vmm and the sample Node agent (tests/agents/node-sdk, bedrock-agentcore SDK) run
// inside the dev host beside a STAND-IN model server (tests/frontend/devhost/model_standin.c);
// this file runs on this machine with the real AWS SDK clients. Run by tests/host/egress_devhost.sh
// only (not a *.test.mjs). The dev host's world (tests/frontend/devhost/egress-inside.sh):
//   api.model.test -> 198.51.100.7 (allowed by the domain suffix model.test; HTTPS on 443 with the
//   test-only CA the agent image trusts), 10.99.0.1 (private, allowed by CIDR), 10.99.0.2
//   (private, not allowed), loopback.test -> 127.0.0.1, silod itself on :8080.
// The console log (SILO_CONSOLE_LOG) holds silod's log lines, which several tests check.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, readFileSync } from 'node:fs';
import { InvokeAgentRuntimeCommand, StopRuntimeSessionCommand } from '@aws-sdk/client-bedrock-agentcore';
import { CreateAgentRuntimeCommand, GetAgentRuntimeCommand } from '@aws-sdk/client-bedrock-agentcore-control';
import { data, control, uniqueName, sessionId, sleep, testDir, accountId } from './lib.mjs';

const ROLE = `arn:aws:iam::${accountId}:role/SiloEgressAgent`;
const console_ = process.env.SILO_CONSOLE_LOG;
const bench = (line) => appendFileSync(`${testDir}/bench.txt`, `${line}\n`);
const consoleText = () => readFileSync(console_, 'latin1').replace(/\r/g, '');
const STREAMS = Number(process.env.SILO_EGRESS_STREAMS ?? 64);
const STREAM_BYTES = Number(process.env.SILO_EGRESS_STREAM_BYTES ?? 10 * 1024 * 1024);

let agent;      // the Node agent's runtime (Get answer)
let echo;       // a second runtime (the C agent) the Node agent calls through silod
const session = sessionId();

async function readyRuntime(name, image, extra = {}) {
  const c = await control.send(new CreateAgentRuntimeCommand({
    agentRuntimeName: uniqueName(name),
    agentRuntimeArtifact: { containerConfiguration: { containerUri: `silo.local/agents/${image}:latest` } },
    roleArn: ROLE, networkConfiguration: { networkMode: 'PUBLIC' }, ...extra,
  }));
  for (let i = 0; i < 600; i++) {
    const g = await control.send(new GetAgentRuntimeCommand({ agentRuntimeId: c.agentRuntimeId }));
    if (g.status === 'READY') return g;
    if (g.status.endsWith('FAILED')) throw new Error(`${name}: ${g.status} ${g.failureReason}`);
    await sleep(200);
  }
  throw new Error(`${name} never became READY`);
}

async function invokeRaw(runtime, payload, sid = session) {
  const answer = await data.send(new InvokeAgentRuntimeCommand({
    agentRuntimeArn: runtime.agentRuntimeArn, runtimeSessionId: sid,
    contentType: 'application/json', accept: 'application/json, text/event-stream',
    payload: Buffer.from(JSON.stringify(payload)),
  }));
  return answer;
}

async function invoke(runtime, payload, sid = session) {
  const answer = await invokeRaw(runtime, payload, sid);
  const text = await answer.response.transformToString();
  // a long-running handler: the SDK keeps the connection alive with SSE comments (": heartbeat")
  // and sends the result as one data event
  const data = text.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6));
  try { return JSON.parse(data.length ? data.at(-1) : text); } catch { throw new Error(`not JSON: ${text.slice(-300)}`); }
}

before(async () => {
  [agent, echo] = await Promise.all([readyRuntime('egress_agent', 'node-sdk'), readyRuntime('egress_echo', 'c-echo')]);
  const t0 = Date.now();
  await invoke(agent, { action: 'env' });      // boots the session's microVM (Node agent)
  bench(`egress test: Node agent cold session -> first answer ${Date.now() - t0} ms`);
});

test('the agent\'s environment has the proxy, region, endpoint and container-credentials settings', async () => {
  const env = await invoke(agent, { action: 'env' });
  assert.equal(env.HTTPS_PROXY, 'http://127.0.0.1:3128');
  assert.equal(env.http_proxy, 'http://127.0.0.1:3128');
  assert.match(env.NO_PROXY, /localhost/);
  assert.equal(env.NODE_USE_ENV_PROXY, '1');
  assert.equal(env.AWS_REGION, 'us-east-1');
  assert.equal(env.AWS_DEFAULT_REGION, 'us-east-1');
  assert.match(env.AWS_ENDPOINT_URL_BEDROCK_AGENTCORE, /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.match(env.AWS_CONTAINER_CREDENTIALS_FULL_URI, /^http:\/\/127\.0\.0\.1:\d+\//);
  assert.equal(env.AWS_CONTAINER_AUTHORIZATION_TOKEN, 'set');
});

test('the Node agent streams an OpenAI-compatible chat answer from the stand-in model server over HTTPS through the proxy, token by token, to the AWS SDK client', async () => {
  const t0 = Date.now();
  const answer = await invokeRaw(agent, { action: 'chat', url: 'https://api.model.test/v1/chat/completions', prompt: 'what is silo' });
  assert.match(answer.contentType, /text\/event-stream/);
  let text = '', tokens = 0, firstMs = 0;
  for await (const chunk of answer.response) {
    if (!firstMs) firstMs = Date.now() - t0;
    text += Buffer.from(chunk).toString();
  }
  const events = text.split('\n\n').filter((e) => e.includes('data:'));
  for (const e of events) if (e.includes('"token"')) tokens++;
  assert.ok(tokens >= 4, `want one event per word, got ${tokens}: ${text.slice(0, 400)}`);
  assert.match(text, /stand-in answer to: what is silo/);
  bench(`egress: chat over HTTPS through the proxy: first byte ${firstMs} ms, ${tokens} tokens, whole ${Date.now() - t0} ms`);
  assert.match(consoleText(), /silo-model-standin: POST \/v1\/chat\/completions from /);
});

test('a client that ignores proxy settings (raw tls.connect to api.model.test:443) reaches the model through the guest DNS stub and the transparent path', async () => {
  const r = await invoke(agent, { action: 'chat_tls', host: 'api.model.test', prompt: 'raw tls' });
  assert.equal(r.status, 200);
  assert.equal(r.answer, 'stand-in answer to: raw tls');
  assert.match(r.remoteAddress, /^127\.(6[4-9]|[7-9]\d|1[0-2]\d)\./, `a synthetic 127.64.0.0/10 address, got ${r.remoteAddress}`);
});

test('the agent invokes a second runtime through silod with @aws-sdk/client-bedrock-agentcore and the credentials the host vended for its role (no credentials or endpoint in its code)', async () => {
  const r = await invoke(agent, { action: 'invoke', runtimeArn: echo.agentRuntimeArn, payload: { prompt: 'agent to agent' } });
  assert.equal(r.statusCode, 200);
  assert.equal(r.body.echo?.prompt, 'agent to agent', JSON.stringify(r));
  const lines = consoleText().split('\n').filter((l) => l.startsWith('silod: request') && l.includes(`from_session=${session}`));
  assert.ok(lines.length >= 1, 'silod records the session the in-guest API request came from');
  assert.ok(lines.some((l) => l.includes('principal=role:') || l.includes(ROLE)), `attributed to the role: ${lines.at(-1)}`);
});

test('refused targets fail fast with the reason (silod\'s own port, 169.254.169.254, a private address, a name resolving to loopback), silod logs each; an allow-listed private service is reached', async () => {
  const urls = {
    silod: 'http://api.model.test:8080/ping',
    metadata: 'http://169.254.169.254/latest/meta-data/',
    private: 'http://10.99.0.2:8081/hello',
    loopback: 'http://loopback.test:8081/hello',
    allowed: 'http://10.99.0.1:8081/hello',
  };
  const results = await invoke(agent, { action: 'probe', urls: Object.values(urls) });
  const by = Object.fromEntries(Object.keys(urls).map((k, i) => [k, results[i]]));
  for (const k of ['silod', 'metadata', 'private', 'loopback']) {
    assert.equal(by[k].status, 403, `${k}: ${JSON.stringify(by[k])}`);
    assert.match(by[k].body, /silo egress: .*rule/, `${k}: the reason is in the answer`);
    assert.ok(by[k].ms < 5000, `${k}: refused in ${by[k].ms} ms`);
  }
  assert.match(by.metadata.body, /link-local/);
  assert.match(by.private.body, /private/);
  assert.match(by.loopback.body, /loopback/);
  assert.equal(by.allowed.status, 200, JSON.stringify(by.allowed));
  assert.match(by.allowed.body, /hello from the allow-listed service/);
  const refused = consoleText().split('\n').filter((l) => l.startsWith('silod: egress refused') && l.includes(`session=${session}`));
  for (const t of ['api.model.test:8080', '169.254.169.254:80', '10.99.0.2:8081', 'loopback.test:8081'])
    assert.ok(refused.some((l) => l.includes(`target=${t}`) && l.includes('rule=')), `silod logged the refusal of ${t}`);
});

test(`${STREAMS} concurrent egress streams of ${STREAM_BYTES} bytes each arrive intact`, async () => {
  const r = await invoke(agent, { action: 'streams', url: `http://10.99.0.1:8081/bytes?n=${STREAM_BYTES}`, n: STREAMS, bytes: STREAM_BYTES });
  assert.equal(r.intact, STREAMS, JSON.stringify(r));
  bench(`egress: ${STREAMS} x ${STREAM_BYTES} B concurrent downloads through the proxy: ${r.ms} ms (${(r.bytes / 1048576 / (r.ms / 1000)).toFixed(1)} MiB/s)`);
});

test('stopping the session closes its egress connections, and its usage record counts the egress bytes', async () => {
  const held = await invoke(agent, { action: 'hold', url: 'http://10.99.0.1:8081/hold' });
  assert.equal(held.holding, 1);
  const before = (consoleText().match(/silo-model-standin: hold closed/g) ?? []).length;
  await data.send(new StopRuntimeSessionCommand({ agentRuntimeArn: agent.agentRuntimeArn, runtimeSessionId: session }));
  let closed = false, usage;
  for (let i = 0; i < 150 && !(closed && usage); i++) {
    const text = consoleText();
    closed = (text.match(/silo-model-standin: hold closed/g) ?? []).length > before;
    usage = text.split('\n').find((l) => l.startsWith('silod: usage') && l.includes(`session=${session}`));
    if (!(closed && usage)) await sleep(200);
  }
  assert.ok(closed, 'the stand-in saw the held connection close');
  assert.ok(usage, 'a usage record was logged');
  const egressIn = Number(/egress_in=(\d+)/.exec(usage)?.[1]);
  const egressOut = Number(/egress_out=(\d+)/.exec(usage)?.[1]);
  assert.ok(egressIn >= STREAMS * STREAM_BYTES, `egress_in ${egressIn} counts the downloads: ${usage}`);
  assert.ok(egressOut > 0, `egress_out ${egressOut}`);
});
