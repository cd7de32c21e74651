// tests/frontend/sdk/command.test.mjs — InvokeAgentRuntimeCommand with the real AWS SDK client
// (@aws-sdk/client-bedrock-agentcore decodes silod's AWS event stream itself): stdout, stderr and
// the exit code, the timeout, output split mid-character and not UTF-8, a large output, the
// session shared with InvokeAgentRuntime, a client that goes away, validation and refusal. The
// "guest" is tests/frontend/fake_vmm.c, which serves EXEC with agentd's own command_exec.c, so
// the commands really run (on this machine, not in a microVM).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import {
  BedrockAgentCoreClient, InvokeAgentRuntimeCommandCommand, InvokeAgentRuntimeCommand,
  AccessDeniedException, ValidationException, ResourceNotFoundException,
} from '@aws-sdk/client-bedrock-agentcore';
import {
  BedrockAgentCoreControlClient, CreateAgentRuntimeCommand, GetAgentRuntimeCommand, DeleteAgentRuntimeCommand,
} from '@aws-sdk/client-bedrock-agentcore-control';
import {
  control, data, readyRuntime, sessionId, testDir, sleep, endpoint, signedFetch, credentials, region,
  baseRuntime, uniqueName, waitFor,
} from './lib.mjs';

let rt, refused;
before(async () => {
  rt = await readyRuntime('command');
  refused = await readyRuntime('command_off', { environmentVariables: { SILO_COMMANDS: 'disabled' } });
});
after(async () => {
  for (const r of [rt, refused])
    await control.send(new DeleteAgentRuntimeCommand({ agentRuntimeId: r.agentRuntimeId })).catch(() => {});
});

const send = (command, extra = {}, runtime = rt) => data.send(new InvokeAgentRuntimeCommandCommand({
  agentRuntimeArn: runtime.agentRuntimeArn, qualifier: 'DEFAULT', body: { command, ...extra.body }, ...extra.input,
}), extra.options);

/** Runs a command and reads the whole stream through the SDK's own decoder. */
async function run(command, extra = {}) {
  const r = await send(command, extra);
  const events = [];
  let stdout = '', stderr = '', stop;
  for await (const ev of r.stream) {
    assert.ok(ev.chunk, `every event is a chunk: ${JSON.stringify(ev)}`);
    const kinds = Object.keys(ev.chunk).filter((k) => ev.chunk[k] !== undefined);
    assert.equal(kinds.length, 1, 'exactly one member per chunk');
    events.push(kinds[0]);
    if (ev.chunk.contentDelta) {
      stdout += ev.chunk.contentDelta.stdout ?? '';
      stderr += ev.chunk.contentDelta.stderr ?? '';
    }
    if (ev.chunk.contentStop) stop = ev.chunk.contentStop;
  }
  return { r, events, stdout, stderr, stop };
}

test('command: stdout, stderr and the exit code come back in an event stream the SDK decodes', async () => {
  const sid = sessionId();
  const { r, events, stdout, stderr, stop } = await run('echo hi; echo err >&2; exit 3',
    { input: { runtimeSessionId: sid, traceId: 'Root=1-cmd' } });
  assert.equal(r.$metadata.httpStatusCode, 200);
  assert.equal(r.contentType, 'application/vnd.amazon.eventstream');
  assert.equal(r.runtimeSessionId, sid);
  assert.equal(r.traceId, 'Root=1-cmd');
  assert.equal(events[0], 'contentStart', 'the first chunk is contentStart');
  assert.equal(events.at(-1), 'contentStop', 'the last chunk is contentStop');
  assert.equal(stdout, 'hi\n');
  assert.equal(stderr, 'err\n');
  assert.deepEqual(stop, { exitCode: 3, status: 'COMPLETED' });
});

test('command: a command over its timeout is ended (TIMED_OUT, its output so far delivered)', async () => {
  const t0 = Date.now();
  const { stdout, stop } = await run('echo started; sleep 60; echo never', { body: { timeout: 1 } });
  const ms = Date.now() - t0;
  assert.equal(stdout, 'started\n');
  assert.equal(stop.status, 'TIMED_OUT');
  assert.equal(stop.exitCode, 137, 'SIGKILL: 128 + 9');
  assert.ok(ms >= 900 && ms < 10000, `ended after ~1 s (${ms} ms)`);
});

