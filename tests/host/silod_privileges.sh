#!/usr/bin/env bash
# tests/host/silod_privileges.sh — what silod decides at start about the VMM jail and the wipe
# keeper, from who runs it (frontend/README.md, "The VMM jail", vmm.wipe_keeper), on this x86
# machine with the test VMM (no session starts):
#   an unprivileged silod whose RLIMIT_MEMLOCK cannot hold a guest refuses to start, in one line,
#   while vmm.wipe_keeper is on (its VMMs could not lock guest RAM); with it off it starts, and
#   says the jail is off because it is not root; as root without /dev/kvm the jail is off and
#   says why; "jail": {"enabled": false} turns it off. ~2 s.
set -uo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
T=silod_privileges
failures=0
ok() { echo "ok - $T: $1"; }
not_ok() { echo "not ok - $T: $1"; failures=$((failures + 1)); }
if ! make -s -j2 BUILD="$BUILD" "$BUILD/host/bin/silod" "$BUILD/host/bin/fake_vmm" >&2; then
    not_ok "build of silod and fake_vmm"
    exit 1
fi
dir=$(mktemp -d /tmp/silo-privileges.XXXXXX)
trap 'rm -rf "$dir"' EXIT
chmod 755 "$dir"
mkdir -m 777 "$dir/run"
# config NAME EXTRA_VMM_KEYS EXTRA_TOP_KEYS: a config whose files an unprivileged user can use
config() {
    cat >"$dir/$1.json" <<JSON
{ "listen_address": "127.0.0.1", "listen_port": 0, "database": "$dir/run/$1.db",
  "credentials": [ { "access_key_id": "AKIDPRIVILEGES", "secret_access_key": "secret" } ],
  "vmm": { "path": "$PWD/$BUILD/host/bin/fake_vmm", "kernel": "/nonexistent/Image", "rootfs_dir": "$dir/run",
           "socket_dir": "$dir/run", "guest_mib": 512 $2 } $3 }
JSON
    chmod 644 "$dir/$1.json"
}
# run_silod NAME [AS_NOBODY]: silod with that config for at most 2 s; its stderr in $dir/NAME.log,
# its exit status in $status (124: it was still serving when stopped)
run_silod() {
    if [ -n "${2:-}" ]; then
        (ulimit -l 64; ulimit -Hl 64
         timeout 2 setpriv --reuid=65534 --regid=65534 --clear-groups "$BUILD/host/bin/silod" --config "$dir/$1.json") \
            >/dev/null 2>"$dir/$1.log"
    else
        timeout 2 "$BUILD/host/bin/silod" --config "$dir/$1.json" >/dev/null 2>"$dir/$1.log"
    fi
    status=$?
}
if ! command -v setpriv >/dev/null || [ "$(id -u)" != 0 ]; then
    echo "# skip - $T: the unprivileged runs need root and setpriv (util-linux)"
else
    config keeper "" ""
    run_silod keeper nobody
    line=$(grep "vmm.wipe_keeper" "$dir/keeper.log")
    [ "$status" = 1 ] && [ "$(wc -l <"$dir/keeper.log")" = 1 ] && echo "$line" | grep -q "RLIMIT_MEMLOCK is 64 KiB, below a 512 MiB guest"
    [ $? = 0 ] && ok "unprivileged, RLIMIT_MEMLOCK 64 KiB, vmm.wipe_keeper on: refuses to start in one line (status $status: ${line#silod: })" ||
        { not_ok "unprivileged with a low RLIMIT_MEMLOCK: status $status"; sed 's/^/#   /' "$dir/keeper.log"; }
    config nokeeper ', "wipe_keeper": false' ""
    run_silod nokeeper nobody
    [ "$status" = 124 ] && grep -q "^silod: jail: off (silod does not run as root)" "$dir/nokeeper.log" &&
        grep -q "^silod: listening on" "$dir/nokeeper.log"
    [ $? = 0 ] && ok "unprivileged with vmm.wipe_keeper false: starts, and says the jail is off because it is not root" ||
        { not_ok "unprivileged with vmm.wipe_keeper false: status $status"; sed 's/^/#   /' "$dir/nokeeper.log"; }
fi
if [ -e /dev/kvm ]; then
    echo "# skip - $T: this machine has /dev/kvm (the 'no usable /dev/kvm' case needs one without)"
else
    config auto "" ""
    run_silod auto
    [ "$status" = 124 ] && grep -q "^silod: jail: off (no usable /dev/kvm)" "$dir/auto.log"
    [ $? = 0 ] && ok "as root without /dev/kvm: the jail (auto) is off, and silod says why" ||
        { not_ok "as root without /dev/kvm: status $status"; sed 's/^/#   /' "$dir/auto.log"; }
fi
config off "" ', "jail": { "enabled": false }'
run_silod off
[ "$status" = 124 ] && grep -q "^silod: jail: off (jail.enabled false)" "$dir/off.log"
[ $? = 0 ] && ok "\"jail\": {\"enabled\": false}: the jail is off, and silod says so" ||
    { not_ok "jail.enabled false: status $status"; sed 's/^/#   /' "$dir/off.log"; }
[ "$failures" = 0 ]
