// tests/frontend/sdk/devhost.e2e.mjs — end-to-end tests of the REAL path: silod, the real
// silo-vmm and the sample agent images (tests/agents) run inside the dev host (an emulated arm64
// KVM host); this file runs on this machine and reaches silod through the dev host's forwarded
// port with the real @aws-sdk/client-bedrock-agentcore and @modelcontextprotocol/sdk clients.
// Run by tests/host/silod_devhost.sh only (it is not a *.test.mjs, so frontend_sdk.sh, which
// drives silod against the fake VMM, does not pick it up).
//
// The image builder is the REAL one (silod-build-image): every runtime here comes from an OCI
// archive (builder/oci-archive.sh, `make devhost-oci-images`) in the dev host's local image
// store (/silo/extra/oci-store) or under /silo/extra/oci, built and boot-checked inside the dev
// host before it is READY (the Node MCP server too, whose boot check waits for GET /mcp).
//
// "Which microVM answered" is the c-echo agent's vm_id (agentd's /run/silo/vm-id: a random UUID
// made at boot and again when a microVM is restored from its version's template, whose kernel
// boot_id is the template's): a fresh microVM has a fresh one. The side channel (SILO_SIDE_PORT,
// tests/frontend/devhost/control.sh) can SIGKILL the newest silo-vmm inside the dev host.
// Figures are written to $SILO_TEST_DIR/bench.txt for the script to print as `# bench:` lines.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { appendFileSync, readFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import {
  InvokeAgentRuntimeCommand, StopRuntimeSessionCommand, ResourceNotFoundException, RuntimeClientError,
} from '@aws-sdk/client-bedrock-agentcore';
import {
  CreateAgentRuntimeCommand, GetAgentRuntimeCommand, UpdateAgentRuntimeCommand, DeleteAgentRuntimeCommand,
  CreateAgentRuntimeEndpointCommand, GetAgentRuntimeEndpointCommand,
} from '@aws-sdk/client-bedrock-agentcore-control';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  data, control, baseRuntime, uniqueName, sessionId, invokeUrl, signedFetch, sleep, testDir,
} from './lib.mjs';

const IDLE_TIMEOUT_S = 60;                    // the minimum AgentCore (and silod) accepts
const BIG = Number(process.env.SILO_BIG_BYTES ?? 100 * 1024 * 1024);
// a name in the dev host's local image store (an OCI archive, built by the real builder)
const uri = (name) => `silo.local/agents/${name}:latest`;
const BUILD_TIMEOUT_MS = 240000;                        // build + boot check under TCG, with margin
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
let idleProbe, controlProbe, busyProbe;      // { sid, boot, at } on the idle / default / idle runtime

const invokeOn = (rt, body, extra = {}) => data.send(new InvokeAgentRuntimeCommand({
  agentRuntimeArn: rt.agentRuntimeArn, qualifier: 'DEFAULT',
  payload: typeof body === 'string' ? Buffer.from(body) : body, ...extra,
}));

/** An echo invocation: the parsed answer, plus ms to the answer's first byte. */
async function echo(rt, sid, prompt = 'hello', extra = {}) {
  const t0 = performance.now();
  const r = await invokeOn(rt, JSON.stringify({ prompt }), { runtimeSessionId: sid, contentType: 'application/json', ...extra });
  assert.equal(r.statusCode, 200);
  let text = '', firstByteMs;
  for await (const piece of r.response) {
    firstByteMs ??= performance.now() - t0;
    text += Buffer.from(piece).toString();
  }
  const out = JSON.parse(text);
  return { ...out, firstByteMs, totalMs: performance.now() - t0, sessionOut: r.runtimeSessionId };
}

const settled = (g) => ['READY', 'CREATE_FAILED', 'UPDATE_FAILED'].includes(g.status);