test('command: runs in the same session (microVM) as InvokeAgentRuntime with that session id', async () => {
  const sid = sessionId();
  const inv = await data.send(new InvokeAgentRuntimeCommand({
    agentRuntimeArn: rt.agentRuntimeArn, runtimeSessionId: sid, payload: Buffer.from('whoami'),
  }));
  const who = JSON.parse(await inv.response.transformToString());
  // the shell's parent is the fake VMM's connection process; its parent is the VMM itself
  const { stdout, stop } = await run("cut -d' ' -f4 /proc/$PPID/stat", { input: { runtimeSessionId: sid } });
  assert.equal(stop.exitCode, 0);
  assert.equal(Number(stdout.trim()), who.vmm_pid, 'the command ran inside that session\'s VMM');
  const other = await run("cut -d' ' -f4 /proc/$PPID/stat", { input: { runtimeSessionId: sessionId() } });
  assert.notEqual(Number(other.stdout.trim()), who.vmm_pid, 'another session id gets another VMM');
});

test('command: a character split across reads is joined; bytes that are not UTF-8 become U+FFFD', async () => {
  const { stdout, stop } = await run("printf '\\303'; sleep 0.3; printf '\\251 \\377 ok\\n'");
  assert.equal(stop.exitCode, 0);
  assert.equal(stdout, 'é \uFFFD ok\n');
});

test('command: a large output arrives whole, in order, over many events', async () => {
  const { stdout, stop, events } = await run("i=0; while [ $i -lt 3000 ]; do printf '%0100d\\n' $i; i=$((i+1)); done");
  assert.equal(stop.exitCode, 0);
  const lines = stdout.split('\n');
  assert.equal(lines.length, 3001);
  assert.equal(lines[2999], String(2999).padStart(100, '0'));
  assert.ok(events.filter((e) => e === 'contentDelta').length > 1, 'several delta events');
});

test('command: a client that goes away ends the command in the guest', async () => {
  const pidFile = `${testDir}/cmd-abort.pid`;
  rmSync(pidFile, { force: true });
  const ac = new AbortController();
  const r = await send(`echo $$ > ${pidFile}; echo up; sleep 60`, { options: { abortSignal: ac.signal } });
  const it = r.stream[Symbol.asyncIterator]();
  for (;;) {             // wait for the first output: the shell is running
    const { value } = await it.next();
    if (value?.chunk?.contentDelta) break;
  }
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  assert.ok(pid > 0);
  ac.abort();
  await it.return?.().catch(() => {});
  let alive = true;
  for (let i = 0; i < 100 && alive; i++) {
    await sleep(50);
    alive = existsSync(`/proc/${pid}`) && !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  }
  assert.equal(alive, false, 'the shell was ended once the client left');
});

test('command: a runtime with SILO_COMMANDS=disabled refuses (AccessDeniedException), no session started', async () => {
  const sid = sessionId();
  await assert.rejects(send('echo no', { input: { runtimeSessionId: sid } }, refused), (e) => {
    assert.ok(e instanceof AccessDeniedException, e.name);
    assert.equal(e.$metadata.httpStatusCode, 403);
    assert.match(e.message, /SILO_COMMANDS/);
    return true;
  });
  // silod writes the request's line once the answer is sent: the client can see the 403 first
  let log = '';
  for (let i = 0; i < 40 && !log.includes('error=AccessDeniedException'); i++) {
    if (i > 0) await new Promise((r) => setTimeout(r, 50));
    log = readFileSync(`${testDir}/silod.log`, 'utf8');
  }
  assert.ok(log.includes('error=AccessDeniedException'), 'the refusal is in silod\'s log');
  assert.ok(!log.includes(`session ${sid} (`), 'no session was started for the refused command');
});

