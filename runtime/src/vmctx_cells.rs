//! [`VmCells`]: the cells an instance's vmctx lives in.
//!
//! Normal code's vmctx is a boxed slice of its own. Guarded debug code
//! reaches its debug table at a fixed offset from the vmctx (no table
//! pointer in a register; see `onecopy_jit::debug_table`), so there the
//! cells are the start of the table's reservation, which the instance's
//! [`crate::debug_table::DebugTable`] owns.

use std::cell::UnsafeCell;
use std::ptr::NonNull;

use crate::vm_box::VmBox;

/// The index cell, then the vmctx, as compiled code sees them.
pub(crate) enum VmCells {
    /// A heap allocation of their own.
    Boxed(VmBox<[UnsafeCell<u64>]>),
    /// `len` cells at `ptr`, the start of a debug table's reservation that
    /// outlives them (the instance holding the cells holds the table).
    InTable { ptr: NonNull<UnsafeCell<u64>>, len: usize },
}

impl VmCells {
    /// `len` zeroed cells on the heap.
    pub(crate) fn boxed(len: usize) -> VmCells {
        VmCells::Boxed(VmBox::from_box((0..len).map(|_| UnsafeCell::new(0)).collect()))
    }
}

impl std::ops::Deref for VmCells {
    type Target = [UnsafeCell<u64>];

    fn deref(&self) -> &[UnsafeCell<u64>] {
        match self {
            VmCells::Boxed(cells) => cells,
            // SAFETY: `len` cells of zeroed, readable and writable, 8-aligned
            // memory the debug table maps and keeps mapped while the instance
            // that holds both is alive; compiled code writes them only as
            // `UnsafeCell`s, and nothing hands out a `&mut`.
            VmCells::InTable { ptr, len } => unsafe { std::slice::from_raw_parts(ptr.as_ptr(), *len) },
        }
    }
}
