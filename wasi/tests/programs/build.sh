#!/usr/bin/env bash
# Rebuild the test programs' .wasm (clang-19 with Debian's wasi-libc:
# packages clang-19, lld-19, wasi-libc, libclang-rt-19-dev-wasm32) and the
# expected output of each run from the program's native build, so the
# tests need no clang. The runs (arguments, stdin, environment, the
# scratch directory) are the ones `wasi/tests/programs.rs` makes; keep the
# two in step. `sandbox.expected` is written by hand: natively there is no
# sandbox to refuse its paths.
set -euo pipefail
cd "$(dirname "$0")"
native=$(mktemp -d)
trap 'rm -rf "$native"' EXIT

for src in *.c; do
    name=${src%.c}
    clang-19 --target=wasm32-wasi --sysroot=/usr -O2 -o "$name.wasm" "$src"
    clang-19 -O2 -o "$native/$name" "$src"
done

# The scratch directory every run starts in: a `data` directory to
# preopen, a file beside it, and links that point out of it.
scratch() {
    local dir=$1
    mkdir -p "$dir/data/sub"
    echo "inside" > "$dir/data/inside.txt"
    echo "outside" > "$dir/outside.txt"
    ln -s ../outside.txt "$dir/data/escape"
    ln -s "$dir/outside.txt" "$dir/data/escape_absolute"
}

# run NAME PROGRAM [--stdin TEXT] [--env K=V]... [-- ARGS...]: NAME.expected
# is the program's stdout, then `exit: STATUS`.
run() {
    local name=$1 program=$2
    shift 2
    local stdin="" env=() args=()
    while [ $# -gt 0 ]; do
        case $1 in
            --stdin) stdin=$2; shift 2 ;;
            --env) env+=("$2"); shift 2 ;;
            --) shift; args=("$@"); break ;;
        esac
    done
    local dir="$native/run-$name"
    scratch "$dir"
    local status=0
    (cd "$dir" && printf '%s' "$stdin" | env -i "${env[@]}" "$native/$program" "${args[@]}") > "$name.expected" 2>/dev/null || status=$?
    echo "exit: $status" >> "$name.expected"
}

run stdio stdio --stdin $'hello\nworld\n'
run files files
run args_env args_env --env 'GREETING=hi there' --env ONECOPY_TEST_B=2 --env ONECOPY_TEST_A=1 -- one 'two words' --three
run clocks clocks
run exit_7 exit_code -- 7
run exit_0 exit_code
ls -l *.wasm
