//! Walking a stopped wasm stack by its frame pointers (compiled code always
//! keeps them) and mapping each return address back to a wasm function and
//! offset.

use crate::code_registry;

/// One frame of a wasm stack, innermost first in a backtrace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameInfo {
    /// Function index, in the index space of the frame's own module.
    pub func: u32,
    /// Byte offset in that module's binary: the stop site for the innermost
    /// frame, the `call` instruction for the others.
    pub wasm_offset: u32,
}

/// The frames below `top`, whose compiled code has frame pointer `fp`,
/// until the stack leaves wasm code (the host's entry trampoline).
///
/// # Safety
/// `fp` must be the frame pointer of a live compiled-wasm frame on this
/// thread's stack.
pub(crate) unsafe fn walk(top: FrameInfo, mut fp: usize) -> Vec<FrameInfo> {
    let mut frames = vec![top];
    loop {
        // SAFETY: compiled frames store [saved fp, return address] at fp.
        let (caller_fp, ret) = unsafe { (*(fp as *const usize), *((fp + 8) as *const usize)) };
        // `ret - 1` lies inside the call instruction, whose wasm offset we want.
        let Some(location) = code_registry::lookup(ret.wrapping_sub(1)) else { break };
        let (Some(func), Some(wasm_offset)) = (location.func, location.wasm_offset) else { break };
        frames.push(FrameInfo { func, wasm_offset });
        if caller_fp <= fp {
            break;
        }
        fp = caller_fp;
    }
    frames
}
