#!/bin/sh
# tests/frontend/devhost/control.sh — the dev host side of tests/host/silod_devhost.sh's side
# channel (busybox nc -l -e, on a second forwarded port): reads one verb, answers one line.
#   kill-newest-vmm   SIGKILL the most recently started silo-vmm (highest pid) (the test has just started the
#                     session it means); answers "killed PID" or "none"
#   count-vmms        "vmms N"
#   count-vmms-of ID  "vmms N": those booting runtime ID's images (ROOTFS/ID-vN.ext4)
#   stop-silod        SIGTERM silod, wait up to 20 s; answers "stopped vmms_before=N vmms_left=M" or "running"
#   kill-silod        SIGKILL silod, then wait up to 20 s for its VMMs to end (they get SIGTERM
#                     from the kernel as silod dies); answers "killed vmms_before=N vmms_left=M"
#   start-silod       start silod again as silod-inside.sh did (same config and database);
#                     answers "started PID" (the host waits for its "listening" line)
# (busybox here has no pgrep) pids of silod's VMMs (started as /silo/bin/silo-vmm, or as
# /silo-vmm inside silo-jail), ascending; not their wipe keepers
vmm_pids() {
    for f in /proc/[0-9]*/cmdline; do
        p=${f#/proc/}; p=${p%/cmdline}
        # a VMM's wipe keeper (vmm.wipe_keeper) is a fork of it, same command line: named silo-keeper
        [ "$(cat /proc/$p/comm 2>/dev/null)" = silo-keeper ] && continue
        case "$(tr '\0' ' ' <"$f" 2>/dev/null)" in "/silo/bin/silo-vmm "* | "/silo-vmm "*) echo "$p" ;; esac
    done | sort -n
}
read -r verb arg
case "$verb" in
    kill-newest-vmm)
        pid=$(vmm_pids | tail -1)
        if [ -n "$pid" ] && kill -KILL "$pid"; then echo "killed $pid"; else echo none; fi ;;
    count-vmms)
        echo "vmms $(vmm_pids | wc -l)" ;;
    count-vmms-of)
        n=0
        for p in $(vmm_pids); do
            # a jailed VMM names its image and snapshot by jail paths (/disk, /snapshot): the
            # host paths are the sources of its mounts
            case "$(tr '\0' ' ' </proc/$p/cmdline 2>/dev/null) $(cat /proc/$p/mountinfo 2>/dev/null)" in
                *"/$arg-v"[0-9]*) n=$((n + 1)) ;;
            esac
        done
        echo "vmms $n" ;;
    stop-silod)
        pid=$(cat /tmp/silod/silod.pid)
        before=$(vmm_pids | wc -l)
        kill -TERM "$pid"
        i=0
        while kill -0 "$pid" 2>/dev/null && [ $i -lt 200 ]; do sleep 0.1; i=$((i + 1)); done
        if kill -0 "$pid" 2>/dev/null; then echo running
        else sleep 0.5; echo "stopped vmms_before=$before vmms_left=$(vmm_pids | wc -l)"; fi ;;
    kill-silod)
        pid=$(cat /tmp/silod/silod.pid)
        before=$(vmm_pids | wc -l)
        kill -KILL "$pid"
        i=0
        while [ "$(vmm_pids | wc -l)" != 0 ] && [ $i -lt 200 ]; do sleep 0.1; i=$((i + 1)); done
        echo "killed vmms_before=$before vmms_left=$(vmm_pids | wc -l)" ;;
    start-silod)
        sh /tmp/silod/start-silod.sh
        echo "started $(cat /tmp/silod/silod.pid)" ;;
    *) echo "unknown verb" ;;
esac
