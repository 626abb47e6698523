#!/usr/bin/env bash
# Instructions executed per kernel, onecopy against each peer, under
# callgrind (deterministic where wall time on a shared 2-core machine is
# not). Each configuration runs `peers one` at two arguments N1 < N2; the
# difference is the kernel's own work (compiling, instantiating and the
# process's start cancel out). Prints one line per kernel and peer:
#   kernel peer instructions(N2)-instructions(N1) onecopy-ratio
# Usage: peers/callgrind.sh [path/to/peers binary]
set -euo pipefail
bin=${1:-${CARGO_TARGET_DIR:-$(dirname "$0")/target}/release/peers}
count() { # peer kernel arg -> instructions
    valgrind --tool=callgrind --smc-check=all-non-file --callgrind-out-file=/dev/null \
        "$bin" one --peer "$1" --kernel "$2" --arg "$3" 2>&1 >/dev/null |
        sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
declare -A args=([fib]="20 24" [loop]="1000000 2000000" [memsum]="1 2" [indirect]="1000000 2000000")
for kernel in fib loop memsum indirect; do
    read -r n1 n2 <<<"${args[$kernel]}"
    declare -A work=()
    for peer in onecopy wasmtime winch wasmi onecopy-debug wasmtime-debug; do
        a=$(count "$peer" "$kernel" "$n1"); b=$(count "$peer" "$kernel" "$n2")
        work[$peer]=$((b - a))
    done
    for pair in onecopy:wasmtime onecopy:winch onecopy:wasmi onecopy-debug:wasmtime-debug; do
        ours=${pair%%:*}; theirs=${pair##*:}
        awk -v k="$kernel" -v o="$ours" -v t="$theirs" -v a="${work[$ours]}" -v b="${work[$theirs]}" \
            'BEGIN { printf "%-9s %-14s vs %-15s %12d vs %12d instructions  ratio %.3f\n", k, o, t, a, b, a / b }'
    done
done
