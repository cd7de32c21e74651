// tests/agents/node-sdk/agent.mjs — a sample agent written with the official AgentCore
// TypeScript SDK (npm bedrock-agentcore, BedrockAgentCoreApp), as a user would write it.
// The SDK serves 0.0.0.0:8080: GET /ping and POST /invocations (JSON, or SSE when the handler
// returns an async generator). Requests: {"prompt": "..."} -> JSON answer;
// {"prompt": "...", "stream": true, "n": 3} -> n SSE "message" events then a "done" event.
// The answer depends only on the request and the session id, so the same request gives the
// same answer inside a microVM and outside it (the e2e test compares them). PORT overrides
// 8080 (for the reference run outside a VM).
//
// Requests with an "action" exercise what an agent does with the outside world, written the way
// an agent author writes it (no Silo-specific code: the proxy, DNS, credentials and endpoint all
// come from the environment agentd gives the agent; see guest/agentd/README.md):
//   {"action":"chat","url":U,"prompt":P}  an OpenAI-compatible streaming chat call with fetch()
//        (through HTTPS_PROXY); the model's tokens come back as SSE "token" events, then "done"
//   {"action":"chat_tls","host":H,"prompt":P}  the same call over a raw tls.connect() to H:443,
//        which ignores every proxy setting (the transparent path: the guest's DNS stub)
//   {"action":"probe","urls":[U...]}      GET each plain-http URL through HTTP_PROXY (absolute-form),
//        report the status and body the proxy answered (a refusal's reason), or the error
//   {"action":"streams","url":U,"n":N,"bytes":B}  N concurrent downloads of B bytes of the
//        pattern byte[i] = i % 251, each checked by SHA-256
//   {"action":"hold","url":U}             opens a long download and keeps it open
//   {"action":"invoke","runtimeArn":A,"payload":P}  InvokeAgentRuntime on another runtime with
//        @aws-sdk/client-bedrock-agentcore and no credentials or endpoint in the code
//   {"action":"env"}                      which of the egress/credential variables are set
//
// AgentCore Identity (outbound auth), with the SDK's own helpers (bedrock-agentcore/identity):
// the runtime hands the agent a workload access token on each invocation whose user is known
// (header WorkloadAccessToken / X-Amz-Bedrock-AgentCore-Identity-WAT, context.workloadAccessToken)
// and the caller's OAuth2CallbackUrl header (context.oauth2CallbackUrl); the helpers present it
// to the identity data plane (AWS_ENDPOINT_URL_BEDROCK_AGENTCORE, the role's credentials).
//   {"action":"user_resource","provider":P,"scopes":[S...],"url":U,"returnUrl":R}  a tool wrapped
//        with withAccessToken(USER_FEDERATION): as soon as the SDK's onAuthUrl fires, the
//        authorization URL comes back as an SSE "authorization_url" event (for the user's
//        browser); the SDK then polls (every 5 s, up to 600 s) until the user has consented and
//        the application completed the flow; the tool calls U (through HTTPS_PROXY/HTTP_PROXY)
//        with `Authorization: Bearer <token>`; its answer comes back as a "resource" event, then
//        "done". R (the application's return URL) defaults to the OAuth2CallbackUrl header.
//   {"action":"api_key_resource","provider":P,"url":U}  a tool wrapped with withApiKey: calls U
//        with the provider's API key in X-Api-Key; JSON answer {provider, status, body}.
//   {"action":"identity_context"}  what the runtime handed this invocation: whether a workload
//        access token came (and its length, never its value) and the OAuth2CallbackUrl header
// Neither a token nor a key is ever put into an answer or a log line.
import { BedrockAgentCoreApp } from 'bedrock-agentcore/runtime';
import { withAccessToken, withApiKey } from 'bedrock-agentcore/identity';
import { BedrockAgentCoreClient, InvokeAgentRuntimeCommand } from '@aws-sdk/client-bedrock-agentcore';
import { createHash } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { connect as tlsConnect } from 'node:tls';

/** OpenAI-style SSE from a fetch() Response: yields each delta's content. */
async function* chatTokens(response) {
  const decoder = new TextDecoder();
  let buffered = '';
  for await (const chunk of response.body) {
    buffered += decoder.decode(chunk, { stream: true });
    let cut;
    while ((cut = buffered.indexOf('\n\n')) >= 0) {
      const event = buffered.slice(0, cut);
      buffered = buffered.slice(cut + 2);
      for (const line of event.split('\n')) {
        if (!line.startsWith('data: ') || line === 'data: [DONE]') continue;
        const content = JSON.parse(line.slice(6)).choices?.[0]?.delta?.content;
        if (content) yield content;
      }
    }
  }
}

