// tests/frontend/sdk/devhost.e2e.mjs — end-to-end tests of the REAL path: silod, the real
// silo-vmm and the sample agent images (tests/agents) run inside the dev host (an emulated arm64
// KVM host); this file runs on this machine and reaches silod through the dev host's forwarded
// port with the real @aws-sdk/client-bedrock-agentcore and @modelcontextprotocol/sdk clients.
// Run by tests/host/silod_devhost.sh only (it is not a *.test.mjs, so frontend_sdk.sh, which
// drives silod against the fake VMM, does not pick it up).
//
// "Which microVM answered" is the c-echo agent's boot_id (/proc/sys/kernel/random/boot_id of the
// guest kernel it runs on): a fresh microVM has a fresh one. The side channel (SILO_SIDE_PORT,
// tests/frontend/devhost/control.sh) can SIGKILL the newest silo-vmm inside the dev host.
// Figures are written to $SILO_TEST_DIR/bench.txt for the script to print as `# bench:` lines.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { appendFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import {
  InvokeAgentRuntimeCommand, StopRuntimeSessionCommand, ResourceNotFoundException, RuntimeClientError,
} from '@aws-sdk/client-bedrock-agentcore';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { data, readyRuntime, sessionId, invokeUrl, signedFetch, sleep, testDir } from './lib.mjs';

const IDLE_TIMEOUT_S = 60;                    // the minimum AgentCore (and silod) accepts
const BIG = Number(process.env.SILO_BIG_BYTES ?? 100 * 1024 * 1024);
const uri = (name) => `silo.local/agents/${name}:latest`;   // tests/frontend/devhost/image-builder.sh
const bench = (line) => appendFileSync(`${testDir}/bench.txt`, `${line}\n`);

/** One verb to the dev host's side channel; retried while nc restarts its listener. */
async function side(verb) {
  for (let i = 0; i < 50; i++) {
    const answer = await new Promise((resolve) => {
      let text = '';
      const s = netConnect(Number(process.env.SILO_SIDE_PORT), '127.0.0.1');
      s.on('connect', () => s.write(`${verb}\n`));
      s.on('data', (d) => { text += d; });
      s.on('close', () => resolve(text.trim()));
      s.on('error', () => resolve(''));
      s.setTimeout(30000, () => s.destroy());
    });
    if (answer) return answer;
    await sleep(200);
  }
  throw new Error(`side channel: no answer to ${verb}`);
}

/** FNV-1a 32-bit, as tests/agents/c-echo/agent.c computes it. */
function fnv1a32(h, buf) {
  for (let i = 0; i < buf.length; i++) h = Math.imul(h ^ buf[i], 16777619) >>> 0;
  return h >>> 0;
}
const hex8 = (h) => h.toString(16).padStart(8, '0');

let echoRt, idleRt, mcpRt;
let idleProbe, controlProbe;                  // { sid, boot, at } on the idle / default runtime

const invokeOn = (rt, body, extra = {}) => data.send(new InvokeAgentRuntimeCommand({
  agentRuntimeArn: rt.agentRuntimeArn, qualifier: 'DEFAULT',
  payload: typeof body === 'string' ? Buffer.from(body) : body, ...extra,
}));

/** An echo invocation: the parsed answer, plus ms to the answer's first byte. */
async function echo(rt, sid, prompt = 'hello') {
  const t0 = performance.now();
  const r = await invokeOn(rt, JSON.stringify({ prompt }), { runtimeSessionId: sid, contentType: 'application/json' });
  assert.equal(r.statusCode, 200);
  let text = '', firstByteMs;
  for await (const piece of r.response) {
    firstByteMs ??= performance.now() - t0;
    text += Buffer.from(piece).toString();
  }
  const out = JSON.parse(text);
  return { ...out, firstByteMs, totalMs: performance.now() - t0, sessionOut: r.runtimeSessionId };
}

const stop = (rt, sid) => data.send(new StopRuntimeSessionCommand({
  agentRuntimeArn: rt.agentRuntimeArn, qualifier: 'DEFAULT', runtimeSessionId: sid,
}));

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

