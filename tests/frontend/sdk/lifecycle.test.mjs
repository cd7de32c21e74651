// tests/frontend/sdk/lifecycle.test.mjs — session lifecycle through the AWS SDK: /ping health
// polling (the fake VMM's agent is told to answer Unhealthy or to fail), usage records (the log
// line and /metrics; the fake VMM's "vcpu0" thread burns measurable CPU time), and SIGTERM
// draining. The drain test runs its OWN silod (the shared one is stopped by frontend_sdk.sh at
// the end), with ping_interval_s 1 and a stale socket left in its socket_dir by a "dead silod".
// The VMM is tests/frontend/fake_vmm.c, a test double: every verdict says "(fake VMM)".
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { InvokeAgentRuntimeCommand, StopRuntimeSessionCommand, BedrockAgentCoreClient }
  from '@aws-sdk/client-bedrock-agentcore';
import { BedrockAgentCoreControlClient, CreateAgentRuntimeCommand, GetAgentRuntimeCommand,
  DeleteAgentRuntimeCommand } from '@aws-sdk/client-bedrock-agentcore-control';
import {
  control, data, endpoint, credentials, region, testDir, baseRuntime, uniqueName, readyRuntime,
  sessionId, signedFetch, sleep,
} from './lib.mjs';

const silodLog = `${testDir}/silod.log`;
const build = process.env.BUILD ?? 'build';

/** The usage lines of a log for one session, parsed (key=value). */
function usageLines(logPath, sid) {
  return readFileSync(logPath, 'utf8').split('\n')
    .filter((l) => l.startsWith('silod: usage ') && l.includes(` session=${sid} `))
    .map((l) => Object.fromEntries(l.slice('silod: usage '.length).split(' ').map((kv) => kv.split('='))));
}

async function waitForUsage(logPath, sid, seconds) {
  for (let i = 0; i < seconds * 10; i++) {
    const u = usageLines(logPath, sid);
    if (u.length) return u;
    await sleep(100);
  }
  throw new Error(`no usage record for ${sid} within ${seconds} s`);
}

