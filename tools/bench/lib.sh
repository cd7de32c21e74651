# tools/bench/lib.sh — helpers for benchmark scripts (sourced, busybox sh, in the dev host).
. /silo/tests/e2e/lib.sh

# median: the median of the numbers on stdin, one per line ("-" when there are none)
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# ratio A B: "B/A" to one decimal, for "peer / ours" columns ("-" if either is missing)
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2fx", b / a; else print "-" }'; }

# row LABEL OURS PEER: one aligned table row with the peer/ours ratio
row() { printf '%-44s %12s %12s %10s\n' "$1" "$2" "$3" "$(ratio "$2" "$3")"; }
header() { printf '%-44s %12s %12s %10s\n' "$1" "silo-vmm" "QEMU (peer)" "peer/ours"; }
