// tests/frontend/sdk/tls.tls.mjs — silod serving HTTPS (tls_cert_file / tls_key_file), driven by
// the real AWS SDK over TLS with a test CA made at test time by tests/host/silod_tls.sh (which
// starts silod and sets the environment; the name is not *.test.mjs so frontend_sdk.sh, whose
// silod is plain HTTP, does not run it). The certificate names only DNS:localhost, so
// https://localhost:PORT verifies and https://127.0.0.1:PORT is a wrong host name. Checked:
// the control and data plane through the SDK with the CA (a session's own channel to silod's API
// stays plain HTTP over vsock); a client without the CA and a wrong
// host name fail verification; plain HTTP to the TLS port gets no answer; the front door's
// limits hold over TLS (a TCP connection that sends nothing, a partial ClientHello and a
// trickled handshake are all cut off at head_timeout_s while another client is served; an
// announced oversized body is refused before it is read; a forged signature gets 403).
// The VMM is tests/frontend/fake_vmm.c, a test double: every verdict says "(fake VMM)".
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { Agent, request as httpsRequest } from 'node:https';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { Duplex } from 'node:stream';
import { BedrockAgentCoreClient, InvokeAgentRuntimeCommand } from '@aws-sdk/client-bedrock-agentcore';
import { BedrockAgentCoreControlClient, CreateAgentRuntimeCommand, GetAgentRuntimeCommand, ListAgentRuntimesCommand }
  from '@aws-sdk/client-bedrock-agentcore-control';
import { credentials, region, endpoint, testDir, baseRuntime, uniqueName, sessionId, sleep } from './lib.mjs';

const ca = readFileSync(process.env.SILO_TLS_CA);
const port = Number(new URL(endpoint).port);
const headTimeoutS = Number(process.env.SILO_HEAD_TIMEOUT_S);
const silodLog = process.env.SILO_SILOD_LOG;
assert.equal(new URL(endpoint).protocol, 'https:', 'SILOD_ENDPOINT is https://localhost:PORT');

const withCa = { httpsAgent: new Agent({ ca, keepAlive: true }) };
const clients = (url, handler) => ({
  control: new BedrockAgentCoreControlClient({ endpoint: url, region, credentials, maxAttempts: 1, requestHandler: handler }),
  data: new BedrockAgentCoreClient({ endpoint: url, region, credentials, maxAttempts: 1, requestHandler: handler }),
});
const good = clients(endpoint, withCa);

async function text(stream) {
  const parts = [];
  for await (const piece of stream) parts.push(Buffer.from(piece));
  return Buffer.concat(parts).toString();
}

test('TLS: the AWS SDK with the test CA creates a runtime and invokes it over HTTPS', async () => {
  const c = await good.control.send(new CreateAgentRuntimeCommand(baseRuntime(uniqueName('tls'))));
  let g;
  for (let i = 0; i < 200; i++) {
    g = await good.control.send(new GetAgentRuntimeCommand({ agentRuntimeId: c.agentRuntimeId }));
    if (g.status === 'READY') break;
    await sleep(50);
  }
  assert.equal(g.status, 'READY');
  const sid = sessionId();
  const out = await good.data.send(new InvokeAgentRuntimeCommand({
    agentRuntimeArn: c.agentRuntimeArn, qualifier: 'DEFAULT', runtimeSessionId: sid,
    payload: Buffer.from('{"prompt":"hello over TLS"}'), contentType: 'application/json',
  }));
  assert.equal(out.runtimeSessionId, sid);
  assert.equal(await text(out.response), '{"prompt":"hello over TLS"}');

  // the session's guest → silod API channel (guest_channels.c, HOST_PORT_API 1027) stays plain
  // HTTP over vsock: a plain request on its socket is answered, and logged from that session
  const sock = readdirSync(`${testDir}/sockets`).find((f) => f.endsWith('_1027'));
  assert.ok(sock, `a session's API channel socket in ${testDir}/sockets`);
  const answer = await new Promise((resolve, reject) => {
    const s = connect(`${testDir}/sockets/${sock}`);
    let got = '';
    s.on('connect', () => s.write('GET /metrics HTTP/1.1\r\nHost: silod\r\nConnection: close\r\n\r\n'));
    s.on('data', (b) => { got += b; });
    s.on('end', () => resolve(got));
    s.on('error', reject);
  });
  assert.match(answer, /^HTTP\/1\.1 401 /, 'plain HTTP on the guest channel');
  await sleep(100);
  assert.match(readFileSync(silodLog, 'utf8'), /op=metrics .*status=401 .*from_session=/);
});

