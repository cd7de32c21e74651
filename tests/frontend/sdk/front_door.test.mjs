// tests/frontend/sdk/front_door.test.mjs — silod's front door under hostile and heavy clients
// (issue 12 items 1-4), on a silod of its OWN (so its pid, limits and log are known): a 100 MiB
// InvokeAgentRuntime from the AWS JS SDK (the pinned version sends x-amz-content-sha256) and one
// signed as botocore signs (WITHOUT x-amz-content-sha256) leave silod's peak RSS (VmHWM) where a
// small one does; forged large bodies (unknown key,
// wrong secret) are refused without memory held and beyond spool_max_unauthenticated_mib at
// once with 503; a refused body is not read on; a body that does not match its signed hash
// never reaches the agent; slow heads are cut off after head_timeout_s, a client gets at most
// max_connections_per_client connections, while an answer slower than every timeout still
// arrives. The VMM is tests/frontend/fake_vmm.c, a test double: every verdict says "(fake VMM)".
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { request } from 'node:http';
import { BedrockAgentCoreClient, InvokeAgentRuntimeCommand } from '@aws-sdk/client-bedrock-agentcore';
import { BedrockAgentCoreControlClient, CreateAgentRuntimeCommand, GetAgentRuntimeCommand }
  from '@aws-sdk/client-bedrock-agentcore-control';
import { credentials, region, testDir, baseRuntime, uniqueName, sessionId, signedFetch, sleep } from './lib.mjs';

const build = process.env.BUILD ?? 'build';
const MiB = 1024 * 1024;
const dir = `${testDir}/front-door-${randomBytes(4).toString('hex')}`;
let silod, log = '', base, dp, arn;

before(async () => {
  mkdirSync(`${dir}/images`, { recursive: true });
  mkdirSync(`${dir}/sockets`);
  mkdirSync(`${dir}/spool`);
  const config = {
    listen_address: '127.0.0.1', listen_port: 0, region, account_id: '123456789012',
    database: `${dir}/silod.db`,
    credentials: [{ access_key_id: credentials.accessKeyId, secret_access_key: credentials.secretAccessKey,
      principal: 'front-door' }],
    image_builder: `${process.cwd()}/tests/frontend/test_image_builder.sh`,
    max_sessions: 10, max_guest_mib: 4096,
    spool_dir: `${dir}/spool`, spool_max_unauthenticated_mib: 200,
    max_connections_per_client: 12, head_timeout_s: 2, body_timeout_s: 3, keepalive_timeout_s: 3,
    vmm: { path: `${process.cwd()}/${build}/host/bin/fake_vmm`, kernel: '/nonexistent/Image',
      rootfs_dir: `${dir}/images`, socket_dir: `${dir}/sockets`, cpus: 1, guest_mib: 128, ready_timeout_ms: 5000 },
  };
  writeFileSync(`${dir}/silod.json`, JSON.stringify(config));
  silod = spawn(`${build}/host/bin/silod`, ['--config', `${dir}/silod.json`], { stdio: ['ignore', 'ignore', 'pipe'] });
  silod.stderr.on('data', (b) => { log += b; writeFileSync(`${dir}/silod.log`, log); });
  for (let i = 0; i < 100 && !base; i++) {
    const m = log.match(/^silod: listening on 127\.0\.0\.1:(\d+) /m);
    if (m) base = `http://127.0.0.1:${m[1]}`;
    else await sleep(50);
  }
  assert.ok(base, `silod did not start: ${log}`);
  const cp = new BedrockAgentCoreControlClient({ endpoint: base, region, credentials, maxAttempts: 1 });
  dp = new BedrockAgentCoreClient({ endpoint: base, region, credentials, maxAttempts: 1 });
  const c = await cp.send(new CreateAgentRuntimeCommand(baseRuntime(uniqueName('door'))));
  for (let i = 0; i < 100; i++) {
    const g = await cp.send(new GetAgentRuntimeCommand({ agentRuntimeId: c.agentRuntimeId }));
    if (g.status === 'READY') break;
    await sleep(50);
  }
  arn = c.agentRuntimeArn;
});

