// tests/frontend/sdk/keepalive.test.mjs — upstream keep-alive: silod keeps its connections to a
// session's agent open between invocations (a pool per session) and reuses them only after an
// answer that ended cleanly. The "agent" is tests/frontend/fake_vmm.c, which counts the
// connections that carried invocations: its "conns" answer is {"conn":C,"conns":N,"served":S}
// (C this connection's number, N how many so far in this VMM, S requests this connection served),
// and "sleep:MS", "close", "http10", "extra", "late-extra", "drop-idle" answer the same with a
// twist (see fake_vmm.c).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { InvokeAgentRuntimeCommand, RuntimeClientError } from '@aws-sdk/client-bedrock-agentcore';
import { DeleteAgentRuntimeCommand } from '@aws-sdk/client-bedrock-agentcore-control';
import { control, data, readyRuntime, sessionId, sleep } from './lib.mjs';

let rt;
before(async () => { rt = await readyRuntime('keepalive'); });
after(async () => { await control.send(new DeleteAgentRuntimeCommand({ agentRuntimeId: rt.agentRuntimeId })); });

const invoke = (payload, runtimeSessionId, extra = {}) => data.send(new InvokeAgentRuntimeCommand({
  agentRuntimeArn: rt.agentRuntimeArn, qualifier: 'DEFAULT', runtimeSessionId, payload: Buffer.from(payload), ...extra,
}));

/** One invocation answered with the test agent's connection counters. */
async function counted(sid, payload = 'conns') {
  const r = await invoke(payload, sid);
  assert.equal(r.statusCode, 200);
  const text = await r.response.transformToString();
  return JSON.parse(text);
}

test('keep-alive: 20 sequential invocations on one session use one upstream connection (fake VMM)', async () => {
  const sid = sessionId();
  for (let i = 1; i <= 20; i++) {
    const c = await counted(sid);
    assert.deepEqual(c, { conn: 1, conns: 1, served: i }, `invocation ${i}`);
  }
});

test('keep-alive: 4 concurrent invocations each get a connection of their own, at most 4 in all (fake VMM)', async () => {
  const sid = sessionId();
  assert.equal((await counted(sid)).conns, 1);
  const answers = await Promise.all([1, 2, 3, 4].map(() => counted(sid, 'sleep:300')));
  const ids = answers.map((c) => c.conn);
  assert.equal(new Set(ids).size, 4, `connections ${ids.join(',')}: one request at a time on each`);
  assert.ok(Math.max(...answers.map((c) => c.conns)) <= 4, JSON.stringify(answers));
  for (let i = 0; i < 8; i++) {
    const c = await counted(sid);
    assert.ok(c.conns <= 4, `invocation ${i} after the burst opened connection ${c.conns}`);
  }
});

test('keep-alive: after the agent closes its idle connections the next invocation succeeds on a fresh one (fake VMM)', async () => {
  const sid = sessionId();
  assert.deepEqual(await counted(sid), { conn: 1, conns: 1, served: 1 });
  await Promise.all([1, 2, 3].map(() => counted(sid, 'sleep:200')));   // 3 idle connections now
  const dropped = await counted(sid, 'drop-idle');
  assert.equal(dropped.conns, 3);
  await sleep(300);                         // the agent closes them (it looks every 50 ms)
  assert.deepEqual(await counted(sid), { conn: 4, conns: 4, served: 1 });
  assert.deepEqual(await counted(sid), { conn: 4, conns: 4, served: 2 }, 'reuse goes on');
});

test('keep-alive: an SSE answer then JSON answers on the same session arrive intact (fake VMM)', async () => {
  const sid = sessionId();
  assert.deepEqual(await counted(sid), { conn: 1, conns: 1, served: 1 });
  const r = await invoke('sse', sid, { accept: 'text/event-stream' });
  assert.equal(r.contentType, 'text/event-stream');
  let text = '';
  for await (const chunk of r.response) text += Buffer.from(chunk).toString();
  assert.equal(text, 'data: {"event":0}\n\ndata: {"event":1}\n\ndata: {"event":2}\n\n');
  assert.deepEqual(await counted(sid), { conn: 1, conns: 1, served: 3 }, 'the chunked stream\'s connection reused');
  const big = randomBytes(4 * 1024 * 1024);
  const e = await invoke(big, sid, { contentType: 'application/octet-stream' });
  const hash = createHash('sha256');
  for await (const piece of e.response) hash.update(piece);
  assert.equal(hash.digest('hex'), createHash('sha256').update(big).digest('hex'));
  assert.deepEqual(await counted(sid), { conn: 1, conns: 1, served: 5 });
});

test('keep-alive: answers with Connection: close, HTTP/1.0 or bytes beyond them are not reused (fake VMM)', async () => {
  const sid = sessionId();
  // the test agent keeps these connections open and would serve again on them
  assert.deepEqual(await counted(sid, 'close'), { conn: 1, conns: 1, served: 1 });
  assert.deepEqual(await counted(sid), { conn: 2, conns: 2, served: 1 }, 'Connection: close was honoured');
  assert.deepEqual(await counted(sid, 'http10'), { conn: 2, conns: 2, served: 2 });
  assert.deepEqual(await counted(sid), { conn: 3, conns: 3, served: 1 }, 'an HTTP/1.0 answer was not reused');
  assert.deepEqual(await counted(sid, 'extra'), { conn: 3, conns: 3, served: 2 });
  assert.deepEqual(await counted(sid), { conn: 4, conns: 4, served: 1 }, 'bytes beyond the answer: not reused');
});

test('keep-alive: an idle connection on which the agent sent bytes unasked is not reused (fake VMM)', async () => {
  const sid = sessionId();
  assert.deepEqual(await counted(sid, 'late-extra'), { conn: 1, conns: 1, served: 1 });
  await sleep(300);                         // the agent's unasked answer has arrived by now
  assert.deepEqual(await counted(sid), { conn: 2, conns: 2, served: 1 }, 'the stale bytes were not taken for the answer');
});

test('keep-alive: an agent error read to its end (424) keeps the connection for the next answer (fake VMM)', async () => {
  const sid = sessionId();
  assert.deepEqual(await counted(sid), { conn: 1, conns: 1, served: 1 });
  await assert.rejects(invoke('fail', sid), (e) => e instanceof RuntimeClientError &&
    e.$metadata.httpStatusCode === 424 && /\(500\).*boom/.test(e.message));
  assert.deepEqual(await counted(sid), { conn: 1, conns: 1, served: 3 });
});
