//! Entering compiled code from the host: stack limits, trap catching, and
//! turning a caught fault into a [`Trap`].

use std::cell::{Cell, RefCell};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use onecopy_jit::TrapKind;

use crate::deadline::{DeadlineKey, Timer};
use crate::error::{Error, Trap};
use crate::interrupt::InterruptHandle;
use crate::signals;
use crate::vm::VMLimits;

thread_local! {
    /// The error of a host function that made wasm trap, picked up when the
    /// trap reaches the host entry.
    static HOST_ERROR: RefCell<Option<Error>> = const { RefCell::new(None) };

    /// The lowest address of this thread's stack, once looked up (0: unknown).
    static STACK_LOW: Cell<Option<usize>> = const { Cell::new(None) };
}

/// Host stack kept free below the wasm stack limit on a thread whose stack
/// is smaller than the engine's wasm stack limit: room for host functions
/// that wasm calls, the debugger's handler and the trap path, which run on
/// the same stack beneath the deepest wasm frame.
const HOST_RESERVE: usize = 48 << 10;

/// The lowest address of this thread's stack (0 if the system does not say).
fn thread_stack_low() -> usize {
    STACK_LOW.with(|low| {
        *low.get().get_or_insert_with(|| {
            // SAFETY: the attribute object is initialised by
            // pthread_getattr_np before it is read, and destroyed once.
            unsafe {
                let mut attr: libc::pthread_attr_t = std::mem::zeroed();
                if libc::pthread_getattr_np(libc::pthread_self(), &mut attr) != 0 {
                    return 0;
                }
                let (mut addr, mut size) = (std::ptr::null_mut(), 0usize);
                let found = libc::pthread_attr_getstack(&attr, &mut addr, &mut size) == 0;
                libc::pthread_attr_destroy(&mut attr);
                if found {
                    addr as usize
                } else {
                    0
                }
            }
        })
    })
}

/// The wasm stack limit for a call entering wasm at stack pointer `sp`:
/// `max_stack` below it, but never closer than [`HOST_RESERVE`] to the end
/// of the thread's own stack, so that a thread with a small stack overflows
/// as a `StackOverflow` trap rather than into its guard page.
fn stack_limit(sp: usize, max_stack: usize) -> usize {
    let low = thread_stack_low();
    let floor = if low == 0 { 0 } else { low.saturating_add(HOST_RESERVE) };
    sp.saturating_sub(max_stack).max(floor)
}

/// Remember why a host function is making wasm trap.
pub(crate) fn set_host_error(error: Error) {
    HOST_ERROR.with(|e| *e.borrow_mut() = Some(error));
}

/// The error a host function left (see [`set_host_error`]), if any.
pub(crate) fn take_host_error() -> Option<Error> {
    HOST_ERROR.with(|e| e.borrow_mut().take())
}

/// A deadline for the call being entered: the engine's timer and how long
/// the call may run (see [`crate::Store::set_deadline`]).
pub(crate) type Deadline = (Arc<Timer>, Duration);

/// Run `body` (which calls compiled code) with this thread's stack limit set
/// and faults in compiled code turned into `Err`. An outermost call is one
/// an interrupt can aim at, and `deadline` (ignored for nested calls)
/// interrupts it when it runs too long.
pub(crate) fn enter_wasm(max_stack: usize, deadline: Option<Deadline>, body: impl FnOnce()) -> Result<(), Error> {
    // SAFETY: the limits live as long as this thread.
    let limits: &VMLimits = unsafe { &*crate::vm::thread_limits() };
    let depth = limits.depth.load(Relaxed);
    let outermost = depth == 0;
    let saved = limits.stack_limit.load(Relaxed);
    if outermost {
        limits.stack_limit.store(stack_limit(signals::stack_pointer(), max_stack), Relaxed);
    }
    limits.depth.store(depth + 1, Relaxed);
    let call = outermost.then(|| limits.interrupt.begin_call());
    // From here on, however the call ends (a panic included).
    let mut restore = Restore { limits, saved, outermost, deadline: None };
    if let (Some(call), Some((timer, after))) = (call, deadline) {
        let key = timer.schedule(after, InterruptHandle::current(), call)?;
        restore.deadline = Some((timer, key));
    }
    let mut body = Some(body);
    // SAFETY: `body` only calls into compiled code; nothing with a destructor
    // is live in its frame across that call.
    let result = unsafe { signals::call_guarded(|| (body.take().expect("called once"))()) };
    // Resolved before the call ends: that clears the interrupt.
    let result = result.map_err(|signal| resolve(limits, signal));
    drop(restore);
    result
}

/// Undoes `enter_wasm`'s changes to the thread's limits when dropped, and
/// ends an outermost call: its deadline is cancelled and no interrupt
/// outlives it.
struct Restore<'a> {
    limits: &'a VMLimits,
    saved: usize,
    outermost: bool,
    deadline: Option<(Arc<Timer>, DeadlineKey)>,
}

impl Drop for Restore<'_> {
    fn drop(&mut self) {
        if let Some((timer, key)) = self.deadline.take() {
            timer.cancel(key);
        }
        if self.outermost {
            self.limits.interrupt.end_call();
        }
        self.limits.depth.store(self.limits.depth.load(Relaxed) - 1, Relaxed);
        self.limits.restore_stack_limit(self.saved);
    }
}

fn resolve(limits: &VMLimits, signal: signals::TrapSignal) -> Error {
    let location = crate::code_registry::lookup(signal.pc);
    // Signal 0: a debugger aborted the call at a stop; `INTERRUPTED`: a
    // guard stopped an interrupted thread (see debug_stop.rs).
    let ended = match signal.signal {
        0 => Some(TrapKind::DebugAbort),
        crate::debug_stop::INTERRUPTED => Some(TrapKind::Interrupt),
        _ => None,
    };
    let mut kind = ended.or_else(|| location.as_ref().and_then(|l| l.trap)).unwrap_or(TrapKind::Fault);
    // An interrupt moves the stack limit above the stack, so that the next
    // function entry traps (see `interrupt.rs`).
    if kind == TrapKind::StackOverflow && limits.interrupt.is_interrupted() {
        kind = TrapKind::Interrupt;
    }
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
