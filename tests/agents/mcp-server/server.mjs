// tests/agents/mcp-server/server.mjs — a sample MCP server for AgentCore's MCP protocol,
// written with @modelcontextprotocol/sdk: stateless streamable HTTP on 0.0.0.0:8000/mcp (a new
// server and transport per request, sessionIdGenerator undefined, as the SDK documents for
// stateless servers). Tools: add(a, b), echo(text), sha256(text).
import { createServer } from 'node:http';
import { createHash } from 'node:crypto';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { z } from 'zod';

const MAX_BODY = 4 * 1024 * 1024;

function buildServer() {
  const server = new McpServer({ name: 'silo-sample-mcp', version: '1.0.0' });
  server.registerTool('add', {
    description: 'Adds two numbers',
    inputSchema: { a: z.number(), b: z.number() },
  }, async ({ a, b }) => ({ content: [{ type: 'text', text: String(a + b) }] }));
  server.registerTool('echo', {
    description: 'Returns its text unchanged',
    inputSchema: { text: z.string() },
  }, async ({ text }) => ({ content: [{ type: 'text', text }] }));
  server.registerTool('sha256', {
    description: 'SHA-256 of the text, in hex',
    inputSchema: { text: z.string() },
  }, async ({ text }) => ({ content: [{ type: 'text', text: createHash('sha256').update(text).digest('hex') }] }));
  return server;
}

function readJson(req) {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks = [];
    req.on('data', (c) => {
      size += c.length;
      if (size > MAX_BODY) { reject(new Error('body too large')); req.destroy(); return; }
      chunks.push(c);
    });
    req.on('end', () => {
      try { resolve(JSON.parse(Buffer.concat(chunks).toString('utf8'))); } catch (e) { reject(e); }
    });
    req.on('error', reject);
  });
}

const http = createServer(async (req, res) => {
  const url = new URL(req.url, 'http://localhost');
  if (url.pathname !== '/mcp') { res.writeHead(404).end(); return; }
  if (req.method !== 'POST') {
    // stateless: no GET stream, no DELETE of sessions
    res.writeHead(405, { 'Content-Type': 'application/json', Allow: 'POST' })
      .end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32000, message: 'Method not allowed.' }, id: null }));
    return;
  }
  let body;
  try { body = await readJson(req); } catch {
    res.writeHead(400, { 'Content-Type': 'application/json' })
      .end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32700, message: 'Parse error' }, id: null }));
    return;
  }
  const server = buildServer();
  const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
  res.on('close', () => { transport.close(); server.close(); });
  try {
    await server.connect(transport);
    await transport.handleRequest(req, res, body);
  } catch (e) {
    if (!res.headersSent) {
      res.writeHead(500, { 'Content-Type': 'application/json' })
        .end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32603, message: String(e) }, id: null }));
    }
  }
});

http.listen(8000, '0.0.0.0', () => console.error('mcp-server: listening on 0.0.0.0:8000/mcp'));