after(() => silod?.kill('SIGKILL'));

const hwmKiB = () => Number(readFileSync(`/proc/${silod.pid}/status`, 'utf8').match(/VmHWM:\s+(\d+) kB/)[1]);
const invokeUrl = (qualifier = 'DEFAULT') => `${base}/runtimes/${encodeURIComponent(arn)}/invocations?qualifier=${qualifier}`;
const invokeWith = (client, payload, sid = sessionId()) => client.send(new InvokeAgentRuntimeCommand({
  agentRuntimeArn: arn, qualifier: 'DEFAULT', runtimeSessionId: sid, payload,
  contentType: 'application/octet-stream',
}));

async function drain(stream) {
  const h = createHash('sha256');
  let n = 0;
  for await (const piece of stream) { h.update(piece); n += piece.length; }
  return { n, sha: h.digest('hex') };
}

test('front door: a 100 MiB invoke from the JS SDK leaves silod\'s peak RSS where a small one does', async () => {
  const small = await invokeWith(dp, Buffer.from('warm-up'));
  assert.equal((await drain(small.response)).n, 7);
  const before100 = hwmKiB();
  const big = randomBytes(100 * MiB);
  const r = await invokeWith(dp, big);
  const got = await drain(r.response);
  assert.equal(got.n, big.length);
  assert.equal(got.sha, createHash('sha256').update(big).digest('hex'), 'the agent got the body whole');
  const after100 = hwmKiB();
  console.log(`# bench: silod VmHWM after a small invoke ${(before100 / 1024).toFixed(1)} MiB, after a 100 MiB JS-SDK invoke ${(after100 / 1024).toFixed(1)} MiB`);
  assert.ok(after100 - before100 < 16 * 1024, `peak RSS grew by ${after100 - before100} KiB`);
  assert.deepEqual(readdirSync(`${dir}/spool`), [], 'spool files have no name');
});

/** A raw POST of body to the invoke URL, SigV4-signed by signer WITHOUT x-amz-content-sha256 (as
 * botocore signs): the signature covers the body's hash, so silod can only decide it from the body. */
async function rawInvoke(creds, body, sid = sessionId()) {
  const url = new URL(invokeUrl());
  const amzDate = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
  const scope = `${amzDate.slice(0, 8)}/${region}/bedrock-agentcore/aws4_request`;
  const headers = { 'content-type': 'application/octet-stream', 'content-length': String(body.length),
    'x-amzn-bedrock-agentcore-runtime-session-id': sid, 'x-amz-date': amzDate };
  const canonical = ['POST', url.pathname.split('/').map(encodeURIComponent).join('/'), url.search.slice(1),
    `host:${url.host}\nx-amz-date:${amzDate}\n`, 'host;x-amz-date',
    createHash('sha256').update(body).digest('hex')].join('\n');
  const sts = ['AWS4-HMAC-SHA256', amzDate, scope, createHash('sha256').update(canonical).digest('hex')].join('\n');
  let key = `AWS4${creds.secretAccessKey}`;
  for (const part of [amzDate.slice(0, 8), region, 'bedrock-agentcore', 'aws4_request'])
    key = createHmac('sha256', key).update(part).digest();
  headers.authorization = `AWS4-HMAC-SHA256 Credential=${creds.accessKeyId}/${scope}, SignedHeaders=host;x-amz-date, ` +
    `Signature=${createHmac('sha256', key).update(sts).digest('hex')}`;
  return new Promise((resolve) => {
    const r = request(url, { method: 'POST', headers }, async (res) => {
      const chunks = [];
      for await (const piece of res) chunks.push(piece);
      resolve({ status: res.statusCode, type: res.headers['x-amzn-errortype'], body: Buffer.concat(chunks) });
    });
    r.on('error', (e) => resolve({ status: 0, type: e.code }));     // closed while still sending
    r.end(body);
  });
}

const refusedEarly = (e) => e && (e.name === 'UnrecognizedClientException' || e.name === 'InvalidSignatureException' ||
  /EPIPE|ECONNRESET|socket hang up/.test(`${e.code} ${e.message}`));

