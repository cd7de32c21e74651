// tests/agents/a2a-agent/agent.mjs — a sample A2A agent for AgentCore's A2A protocol, written
// with @a2a-js/sdk (A2A 1.0, with the SDK's v0.3 compatibility layer on, so AgentCore's
// documented `message/send` bodies work too): JSON-RPC 2.0 on 0.0.0.0:9000/ and the agent card
// at /.well-known/agent-card.json, as the A2A contract asks.
//
// Its one skill echoes: a message "TEXT" is answered with a task whose artifact is
// "echo: TEXT | session=<the X-Amzn-Bedrock-AgentCore-Runtime-Session-Id it was sent> |
// instance=<a random id per process>", so a test sees the session header arrive and which
// microVM answered. Streamed (message/stream, SendStreamingMessage): the task, a "working"
// status, the artifact in three chunks 100 ms apart, then "completed" — one SSE event each.
// The card's URL is AGENTCORE_RUNTIME_URL when set (AgentCore's convention for the public
// invocation URL), else http://127.0.0.1:9000/.
import express from 'express';
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import { A2A_PROTOCOL_VERSION, AGENT_CARD_PATH, TaskState } from '@a2a-js/sdk';
import { duplicateInterfacesForLegacy } from '@a2a-js/sdk/compat/v0_3';
import { AgentEvent, DefaultRequestHandler, InMemoryTaskStore } from '@a2a-js/sdk/server';
import { agentCardHandler, jsonRpcHandler, UserBuilder } from '@a2a-js/sdk/server/express';

const PORT = 9000;
const SESSION_HEADER = 'x-amzn-bedrock-agentcore-runtime-session-id';
const instance = randomUUID();
const requestInfo = new AsyncLocalStorage();

const card = {
  name: 'silo-sample-a2a',
  description: 'Silo sample A2A agent: echoes each message, streamed in chunks when asked.',
  supportedInterfaces: duplicateInterfacesForLegacy([{
    url: process.env.AGENTCORE_RUNTIME_URL || `http://127.0.0.1:${PORT}/`,
    protocolBinding: 'JSONRPC',
    tenant: '',
    protocolVersion: A2A_PROTOCOL_VERSION,
  }], ['JSONRPC']),
  provider: { organization: 'Silo', url: 'https://example.invalid/silo' },
  version: '1.0.0',
  capabilities: { streaming: true, pushNotifications: false, extensions: [], extendedAgentCard: false },
  securitySchemes: {},
  securityRequirements: [],
  defaultInputModes: ['text'],
  defaultOutputModes: ['text'],
  skills: [{
    id: 'echo',
    name: 'Echo',
    description: 'Answers with the text it was sent, the session id it saw and its instance id.',
    tags: ['sample', 'echo'],
    examples: ['hello'],
    inputModes: ['text'],
    outputModes: ['text'],
    securityRequirements: [],
  }],
  documentationUrl: '',
  signatures: [],
};

const textPart = (value) => ({ content: { $case: 'text', value }, metadata: undefined, filename: '',
  mediaType: 'text/plain' });
const now = () => new Date().toISOString();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

class EchoExecutor {
  async execute(ctx, bus) {
    const { taskId, contextId } = ctx;
    const message = ctx.userMessage;
    const text = message.parts.map((p) => (p.content?.$case === 'text' ? p.content.value : '')).join('');
    const session = requestInfo.getStore()?.session ?? '';
    const reply = `echo: ${text} | session=${session} | instance=${instance}`;
    bus.publish(AgentEvent.task(ctx.task ?? {
      id: taskId, contextId, status: { state: TaskState.TASK_STATE_SUBMITTED, timestamp: now(), message: undefined },
      artifacts: [], history: [message], metadata: {},
    }));
    bus.publish(AgentEvent.statusUpdate({ taskId, contextId, metadata: {},
      status: { state: TaskState.TASK_STATE_WORKING, timestamp: now(), message: undefined } }));
    // the reply in three chunks of one artifact: a streaming client sees each as its own event
    const cut = [0, Math.floor(reply.length / 3), Math.floor((2 * reply.length) / 3), reply.length];
    const artifactId = randomUUID();
    for (let i = 0; i < 3; i++) {
      await sleep(100);
      bus.publish(AgentEvent.artifactUpdate({
        taskId, contextId, append: i > 0, lastChunk: i === 2, metadata: undefined,
        artifact: { artifactId, name: 'echo', description: '', parts: [textPart(reply.slice(cut[i], cut[i + 1]))],
          metadata: undefined, extensions: [] },
      }));
    }
    bus.publish(AgentEvent.statusUpdate({ taskId, contextId, metadata: {},
      status: { state: TaskState.TASK_STATE_COMPLETED, timestamp: now(), message: undefined } }));
  }

  async cancelTask() {}
}

const requestHandler = new DefaultRequestHandler(card, new InMemoryTaskStore(), new EchoExecutor());
const app = express();
app.use((req, _res, next) => requestInfo.run({ session: req.get(SESSION_HEADER) ?? '' }, next));
app.use(`/${AGENT_CARD_PATH}`, agentCardHandler({ agentCardProvider: requestHandler, legacyCompat: { enabled: true } }));
app.use(jsonRpcHandler({ requestHandler, userBuilder: UserBuilder.noAuthentication, legacyCompat: { enabled: true } }));
app.listen(PORT, '0.0.0.0', (err) => {
  if (err) throw err;
  console.error(`a2a-agent: listening on 0.0.0.0:${PORT} (instance ${instance})`);
});
