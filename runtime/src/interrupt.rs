//! Interrupting wasm that runs on another thread: the per-thread state that
//! compiled code's interrupt check reads (`onecopy_jit`'s
//! `translate/interrupt.rs`), and [`InterruptHandle`], which flips it.
//!
//! The state lives in the thread's `VMLimits` (every instance created on
//! the thread points at them), so one interrupt stops whatever the thread
//! runs: it sets the flag, makes the thread's probe page PROT_NONE (loop
//! headers), arms the debug tables of the thread's instances (loop headers
//! of guarded debug code, whose guards stand in for the probe there; the
//! stop ends the call as interrupted, see `debug::guard_stop`) and moves
//! the stack limit above the stack (function entries).
//! An interrupt is aimed at one outermost call: it is a no-op while the
//! thread is idle, and it never outlives its call. That takes a lock on the
//! interrupter's side and at the end of each outermost call: without it an
//! interrupter that saw call N running could set the flag just after call N
//! ended and cleared it, and call N+1 would stop at once.
//!
//! After an interrupt the thread's stores and instances stay usable, as
//! after any trap: the trap unwinds every wasm frame of the call, memory,
//! tables and globals keep whatever the call had written, and the next call
//! runs normally.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, Weak};

use parking_lot::Mutex;

use crate::debug_table::DebugTable;
use crate::vm::VMLimits;

/// The stack limit of an interrupted thread: above every stack, so the next
/// prologue's stack check traps, and far enough below `usize::MAX` that the
/// check's `limit + frame size` cannot wrap around.
const INTERRUPTED_STACK_LIMIT: usize = 1 << 62;

const PAGE: usize = 4096;

/// What the interrupt checks read, and who may change it.
#[repr(C)]
#[derive(Debug)]
pub(crate) struct InterruptState {
    /// The thread's probe page: readable, PROT_NONE while interrupted.
    pub probe_page: usize,
    /// Non-zero while interrupted.
    pub flag: AtomicU32,
    /// Id of the thread's running outermost call; 0 while idle.
    running: AtomicU64,
    /// The last call id handed out (only the owning thread writes it).
    last: AtomicU64,
    /// Held while interrupting, and while a call's end clears the interrupt.
    lock: Mutex<()>,
    /// The debug tables of guarded debug instances created on the thread.
    tables: Mutex<Vec<Weak<DebugTable>>>,
}

impl Default for InterruptState {
    /// # Panics
    /// If the probe page cannot be mapped (the address space is exhausted):
    /// compiled code could not be interrupted without it.
    fn default() -> Self {
        // SAFETY: a fresh anonymous mapping that nothing else refers to,
        // unmapped only in `drop`.
        let page = unsafe { libc::mmap(std::ptr::null_mut(), PAGE, libc::PROT_READ, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1, 0) };
        if page == libc::MAP_FAILED {
            let err = std::io::Error::last_os_error();
            tracing::error!(%err, "cannot map a thread's interrupt probe page");
            panic!("onecopy: cannot map a thread's interrupt probe page: {err}");
        }
        InterruptState {
            probe_page: page as usize,
            flag: AtomicU32::new(0),
            running: AtomicU64::new(0),
            last: AtomicU64::new(0),
            lock: Mutex::new(()),
            tables: Mutex::new(Vec::new()),
        }
    }
}

impl Drop for InterruptState {
    fn drop(&mut self) {
        // SAFETY: our own mapping. The last reference to the limits is gone,
        // so the thread has ended and no compiled code reads the page.
        unsafe { libc::munmap(self.probe_page as *mut libc::c_void, PAGE) };
    }
}

impl InterruptState {
    /// Make the probe page fault (or read again).
    fn protect(&self, readable: bool) {
        let prot = if readable { libc::PROT_READ } else { libc::PROT_NONE };
        // SAFETY: changes the protection of our own page only.
        if unsafe { libc::mprotect(self.probe_page as *mut libc::c_void, PAGE, prot) } != 0 {
            tracing::error!(err = %std::io::Error::last_os_error(), readable, "mprotect of the interrupt probe page failed");
        }
    }

