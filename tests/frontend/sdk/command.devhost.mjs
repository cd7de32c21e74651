// tests/frontend/sdk/command.devhost.mjs — InvokeAgentRuntimeCommand on the REAL path: silod, the
// real silo-vmm and agentd in a real microVM inside the dev host, the runtime built from an OCI
// archive by the real image builder (c-echo-shell: the C agent plus a static busybox as /bin/sh),
// driven from this machine by the real @aws-sdk/client-bedrock-agentcore through the forwarded
// port. Run by tests/host/command_devhost.sh only (not a *.test.mjs).
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import {
  InvokeAgentRuntimeCommand, InvokeAgentRuntimeCommandCommand, AccessDeniedException, RuntimeClientError,
} from '@aws-sdk/client-bedrock-agentcore';
import { CreateAgentRuntimeCommand, GetAgentRuntimeCommand } from '@aws-sdk/client-bedrock-agentcore-control';
import { data, control, baseRuntime, uniqueName, sessionId, sleep } from './lib.mjs';

const uri = (name) => `silo.local/agents/${name}:latest`;
const BUILD_TIMEOUT_MS = 300000;

async function readyRuntime(base, image, extra = {}) {
  const c = await control.send(new CreateAgentRuntimeCommand(baseRuntime(uniqueName(base), {
    agentRuntimeArtifact: { containerConfiguration: { containerUri: uri(image) } }, ...extra,
  })));
  const t0 = Date.now();
  for (;;) {
    const g = await control.send(new GetAgentRuntimeCommand({ agentRuntimeId: c.agentRuntimeId }));
    if (g.status === 'READY') return g;
    if (g.status !== 'CREATING' || Date.now() - t0 > BUILD_TIMEOUT_MS)
      throw new Error(`runtime ${c.agentRuntimeId}: ${g.status} ${g.failureReason ?? ''}`);
    await sleep(500);
  }
}

let shellRt, offRt, noShellRt;
before(async () => {
  [shellRt, offRt, noShellRt] = await Promise.all([
    readyRuntime('cmd_shell', 'c-echo-shell', { environmentVariables: { SILO_CMD_TEST: 'from-the-runtime' } }),
    readyRuntime('cmd_off', 'c-echo-shell', { environmentVariables: { SILO_COMMANDS: 'disabled' } }),
    readyRuntime('cmd_noshell', 'c-echo'),
  ]);
}, { timeout: BUILD_TIMEOUT_MS + 60000 });

const send = (rt, command, extra = {}) => data.send(new InvokeAgentRuntimeCommandCommand({
  agentRuntimeArn: rt.agentRuntimeArn, body: { command, ...extra.body }, ...extra.input,
}));

async function run(rt, command, extra = {}) {
  const r = await send(rt, command, extra);
  const events = [];
  let stdout = '', stderr = '', stop;
  for await (const ev of r.stream) {
    const kind = Object.keys(ev.chunk ?? {}).find((k) => ev.chunk[k] !== undefined);
    events.push(kind);
    stdout += ev.chunk?.contentDelta?.stdout ?? '';
    stderr += ev.chunk?.contentDelta?.stderr ?? '';
    if (ev.chunk?.contentStop) stop = ev.chunk.contentStop;
  }
  return { r, events, stdout, stderr, stop };
}

test('command (real microVM): echo hi; echo err >&2; exit 3 streams both outputs and exit 3', { timeout: 300000 }, async () => {
  const t0 = Date.now();
  const { events, stdout, stderr, stop } = await run(shellRt, 'echo hi; echo err >&2; exit 3');
  assert.equal(events[0], 'contentStart');
  assert.equal(events.at(-1), 'contentStop');
  assert.equal(stdout, 'hi\n');
  assert.equal(stderr, 'err\n');
  assert.deepEqual(stop, { exitCode: 3, status: 'COMPLETED' });
  console.log(`# a new session and the command's answer in ${Date.now() - t0} ms`);
});

test('command (real microVM): runs in the invocation\'s microVM, as the agent (its workdir and environment)', { timeout: 300000 }, async () => {
  const sid = sessionId();
  const inv = await data.send(new InvokeAgentRuntimeCommand({
    agentRuntimeArn: shellRt.agentRuntimeArn, runtimeSessionId: sid, contentType: 'application/json',
    payload: Buffer.from(JSON.stringify({ prompt: 'hello' })),
  }));
  const who = JSON.parse(await inv.response.transformToString());
  assert.match(who.vm_id ?? '', /^[0-9a-f-]{36}$/);
  const { stdout, stop } = await run(shellRt, 'cat /run/silo/vm-id; pwd; echo "$SILO_CMD_TEST"; id -u',
    { input: { runtimeSessionId: sid } });
  assert.equal(stop.exitCode, 0);
  assert.deepEqual(stdout.trim().split('\n'), [who.vm_id, '/app', 'from-the-runtime', '0']);
});

test('command (real microVM): sleep 60 with a 2 s timeout is ended (TIMED_OUT)', { timeout: 300000 }, async () => {
  const sid = sessionId();
  await run(shellRt, 'true', { input: { runtimeSessionId: sid } });          // the session is up
  const t0 = Date.now();
  const { stdout, stop } = await run(shellRt, 'echo started; sleep 60', { input: { runtimeSessionId: sid }, body: { timeout: 2 } });
  const ms = Date.now() - t0;
  assert.equal(stdout, 'started\n');
  assert.deepEqual(stop, { exitCode: 137, status: 'TIMED_OUT' });
  assert.ok(ms >= 1900 && ms < 30000, `${ms} ms`);
  const after = await run(shellRt, 'echo still-here', { input: { runtimeSessionId: sid } });
  assert.equal(after.stdout, 'still-here\n', 'the session serves the next command');
});

test('command (real microVM): a runtime with SILO_COMMANDS=disabled is refused (AccessDeniedException)', { timeout: 120000 }, async () => {
  await assert.rejects(send(offRt, 'echo no'), (e) => e instanceof AccessDeniedException && /SILO_COMMANDS/.test(e.message));
});

test('command (real microVM): an image without /bin/sh answers RuntimeClientError', { timeout: 300000 }, async () => {
  await assert.rejects(send(noShellRt, 'echo no'), (e) => e instanceof RuntimeClientError && /cannot-run-shell/.test(e.message),
    'RuntimeClientError naming the missing shell');
});
