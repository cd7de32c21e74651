// tests/frontend/sdk/lib.mjs — shared set-up for the real-client tests: the AWS SDK clients
// pointed at silod (endpoint override, the static key from silod's config), a SigV4-signing
// fetch for clients that are not AWS SDKs, and helpers. Environment from tests/host/frontend_sdk.sh.
import { randomBytes } from 'node:crypto';
import { BedrockAgentCoreControlClient, CreateAgentRuntimeCommand, GetAgentRuntimeCommand }
  from '@aws-sdk/client-bedrock-agentcore-control';
import { BedrockAgentCoreClient } from '@aws-sdk/client-bedrock-agentcore';
import { SignatureV4 } from '@smithy/signature-v4';
import { createHash, createHmac } from 'node:crypto';

function need(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run tests/host/frontend_sdk.sh`);
  return v;
}

export const endpoint = need('SILOD_ENDPOINT');
export const region = need('SILO_REGION');
export const accountId = need('SILO_ACCOUNT_ID');
export const testDir = need('SILO_TEST_DIR');
export const credentials = {
  accessKeyId: need('SILO_ACCESS_KEY_ID'),
  secretAccessKey: need('SILO_SECRET_ACCESS_KEY'),
};

const clientConfig = { endpoint, region, credentials, maxAttempts: 1 };
export const control = new BedrockAgentCoreControlClient(clientConfig);
export const data = new BedrockAgentCoreClient(clientConfig);
export function dataClientWith(creds) {
  return new BedrockAgentCoreClient({ ...clientConfig, credentials: creds });
}

export const imageV1 = `${testDir}/agent-v1`;
export const imageV2 = `${testDir}/agent-v2`;

export function uniqueName(base) {
  return `${base}_${randomBytes(4).toString('hex')}`;
}

export function sessionId() {
  return `silo-test-session-${randomBytes(16).toString('hex')}`;
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls fn until pred(value) holds (10 s at most); returns the value. */
export async function waitFor(fn, pred, what) {
  let last;
  for (let i = 0; i < 200; i++) {
    last = await fn();
    if (pred(last)) return last;
    await sleep(50);
  }
  throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(last)}`);
}

export function baseRuntime(name, extra = {}) {
  return {
    agentRuntimeName: name,
    agentRuntimeArtifact: { containerConfiguration: { containerUri: imageV1 } },
    roleArn: `arn:aws:iam::${accountId}:role/silo-test`,
    networkConfiguration: { networkMode: 'PUBLIC' },
    ...extra,
  };
}

/** Creates a runtime and waits until it is READY; returns the Get answer. */
export async function readyRuntime(base, extra = {}) {
  const c = await control.send(new CreateAgentRuntimeCommand(baseRuntime(uniqueName(base), extra)));
  return waitFor(() => control.send(new GetAgentRuntimeCommand({ agentRuntimeId: c.agentRuntimeId })),
    (g) => g.status === 'READY', `runtime ${c.agentRuntimeId} READY`);
}

/** The data-plane invoke URL of a runtime, the ARN percent-encoded in one segment. */
export function invokeUrl(arn, qualifier = 'DEFAULT') {
  return `${endpoint}/runtimes/${encodeURIComponent(arn)}/invocations?qualifier=${qualifier}`;
}

/** SHA-256 / HMAC-SHA256 in the shape @smithy/signature-v4 wants, from node:crypto. */
class Sha256 {
  constructor(secret) { this.h = secret ? createHmac('sha256', secret) : createHash('sha256'); }
  update(data) { this.h.update(typeof data === 'string' ? Buffer.from(data) : data); }
  async digest() { return new Uint8Array(this.h.digest()); }
}

const signer = new SignatureV4({ credentials, region, service: 'bedrock-agentcore', sha256: Sha256 });

/** SigV4 headers for a request (the path is double-encoded in the signature, as the SDKs do). */
async function sign(url, init = {}) {
  const u = new URL(url);
  const headers = { host: u.host };
  new Headers(init.headers ?? {}).forEach((v, k) => { headers[k] = v; });
  const query = {};
  u.searchParams.forEach((v, k) => { query[k] = v; });
  const signed = await signer.sign({
    method: init.method ?? 'GET', protocol: u.protocol, hostname: u.hostname, port: Number(u.port),
    path: u.pathname, query, headers, body: init.body ?? undefined,
  });
  delete signed.headers.host;
  return signed.headers;
}

/** fetch() that signs each request with SigV4 as the AWS SDKs do (for non-AWS clients). */
export async function signedFetch(url, init = {}) {
  return fetch(url, { ...init, headers: await sign(url, init) });
}
signedFetch.sign = sign;
