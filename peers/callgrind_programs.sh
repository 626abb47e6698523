#!/usr/bin/env bash
# Instructions executed per C program (programs/*.c), onecopy against
# each peer, under callgrind, like callgrind.sh for the kernels: each
# configuration runs `peers one-program` at two sizes N1 < N2; the
# difference is the program's own work at N2 - N1 (compiling,
# instantiating, wasi-libc's start-up and the process's cancel out).
# Prints one line per program and pair:
#   program ours vs theirs instructions(N2)-instructions(N1) onecopy-ratio
# Usage: peers/callgrind_programs.sh [path/to/peers binary] [peers...]
# (default peers: onecopy wasmtime winch onecopy-debug wasmtime-debug;
# add wasmi for the interpreter, slow under callgrind). PROGRAMS="sqlite"
# picks programs (default: all five).
set -euo pipefail
bin=${1:-${CARGO_TARGET_DIR:-$(dirname "$0")/target}/release/peers}
shift || true
peers=("$@")
[ ${#peers[@]} -gt 0 ] || peers=(onecopy wasmtime winch onecopy-debug wasmtime-debug)
count() { # peer program arg -> instructions
    valgrind --tool=callgrind --smc-check=all-non-file --callgrind-out-file=/dev/null \
        "$bin" one-program --peer "$1" --program "$2" --arg "$3" 2>&1 >/dev/null |
        sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
declare -A args=([sieve]="2000000 4000000" [sha256]="2 4" [matmul]="128 192" [qsort]="100000 200000" [sqlite]="2000 4000")
for program in ${PROGRAMS:-sieve sha256 matmul qsort sqlite}; do
    read -r n1 n2 <<<"${args[$program]}"
    declare -A work=()
    for peer in "${peers[@]}"; do
        a=$(count "$peer" "$program" "$n1"); b=$(count "$peer" "$program" "$n2")
        work[$peer]=$((b - a))
    done
    for pair in onecopy:wasmtime onecopy:winch onecopy:wasmi onecopy-debug:wasmtime-debug; do
        ours=${pair%%:*}; theirs=${pair##*:}
        [ -n "${work[$ours]:-}" ] && [ -n "${work[$theirs]:-}" ] || continue
        awk -v p="$program" -v o="$ours" -v t="$theirs" -v a="${work[$ours]}" -v b="${work[$theirs]}" \
            'BEGIN { printf "%-7s %-14s vs %-15s %12d vs %12d instructions  ratio %.3f\n", p, o, t, a, b, a / b }'
    done
done