/** Polls GetAgentRuntime (optionally one version) until pred holds. */
async function waitRuntime(agentRuntimeId, pred, what, agentRuntimeVersion) {
  const t0 = Date.now();
  let last;
  while (Date.now() - t0 < BUILD_TIMEOUT_MS) {
    last = await control.send(new GetAgentRuntimeCommand({ agentRuntimeId, agentRuntimeVersion }));
    if (pred(last)) return last;
    await sleep(250);
  }
  throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify({
    status: last?.status, version: last?.agentRuntimeVersion, failureReason: last?.failureReason })}`);
}

/** Creates a runtime; waits until the real builder settled it, which must be READY. */
async function readyRuntime(base, extra = {}) {
  const t0 = performance.now();
  const c = await control.send(new CreateAgentRuntimeCommand(baseRuntime(uniqueName(base), extra)));
  const g = await waitRuntime(c.agentRuntimeId, settled, `runtime ${c.agentRuntimeId} built`);
  assert.equal(g.status, 'READY', `runtime ${c.agentRuntimeId}: ${g.failureReason}`);
  bench(`real image builder: ${base} (${extra.agentRuntimeArtifact.containerConfiguration.containerUri}) CreateAgentRuntime -> READY ${((performance.now() - t0) / 1000).toFixed(1)} s (built beside the other set-up runtimes)`);
  return g;
}

/** The builder's closing line for a version, as silod logged it (dev host console), or null. */
function builderReady(id, version) {
  const log = readFileSync(`${testDir}/console.log`, 'latin1');
  const m = log.match(new RegExp(`silod: build ${id} v${version}: silod-build-image: ${id} v${version} ready: ` +
    'build ([0-9.]+) s, boot check ([0-9.]+) s'));
  return m && { build: Number(m[1]), boot: Number(m[2]) };
}
async function builderReadyEventually(id, version) {
  for (let i = 0; i < 40 && !builderReady(id, version); i++) await sleep(250);   // the console lags a little
  return builderReady(id, version);
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
  idleProbe = { sid: i, boot: ia.vm_id, at: Date.now() };
  controlProbe = { sid: c, boot: ca.vm_id };
  // a session of the short-timeout runtime whose agent stays busy in the background (/ping
  // HealthyBusy) with no request in flight, for longer than the idle timeout — and for longer
  // than the whole suite takes on a loaded machine (30 min), so the busy window cannot end
  // before the last test looks (SIGTERM at the end stops it)
  const b = sessionId();
  const ba = await echo(idleRt, b);
  const bg = await invokeOn(idleRt, JSON.stringify({ action: 'background', ms: 1800 * 1000 }),
    { runtimeSessionId: b, contentType: 'application/json' });
  let bgText = '';
  for await (const piece of bg.response) bgText += Buffer.from(piece).toString();
  assert.match(bgText, /"background_ms"/);
  busyProbe = { sid: b, boot: ba.vm_id };
});

test('InvokeAgentRuntime (AWS SDK) answers from the C agent in a fresh microVM; cold start to first byte', async () => {
  const cold = [];
  for (let k = 0; k < 3; k++) {
    const sid = sessionId();
    const a = await echo(echoRt, sid, `cold ${k}`);
    assert.deepEqual(a.echo, { prompt: `cold ${k}` });
    assert.equal(a.session, sid, 'the agent saw the session id');
    assert.equal(a.sessionOut, sid);
    assert.match(a.vm_id, uuid);
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
  assert.notEqual(a1.vm_id, b1.vm_id, 'two sessions, two guest kernels');
  assert.equal(a2.vm_id, a1.vm_id);
  assert.equal(a3.vm_id, a1.vm_id);
  assert.equal(b2.vm_id, b1.vm_id);
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
  assert.notEqual(after1.vm_id, before1.vm_id);
  // metering: the stopped session's usage record, with the vCPU time read from the real
  // silo-vmm's vCPU threads just before it stopped, its peak memory and its wall time
  let rec;
  for (let k = 0; k < 40 && !rec; k++) {
    rec = readFileSync(`${testDir}/console.log`, 'latin1').match(new RegExp(
      `silod: usage session=${sid} runtime=${echoRt.agentRuntimeId} version=1 reason=stopped wall_ms=(\\d+) vcpu_ms=(\\d+) vcpu_measured=1 mem_peak_kib=(\\d+) guest_mib=(\\d+)`));
    if (!rec) await sleep(250);
  }
  assert.ok(rec, 'a usage record with measured vCPU time for the stopped session');
  const [wallMs, vcpuMs, peakKib] = rec.slice(1, 4).map(Number);
  assert.ok(vcpuMs > 0 && vcpuMs <= wallMs * 2, `vcpu_ms ${vcpuMs} within (0, wall ${wallMs} x 2 vCPUs]`);
  assert.ok(peakKib > 1024, `peak memory ${peakKib} KiB`);
  bench(`metering: a stopped session's record: wall ${wallMs} ms, active vCPU ${vcpuMs} ms, VMM peak RSS ${peakKib} KiB`);
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
  assert.notEqual(a.vm_id, b.vm_id);
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
  assert.notEqual(a.vm_id, b.vm_id, 'a fresh microVM');
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

// ------------------------------------------------------------------ the real image builder
const tag1 = `v1-${randomBytes(4).toString('hex')}`, tag2 = `v2-${randomBytes(4).toString('hex')}`;
let imgRt;                     // the runtime built from the OCI archive
let preUpdate;                 // { sid, boot }: a session started on version 1 before the update
const imgSessions = [];        // its other sessions (ended by DeleteAgentRuntime)

