//! onecopy's worker threads and debugger coordinator (issue 4): each worker
//! instantiates the one shared [`onecopy_runtime::Module`] on its own thread.
//!
//! Not built yet: this crate only fixes the dependency direction
//! (stress -> workers -> runtime -> jit) so later work lands in place.

pub use onecopy_runtime as runtime;
