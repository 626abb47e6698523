//! Build script for onecopy-runtime: compiles the C trap-handling shim.
//!
//! The signal handler and the sigsetjmp/siglongjmp pair live in C because
//! `sigsetjmp` returns twice, which Rust cannot call soundly; see
//! `csrc/traps.c` and `src/signals.rs`.

fn main() {
    println!("cargo:rerun-if-changed=csrc/traps.c");
    println!("cargo:rerun-if-changed=build.rs");

    cc::Build::new()
        .file("csrc/traps.c")
        // C11 for <stdatomic.h> / _Atomic, with GNU extensions for __thread.
        .flag_if_supported("-std=gnu11")
        .warnings(true)
        .compile("onecopy_traps");
}
