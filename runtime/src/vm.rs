//! The records compiled code reads through the vmctx (see
//! `onecopy_jit::vmctx` for the offsets; the asserts below keep the two in
//! step).

use std::cell::Cell;

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
#[repr(C)]
#[derive(Debug, Default)]
pub(crate) struct VMLimits {
    /// Lowest stack address wasm may use; checked in every prologue.
    pub stack_limit: Cell<usize>,
    /// How many host-to-wasm entries are active on this thread.
    pub depth: Cell<u32>,
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
};

thread_local! {
    static LIMITS: VMLimits = VMLimits::default();
}

/// This thread's limits (stable for the thread's lifetime).
pub(crate) fn thread_limits() -> *const VMLimits {
    LIMITS.with(|l| l as *const VMLimits)
}
