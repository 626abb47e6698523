//! onecopy's embedding API, shaped like Wasmtime's: an [`Engine`] compiles
//! [`Module`]s whose code is placed once in a shared code arena; each thread
//! keeps its own [`Store`], whose [`Instance`]s (own memory, tables, globals
//! and debug table) run that same code, and whose host functions reach the
//! store's data and the caller's memory through a [`Caller`].
//!
//! ```
//! use onecopy_runtime::{Engine, Config, Module, Instance, Store};
//! let engine = Engine::new(&Config::new().debug(true))?;
//! let wasm = wat::parse_str(r#"(module (func (export "fib") (param i32) (result i32)
//!   (if (result i32) (i32.lt_u (local.get 0) (i32.const 2))
//!     (then (local.get 0))
//!     (else (i32.add (call 0 (i32.sub (local.get 0) (i32.const 1)))
//!                    (call 0 (i32.sub (local.get 0) (i32.const 2))))))))"#).unwrap();
//! let module = Module::new(&engine, &wasm)?;
//! let mut store = Store::new(&engine, ());
//! let instance = Instance::new(&mut store, &module, &[])?;
//! let fib = instance.get_typed_func::<i32, i32>(&store, "fib")?;
//! assert_eq!(fib.call(&mut store, 20)?, 6765);
//! assert_eq!(engine.code_memory().modules, 1);
//! # Ok::<(), onecopy_runtime::Error>(())
//! ```

#![deny(missing_docs)]

mod backtrace;
mod builtins;
mod call;
mod caller;
mod code_registry;
mod deadline;
pub mod debug;
mod debug_frame;
mod debug_stop;
mod debug_table;
mod engine;
mod error;
mod func;
mod global;
mod instance;
mod interrupt;
mod legacy;
mod limits;
mod linker;
mod memory;
mod module;
mod signals;
mod store;
mod table;
mod values;
mod vm;
mod vm_box;
mod vmctx_cells;

pub use backtrace::FrameInfo;
pub use caller::Caller;
pub use debug::{CallerFrame, DebugAction, DebugFrame, Debugger, StopReason};
pub use debug_table::DebugRemote;
pub use engine::{CodeMemory, Config, Engine};
pub use error::{Error, Result, Trap, TrapKind};
pub use func::{Func, IntoFunc, TypedFunc, WasmParams, WasmResults, WasmRet, WasmTy};
pub use global::Global;
pub use instance::Instance;
pub use interrupt::InterruptHandle;
pub use limits::{Limit, LimitExceeded, StoreLimits, StoreLimitsBuilder};
pub use linker::{Extern, Linker};
pub use memory::{Memory, PAGE_SIZE};
pub use module::{ExternType, ImportType, Module};
pub use onecopy_jit::lines;
pub use onecopy_jit::{
    Breakable, CodeArenaExhausted, CompileError, FuncType, GlobalType, Interrupts, MemoryType, OptLevel, Regalloc, Site, SiteKind,
    TableType, ValType,
};
pub use store::{AsContext, AsContextMut, Store, StoreContext, StoreContextMut};
pub use table::Table;
pub use values::{ExternRef, Val};

/// The README's embedding example, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;
