//! Interrupting wasm that runs on another thread: the per-thread state that
//! compiled code's interrupt check reads (`onecopy_jit`'s
//! `translate/interrupt.rs`), and [`InterruptHandle`], which flips it.
//!
//! The state lives in the thread's `VMLimits` (every instance created on
//! the thread points at them), so one store stops whatever the thread runs.
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

use std::sync::atomic::{AtomicPtr, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use parking_lot::Mutex;

use crate::vm::VMLimits;

/// What the interrupt check reads: the probe pointer and the flag (which
/// one depends on [`onecopy_jit::Interrupts`]), and who may set them.
#[repr(C)]
#[derive(Debug)]
pub(crate) struct InterruptState {
    /// Readable memory, or the PROT_NONE [`fault_page`] once interrupted.
    pub probe: AtomicPtr<u8>,
    /// Non-zero once interrupted.
    pub flag: AtomicU32,
    /// Id of the thread's running outermost call; 0 while idle.
    running: AtomicU64,
    /// The last call id handed out (only the owning thread writes it).
    last: AtomicU64,
    /// Held while setting the words, and while clearing them at a call's end.
    lock: Mutex<()>,
}

/// The byte the probe points at while nobody interrupts.
static READABLE: u8 = 0;

fn readable() -> *mut u8 {
    // Only ever read through (by compiled code's probe load), never written.
    std::ptr::addr_of!(READABLE).cast_mut()
}

/// A PROT_NONE page the probe points at to interrupt; null if it could not
/// be mapped (then only the flag interrupts, which `Engine::new` checks).
pub(crate) fn fault_page() -> *mut u8 {
    static PAGE: OnceLock<usize> = OnceLock::new();
    let page = *PAGE.get_or_init(|| {
        // SAFETY: a fresh anonymous mapping that nothing else refers to;
        // it is never unmapped, so the pointer stays valid for the process.
        let p = unsafe { libc::mmap(std::ptr::null_mut(), 4096, libc::PROT_NONE, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1, 0) };
        if p == libc::MAP_FAILED {
            tracing::error!(err = %std::io::Error::last_os_error(), "cannot map the interrupt probe's fault page");
            return 0;
        }
        p as usize
    });
    page as *mut u8
}

impl Default for InterruptState {
    fn default() -> Self {
        InterruptState {
            probe: AtomicPtr::new(readable()),
            flag: AtomicU32::new(0),
            running: AtomicU64::new(0),
            last: AtomicU64::new(0),
            lock: Mutex::new(()),
        }
    }
}

impl InterruptState {
    /// The owning thread starts an outermost call; returns its id.
    pub(crate) fn begin_call(&self) -> u64 {
        let id = self.last.load(Ordering::Relaxed) + 1;
        self.last.store(id, Ordering::Relaxed);
        // The words are clear here (see `end_call`), and stay clear until
        // an interrupter under the lock sees this id.
        self.running.store(id, Ordering::SeqCst);
        id
    }

    /// The owning thread's outermost call has ended (returned or trapped).
    pub(crate) fn end_call(&self) {
        let _held = self.lock.lock();
        self.running.store(0, Ordering::SeqCst);
        self.probe.store(readable(), Ordering::SeqCst);
        self.flag.store(0, Ordering::SeqCst);
    }

    /// Interrupt the running call if it is `call` (any, for `None`).
    fn interrupt(&self, call: Option<u64>) -> bool {
        let _held = self.lock.lock();
        let running = self.running.load(Ordering::SeqCst);
        if running == 0 || call.is_some_and(|c| c != running) {
            return false;
        }
        let page = fault_page();
        if !page.is_null() {
            self.probe.store(page, Ordering::SeqCst);
        }
        self.flag.store(1, Ordering::SeqCst);
        true
    }
}

/// Interrupts wasm running on one thread: the call in progress there
/// returns [`crate::TrapKind::Interrupt`] at its next function entry or loop
/// header. `Send + Sync` and cheap to clone: hand it to a watchdog thread.
///
/// Get one on the thread to be interrupted, with [`InterruptHandle::current`]
/// or [`crate::Store::interrupt_handle`]; it stays valid after that thread
/// has ended (interrupting is then a no-op). Code compiled with
/// [`crate::Config::interruptible`]`(false)` has no checks and ignores it.
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
        let interrupted = self.limits.interrupt.interrupt(None);
        tracing::debug!(interrupted, "interrupt requested");
        interrupted
    }

    /// Interrupt the thread's outermost call `call` only (a deadline's).
    pub(crate) fn interrupt_call(&self, call: u64) -> bool {
        self.limits.interrupt.interrupt(Some(call))
    }
}

impl std::fmt::Debug for InterruptHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InterruptHandle").finish_non_exhaustive()
    }
}