test('real image builder: CreateAgentRuntime from an OCI archive stays CREATING until the image is built and boot-checked, then READY; DEFAULT answers from it with the version\'s environment', { timeout: 300000 }, async () => {
  const t0 = performance.now();
  const c = await control.send(new CreateAgentRuntimeCommand(baseRuntime(uniqueName('devhost_oci'), {
    agentRuntimeArtifact: { containerConfiguration: { containerUri: '/silo/extra/oci/c-echo.tar' } },
    environmentVariables: { ECHO_TAG: tag1 },
  })));
  assert.equal(c.status, 'CREATING');
  assert.equal(builderReady(c.agentRuntimeId, 1), null, 'no boot check has passed yet');
  const g = await waitRuntime(c.agentRuntimeId, settled, 'version 1 built');
  const readyS = (performance.now() - t0) / 1000;
  assert.equal(g.status, 'READY', g.failureReason);
  const line = await builderReadyEventually(c.agentRuntimeId, 1);
  assert.ok(line, 'silod logged the builder\'s "ready" line (image built, VM booted, agent answered /ping)');
  assert.deepEqual(g.environmentVariables, { ECHO_TAG: tag1 });
  imgRt = g;
  const sid = sessionId();
  const a = await echo(imgRt, sid);
  assert.equal(a.echo_tag, tag1, 'the agent sees the version\'s environment variable');
  assert.equal(a.session, sid);
  assert.match(a.vm_id, uuid);
  preUpdate = { sid, boot: a.vm_id };
  bench(`real image builder: CreateAgentRuntime (OCI archive of the C agent) -> READY ${readyS.toFixed(1)} s from x86 (inside the dev host: silo-image build ${line.build} s, boot check ${line.boot} s)`);
});

test('real image builder: UpdateAgentRuntime with another ECHO_TAG builds v2 while the v1 session keeps answering; then DEFAULT\'s new sessions see v2, an endpoint pinned to v1 sees v1, and the session started before the update stays on v1', { timeout: 300000 }, async () => {
  assert.ok(imgRt, 'the runtime of the previous test');
  const id = imgRt.agentRuntimeId;
  const t0 = performance.now();
  const u = await control.send(new UpdateAgentRuntimeCommand({
    agentRuntimeId: id,
    // the same image, now by name from the local image store
    agentRuntimeArtifact: { containerConfiguration: { containerUri: uri('c-echo') } },
    roleArn: imgRt.roleArn, networkConfiguration: { networkMode: 'PUBLIC' },
    environmentVariables: { ECHO_TAG: tag2 },
  }));
  assert.equal(u.agentRuntimeVersion, '2');
  assert.equal(u.status, 'UPDATING');
  const during = await echo(imgRt, preUpdate.sid, 'during the update');
  assert.equal(during.echo_tag, tag1);
  assert.equal(during.vm_id, preUpdate.boot, 'the v1 session keeps its microVM while v2 builds');
  const g = await waitRuntime(id, (x) => x.agentRuntimeVersion === '2' && settled(x), 'version 2 built');
  const readyS = (performance.now() - t0) / 1000;
  assert.equal(g.status, 'READY', g.failureReason);
  const line = await builderReadyEventually(id, 2);
  assert.ok(line, 'v2 passed its boot check');
  assert.deepEqual(g.environmentVariables, { ECHO_TAG: tag2 });
  const v1 = await control.send(new GetAgentRuntimeCommand({ agentRuntimeId: id, agentRuntimeVersion: '1' }));
  assert.deepEqual(v1.environmentVariables, { ECHO_TAG: tag1 }, 'version 1 is unchanged (immutable)');

  await control.send(new CreateAgentRuntimeEndpointCommand({ agentRuntimeId: id, name: 'pinned', agentRuntimeVersion: '1' }));
  let ep;
  for (let i = 0; i < 120; i++) {
    ep = await control.send(new GetAgentRuntimeEndpointCommand({ agentRuntimeId: id, endpointName: 'pinned' }));
    if (ep.status === 'READY') break;
    await sleep(250);
  }
  assert.equal(ep.status, 'READY');
  assert.equal(ep.liveVersion, '1');

  const fresh = sessionId(), pinned = sessionId();
  const a = await echo(imgRt, fresh);
  assert.equal(a.echo_tag, tag2, 'a new DEFAULT session runs v2');
  const p = await echo(imgRt, pinned, 'pinned', { qualifier: 'pinned' });
  assert.equal(p.echo_tag, tag1, 'a new session of the endpoint pinned to v1 runs v1');
  assert.notEqual(p.vm_id, a.vm_id);
  const old = await echo(imgRt, preUpdate.sid, 'after the update');
  assert.equal(old.echo_tag, tag1, 'the session started before the update still runs v1');
  assert.equal(old.vm_id, preUpdate.boot, 'in the same microVM (zero downtime)');
  imgSessions.push(fresh, pinned);
  bench(`real image builder: UpdateAgentRuntime (new ECHO_TAG) -> v2 READY ${readyS.toFixed(1)} s from x86 (inside: build ${line.build} s, boot check ${line.boot} s)`);
});

