// tests/agents/mcp-server/client.mjs URL — an MCP client written with @modelcontextprotocol/sdk
// (Client + StreamableHTTPClientTransport) that lists the sample server's tools and calls two
// of them. Prints one "ok - ..." / "not ok - ..." line per check (the e2e test format) and
// exits non-zero if any failed. Used by tests/e2e/guest_agents.lib against the server inside a
// microVM (through silo-vsock --listen), and runnable against any URL.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { createHash } from 'node:crypto';

const url = process.argv[2] ?? 'http://127.0.0.1:8000/mcp';
const label = process.env.MCP_LABEL ?? 'mcp client';
let failed = 0;
const check = (ok, what) => { console.log(`${ok ? 'ok' : 'not ok'} - ${label}: ${what}`); if (!ok) failed++; };

const client = new Client({ name: 'silo-e2e-sdk-client', version: '1.0.0' });
try {
  await client.connect(new StreamableHTTPClientTransport(new URL(url)));
  check(client.getServerVersion()?.name === 'silo-sample-mcp', 'the SDK client initializes against the server');
  const { tools } = await client.listTools();
  const names = tools.map((t) => t.name).sort();
  check(JSON.stringify(names) === '["add","echo","sha256"]', `listTools gives add, echo, sha256 (got ${names})`);
  const add = await client.callTool({ name: 'add', arguments: { a: 2, b: 40 } });
  check(add.content?.[0]?.text === '42', `callTool add(2, 40) = 42 (got ${JSON.stringify(add.content)})`);
  const want = createHash('sha256').update('silo').digest('hex');
  const sha = await client.callTool({ name: 'sha256', arguments: { text: 'silo' } });
  check(sha.content?.[0]?.text === want, 'callTool sha256("silo") matches');
  await client.close();
} catch (e) {
  check(false, `MCP SDK client error: ${e?.message ?? e}`);
}
process.exit(failed ? 1 : 0);