test('front door: a 100 MiB body signed without x-amz-content-sha256 (botocore style) is hashed on disk, verified, replayed; RSS flat', async () => {
  const hwm0 = hwmKiB();
  const big = randomBytes(100 * MiB);
  const r = await rawInvoke(credentials, big);
  assert.equal(r.status, 200, r.body?.slice(0, 200).toString());
  assert.equal(createHash('sha256').update(r.body).digest('hex'), createHash('sha256').update(big).digest('hex'));
  const hwm1 = hwmKiB();
  console.log(`# bench: silod VmHWM before ${(hwm0 / 1024).toFixed(1)} MiB, after a 100 MiB invoke signed without a payload header ${(hwm1 / 1024).toFixed(1)} MiB`);
  assert.ok(hwm1 - hwm0 < 16 * 1024, `peak RSS grew by ${hwm1 - hwm0} KiB`);
});

test('front door: forged 80 MiB bodies (unknown key, wrong secret) are refused; past the spool cap with 503; no memory held', async () => {
  const hwm0 = hwmKiB();
  const forged = Buffer.alloc(80 * MiB, 0x61);
  const unknown = new BedrockAgentCoreClient({ endpoint: base, region, maxAttempts: 1,
    credentials: { accessKeyId: 'AKIDUNKNOWN000000000', secretAccessKey: 'x' } });
  const wrongCreds = { ...credentials, secretAccessKey: 'not-the-secret' };
  const wrong = new BedrockAgentCoreClient({ endpoint: base, region, maxAttempts: 1, credentials: wrongCreds });
  // refused from the head, before the body: the answer, or (the close outran it) a broken pipe
  for (const client of [unknown, wrong]) {
    const t0 = Date.now();
    const e = await invokeWith(client, forged).then(() => null, (err) => err);
    assert.ok(refusedEarly(e), String(e));
    assert.ok(Date.now() - t0 < 3000, 'refused at once, not after 80 MiB');
  }
  assert.equal((await invokeWith(unknown, Buffer.from('x')).catch((e) => e)).name, 'UnrecognizedClientException');
  assert.equal((await invokeWith(wrong, Buffer.from('x')).catch((e) => e)).name, 'InvalidSignatureException');
  // four at once with a wrong secret and no payload header: only the body decides, so at most two
  // are held under the 200 MiB cap at a time (InvalidSignatureException once hashed), the others get
  // 503 at once; on a loaded machine one may finish and release its share before the last starts
  const results = await Promise.all([0, 1, 2, 3].map(() => rawInvoke(wrongCreds, forged)));
  const names = results.map((x) => `${x.status}:${x.type}`);
  assert.ok(!results.some((x) => x.status === 200), names.join());
  const hashed = results.filter((x) => x.type === 'InvalidSignatureException').length;
  // a 503 comes at once and silod closes: a client still sending may see the close (EPIPE or
  // ECONNRESET) before it reads the answer; silod's log below still has to show the refusal
  const full = results.filter((x) => x.status === 503 || (x.status === 0 && /EPIPE|ECONNRESET/.test(x.type))).length;
  assert.ok(hashed >= 1 && full >= 1 && hashed + full === 4, names.join());
  assert.ok(/the unverified body spool is full/.test(log), 'no "spool is full" refusal logged');
  const hwm1 = hwmKiB();
  console.log(`# bench: silod VmHWM before forged bodies ${(hwm0 / 1024).toFixed(1)} MiB, after 2 refused-at-head + 4 concurrent wrong-secret 80 MiB bodies ${(hwm1 / 1024).toFixed(1)} MiB (${names.join(',')})`);
  assert.ok(hwm1 - hwm0 < 16 * 1024, `peak RSS grew by ${hwm1 - hwm0} KiB`);
  // the cap was released: a forged body is hashed and refused again (not 503)
  const again = await rawInvoke(wrongCreds, Buffer.from('small'));
  assert.equal(again.type, 'InvalidSignatureException');
  const ok = await invokeWith(dp, Buffer.from('still serving'));
  assert.equal((await drain(ok.response)).n, 13);
});

