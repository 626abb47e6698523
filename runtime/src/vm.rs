//! The records compiled code reads through the vmctx (see
//! `onecopy_jit::vmctx` for the offsets; the asserts below keep the two in
//! step).

use std::sync::atomic::{AtomicU32, AtomicUsize};
use std::sync::Arc;

use onecopy_jit::vmctx;

/// What a funcref value points at: code, the vmctx to call it with, its
/// engine-wide signature id, and who owns it in its store (for turning it
/// back into a [`crate::Func`]).
#[repr(C)]
#[derive(Debug)]
pub(crate) struct VMFuncRef {
    pub code: *const u8,
    pub vmctx: *mut u8,
    pub type_id: u32,
    /// Function index in `owner`'s module, or `u32::MAX` for a host function.
    pub index: u32,
    /// Index in the store of the defining instance, or of the host
    /// function's record.
    pub owner: usize,
}

/// A linear memory as compiled code sees it. The base never moves: memories
/// reserve their maximum size up front.
#[repr(C)]
#[derive(Debug)]
pub(crate) struct VMMemoryDef {
    pub base: *mut u8,
    pub length: u64,
}

/// A table as compiled code sees it: raw 8-byte references.
#[repr(C)]
#[derive(Debug)]
pub(crate) struct VMTableDef {
    pub base: *mut u64,
    pub length: u32,
}

/// Per-thread limits every instance created on the thread points at.
///
/// Shared (an `Arc`) so that an [`crate::InterruptHandle`] can reach it
/// from other threads: an interrupter writes `interrupt` and `stack_limit`
/// (see `interrupt.rs`); `depth` is the owning thread's alone (an atomic
/// only so the struct is `Sync`; relaxed accesses are plain moves).
#[repr(C)]
#[derive(Debug, Default)]
pub(crate) struct VMLimits {
    /// Lowest stack address wasm may use; checked in every prologue.
    pub stack_limit: AtomicUsize,
    /// What compiled code's interrupt checks read.
    pub interrupt: crate::interrupt::InterruptState,
    /// How many host-to-wasm entries are active on this thread.
    pub depth: AtomicU32,
}

const _: () = {
    assert!(std::mem::offset_of!(VMFuncRef, code) == vmctx::funcref::CODE as usize);
    assert!(std::mem::offset_of!(VMFuncRef, vmctx) == vmctx::funcref::VMCTX as usize);
    assert!(std::mem::offset_of!(VMFuncRef, type_id) == vmctx::funcref::TYPE_ID as usize);
    assert!(std::mem::offset_of!(VMMemoryDef, base) == vmctx::memory::BASE as usize);
    assert!(std::mem::offset_of!(VMMemoryDef, length) == vmctx::memory::LENGTH as usize);
    assert!(std::mem::offset_of!(VMTableDef, base) == vmctx::table::BASE as usize);
    assert!(std::mem::offset_of!(VMTableDef, length) == vmctx::table::LENGTH as usize);
    assert!(std::mem::offset_of!(VMLimits, stack_limit) == vmctx::LIMITS_STACK_LIMIT as usize);
    use crate::interrupt::InterruptState;
    let interrupt = std::mem::offset_of!(VMLimits, interrupt);
    assert!(interrupt + std::mem::offset_of!(InterruptState, probe_page) == vmctx::LIMITS_PROBE_PAGE as usize);
    assert!(interrupt + std::mem::offset_of!(InterruptState, flag) == vmctx::LIMITS_INTERRUPT as usize);
};

thread_local! {
    static LIMITS: Arc<VMLimits> = Arc::default();
}

/// This thread's limits (stable for the thread's lifetime).
pub(crate) fn thread_limits() -> *const VMLimits {
    LIMITS.with(Arc::as_ptr)
}

/// This thread's limits, kept alive past the thread (for interrupt handles).
pub(crate) fn thread_limits_arc() -> Arc<VMLimits> {
    LIMITS.with(Arc::clone)
}
