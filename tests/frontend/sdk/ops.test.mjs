// tests/frontend/sdk/ops.test.mjs — operations: the Prometheus /metrics endpoint (SigV4-signed
// unless silod's config sets metrics_public) counts what the other requests here did.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InvokeAgentRuntimeCommand, RuntimeClientError } from '@aws-sdk/client-bedrock-agentcore';
import { DeleteAgentRuntimeCommand } from '@aws-sdk/client-bedrock-agentcore-control';
import { control, data, endpoint, readyRuntime, sessionId, signedFetch } from './lib.mjs';

async function metrics() {
  const res = await signedFetch(`${endpoint}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
  const values = {};
  for (const line of (await res.text()).split('\n'))
    if (line && !line.startsWith('#')) {
      const m = line.match(/^(\S+) (\S+)$/);
      assert.ok(m, `a sample line: ${line}`);
      values[m[1]] = Number(m[2]);
    }
  return values;
}

test('metrics: /metrics needs SigV4 by default', async () => {
  const res = await fetch(`${endpoint}/metrics`);
  assert.equal(res.status, 401);
});

test('metrics: starts, cold-start histogram, invocations, bytes, errors and sessions by state move', async () => {
  const rt = await readyRuntime('metrics');
  const before = await metrics();
  const sid = sessionId();
  const payload = Buffer.from('count these twenty-nine bytes');
  const r = await data.send(new InvokeAgentRuntimeCommand({ agentRuntimeArn: rt.agentRuntimeArn, runtimeSessionId: sid, payload }));
  await r.response.transformToString();
  await assert.rejects(data.send(new InvokeAgentRuntimeCommand({
    agentRuntimeArn: rt.agentRuntimeArn, runtimeSessionId: sid, payload: Buffer.from('fail'),
  })), (e) => e instanceof RuntimeClientError);
  const after = await metrics();
  const d = (k) => (after[k] ?? NaN) - (before[k] ?? NaN);
  assert.equal(d('silod_session_starts_total'), 1);
  assert.equal(d('silod_session_start_seconds_count'), 1);
  assert.equal(d('silod_session_start_seconds_bucket{le="+Inf"}'), 1);
  assert.ok(d('silod_session_start_seconds_sum') > 0);
  assert.equal(d('silod_invocations_total{code="2xx"}'), 1);
  assert.equal(d('silod_invocations_total{code="4xx"}'), 1);
  assert.equal(d('silod_invocation_request_bytes_total'), payload.length + 4);
  assert.equal(d('silod_invocation_response_bytes_total'), payload.length);
  assert.equal(d('silod_errors_total{type="RuntimeClientError"}'), 1);
  assert.ok(after['silod_sessions{state="idle"}'] >= 1);
  for (const s of ['starting', 'active', 'idle']) assert.ok(`silod_sessions{state="${s}"}` in after);
  await control.send(new DeleteAgentRuntimeCommand({ agentRuntimeId: rt.agentRuntimeId }));
});
