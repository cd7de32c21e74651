#!/bin/sh
# tests/agents/node-sdk/reference.sh APP_DIR OUT_DIR — runs the node-sdk sample agent outside
# any VM (this machine's node, the same agent.mjs and node_modules) and records its answers to
# the requests tests/e2e/guest_agents.lib sends, normalized the same way (non-empty body lines),
# as OUT_DIR/node-sdk-{json,sse}.body. The e2e test checks the in-VM answers against them.
set -eu
app=$1; out=$2
port=${REFERENCE_PORT:-18080}
session=e2e-session-0123456789abcdef0123456789abcdef
mkdir -p "$out"
PORT=$port node "$app/agent.mjs" >"$out/reference-agent.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null' EXIT
i=0
until curl -s -o /dev/null "http://127.0.0.1:$port/ping"; do
    i=$((i + 1)); [ $i -lt 100 ] || { echo "reference.sh: the agent did not start" >&2; exit 1; }; sleep 0.1
done
norm() { tr -d '\r' | grep -v '^$' || true; }
curl -s -X POST "http://127.0.0.1:$port/invocations" -H "X-Amzn-Bedrock-AgentCore-Runtime-Session-Id: $session" \
    -H 'Content-Type: application/json' -d '{"prompt":"hello silo"}' | norm >"$out/node-sdk-json.body"
curl -sN -X POST "http://127.0.0.1:$port/invocations" -H "X-Amzn-Bedrock-AgentCore-Runtime-Session-Id: $session" \
    -H 'Accept: text/event-stream' -H 'Content-Type: application/json' \
    -d '{"prompt":"tick","stream":true,"n":3}' | norm >"$out/node-sdk-sse.body"
echo "reference.sh: $(wc -l <"$out/node-sdk-json.body") + $(wc -l <"$out/node-sdk-sse.body") lines in $out"