    /// Interrupts arm `table` too (an instance of guarded debug code was
    /// created on the thread).
    pub(crate) fn register_table(&self, table: &Arc<DebugTable>) {
        let mut tables = self.tables.lock();
        // Dropped instances' tables go when the list would grow: amortized
        // constant work per instantiation, however many instances live.
        if tables.len() == tables.capacity() {
            tables.retain(|t| t.strong_count() > 0);
        }
        tables.push(Arc::downgrade(table));
    }

    /// Arm (or restore) every live registered table for an interrupt.
    fn interrupt_tables(&self, on: bool) {
        let tables: Vec<Arc<DebugTable>> = self.tables.lock().iter().filter_map(Weak::upgrade).collect();
        for table in tables {
            table.set_interrupted(on);
        }
    }

    /// The owning thread starts an outermost call; returns its id.
    pub(crate) fn begin_call(&self) -> u64 {
        let id = self.last.load(SeqCst) + 1;
        self.last.store(id, SeqCst);
        // Nothing is interrupted here (see `end_call`), and nothing will be
        // until an interrupter under the lock sees this id.
        self.running.store(id, SeqCst);
        id
    }

    /// The owning thread's outermost call has ended (returned or trapped);
    /// its caller restores the stack limit.
    pub(crate) fn end_call(&self) {
        let _held = self.lock.lock();
        self.running.store(0, SeqCst);
        if self.flag.load(SeqCst) != 0 {
            self.protect(true);
            self.flag.store(0, SeqCst);
            self.interrupt_tables(false);
        }
    }

    /// Whether the thread's running call is interrupted.
    pub(crate) fn is_interrupted(&self) -> bool {
        self.flag.load(SeqCst) != 0
    }
}

impl VMLimits {
    /// Interrupt the running call if it is `call` (any, for `None`).
    fn interrupt(&self, call: Option<u64>) -> bool {
        let state = &self.interrupt;
        let _held = state.lock.lock();
        let running = state.running.load(SeqCst);
        if running == 0 || call.is_some_and(|c| c != running) {
            return false;
        }
        if state.flag.swap(1, SeqCst) == 0 {
            // The flag first: `restore_stack_limit` relies on the order.
            self.stack_limit.store(INTERRUPTED_STACK_LIMIT, SeqCst);
            state.protect(false);
            state.interrupt_tables(true);
        }
        true
    }

    /// The owning thread puts back the stack limit of an outer call; an
    /// interrupt in the meantime wins. Either this load sees the flag, or
    /// the interrupter's store of the limit comes after this one.
    pub(crate) fn restore_stack_limit(&self, saved: usize) {
        self.stack_limit.store(saved, SeqCst);
        if self.interrupt.is_interrupted() {
            self.stack_limit.store(INTERRUPTED_STACK_LIMIT, SeqCst);
        }
    }
}

/// Interrupts wasm running on one thread: the call in progress there
/// returns [`crate::TrapKind::Interrupt`] at its next function entry or loop
/// header. `Send + Sync` and cheap to clone: hand it to a watchdog thread.
///
/// Get one on the thread to be interrupted, with [`InterruptHandle::current`]
/// or [`crate::Store::interrupt_handle`]; it stays valid after that thread
/// has ended (interrupting is then a no-op). Code compiled with
/// [`crate::Config::interruptible`]`(false)` has no loop checks: it stops
/// only at the next entry of a function that calls (whose prologue checks
/// the stack limit), and a loop without calls runs on.
#[derive(Clone)]
pub struct InterruptHandle {
    limits: Arc<VMLimits>,
}

impl InterruptHandle {
    /// The handle of the calling thread.
    pub fn current() -> InterruptHandle {
        InterruptHandle { limits: crate::vm::thread_limits_arc() }
    }

    /// Interrupt the call the thread is running, if any. Returns whether
    /// one was running (an idle thread is left alone: the request is not
    /// kept for its next call). Also stops wasm the thread re-enters from a
    /// host function during the call: the interrupt lasts until the
    /// outermost call ends.
    pub fn interrupt(&self) -> bool {
        let interrupted = self.limits.interrupt(None);
        tracing::debug!(interrupted, "interrupt requested");
        interrupted
    }

    /// Interrupt the thread's outermost call `call` only (a deadline's).
    pub(crate) fn interrupt_call(&self, call: u64) -> bool {
        self.limits.interrupt(Some(call))
    }
}

impl std::fmt::Debug for InterruptHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InterruptHandle").finish_non_exhaustive()
    }
}