test('TLS: a client without the test CA fails certificate verification', async () => {
  const bare = clients(endpoint, { httpsAgent: new Agent({}) });
  await assert.rejects(bare.control.send(new ListAgentRuntimesCommand({})),
    (e) => /UNABLE_TO_GET_ISSUER_CERT_LOCALLY|UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN/
      .test(`${e.code} ${e.message}`) || assert.fail(`unexpected error: ${e.code} ${e.message}`));
});

test('TLS: a wrong host name (https://127.0.0.1, the certificate names localhost) fails verification', async () => {
  const wrong = clients(`https://127.0.0.1:${port}`, withCa);
  await assert.rejects(wrong.control.send(new ListAgentRuntimesCommand({})),
    (e) => /ERR_TLS_CERT_ALTNAME_INVALID|does not match|not in the cert's altnames/.test(`${e.code} ${e.message}`) ||
      assert.fail(`unexpected error: ${e.code} ${e.message}`));
});

test('TLS: plain HTTP to the TLS port gets no HTTP answer', async () => {
  const outcome = await new Promise((resolve) => {
    const req = httpRequest({ host: '127.0.0.1', port, path: '/runtimes/', method: 'POST', timeout: 5000 },
      (res) => resolve(`status ${res.statusCode}`));
    req.on('error', (e) => resolve(`error ${e.code}`));
    req.on('timeout', () => { req.destroy(); resolve('timeout'); });
    req.end();
  });
  assert.match(outcome, /^error /, `plain HTTP got: ${outcome}`);
});

/* Opens a TCP connection, writes `first` (and `trickle` a byte every 400 ms), and resolves with
 * the seconds until silod closed it (or 'open' when it is still open after limitS). */
function heldConnection(first, trickle, limitS) {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const s = connect({ host: '127.0.0.1', port });
    let timer, i = 0, done = false;
    const finish = (v) => { if (!done) { done = true; clearInterval(timer); s.destroy(); resolve(v); } };
    s.on('connect', () => {
      if (first.length) s.write(first);
      if (trickle.length) timer = setInterval(() => { if (i < trickle.length) s.write(trickle.subarray(i, ++i)); }, 400);
    });
    s.on('data', () => {});
    s.on('close', () => finish((Date.now() - t0) / 1000));
    s.on('error', () => {});
    setTimeout(() => finish('open'), limitS * 1000);
  });
}

/* A real ClientHello: what node's TLS client writes first, over a stream that goes nowhere */
function clientHello() {
  return new Promise((resolve) => {
    const chunks = [];
    const sink = new Duplex({
      write(chunk, enc, cb) { chunks.push(chunk); resolve(Buffer.concat(chunks)); cb(); },
      read() {},
    });
    const t = tlsConnect({ socket: sink, servername: 'localhost', ca });
    t.on('error', () => {});
    setTimeout(() => t.destroy(), 1000);
  });
}

