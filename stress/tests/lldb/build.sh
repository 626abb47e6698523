#!/usr/bin/env bash
# Rebuild the LLDB test program's .wasm with DWARF (clang-19 with Debian's
# wasi-libc: packages clang-19, lld-19, wasi-libc,
# libclang-rt-19-dev-wasm32), so the tests need no clang. -O0 keeps every
# C local in linear memory, where LLDB can read and write it. The prefix
# map keeps this machine's paths out of the DWARF (LLDB then finds the
# source relative to where it runs).
set -euo pipefail
cd "$(dirname "$0")"
for src in *.c; do
    clang-19 --target=wasm32-wasi --sysroot=/usr -g -O0 -fdebug-prefix-map="$PWD"=. -o "${src%.c}.wasm" "$src"
done
ls -l *.wasm
