// tests/agents/node-sdk/agent.mjs — a sample agent written with the official AgentCore
// TypeScript SDK (npm bedrock-agentcore, BedrockAgentCoreApp), as a user would write it.
// The SDK serves 0.0.0.0:8080: GET /ping and POST /invocations (JSON, or SSE when the handler
// returns an async generator). Requests: {"prompt": "..."} -> JSON answer;
// {"prompt": "...", "stream": true, "n": 3} -> n SSE "message" events then a "done" event.
// The answer depends only on the request and the session id, so the same request gives the
// same answer inside a microVM and outside it (the e2e test compares them). PORT overrides
// 8080 (for the reference run outside a VM).
import { BedrockAgentCoreApp } from 'bedrock-agentcore/runtime';

const app = new BedrockAgentCoreApp({
  invocationHandler: {
    process: async (request, context) => {
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