test('front door: a refused chunked body is not read on — the connection is closed', async () => {
  const url = new URL(invokeUrl());
  const sock = connect(Number(url.port), '127.0.0.1');
  await new Promise((r) => sock.on('connect', r));
  let answer = '', closed = false, sent = 0;
  sock.on('data', (b) => { answer += b; });
  sock.on('close', () => { closed = true; });
  sock.on('error', () => { closed = true; });
  const cred = `AKIDUNKNOWN000000000/20250101/${region}/bedrock-agentcore/aws4_request`;
  sock.write(`POST ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\nTransfer-Encoding: chunked\r\n` +
    `X-Amz-Date: 20250101T000000Z\r\nAuthorization: AWS4-HMAC-SHA256 Credential=${cred}, SignedHeaders=host;x-amz-date, Signature=${'0'.repeat(64)}\r\n\r\n`);
  const chunk = Buffer.concat([Buffer.from((MiB).toString(16) + '\r\n'), Buffer.alloc(MiB, 0x62), Buffer.from('\r\n')]);
  const t0 = Date.now();
  while (!closed && sent < 300 * MiB && Date.now() - t0 < 10000) {
    if (!sock.write(chunk)) await Promise.race([new Promise((r) => sock.once('drain', r)), sleep(200)]);
    sent += MiB;
  }
  await sleep(200);
  assert.ok(closed, `silod kept reading: ${sent / MiB} MiB sent`);
  assert.ok(sent < 64 * MiB, `${sent / MiB} MiB were accepted before the close`);
  assert.ok(answer === '' || /^HTTP\/1\.1 40[13]/.test(answer), answer.slice(0, 80));
});

test('front door: a body that does not match its signed x-amz-content-sha256 never reaches the agent', async () => {
  const sid = sessionId();
  const url = new URL(invokeUrl());
  const signedBody = 'conns', sentBody = 'xxxxx';
  const headers = await signedFetch.sign(url, { method: 'POST', body: signedBody, headers: {
    'content-type': 'application/octet-stream', 'content-length': '5',
    'x-amz-content-sha256': createHash('sha256').update(signedBody).digest('hex'),
    'x-amzn-bedrock-agentcore-runtime-session-id': sid } });
  const res = await new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers }, resolve);
    req.on('error', reject);
    req.end(sentBody);
  });
  let text = '';
  for await (const piece of res) text += piece;
  assert.equal(res.statusCode, 403, text);
  assert.equal(res.headers['x-amzn-errortype'], 'InvalidSignatureException');
  // the same session, correctly signed: its agent has seen no request before this one
  const r = await invokeWith(dp, Buffer.from('conns'), sid);
  const seen = JSON.parse(await r.response.transformToString());
  assert.deepEqual({ conns: seen.conns, served: seen.served }, { conns: 1, served: 1 },
    'the forged body never reached the agent');
});

