// tests/frontend/sdk/mcp.test.mjs — an MCP runtime through silod's invoke path, driven by the
// real @modelcontextprotocol/sdk client (StreamableHTTPClientTransport pointed at the invoke URL,
// requests SigV4-signed). The guest's MCP server is fake_vmm's minimal one on port 8000.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { DeleteAgentRuntimeCommand } from '@aws-sdk/client-bedrock-agentcore-control';
import { control, readyRuntime, invokeUrl, signedFetch, sessionId } from './lib.mjs';

let rt;
const open = [];
before(async () => {
  rt = await readyRuntime('mcp', { protocolConfiguration: { serverProtocol: 'MCP' } });
});
after(async () => {
  for (const c of open) await c.close().catch(() => {});
  if (rt) await control.send(new DeleteAgentRuntimeCommand({ agentRuntimeId: rt.agentRuntimeId }));
});

async function connect() {
  const transport = new StreamableHTTPClientTransport(new URL(invokeUrl(rt.agentRuntimeArn)), { fetch: signedFetch });
  const client = new Client({ name: 'silo-test', version: '1.0.0' });
  await client.connect(transport);
  open.push(client);
  return { client, transport };
}

async function callWhoami(client) {
  const r = await client.callTool({ name: 'whoami', arguments: { n: 1 } });
  return JSON.parse(r.content[0].text);
}

test('mcp: the SDK client initializes through the invoke URL; silod hands out Mcp-Session-Id', async () => {
  const { client, transport } = await connect();
  assert.equal(client.getServerVersion()?.name, 'fake-vmm-mcp');
  assert.match(transport.sessionId ?? '', /^[0-9a-f-]{36}$/, 'the session id silod added');
});

test('mcp: tools/list (JSON answer) and tools/call (SSE answer) reach the guest on port 8000', async () => {
  const { client, transport } = await connect();
  const tools = await client.listTools();
  assert.deepEqual(tools.tools.map((t) => t.name), ['whoami']);
  const who = await callWhoami(client);
  assert.deepEqual(who.arguments, { n: 1 });
  assert.equal(who.mcpSessionId, transport.sessionId, 'the guest sees the Mcp-Session-Id');
  assert.equal(who.runtimeSessionId, transport.sessionId, 'and it is the runtime session');
});

test('mcp: the echoed Mcp-Session-Id pins one microVM; another client gets another', async () => {
  const a = await connect(), b = await connect();
  const a1 = await callWhoami(a.client), a2 = await callWhoami(a.client), b1 = await callWhoami(b.client);
  assert.equal(a1.vmm_pid, a2.vmm_pid);
  assert.notEqual(a1.vmm_pid, b1.vmm_pid);
  assert.notEqual(a.transport.sessionId, b.transport.sessionId);
});

test('mcp: a client-sent Mcp-Session-Id passes through unchanged', async () => {
  const mine = sessionId();
  const res = await signedFetch(invokeUrl(rt.agentRuntimeArn), {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json', 'mcp-session-id': mine },
    body: JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'whoami', arguments: {} } }),
  });
  assert.equal(res.status, 200, await res.clone().text());
  assert.equal(res.headers.get('content-type'), 'application/json');
  assert.equal(res.headers.get('mcp-session-id'), mine);
  const who = JSON.parse((await res.json()).result.content[0].text);
  assert.equal(who.mcpSessionId, mine);
  assert.equal(who.runtimeSessionId, mine);
});

test('mcp: the guest\'s own statuses pass through (GET /mcp → 405, a notification → 202)', async () => {
  const get = await signedFetch(invokeUrl(rt.agentRuntimeArn), { method: 'GET', headers: { accept: 'text/event-stream' } });
  assert.equal(get.status, 405);
  const note = await signedFetch(invokeUrl(rt.agentRuntimeArn), {
    method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
  });
  assert.equal(note.status, 202);
});