test('command: command and timeout are validated (ValidationException)', async () => {
  const bad = [
    ['', {}], ['x'.repeat(65537), {}], ['echo', { timeout: 0 }], ['echo', { timeout: 3601 }],
  ];
  for (const [command, body] of bad)
    await assert.rejects(send(command, { body }), (e) => e instanceof ValidationException && e.$metadata.httpStatusCode === 400,
      `refused: ${command.length} chars, ${JSON.stringify(body)}`);
  // 65536 characters (multi-byte ones) are fine
  const { stop } = await run(`: ${'é'.repeat(65534)}`);
  assert.deepEqual(stop, { exitCode: 0, status: 'COMPLETED' });
  // not the API's JSON shape
  for (const body of ['{"command": 5}', '{"timeout": 5}', '[1]', 'not json', '{"command":"echo \\u0000"}',
    '{"command":"echo","timeout":1.5}']) {
    const res = await signedFetch(`${endpoint}/runtimes/${encodeURIComponent(rt.agentRuntimeArn)}/commands`,
      { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    assert.equal(res.status, 400, body);
    assert.equal(res.headers.get('x-amzn-errortype'), 'ValidationException', body);
  }
});

test('command: an unknown runtime is ResourceNotFoundException', async () => {
  await assert.rejects(send('echo', {}, { agentRuntimeArn: `${rt.agentRuntimeArn.replace(/-[^-]+$/, '')}-nosuchxxxx` }),
    (e) => e instanceof ResourceNotFoundException);
});

test('command: a silod with commands_enabled false refuses every runtime (AccessDeniedException); invocations still work', async (t) => {
  const dir = `${testDir}/commands-off-${randomBytes(4).toString('hex')}`;
  mkdirSync(`${dir}/images`, { recursive: true });
  mkdirSync(`${dir}/sockets`);
  const build = process.env.BUILD ?? 'build';
  writeFileSync(`${dir}/silod.json`, JSON.stringify({
    listen_address: '127.0.0.1', listen_port: 0, region, account_id: '123456789012', database: `${dir}/silod.db`,
    credentials: [{ access_key_id: credentials.accessKeyId, secret_access_key: credentials.secretAccessKey,
      principal: 'commands-off' }],
    image_builder: `${process.cwd()}/tests/frontend/test_image_builder.sh`, commands_enabled: false,
    vmm: { path: `${process.cwd()}/${build}/host/bin/fake_vmm`, kernel: '/nonexistent/Image',
      rootfs_dir: `${dir}/images`, socket_dir: `${dir}/sockets`, cpus: 1, guest_mib: 128, ready_timeout_ms: 5000 },
  }));
  const proc = spawn(`${build}/host/bin/silod`, ['--config', `${dir}/silod.json`], { stdio: ['ignore', 'ignore', 'pipe'] });
  t.after(() => proc.kill('SIGKILL'));
  let log = '';
  proc.stderr.on('data', (b) => { log += b; });
  const base = await waitFor(async () => log.match(/^silod: listening on 127\.0\.0\.1:(\d+) /m), Boolean, 'the second silod');
  const cfg = { endpoint: `http://127.0.0.1:${base[1]}`, region, credentials, maxAttempts: 1 };
  const ctl = new BedrockAgentCoreControlClient(cfg), dp = new BedrockAgentCoreClient(cfg);
  const c = await ctl.send(new CreateAgentRuntimeCommand(baseRuntime(uniqueName('commands_off'))));
  await waitFor(() => ctl.send(new GetAgentRuntimeCommand({ agentRuntimeId: c.agentRuntimeId })),
    (g) => g.status === 'READY', 'READY');
  await assert.rejects(dp.send(new InvokeAgentRuntimeCommandCommand({
    agentRuntimeArn: c.agentRuntimeArn, body: { command: 'echo no' },
  })), (e) => e instanceof AccessDeniedException && /commands_enabled/.test(e.message), 'refused, the switch named');
  const inv = await dp.send(new InvokeAgentRuntimeCommand({ agentRuntimeArn: c.agentRuntimeArn, payload: Buffer.from('hello') }));
  assert.equal(await inv.response.transformToString(), 'hello');
});
