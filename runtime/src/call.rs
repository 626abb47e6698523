//! Entering compiled code from the host: stack limits, trap catching, and
//! turning a caught fault into a [`Trap`].

use std::cell::RefCell;

use onecopy_jit::TrapKind;

use crate::error::{Error, Trap};
use crate::signals;
use crate::vm::VMLimits;

thread_local! {
    /// The error of a host function that made wasm trap, picked up when the
    /// trap reaches the host entry.
    static HOST_ERROR: RefCell<Option<Error>> = const { RefCell::new(None) };
}

/// Remember why a host function is making wasm trap.
pub(crate) fn set_host_error(error: Error) {
    HOST_ERROR.with(|e| *e.borrow_mut() = Some(error));
}

/// The error a host function left (see [`set_host_error`]), if any.
pub(crate) fn take_host_error() -> Option<Error> {
    HOST_ERROR.with(|e| e.borrow_mut().take())
}

/// Run `body` (which calls compiled code) with this thread's stack limit set
/// and faults in compiled code turned into `Err`.
pub(crate) fn enter_wasm(max_stack: usize, body: impl FnOnce()) -> Result<(), Error> {
    // SAFETY: the limits live as long as this thread.
    let limits: &VMLimits = unsafe { &*crate::vm::thread_limits() };
    let outermost = limits.depth.get() == 0;
    let saved = limits.stack_limit.get();
    if outermost {
        limits.stack_limit.set(signals::stack_pointer().saturating_sub(max_stack));
    }
    limits.depth.set(limits.depth.get() + 1);
    // Restores the limits however the call ends, a panic included.
    let _restore = Restore { limits, saved };
    let mut body = Some(body);
    // SAFETY: `body` only calls into compiled code; nothing with a destructor
    // is live in its frame across that call.
    let result = unsafe { signals::call_guarded(|| (body.take().expect("called once"))()) };
    result.map_err(resolve)
}

/// Undoes `enter_wasm`'s changes to the thread's limits when dropped.
struct Restore<'a> {
    limits: &'a VMLimits,
    saved: usize,
}

impl Drop for Restore<'_> {
    fn drop(&mut self) {
        self.limits.depth.set(self.limits.depth.get() - 1);
        self.limits.stack_limit.set(self.saved);
    }
}

fn resolve(signal: signals::TrapSignal) -> Error {
    let location = crate::code_registry::lookup(signal.pc);
    // Signal 0: a debugger aborted the call at a stop (see debug_stop.rs).
    let aborted = (signal.signal == 0).then_some(TrapKind::DebugAbort);
    let kind = aborted.or_else(|| location.as_ref().and_then(|l| l.trap)).unwrap_or(TrapKind::Fault);
    if kind == TrapKind::Host {
        if let Some(error) = take_host_error() {
            return error;
        }
    }
    let detail = (kind == TrapKind::Fault).then(|| format!("signal {} at pc {:#x}", signal.signal, signal.pc));
    if kind == TrapKind::Fault {
        tracing::error!(pc = signal.pc, signal = signal.signal, "fault in compiled code");
    }
    Error::Trap(Trap {
        kind,
        func: location.as_ref().and_then(|l| l.func),
        wasm_offset: location.as_ref().and_then(|l| l.wasm_offset),
        detail,
    })
}
