//! WASI preview1 (`wasi_snapshot_preview1`) for onecopy: what programs
//! built with wasi-libc (C, C++, Rust's `wasm32-wasip1`, ...) import, per
//! [`Store`](onecopy_runtime::Store): arguments, environment, clocks,
//! random bytes, stdin/stdout/stderr, files and directories beneath
//! preopened directories (sandboxed by cap-std: no `..`, absolute path or
//! symbolic link leads out of them), `poll_oneoff` on clocks, `proc_exit`
//! and `sched_yield`. Errors are errno values, never panics; the calls not
//! implemented (sockets, `proc_raise`) return `ENOSYS` and are logged once.
//!
//! Each store has its own [`WasiCtx`], so any number of workers run WASI
//! programs at once, each with its own descriptors.
//!
//! ```
//! use onecopy_runtime::{Engine, Linker, Module, Store};
//! use onecopy_wasi::{I32Exit, WasiCtx};
//! let engine = Engine::default();
//! let module = Module::new(&engine, wat::parse_str(r#"(module
//!   (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
//!   (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
//!   (memory (export "memory") 1)
//!   (data (i32.const 16) "hi\n")
//!   (data (i32.const 0) "\10\00\00\00\03\00\00\00")
//!   (func (export "_start")
//!     (drop (call $write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
//!     (call $exit (i32.const 3))))"#).unwrap())?;
//! let mut linker = Linker::new(&engine);
//! onecopy_wasi::add_to_linker(&mut linker, |ctx: &mut WasiCtx| ctx)?;
//! let out = onecopy_wasi::Pipe::default();
//! let mut store = Store::new(&engine, WasiCtx::builder().stdout(out.clone()).build());
//! let instance = linker.instantiate(&mut store, &module)?;
//! let err = instance.get_typed_func::<(), ()>(&store, "_start")?.call(&mut store, ()).unwrap_err();
//! assert_eq!(err.downcast_ref::<I32Exit>(), Some(&I32Exit(3)));
//! assert_eq!(out.contents(), b"hi\n");
//! # Ok::<(), onecopy_runtime::Error>(())
//! ```

#![deny(missing_docs)]

mod abi;
mod calls;
mod ctx;
mod errno;
mod fd_table;
mod filestat;
mod linker;
mod memory;
mod pipe;

pub use ctx::{I32Exit, WasiCtx, WasiCtxBuilder};
pub use errno::Errno;
pub use linker::{add_to_linker, is_command};
pub use pipe::Pipe;
