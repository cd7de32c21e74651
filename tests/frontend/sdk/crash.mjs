// tests/frontend/sdk/crash.mjs — silod killed (SIGKILL) in the middle of control-plane writes
// must lose nothing and half-write nothing (issue: "state survives a silod restart or crash
// mid-request"). Run by tests/host/silod_crash.sh, which passes silod's binary and config.
//
// Four workers drive the real @aws-sdk/client-bedrock-agentcore-control client (no SDK
// retries): each creates runtimes, updates them and adds pinned endpoints, every call with its
// own clientToken. silod is SIGKILLed at a random moment, ROUNDS times, and restarted on the same
// database. A call whose answer was lost is sent again, with the same clientToken and
// parameters, to the restarted silod: it must succeed, and idempotency must make it count once.
// Then the invariants: every runtime created exactly once (none lost, none doubled); versions
// 1..N with no gap, N = 1 + the updates that succeeded; DEFAULT present and every endpoint's
// target a version that exists; and every version READY once the builds interrupted by the kills
// were resumed. The VMM and image builder are test doubles (no session is started here).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  BedrockAgentCoreControlClient, CreateAgentRuntimeCommand, UpdateAgentRuntimeCommand,
  CreateAgentRuntimeEndpointCommand, ListAgentRuntimesCommand, ListAgentRuntimeVersionsCommand,
  ListAgentRuntimeEndpointsCommand, GetAgentRuntimeCommand,
} from '@aws-sdk/client-bedrock-agentcore-control';

const env = (k) => { if (!process.env[k]) throw new Error(`${k} not set`); return process.env[k]; };
const silodBin = env('SILOD_BIN'), silodConfig = env('SILOD_CONFIG'), endpoint = env('SILOD_ENDPOINT');
const image = env('SILO_TEST_IMAGE'), logPath = env('SILOD_LOG');
const rounds = Number(process.env.CRASH_ROUNDS || 6);
const label = 'silod crash safety (fake VMM)';
const control = new BedrockAgentCoreControlClient({
  endpoint, region: 'us-east-1', maxAttempts: 1,
  credentials: { accessKeyId: env('SILO_ACCESS_KEY_ID'), secretAccessKey: env('SILO_SECRET_ACCESS_KEY') },
});
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const token = () => randomBytes(20).toString('hex');   // clientToken: 33-256 characters
let failures = 0;
const ok = (m) => console.log(`ok - ${label}: ${m}`);
const notOk = (m) => { failures++; console.log(`not ok - ${label}: ${m}`); };

let silod = null;
async function startSilod() {
  const { openSync } = await import('node:fs');
  const out = openSync(logPath, 'a');
  silod = spawn(silodBin, ['--config', silodConfig], { stdio: ['ignore', out, out] });
  for (let i = 0; i < 200; i++) {
    try { await control.send(new ListAgentRuntimesCommand({ maxResults: 1 })); return; } catch { await sleep(25); }
  }
  throw new Error('silod did not come back');
}
function killSilod() {
  return new Promise((resolve) => { silod.once('exit', resolve); silod.kill('SIGKILL'); });
}

const base = (name) => ({
  agentRuntimeArtifact: { containerConfiguration: { containerUri: image } },
  roleArn: 'arn:aws:iam::123456789012:role/silo-test', networkConfiguration: { networkMode: 'PUBLIC' },
  ...(name ? { agentRuntimeName: name } : {}),
});

// The state the workers built, as far as the answers said: runtimes by create token.
const runtimes = new Map();     // createToken -> { name, id, updates: Set<token>, endpoints: Map<name, version> }
let lost = [];                  // calls whose answer never came (silod died): retried after restart
let sent = 0;

async function call(op) {
  sent++;
  try {
    const answer = await control.send(op.command());
    op.done(answer);
    return true;
  } catch (e) {
    if (e.$metadata && e.$metadata.httpStatusCode) throw new Error(`${op.what}: ${e.name} ${e.message}`);
    lost.push(op);     // no HTTP answer: silod died mid-request
    return false;
  }
}

function createOp(w, n) {
  const t = token(), name = `crash_w${w}_${n}_${t.slice(0, 6)}`;
  return {
    what: `CreateAgentRuntime ${name}`,
    command: () => new CreateAgentRuntimeCommand({ ...base(name), clientToken: t }),
    done: (a) => {
      const r = runtimes.get(t);
      if (r && r.id !== a.agentRuntimeId) throw new Error(`${name}: a retry created a second runtime`);
      runtimes.set(t, { name, id: a.agentRuntimeId, updates: new Set(), endpoints: new Map() });
    },
  };
}
function updateOp(r) {
  const t = token();
  return {
    what: `UpdateAgentRuntime ${r.id}`,
    command: () => new UpdateAgentRuntimeCommand({ agentRuntimeId: r.id, ...base(), description: `u-${t.slice(0, 8)}`, clientToken: t }),
    done: () => r.updates.add(t),
  };
}
function endpointOp(r) {
  const t = token(), name = `ep_${t.slice(0, 8)}`;
  return {
    what: `CreateAgentRuntimeEndpoint ${r.id}/${name}`,
    command: () => new CreateAgentRuntimeEndpointCommand({ agentRuntimeId: r.id, name, agentRuntimeVersion: '1', clientToken: t }),
    done: () => r.endpoints.set(name, 1),
  };
}

