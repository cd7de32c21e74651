// tests/agents/ws-agent/agent.mjs — a sample WebSocket agent written with the official AgentCore
// TypeScript SDK (npm bedrock-agentcore, BedrockAgentCoreApp with a websocketHandler), as a user
// would write it. The SDK serves 0.0.0.0:8080: GET /ping, POST /invocations and GET /ws (the
// WebSocket the runtime relays from /runtimes/{arn}/ws). On the WebSocket each text or binary
// message comes back as it was sent, except the text messages
//   "whoami"  → JSON {agent, pid, path, headers}: this process's pid (one per microVM) and the
//               platform headers the SDK's context carries (session id, request id, and the
//               Authorization / Custom-* headers it passes on)
//   "big:N"   → one binary message of N bytes (byte i = i % 251)
//   "close"   → the agent closes the connection (1000, "bye")
// PORT overrides 8080 (for a run outside a VM).
import { BedrockAgentCoreApp } from 'bedrock-agentcore/runtime';

const app = new BedrockAgentCoreApp({
  invocationHandler: {
    process: async (request, context) => ({ agent: 'ws-agent', session: context.sessionId, pid: process.pid }),
  },
  websocketHandler: async (socket, context) => {
    socket.on('message', (data, isBinary) => {
      const text = isBinary ? null : data.toString();
      if (text === 'whoami') {
        const headers = { 'x-amzn-bedrock-agentcore-runtime-session-id': context.sessionId,
          'x-amzn-bedrock-agentcore-runtime-request-id': context.requestId };
        for (const [k, v] of Object.entries(context.headers ?? {})) headers[k.toLowerCase()] = v;
        socket.send(JSON.stringify({ agent: 'ws-agent', pid: process.pid, path: '/ws', headers }));
      } else if (text?.startsWith('big:')) {
        const n = Math.min(Number(text.slice(4)) || 0, 16 * 1024 * 1024);
        const big = Buffer.alloc(n);
        for (let i = 0; i < n; i++) big[i] = i % 251;
        socket.send(big, { binary: true });
      } else if (text === 'close') {
        socket.close(1000, 'bye');
      } else {
        socket.send(data, { binary: isBinary });
      }
    });
  },
  config: { logging: { enabled: true, options: { level: 'warn' } } },
});

app.run({ port: Number(process.env.PORT ?? 8080) });