before(async () => {
  [echoRt, idleRt, mcpRt] = await Promise.all([
    readyRuntime('devhost_echo', { agentRuntimeArtifact: { containerConfiguration: { containerUri: uri('c-echo') } } }),
    readyRuntime('devhost_idle', {
      agentRuntimeArtifact: { containerConfiguration: { containerUri: uri('c-echo') } },
      lifecycleConfiguration: { idleRuntimeSessionTimeout: IDLE_TIMEOUT_S, maxLifetime: 3600 },
    }),
    readyRuntime('devhost_mcp', {
      agentRuntimeArtifact: { containerConfiguration: { containerUri: uri('mcp-server') } },
      protocolConfiguration: { serverProtocol: 'MCP' },
    }),
  ]);
  // the idle-expiry probes start now and are checked by the last test, IDLE_TIMEOUT_S later
  const [i, c] = [sessionId(), sessionId()];
  const [ia, ca] = [await echo(idleRt, i), await echo(echoRt, c)];
  idleProbe = { sid: i, boot: ia.boot_id, at: Date.now() };
  controlProbe = { sid: c, boot: ca.boot_id };
});

test('InvokeAgentRuntime (AWS SDK) answers from the C agent in a fresh microVM; cold start to first byte', async () => {
  const cold = [];
  for (let k = 0; k < 3; k++) {
    const sid = sessionId();
    const a = await echo(echoRt, sid, `cold ${k}`);
    assert.deepEqual(a.echo, { prompt: `cold ${k}` });
    assert.equal(a.session, sid, 'the agent saw the session id');
    assert.equal(a.sessionOut, sid);
    assert.match(a.boot_id, uuid);
    cold.push(a.firstByteMs);
    const warm = [];
    for (let w = 0; w < 5; w++) warm.push((await echo(echoRt, sid, 'warm')).firstByteMs);
    if (k === 0) bench(`silod warm invocation (same session) first byte: median ${median(warm).toFixed(0)} ms of 5 (${warm.map((x) => x.toFixed(0)).join(', ')})`);
    await stop(echoRt, sid);
  }
  bench(`silod cold invocation (new session id -> first byte, AWS SDK from x86 through the forwarded port): median ${median(cold).toFixed(0)} ms of 3 (${cold.map((x) => x.toFixed(0)).join(', ')})`);
});

test('two session ids get two different microVMs; the same id reuses one', async () => {
  const a = sessionId(), b = sessionId();
  const [a1, b1] = await Promise.all([echo(echoRt, a), echo(echoRt, b)]);
  const a2 = await echo(echoRt, a), a3 = await echo(echoRt, a), b2 = await echo(echoRt, b);
  assert.notEqual(a1.boot_id, b1.boot_id, 'two sessions, two guest kernels');
  assert.equal(a2.boot_id, a1.boot_id);
  assert.equal(a3.boot_id, a1.boot_id);
  assert.equal(b2.boot_id, b1.boot_id);
  await Promise.all([stop(echoRt, a), stop(echoRt, b)]);
});

test('an SSE answer arrives event by event while the agent is still sending', async () => {
  const sid = sessionId();
  await echo(echoRt, sid);                         // boot first: time only the stream
  const n = 5, gap = 400;
  const r = await invokeOn(echoRt, JSON.stringify({ action: 'stream', prompt: 'tick', n, gap_ms: gap }),
    { runtimeSessionId: sid, contentType: 'application/json', accept: 'text/event-stream' });
  assert.equal(r.contentType, 'text/event-stream');
  const arrivals = [];
  let text = '';
  for await (const piece of r.response) {
    text += Buffer.from(piece).toString();
    arrivals.push([performance.now(), (text.match(/\n\n/g) ?? []).length]);
  }
  const events = text.split('\n\n').filter(Boolean);
  assert.equal(events.length, n + 1, text);
  assert.equal(events[2], 'data: {"index":2,"text":"tick 2"}');
  assert.equal(events[n], 'data: {"done":true}');
  const first = arrivals.find(([, k]) => k >= 1)[0], last = arrivals.find(([, k]) => k >= n + 1)[0];
  assert.ok(last - first >= (n - 1) * gap * 0.75,
    `first and last event arrived ${(last - first).toFixed(0)} ms apart (sent ${n * gap} ms apart)`);
  assert.ok(new Set(arrivals.map(([, k]) => k)).size >= n, 'the events came in separate pieces');
  await stop(echoRt, sid);
});

