# tests/e2e/guest_agents_qemu.sh — the same sample-agent checks as guest_agents.sh, with the
# guest booted by Debian's QEMU (-accel kvm, virtio-blk snapshot=on, vhost-vsock) instead of
# silo-vmm: it tests init, agentd and the images against a VMM we did not write, and gives the
# peer figure for "exec -> agent ready".
. /silo/tests/e2e/common.lib
VMM=qemu
. /silo/tests/e2e/guest_agents.lib
if [ ! -c /dev/vhost-vsock ]; then fail "guest agents (qemu): /dev/vhost-vsock is missing"; exit 0; fi
run_guest_agent_checks
