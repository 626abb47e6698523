//! A GDB remote server for LLDB's WebAssembly plug-in (`process connect
//! --plugin wasm connect://HOST:PORT`) over onecopy's debugged workers,
//! built on the `gdbstub` crate and `gdbstub_arch`'s `wasm` architecture.
//!
//! Every worker is a thread; every worker's instance is a library of its
//! own (`name@id`), so an address's id names one instance for code and
//! memory alike, and each breakpoint location LLDB sets is one bit in one
//! worker's debug table: the shared machine code never changes. The
//! session is all-stop, as LLDB expects: when one worker stops, the others
//! are paused through their own debug tables.
//!
//! [`lines`] maps source lines to wasm offsets and back from the module's
//! DWARF, and [`sites`] offsets to breakable points, for onecopy's own
//! debugger commands too.

#![deny(missing_docs)]

mod addr;
mod conn;
mod event_loop;
/// Source lines from a module's DWARF (the line table lives in the jit,
/// which also puts `Breakable::Lines` sites at its statements).
pub use onecopy_runtime::lines;
mod listen;
pub mod sites;
mod target;
mod threads;
mod wasm_ext;

pub use event_loop::{serve, Ending};
pub use listen::listen;
pub use target::{Program, WasmTarget};
pub use threads::{Finish, Threads, WorkerState};

/// Why the GDB server could not go on.
#[derive(Debug, thiserror::Error)]
pub enum GdbError {
    /// The address is not on this machine's loopback interface and the
    /// caller did not allow others.
    #[error("{0} is not a loopback address; the GDB server lets anyone who reaches it read and write the program's memory, so other addresses must be allowed explicitly")]
    NotLoopback(std::net::SocketAddr),
    /// Listening, accepting or talking on the socket failed.
    #[error("GDB connection: {0}")]
    Io(#[from] std::io::Error),
}