test('StopRuntimeSession ends the session (its microVM too); the next call boots a fresh one', async () => {
  const sid = sessionId();
  const before1 = await echo(echoRt, sid);
  const vmmsBefore = Number((await side('count-vmms')).split(' ')[1]);
  const s = await stop(echoRt, sid);
  assert.equal(s.$metadata.httpStatusCode, 200);
  assert.equal(s.runtimeSessionId, sid);
  const vmmsAfter = Number((await side('count-vmms')).split(' ')[1]);
  assert.equal(vmmsAfter, vmmsBefore - 1, 'one silo-vmm process fewer in the dev host');
  const after1 = await echo(echoRt, sid);
  assert.notEqual(after1.boot_id, before1.boot_id);
  await stop(echoRt, sid);
  await assert.rejects(stop(echoRt, sessionId()), (e) => e instanceof ResourceNotFoundException);
});

test('StopRuntimeSession stops a stream in flight', async () => {
  const sid = sessionId();
  const r = await invokeOn(echoRt, JSON.stringify({ action: 'stream', prompt: 'long', n: 300, gap_ms: 100 }),
    { runtimeSessionId: sid, contentType: 'application/json', accept: 'text/event-stream' });
  const it = r.response[Symbol.asyncIterator]();
  const first = await it.next();
  assert.match(Buffer.from(first.value).toString(), /^data: \{"index":0/);
  const t0 = performance.now();
  await stop(echoRt, sid);
  let text = '';
  try {
    for (;;) {
      const x = await it.next();
      if (x.done) break;
      text += Buffer.from(x.value).toString();
    }
  } catch { /* an aborted stream is an acceptable end too */ }
  assert.ok((text.match(/\n\n/g) ?? []).length < 150, 'the stream stopped');
  assert.ok(performance.now() - t0 < 10000, `the stream ended ${(performance.now() - t0).toFixed(0)} ms after the stop`);
});

test('an agent that crashes gives RuntimeClientError 424; the same session id then boots fresh', async () => {
  const sid = sessionId();
  const b = await echo(echoRt, sid);
  await assert.rejects(invokeOn(echoRt, JSON.stringify({ action: 'crash' }), { runtimeSessionId: sid }),
    (e) => e instanceof RuntimeClientError && e.$metadata.httpStatusCode === 424);
  const a = await echo(echoRt, sid);
  assert.notEqual(a.boot_id, b.boot_id);
  await stop(echoRt, sid);
});

test('a killed silo-vmm fails the invocation in flight (424/500); the same session id then recovers', async () => {
  const sid = sessionId();
  const b = await echo(echoRt, sid);               // the newest silo-vmm is this session's now
  const slow = invokeOn(echoRt, JSON.stringify({ action: 'slow', ms: 30000 }), { runtimeSessionId: sid })
    .then(async (r) => ({ status: r.statusCode, body: await r.response.transformToString() }),
      (e) => ({ status: e.$metadata?.httpStatusCode, name: e.name }));
  await sleep(1500);
  assert.match(await side('kill-newest-vmm'), /^killed \d+$/);
  const t0 = performance.now();
  const res = await slow;
  assert.ok([424, 500].includes(res.status), `the in-flight invocation got ${JSON.stringify(res)}`);
  assert.ok(performance.now() - t0 < 10000, 'and promptly, not after the agent\'s 30 s');
  const a = await echo(echoRt, sid);
  assert.notEqual(a.boot_id, b.boot_id, 'a fresh microVM');
  await stop(echoRt, sid);
});

test(`a ${BIG} byte payload goes up and ${BIG} bytes come back, both checked (FNV-1a)`, { timeout: 600000 }, async () => {
  const sid = sessionId();
  await echo(echoRt, sid);
  const big = randomBytes(BIG);
  let t0 = performance.now();
  const up = await invokeOn(echoRt, big, { runtimeSessionId: sid, contentType: 'application/octet-stream' });
  const upAnswer = JSON.parse(await up.response.transformToString());
  const upS = (performance.now() - t0) / 1000;
  assert.deepEqual(upAnswer, { bytes: BIG, fnv1a32: hex8(fnv1a32(2166136261, big)) });
  const seed = 12345;
  t0 = performance.now();
  const down = await invokeOn(echoRt, JSON.stringify({ action: 'blob', bytes: BIG, seed }), { runtimeSessionId: sid });
  let n = 0, got = 2166136261;
  for await (const piece of down.response) { got = fnv1a32(got, piece); n += piece.length; }
  const downS = (performance.now() - t0) / 1000;
  let x = seed, want = 2166136261;                 // the agent's xorshift32 stream, recomputed
  const chunk = Buffer.alloc(65536);
  for (let left = BIG; left > 0; left -= chunk.length) {
    const k = Math.min(left, chunk.length);
    for (let i = 0; i < k; i++) { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; chunk[i] = x & 255; }
    want = fnv1a32(want, chunk.subarray(0, k));
  }
  assert.equal(n, BIG);
  assert.equal(hex8(got), hex8(want));
  bench(`silod ${(BIG / 1048576).toFixed(0)} MiB payload: up ${upS.toFixed(1)} s (${(BIG / 1048576 / upS).toFixed(1)} MiB/s), down ${downS.toFixed(1)} s (${(BIG / 1048576 / downS).toFixed(1)} MiB/s)`);
  await stop(echoRt, sid);
});

test('MCP: the MCP SDK client lists and calls the sample server\'s tools through the invoke path', { timeout: 300000 }, async () => {
  const t0 = performance.now();
  const transport = new StreamableHTTPClientTransport(new URL(invokeUrl(mcpRt.agentRuntimeArn)), { fetch: signedFetch });
  const client = new Client({ name: 'silo-devhost-test', version: '1.0.0' });
  await client.connect(transport);
  try {
    const coldS = (performance.now() - t0) / 1000;
    assert.equal(client.getServerVersion()?.name, 'silo-sample-mcp');
    assert.match(transport.sessionId ?? '', uuid, 'silod handed out the Mcp-Session-Id');
    const tools = (await client.listTools()).tools.map((t) => t.name).sort();
    assert.deepEqual(tools, ['add', 'echo', 'sha256']);
    const sum = await client.callTool({ name: 'add', arguments: { a: 20, b: 22 } });
    assert.equal(sum.content[0].text, '42');
    const h = await client.callTool({ name: 'sha256', arguments: { text: 'silo' } });
    assert.equal(h.content[0].text, createHash('sha256').update('silo').digest('hex'));
    bench(`silod MCP cold connect (Node MCP server image, initialize through a new microVM): ${coldS.toFixed(1)} s`);
  } finally {
    await client.close().catch(() => {});
    if (transport.sessionId) await stop(mcpRt, transport.sessionId).catch(() => {});
  }
});

test(`idle expiry: a session idle ${IDLE_TIMEOUT_S} s is terminated and the next request boots fresh (a default-timeout session idle as long keeps its microVM)`, { timeout: 200000 }, async () => {
  const wait = idleProbe.at + (IDLE_TIMEOUT_S + 3) * 1000 - Date.now();
  if (wait > 0) await sleep(wait);
  // the reaper ended it already (not this request): silod no longer knows the session
  await assert.rejects(stop(idleRt, idleProbe.sid), (e) => e instanceof ResourceNotFoundException,
    'StopRuntimeSession of the expired session is ResourceNotFound');
  const i = await echo(idleRt, idleProbe.sid);
  const c = await echo(echoRt, controlProbe.sid);
  assert.notEqual(i.boot_id, idleProbe.boot, 'the idle session got a fresh microVM');
  assert.equal(c.boot_id, controlProbe.boot, 'the 900 s session kept its microVM');
  // both sessions stay up: tests/host/silod_devhost.sh then checks SIGTERM stops their VMMs
});