async function metrics(base = endpoint) {
  const res = await signedFetch(`${base}/metrics`);
  assert.equal(res.status, 200);
  const values = {};
  for (const line of (await res.text()).split('\n')) {
    const m = line.match(/^([^#\s]\S*) (\S+)$/);
    if (m) values[m[1]] = Number(m[2]);
  }
  return values;
}

const invokeWith = (client, arn, sid, payload) => client.send(new InvokeAgentRuntimeCommand({
  agentRuntimeArn: arn, runtimeSessionId: sid, payload: Buffer.from(payload),
}));

test('metering: StopRuntimeSession writes one usage record with the fake vCPU time and metrics move (fake VMM)', async () => {
  const rt = await readyRuntime('meter');
  const sid = sessionId();
  const before = await metrics();
  const r = await invokeWith(data, rt.agentRuntimeArn, sid, 'burn:300');
  assert.equal(await r.response.transformToString(), 'set');
  await sleep(800);                 // the fake vCPU thread picks it up within 20 ms, burns 300 ms
  await data.send(new StopRuntimeSessionCommand({ agentRuntimeArn: rt.agentRuntimeArn, runtimeSessionId: sid }));
  const [u, ...more] = await waitForUsage(silodLog, sid, 5);
  assert.equal(more.length, 0, 'exactly one record');
  assert.equal(u.reason, 'stopped');
  assert.equal(u.runtime, rt.agentRuntimeId);
  assert.equal(u.version, '1');
  assert.equal(u.vcpu_measured, '1');
  assert.ok(Number(u.vcpu_ms) >= 250 && Number(u.vcpu_ms) < 3000, `vcpu_ms=${u.vcpu_ms}`);
  assert.ok(Number(u.wall_ms) >= 800, `wall_ms=${u.wall_ms}`);
  assert.ok(Number(u.mem_peak_kib) > 0);
  assert.equal(u.guest_mib, '128');
  const after = await metrics();
  const d = (k) => (after[k] ?? NaN) - (before[k] ?? NaN);
  assert.ok(d('silod_sessions_ended_total{reason="stopped"}') >= 1);
  assert.ok(d('silod_session_vcpu_seconds_total') >= 0.25);
  assert.ok(d('silod_session_wall_seconds_total') >= 0.8);
  await control.send(new DeleteAgentRuntimeCommand({ agentRuntimeId: rt.agentRuntimeId }));
});

/** Starts a second silod with its own config; resolves once it listens. */
async function startSilod(dir, extraConfig) {
  const config = {
    listen_address: '127.0.0.1', listen_port: 0, region, account_id: '123456789012',
    database: `${dir}/silod.db`,
    credentials: [{ access_key_id: credentials.accessKeyId, secret_access_key: credentials.secretAccessKey,
      principal: 'drain-tester' }],
    image_builder: `${process.cwd()}/tests/frontend/test_image_builder.sh`,
    max_sessions: 10, max_guest_mib: 4096,
    vmm: { path: `${process.cwd()}/${build}/host/bin/fake_vmm`, kernel: '/nonexistent/Image',
      rootfs_dir: `${dir}/images`, socket_dir: `${dir}/sockets`, cpus: 1, guest_mib: 128, ready_timeout_ms: 5000 },
    ...extraConfig,
  };
  writeFileSync(`${dir}/silod.json`, JSON.stringify(config));
  const proc = spawn(`${build}/host/bin/silod`, ['--config', `${dir}/silod.json`], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  proc.stderr.on('data', (b) => { log += b; writeFileSync(`${dir}/silod.log`, log); });
  for (let i = 0; i < 100; i++) {
    const m = log.match(/^silod: listening on 127\.0\.0\.1:(\d+) /m);
    if (m) return { proc, exited, base: `http://127.0.0.1:${m[1]}`, log: () => log };
    await sleep(50);
  }
  proc.kill('SIGKILL');
  throw new Error(`the second silod did not start: ${log}`);
}

test('shutdown: restart removes stale sockets; /ping Unhealthy or 3 failures end sessions; SIGTERM drains (fake VMM)', async (t) => {
  const dir = `${testDir}/drain-${randomBytes(4).toString('hex')}`;
  mkdirSync(`${dir}/images`, { recursive: true });
  mkdirSync(`${dir}/sockets`);
  // a dead silod's socket (its pid in the name, as the launcher names them) and a stranger's
  try {
    execFileSync(process.execPath, ['-e', `
      require('net').createServer().listen('${dir}/sockets/s' + process.pid + '-1.sock',
        () => process.kill(process.pid, 'SIGKILL'));`], { stdio: 'ignore' });
  } catch { /* it died by SIGKILL, as planned */ }
  writeFileSync(`${dir}/sockets/not-ours.sock`, 'stays');
  const stale = execFileSync('ls', [`${dir}/sockets`]).toString().split('\n').filter((n) => /^s\d+-1\.sock$/.test(n));
  assert.equal(stale.length, 1, 'the dead process left its socket behind');

  const s = await startSilod(dir, { ping_interval_s: 1, drain_timeout_s: 20 });
  t.after(() => s.proc.kill('SIGKILL'));
  assert.match(s.log(), /silod: removed 1 stale session sockets from /);
  assert.ok(!existsSync(`${dir}/sockets/${stale[0]}`), 'the stale socket is gone');
  assert.ok(existsSync(`${dir}/sockets/not-ours.sock`), 'a file of another naming stays');

  const cp = new BedrockAgentCoreControlClient({ endpoint: s.base, region, credentials, maxAttempts: 1 });
  const dp = new BedrockAgentCoreClient({ endpoint: s.base, region, credentials, maxAttempts: 1 });
  const c = await cp.send(new CreateAgentRuntimeCommand(baseRuntime(uniqueName('drain'))));
  let g;
  for (let i = 0; i < 100; i++) {
    g = await cp.send(new GetAgentRuntimeCommand({ agentRuntimeId: c.agentRuntimeId }));
    if (g.status === 'READY') break;
    await sleep(50);
  }
  assert.equal(g.status, 'READY');
  const arn = g.agentRuntimeArn;

  // /ping: Unhealthy ends the session at once; an agent failing /ping ends after 3 polls
  const sick = sessionId(), failing = sessionId();
  const pidOf = async (sid) => JSON.parse(await (await invokeWith(dp, arn, sid, 'whoami')).response.transformToString()).vmm_pid;
  const sickPid = await pidOf(sick);
  await (await invokeWith(dp, arn, sick, 'ping:Unhealthy')).response.transformToString();
  await (await invokeWith(dp, arn, failing, 'ping:fail')).response.transformToString();
  const [us] = await waitForUsage(`${dir}/silod.log`, sick, 5);
  assert.equal(us.reason, 'unhealthy');
  assert.match(s.log(), new RegExp(`silod: ping session=${sick} result=unhealthy`));
  const [uf] = await waitForUsage(`${dir}/silod.log`, failing, 10);
  assert.equal(uf.reason, 'unhealthy');
  assert.match(s.log(), new RegExp(`silod: ping session=${failing} result=failed`));
  assert.notEqual(await pidOf(sick), sickPid, 'the same id then gets a fresh microVM');

  // SIGTERM with a 10 s stream in flight
  const streaming = sessionId(), existing = sessionId();
  await (await invokeWith(dp, arn, existing, 'hello')).response.transformToString();
  const stream = await invokeWith(dp, arn, streaming, 'sse-long');
  let text = '';
  const reading = (async () => { for await (const piece of stream.response) text += Buffer.from(piece).toString(); })();
  await sleep(300);
  s.proc.kill('SIGTERM');
  for (let i = 0; i < 50 && !/silod: draining/.test(s.log()); i++) await sleep(50);
  assert.match(s.log(), /silod: draining 1 in-flight requests \(deadline 20 s\)/);
  // a new session is refused with 503 ServiceUnavailableException ...
  await assert.rejects(invokeWith(dp, arn, sessionId(), 'hello'), (e) => {
    assert.equal(e.name, 'ServiceUnavailableException');
    assert.equal(e.$metadata?.httpStatusCode, 503);
    assert.match(e.message, /shutting down/);
    return true;
  });
  // ... while an existing one is still served
  const again = await invokeWith(dp, arn, existing, 'still here');
  assert.equal(await again.response.transformToString(), 'still here');
  // the in-flight stream runs to its end, then silod ends every session and exits 0
  await reading;
  assert.equal((text.match(/^data: /gm) ?? []).length, 200, 'all 200 events arrived');
  const { code } = await s.exited;
  assert.equal(code, 0);
  const log = s.log();
  assert.match(log, /silod: ended 3 sessions\n/);    // existing, streaming, and the fresh "sick"
  assert.match(log, /silod: stopped\n/);
  for (const sid of [streaming, existing]) {
    const u = usageLines(`${dir}/silod.log`, sid);
    assert.equal(u.length, 1);
    assert.equal(u[0].reason, 'shutdown');
  }
  let left = '';
  try {
    left = execFileSync('pgrep', ['-f', '--', `${dir}/sockets/`]).toString().trim();
  } catch { /* pgrep: nothing matched */ }
  assert.equal(left, '', 'no VMM outlived silod');
});