async function worker(w, stop) {
  try {
    for (let n = 0; !stop.now; n++) {
      if (!await call(createOp(w, n))) return null;
      const mine = [...runtimes.values()].filter((r) => r.name.startsWith(`crash_w${w}_`));
      const r = mine[Math.floor(Math.random() * mine.length)];
      if (!await call(updateOp(r))) return null;
      if (!await call(endpointOp(r))) return null;
    }
    return null;
  } catch (e) {
    return e;     /* an HTTP error answer: reported once the round is over */
  }
}

async function main() {
  await startSilod();
  for (let round = 1; round <= rounds; round++) {
    const stop = { now: false };
    const workers = [0, 1, 2, 3].map((w) => worker(w, stop));
    await sleep(150 + Math.random() * 500);
    await killSilod();
    stop.now = true;
    const errors = (await Promise.all(workers)).filter(Boolean);
    if (errors.length) throw errors[0];
    await startSilod();
    const retry = lost;
    lost = [];
    for (const op of retry) {
      if (!await call(op)) throw new Error(`${op.what}: no answer from the restarted silod`);
    }
  }
  ok(`${rounds} SIGKILLs in the middle of ${sent} control-plane calls; every call whose answer was lost succeeded when retried with its clientToken`);

  // wait for every version to be READY: builds cut short by a kill are resumed at start
  const all = [];
  for (let next; ;) {
    const page = await control.send(new ListAgentRuntimesCommand({ maxResults: 100, nextToken: next }));
    all.push(...page.agentRuntimes);
    if (!(next = page.nextToken)) break;
  }
  const ours = all.filter((a) => a.agentRuntimeName.startsWith('crash_w'));
  const byName = new Map(ours.map((a) => [a.agentRuntimeName, a]));
  const expected = [...runtimes.values()];
  if (ours.length === expected.length && expected.every((r) => byName.get(r.name)?.agentRuntimeId === r.id)) {
    ok(`every runtime exists exactly once: ${ours.length} created, none lost, none doubled`);
  } else {
    notOk(`runtimes: ${ours.length} listed, ${expected.length} created by the answers`);
  }
  let gaps = 0, badEndpoints = 0, notReady = [];
  const deadline = Date.now() + 30000;
  for (const r of expected) {
    const versions = [];
    for (let next; ;) {
      const page = await control.send(new ListAgentRuntimeVersionsCommand({ agentRuntimeId: r.id, maxResults: 100, nextToken: next }));
      versions.push(...page.agentRuntimes);
      if (!(next = page.nextToken)) break;
    }
    const nums = versions.map((v) => Number(v.agentRuntimeVersion)).sort((a, b) => a - b);
    if (nums.length !== 1 + r.updates.size || nums.some((v, i) => v !== i + 1)) {
      gaps++;
      console.log(`#   ${r.id}: versions ${nums.join(',')}, updates answered ${r.updates.size}`);
    }
    const eps = (await control.send(new ListAgentRuntimeEndpointsCommand({ agentRuntimeId: r.id, maxResults: 100 }))).runtimeEndpoints;
    const names = new Set(eps.map((e) => e.name));
    if (!names.has('DEFAULT') || [...r.endpoints.keys()].some((n) => !names.has(n)) ||
        eps.some((e) => e.targetVersion && !nums.includes(Number(e.targetVersion)))) {
      badEndpoints++;
      console.log(`#   ${r.id}: endpoints ${JSON.stringify(eps.map((e) => [e.name, e.targetVersion, e.liveVersion]))}`);
    }
    for (const v of nums) {
      let st;
      do {
        st = (await control.send(new GetAgentRuntimeCommand({ agentRuntimeId: r.id, agentRuntimeVersion: String(v) }))).status;
        if (st !== 'READY') await sleep(100);
      } while (st !== 'READY' && Date.now() < deadline);
      if (st !== 'READY') notReady.push(`${r.id} v${v} ${st}`);
    }
  }
  if (gaps === 0) ok(`versions 1..N with no gap in all ${expected.length} runtimes, N = 1 + the updates answered`);
  else notOk(`${gaps} runtimes have missing or extra versions`);
  if (badEndpoints === 0) ok('DEFAULT and every answered endpoint exist, each targeting a version that exists');
  else notOk(`${badEndpoints} runtimes have missing or dangling endpoints`);
  const resumed = (readFileSync(logPath, 'utf8').match(/resuming \d+ image builds/g) || []).length;
  if (notReady.length === 0) ok(`every version READY after the restarts (${resumed} restarts resumed interrupted builds)`);
  else notOk(`versions never READY after the restarts: ${notReady.slice(0, 5).join('; ')}`);
  await killSilod();
}

main().catch((e) => { notOk(`aborted: ${e.message}`); }).finally(() => {
  if (silod && silod.exitCode === null) silod.kill('SIGKILL');
  process.exit(failures ? 1 : 0);
});
