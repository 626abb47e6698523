#!/usr/bin/env bash
# Rebuild the C programs of `peers --only c-programs` (clang-19 with
# Debian's wasi-libc: packages clang-19, lld-19, wasi-libc,
# libclang-rt-19-dev-wasm32), so running the comparison needs no clang.
# Debug sections are stripped (the name section stays, for profiles).
# Prints each program's imports: the WASI subset `src/wasi_shim.rs`
# provides for Wasmtime and wasmi.
#
# sqlite.c is a driver for SQLite's amalgamation, which is 9 MB and so not
# in the repository: set SQLITE_SRC to a directory holding sqlite3.c and
# sqlite3.h (the committed sqlite.wasm used SQLite 3.53.2 from
# `npm pack better-sqlite3@12.11.1`, package/deps/sqlite3/); without it,
# sqlite.wasm is left as it is.
set -euo pipefail
cd "$(dirname "$0")"
# No operating-system layer (sqlite.c brings a VFS that opens no file) and
# no threads: the program then imports only what printing needs.
SQLITE_FLAGS="-DSQLITE_OS_OTHER=1 -DSQLITE_TEMP_STORE=3 -DSQLITE_THREADSAFE=0 -DSQLITE_OMIT_LOAD_EXTENSION
    -DSQLITE_OMIT_WAL -DSQLITE_OMIT_SHARED_CACHE -DSQLITE_OMIT_DEPRECATED"
for src in *.c; do
    name=${src%.c}
    extra=()
    if [ "$name" = sqlite ]; then
        if [ -z "${SQLITE_SRC:-}" ]; then
            echo "sqlite.wasm: kept (set SQLITE_SRC to rebuild it)"
            continue
        fi
        # shellcheck disable=SC2206
        extra=(-I"$SQLITE_SRC" $SQLITE_FLAGS "$SQLITE_SRC/sqlite3.c")
    fi
    clang-19 --target=wasm32-wasi --sysroot=/usr -O2 -Wl,--strip-debug -o "$name.wasm" "$src" "${extra[@]}"
    echo "$name.wasm $(stat -c %s "$name.wasm") bytes, imports:" \
        $(llvm-nm-19 -u "$name.wasm" | sed -n 's/.*__imported_wasi_snapshot_preview1_//p')
done