test('real image builder: a broken image fails its version with a failureReason: a name missing from the local store -> CREATE_FAILED; an agent that exits at once -> UPDATE_FAILED, and DEFAULT keeps serving v2', { timeout: 300000 }, async () => {
  assert.ok(imgRt, 'the runtime of the previous tests');
  const c = await control.send(new CreateAgentRuntimeCommand(baseRuntime(uniqueName('devhost_missing'), {
    agentRuntimeArtifact: { containerConfiguration: { containerUri: uri('no-such-agent') } },
  })));
  const f = await waitRuntime(c.agentRuntimeId, settled, 'the missing image settled');
  assert.equal(f.status, 'CREATE_FAILED');
  assert.match(f.failureReason, /^image build failed: no such image 'silo\.local\/agents\/no-such-agent:latest' in the local image store/);
  await control.send(new DeleteAgentRuntimeCommand({ agentRuntimeId: c.agentRuntimeId }));

  const id = imgRt.agentRuntimeId;
  const u = await control.send(new UpdateAgentRuntimeCommand({
    agentRuntimeId: id,
    agentRuntimeArtifact: { containerConfiguration: { containerUri: uri('c-echo-exits') } },
    roleArn: imgRt.roleArn, networkConfiguration: { networkMode: 'PUBLIC' },
    environmentVariables: { ECHO_TAG: 'v3-broken' },
  }));
  assert.equal(u.agentRuntimeVersion, '3');
  const v3 = await waitRuntime(id, settled, 'version 3 settled', '3');
  assert.equal(v3.status, 'UPDATE_FAILED');
  assert.equal(v3.failureReason, 'image did not become ready: the agent exited with status 3');
  assert.equal(builderReady(id, 3), null, 'no "ready" line for v3');
  const sid = sessionId();
  const a = await echo(imgRt, sid);
  assert.equal(a.echo_tag, tag2, 'DEFAULT still serves v2, the last READY version');
  imgSessions.push(sid);
});

test('real image builder: DeleteAgentRuntime ends the runtime\'s sessions (their microVMs stop; the session ids are gone)', { timeout: 120000 }, async () => {
  assert.ok(imgRt, 'the runtime of the previous tests');
  const id = imgRt.agentRuntimeId;
  const count = async () => Number((await side(`count-vmms-of ${id}`)).split(' ')[1]);
  const before = await count();
  assert.equal(before, 1 + imgSessions.length, 'one microVM per session of this runtime (v1, v2, pinned v1, v2)');
  await control.send(new DeleteAgentRuntimeCommand({ agentRuntimeId: id }));
  let after = before;
  for (let i = 0; i < 120 && after > 0; i++) { await sleep(250); after = await count(); }
  assert.equal(after, 0, 'no silo-vmm of the deleted runtime is left');
  await assert.rejects(echo(imgRt, preUpdate.sid), (e) => e instanceof ResourceNotFoundException);
});

test(`idle expiry: a session idle ${IDLE_TIMEOUT_S} s is terminated and the next request boots fresh (a default-timeout session idle as long keeps its microVM)`, { timeout: 200000 }, async () => {
  const wait = idleProbe.at + (IDLE_TIMEOUT_S + 3) * 1000 - Date.now();
  if (wait > 0) await sleep(wait);
  // the reaper ended it already (not this request): silod no longer knows the session
  await assert.rejects(stop(idleRt, idleProbe.sid), (e) => e instanceof ResourceNotFoundException,
    'StopRuntimeSession of the expired session is ResourceNotFound');
  const i = await echo(idleRt, idleProbe.sid);
  const c = await echo(echoRt, controlProbe.sid);
  const b = await echo(idleRt, busyProbe.sid);
  assert.notEqual(i.vm_id, idleProbe.boot, 'the idle session got a fresh microVM');
  assert.equal(c.vm_id, controlProbe.boot, 'the 900 s session kept its microVM');
  assert.equal(b.vm_id, busyProbe.boot, 'the session whose agent reported HealthyBusy on /ping kept its microVM past the idle timeout');
  // the expired session's usage record says why it ended
  assert.match(readFileSync(`${testDir}/console.log`, 'latin1'),
    new RegExp(`silod: usage session=${idleProbe.sid} runtime=${idleRt.agentRuntimeId} version=1 reason=idle `));
  // both sessions stay up: tests/host/silod_devhost.sh then checks SIGTERM stops their VMMs
});