// issue 12 item 7 (front-door side): refusals are logged as such, raw control characters from a
// path never reach the log, and a runtime ARN of another account or region names nothing here
test('front door: refused requests log "auth rejected" and auth=rejected; control characters in a path are escaped; foreign ARNs are not found', async () => {
  // unsigned, with raw control characters in the path: refused (or dropped by the HTTP library),
  // and whatever is logged holds no raw ESC or SOH
  const raw = await new Promise((resolve) => {
    const s = connect(new URL(base).port, '127.0.0.1');
    let got = '';
    s.on('data', (b) => { got += b; });
    s.on('close', () => resolve(got));
    s.on('error', () => resolve(got));
    s.end('GET /runtimes/evil\x1b[31m\x01x/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  });
  assert.ok(!/^HTTP\/1\.1 2/.test(raw), `a forged request was accepted: ${raw.slice(0, 80)}`);
  // an unsigned request: refused by auth, logged with its path
  const res = await fetch(`${base}/runtimes/a%1Bb-0123456789/`);
  assert.equal(res.status, 401);         // UnauthorizedException: missing authentication
  await res.text();
  // a signed one whose signature is wrong (wrong secret)
  const bad = new BedrockAgentCoreClient({ endpoint: base, region, maxAttempts: 1,
    credentials: { accessKeyId: credentials.accessKeyId, secretAccessKey: 'not-the-secret' } });
  await assert.rejects(bad.send(new InvokeAgentRuntimeCommand({ agentRuntimeArn: arn, runtimeSessionId: sessionId(),
    payload: Buffer.from('x') })), (e) => e.$metadata?.httpStatusCode === 403);
  await sleep(200);
  assert.ok(!/[\x00-\x08\x0b-\x1f\x7f]/.test(log), 'a raw control character reached the log');
  assert.ok(/^silod: auth rejected id=\S+ GET \/runtimes\/a%1Bb-0123456789\/: /m.test(log),
    'no "auth rejected" line for the unsigned request');
  if (/^HTTP\/1\.1 403/.test(raw))      // the HTTP library let the raw bytes through: we escaped them
    assert.ok(log.includes('GET /runtimes/evil\\x1b[31m\\x01x/: '), 'the raw path is not escaped in the log');
  assert.ok(/^silod: auth rejected id=\S+ POST \/runtimes\/\S+\/invocations: \S/m.test(log), 'no reason logged');
  const rejected = log.split('\n').filter((l) => /^silod: request .* auth=rejected /.test(l));
  assert.ok(rejected.length >= 2, `refused requests are not logged auth=rejected:\n${log.slice(-2000)}`);
  assert.ok(!log.includes('not-the-secret') && !log.includes(credentials.secretAccessKey), 'a secret reached the log');
  // a well-formed runtime ARN of another account, region or partition
  const id = arn.split('/').pop();
  for (const foreign of [`arn:aws:bedrock-agentcore:${region}:999999999999:runtime/${id}`,
    `arn:aws:bedrock-agentcore:eu-north-1:123456789012:runtime/${id}`,
    `arn:aws-cn:bedrock-agentcore:${region}:123456789012:runtime/${id}`]) {
    await assert.rejects(dp.send(new InvokeAgentRuntimeCommand({ agentRuntimeArn: foreign, runtimeSessionId: sessionId(),
      payload: Buffer.from('x') })), (e) => e.name === 'ResourceNotFoundException', foreign);
  }
  // and a NUL inside agentRuntimeName fails the name rule
  const cp = new BedrockAgentCoreControlClient({ endpoint: base, region, credentials, maxAttempts: 1 });
  await assert.rejects(cp.send(new CreateAgentRuntimeCommand(baseRuntime('nul\u0000name'))),
    (e) => e.name === 'ValidationException');
});

test('front door: slow heads are cut off, a client gets max_connections_per_client, a slow answer still arrives', async () => {
  const url = new URL(base);
  const open = () => new Promise((resolve) => {
    const s = connect(Number(url.port), '127.0.0.1');
    s.closedAt = 0;
    s.on('close', () => { s.closedAt = Date.now(); });
    s.on('error', () => {});
    s.on('connect', () => resolve(s));
  });
  // a head trickled a byte every 300 ms is closed after head_timeout_s (2 s)
  const slow = await open();
  const t0 = Date.now();
  const head = 'POST /runtimes/ HTTP/1.1\r\nHost: x\r\nX-Pad: ' + 'a'.repeat(200);
  for (let i = 0; i < head.length && !slow.closedAt && Date.now() - t0 < 8000; i++) {
    slow.write(head[i]);
    await sleep(300);
  }
  assert.ok(slow.closedAt, 'the slow head was not cut off');
  assert.ok(slow.closedAt - t0 < 5000, `cut off after ${slow.closedAt - t0} ms`);
  // per client: 12 held open, the 13th is closed at once
  const held = [];
  for (let i = 0; i < 12; i++) held.push(await open());
  const extra = await open();
  await sleep(300);
  assert.ok(extra.closedAt, 'the connection past max_connections_per_client stayed open');
  held.forEach((s) => s.destroy());
  await sleep(300);
  // an answer slower than every timeout here (4 s) still arrives
  const r = await invokeWith(dp, Buffer.from('sleep:4000'));
  assert.equal(JSON.parse(await r.response.transformToString()).served, 1);
  assert.ok(/silod: connection closed: slow head/.test(log), 'no slow-head line logged');
});
