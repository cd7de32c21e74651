# tests/e2e/guest_agents.sh — each sample agent (C, Node AgentCore SDK, MCP server) boots in its
# own silo-vmm microVM from its ext4 image (--disk IMG,cow) and is reached over hybrid vsock
# (CONNECT <port> on silo-vmm's Unix socket): /invocations JSON and SSE, /ping, the agentd
# control port, crash reporting, SHUTDOWN. Checks are in guest_agents.lib. silo-vmm runs jailed
# (tests/e2e/jailed-vmm, as silod runs it; each agent's check says so), SILO_E2E_JAIL=0 bare.
. /silo/tests/e2e/common.lib
VMM=silo
. /silo/tests/e2e/guest_agents.lib
if ! command -v silo-vmm >/dev/null; then fail "guest agents: silo-vmm is not in /silo/bin"; exit 0; fi
run_guest_agent_checks