test('TLS: handshakes that never finish are cut off at head_timeout_s (nothing sent, partial ClientHello, a trickle), ' +
     'while another client is served', async () => {
  const hello = await clientHello();
  assert.equal(hello[0], 0x16, 'a TLS handshake record');
  const limit = headTimeoutS + 4;
  const held = Promise.all([
    heldConnection(Buffer.alloc(0), Buffer.alloc(0), limit),
    heldConnection(hello.subarray(0, 40), Buffer.alloc(0), limit),
    heldConnection(Buffer.alloc(0), hello, limit),
  ]);
  await sleep(500);
  // meanwhile a real client is answered at once
  const t0 = Date.now();
  const l = await good.control.send(new ListAgentRuntimesCommand({}));
  assert.ok(Array.isArray(l.agentRuntimes));
  assert.ok(Date.now() - t0 < 2000, 'a real client is served while handshakes are held');
  const [silent, partial, trickled] = await held;
  for (const [what, v] of [['nothing sent', silent], ['partial ClientHello', partial], ['trickled ClientHello', trickled]]) {
    assert.notEqual(v, 'open', `${what}: still open after ${limit} s`);
    assert.ok(v >= headTimeoutS - 0.5 && v <= headTimeoutS + 2.5, `${what}: closed after ${v} s (head_timeout_s ${headTimeoutS})`);
  }
  const log = readFileSync(silodLog, 'utf8');
  assert.ok((log.match(/connection closed: slow head/g) ?? []).length >= 3, 'silod logged the slow heads');
});

/* One raw HTTPS request (with the CA); resolves with the status and how much of the body was sent */
function rawHttps(path, headers, bodyBytes) {
  return new Promise((resolve) => {
    let sent = 0;
    const req = httpsRequest({ host: 'localhost', port, path, method: 'POST', headers, ca, agent: false },
      (res) => { res.resume(); res.on('end', () => resolve({ status: res.statusCode, type: res.headers['x-amzn-errortype'], sent })); });
    req.on('error', (e) => resolve({ error: e.code, sent }));
    const piece = Buffer.alloc(64 * 1024);
    const pump = () => {
      while (sent < bodyBytes) {
        sent += piece.length;
        if (!req.write(piece)) { req.once('drain', pump); return; }
      }
      req.end();
    };
    pump();
  });
}

test('TLS: the front door holds over TLS (an announced 200 MiB body answered from the head, a forged signature 403)', async () => {
  const arn = `arn:aws:bedrock-agentcore:${region}:123456789012:runtime/nope-0123456789`;
  const path = `/runtimes/${encodeURIComponent(arn)}/invocations?qualifier=DEFAULT`;
  const big = await rawHttps(path, { 'Content-Length': String(200 * 1024 * 1024), 'Content-Type': 'application/json' },
    0);
  // answered from the head (unsigned: 401) without waiting for any of the 200 MiB announced
  assert.equal(big.status, 401, `announced 200 MiB: ${JSON.stringify(big)}`);
  // signed now, over the body (no x-amz-content-sha256): held in the spool, refused at its end
  const now = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+/, '');
  const forged = await rawHttps(path, {
    'Content-Type': 'application/json', 'X-Amz-Date': now,
    Authorization: `AWS4-HMAC-SHA256 Credential=${credentials.accessKeyId}/${now.slice(0, 8)}/${region}/bedrock-agentcore/aws4_request, ` +
      'SignedHeaders=host;x-amz-date, Signature=' + '0'.repeat(64),
    'Content-Length': String(1024 * 1024),
  }, 1024 * 1024);
  assert.equal(forged.status, 403, `forged signature: ${JSON.stringify(forged)}`);
  assert.equal(forged.type, "InvalidSignatureException");
});

test('TLS: the server offers TLS 1.2 or newer only', async () => {
  const outcome = await new Promise((resolve) => {
    const t = tlsConnect({ host: '127.0.0.1', port, servername: 'localhost', ca, maxVersion: 'TLSv1.1', minVersion: 'TLSv1' });
    t.on('secureConnect', () => { resolve(`connected ${t.getProtocol()}`); t.destroy(); });
    t.on('error', (e) => resolve(`error ${e.code}`));
  });
  assert.match(outcome, /^error /, `TLS 1.1 client: ${outcome}`);
  const modern = await new Promise((resolve) => {
    const t = tlsConnect({ host: '127.0.0.1', port, servername: 'localhost', ca });
    t.on('secureConnect', () => { resolve(t.getProtocol()); t.destroy(); });
    t.on('error', (e) => resolve(`error ${e.code}`));
  });
  assert.match(modern, /^TLSv1\.[23]$/);
});
