//! onecopy's worker threads: a [`WorkerPool`] compiles nothing itself; it
//! takes one shared [`Module`](onecopy_runtime::Module) and starts threads
//! that each instantiate it in a [`Store`](onecopy_runtime::Store) of their
//! own (a store stays on its thread), all running the same machine code. Calls go to one worker ([`Target::Worker`]), to
//! whichever is idle ([`Target::Any`]) or to all ([`WorkerPool::call_all`]);
//! arguments and results travel as [`Value`]s, traps and errors as
//! [`CallError`]s.
//!
//! Compile once, run fib on a pool of 4, shut down:
//!
//! ```
//! use std::time::Duration;
//! use onecopy_workers::runtime::{Engine, Module};
//! use onecopy_workers::{PoolConfig, Value, WorkerPool};
//!
//! let engine = Engine::default();
//! let wasm = wat::parse_str(r#"(module (func (export "fib") (param i32) (result i32)
//!   (if (result i32) (i32.lt_u (local.get 0) (i32.const 2))
//!     (then (local.get 0))
//!     (else (i32.add (call 0 (i32.sub (local.get 0) (i32.const 1)))
//!                    (call 0 (i32.sub (local.get 0) (i32.const 2))))))))"#)?;
//! let module = Module::new(&engine, &wasm)?; // compiled once
//! let pool = WorkerPool::new(&module, PoolConfig::new(4))?; // 4 threads, 4 instances
//! for handle in pool.call_all("fib", vec![Value::I32(20)]) {
//!     assert_eq!(handle.wait()?, [Value::I32(6765)]);
//! }
//! assert_eq!(engine.code_memory().modules, 1);
//! let report = pool.shutdown(Duration::from_secs(5));
//! assert_eq!(report.joined, [0, 1, 2, 3]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Debugging: a [`DebugSession`] (the coordinator, on its own thread) joins
//! each worker through [`PoolConfig::on_instance`] with [`DebugSession::hook`].
//! Workers that stop send a [`DebugEvent`] and wait for the coordinator's
//! commands (resume, step, backtrace, locals, globals, memory) while the
//! others keep running; breakpoints and pauses reach running workers through
//! their instances' debug tables, never by patching the shared code.

#![deny(missing_docs)]

mod call;
mod command;
mod coordinator;
mod error;
mod event;
mod mailbox;
mod pool;
mod stop;
mod value;

pub use call::{CallHandle, Target};
pub use command::{FrameValue, GlobalRef, Resume};
pub use coordinator::{DebugError, DebugSession, Who};
pub use error::{CallError, PoolError};
pub use event::DebugEvent;
pub use onecopy_runtime as runtime;
pub use pool::{DataFactory, InstanceHook, LinkerFactory, PoolConfig, ShutdownReport, TrapHook, WorkerPool, DROP_TIMEOUT};
pub use value::{NotSendable, Value};
