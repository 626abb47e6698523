#!/usr/bin/env bash
# Rebuild the C programs of `peers --only c-programs` (clang-19 with
# Debian's wasi-libc: packages clang-19, lld-19, wasi-libc,
# libclang-rt-19-dev-wasm32), so running the comparison needs no clang.
# Debug sections are stripped (the name section stays, for profiles).
# Prints each program's imports: the WASI subset `src/wasi_shim.rs`
# provides for Wasmtime and wasmi.
set -euo pipefail
cd "$(dirname "$0")"
for src in *.c; do
    name=${src%.c}
    clang-19 --target=wasm32-wasi --sysroot=/usr -O2 -Wl,--strip-debug -o "$name.wasm" "$src"
    echo "$name.wasm $(stat -c %s "$name.wasm") bytes, imports:" \
        $(llvm-nm-19 -u "$name.wasm" | sed -n 's/.*__imported_wasi_snapshot_preview1_//p')
done
