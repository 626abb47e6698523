//! What the WASI test binaries share.

use onecopy_runtime::{Engine, Linker};
use onecopy_wasi::WasiCtx;

/// A linker with WASI, for stores holding a bare `WasiCtx`.
pub fn linker(engine: &Engine) -> Linker<WasiCtx> {
    let mut linker = Linker::new(engine);
    onecopy_wasi::add_to_linker(&mut linker, |ctx: &mut WasiCtx| ctx).unwrap();
    linker
}