function chatBody(prompt, stream) {
  return JSON.stringify({ model: 'silo-standin', stream, messages: [{ role: 'user', content: prompt }] });
}

/** A chat call over a raw TLS socket: no proxy, no HTTP client library. */
function chatOverRawTls(host, prompt) {
  return new Promise((resolve, reject) => {
    const body = chatBody(prompt, false);
    const socket = tlsConnect({ host, port: 443, servername: host }, () => {
      socket.write(`POST /v1/chat/completions HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\n`
        + `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
    });
    const chunks = [];
    socket.setTimeout(60000, () => socket.destroy(new Error('timed out')));
    socket.on('data', (c) => chunks.push(c));
    socket.on('error', reject);
    socket.on('end', () => {
      const text = Buffer.concat(chunks).toString();
      const json = text.slice(text.indexOf('\r\n\r\n') + 4);
      resolve({ status: Number(text.split(' ')[1]), remoteAddress: socket.remoteAddress,
                answer: JSON.parse(json).choices[0].message.content });
    });
  });
}

function patternSha256(bytes) {
  const block = Buffer.alloc(251 * 256);
  for (let i = 0; i < block.length; i++) block[i] = i % 251;
  const h = createHash('sha256');
  for (let left = bytes; left > 0; left -= Math.min(left, block.length)) h.update(block.subarray(0, Math.min(left, block.length)));
  return h.digest('hex');
}

async function download(url) {
  const response = await fetch(url);
  const h = createHash('sha256');
  let length = 0;
  for await (const chunk of response.body) { h.update(chunk); length += chunk.length; }
  return { status: response.status, length, sha256: h.digest('hex') };
}

/** GET a plain-http URL through HTTP_PROXY the way proxy-aware HTTP clients do (absolute-form),
 * so the proxy's own answer (a refusal's 403 and its reason) is what comes back. */
function getThroughProxy(url) {
  const proxy = new URL(process.env.HTTP_PROXY);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: proxy.hostname, port: proxy.port, path: url, headers: { host: new URL(url).host } },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c) => { body += c; });
        res.on('end', () => resolve({ status: res.statusCode, body }));
      });
    req.setTimeout(30000, () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}

const held = [];

/** GET a protected resource (fetch: through HTTPS_PROXY/HTTP_PROXY) with the given headers;
 * its status and its answer (JSON when it is JSON). */
async function callResource(url, headers) {
  const response = await fetch(url, { headers, signal: AbortSignal.timeout(60000) });
  const text = await response.text();
  let body = text.slice(0, 2000);
  try { body = JSON.parse(text); } catch { /* not JSON: the text */ }
  return { status: response.status, body };
}

/** The 3LO tool: an SSE stream of "authorization_url" (when the SDK's onAuthUrl fires), then
 * "resource" (the protected resource's answer) and "done". A failure ends the stream with the
 * SDK's "error" event. */
function userResource(request) {
  const queue = [];
  let wake = null;
  const push = (item) => { queue.push(item); if (wake) { wake(); wake = null; } };
  const tool = withAccessToken({
    providerName: request.provider,
    scopes: request.scopes ?? [],
    authFlow: 'USER_FEDERATION',
    callbackUrl: request.returnUrl,   // undefined: the OAuth2CallbackUrl header (the SDK's fallback)
    onAuthUrl: (authorizationUrl) => push({ event: { event: 'authorization_url', data: { authorizationUrl } } }),
  })(async (url, token) => callResource(url, { authorization: `Bearer ${token}` }));
  const t0 = Date.now();
  tool(request.url).then((answer) => push({ answer }), (error) => push({ error }));
  return (async function* () {
    for (;;) {
      while (queue.length === 0) await new Promise((resolve) => { wake = resolve; });
      const item = queue.shift();
      if (item.event) { yield item.event; continue; }
      if (item.error) throw item.error;
      yield { event: 'resource', data: { provider: request.provider, ...item.answer } };
      yield { event: 'done', data: { ok: item.answer.status === 200, ms: Date.now() - t0 } };
      return;
    }
  })();
}

/** The API-key tool. */
function apiKeyResource(request) {
  return withApiKey({ providerName: request.provider })(async (url, apiKey) => ({
    provider: request.provider, ...(await callResource(url, { 'x-api-key': apiKey })),
  }))(request.url);
}

async function act(request, context) {
  switch (request.action) {
    case 'chat': {
      const response = await fetch(request.url, {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: chatBody(request.prompt, true),
      });
      if (!response.ok) throw new Error(`model answered ${response.status}`);
      return (async function* () {
        let text = '';
        for await (const token of chatTokens(response)) {
          text += token;
          yield { event: 'token', data: { token } };
        }
        yield { event: 'done', data: { text } };
      })();
    }
    case 'chat_tls':
      return chatOverRawTls(request.host, request.prompt);
    case 'probe':
      return Promise.all(request.urls.map(async (url) => {
        const t0 = Date.now();
        try {
          const r = await getThroughProxy(url);
          return { url, status: r.status, body: r.body.slice(0, 400), ms: Date.now() - t0 };
        } catch (e) {
          return { url, error: String(e?.cause?.message ?? e?.message ?? e), ms: Date.now() - t0 };
        }
      }));
    case 'streams':
      // minutes of work: answered as a stream (the SDK keeps it alive), the result its one event
      return (async function* () {
        const want = patternSha256(request.bytes);
        const t0 = Date.now();
        const results = await Promise.allSettled(Array.from({ length: request.n }, () => download(request.url)));
        const good = results.filter((r) => r.status === 'fulfilled' && r.value.status === 200
          && r.value.length === request.bytes && r.value.sha256 === want).length;
        const bad = results.map((r) => (r.status === 'rejected' ? String(r.reason?.cause?.message ?? r.reason)
          : `status ${r.value.status} length ${r.value.length} ${r.value.sha256 === want ? 'same' : 'different'} sha256`))
          .filter((_, i) => !(results[i].status === 'fulfilled' && results[i].value.sha256 === want
            && results[i].value.length === request.bytes)).slice(0, 5);
        yield { intact: good, of: request.n, bytes: good * request.bytes, ms: Date.now() - t0, bad };
      })();
    case 'hold': {
      const response = await fetch(request.url);
      const reader = response.body.getReader();
      await reader.read();
      held.push(reader);
      return { holding: held.length };
    }
    case 'invoke': {
      const client = new BedrockAgentCoreClient({});
      const answer = await client.send(new InvokeAgentRuntimeCommand({
        agentRuntimeArn: request.runtimeArn, qualifier: request.qualifier,
        runtimeSessionId: request.sessionId ?? `${context.sessionId}-inner-call`,
        contentType: 'application/json', payload: Buffer.from(JSON.stringify(request.payload)),
      }));
      return { statusCode: answer.statusCode, body: JSON.parse(await answer.response.transformToString()) };
    }
    case 'user_resource':
      return userResource(request);
    case 'api_key_resource':
      return apiKeyResource(request);
    case 'identity_context':
      return { workloadAccessToken: context.workloadAccessToken ? 'set' : null,
               workloadAccessTokenLength: context.workloadAccessToken?.length ?? 0,
               oauth2CallbackUrl: context.oauth2CallbackUrl ?? null };
    case 'env': {
      const names = ['HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy', 'NO_PROXY', 'NODE_USE_ENV_PROXY',
        'AWS_REGION', 'AWS_DEFAULT_REGION', 'AWS_ENDPOINT_URL_BEDROCK_AGENTCORE', 'AWS_CONTAINER_CREDENTIALS_FULL_URI'];
      return { ...Object.fromEntries(names.map((n) => [n, process.env[n] ?? null])),
               AWS_CONTAINER_AUTHORIZATION_TOKEN: process.env.AWS_CONTAINER_AUTHORIZATION_TOKEN ? 'set' : null };
    }
    default:
      throw new Error(`unknown action ${request.action}`);
  }
}

const app = new BedrockAgentCoreApp({
  invocationHandler: {
    process: async (request, context) => {
      if (typeof request?.action === 'string') return act(request, context);
      const prompt = typeof request?.prompt === 'string' ? request.prompt : '';
      if (request?.stream === true) {
        const n = Number.isInteger(request.n) && request.n >= 0 && request.n <= 1000 ? request.n : 3;
        return (async function* () {
          for (let i = 0; i < n; i++) {
            yield { event: 'message', data: { index: i, text: `${prompt} ${i}` } };
          }
          yield { event: 'done', data: { count: n } };
        })();
      }
      return {
        agent: 'node-sdk',
        session: context.sessionId,
        prompt,
        reversed: [...prompt].reverse().join(''),
        length: prompt.length,
      };
    },
  },
  config: { logging: { enabled: true, options: { level: 'warn' } } },
});

app.run({ port: Number(process.env.PORT ?? 8080) });
