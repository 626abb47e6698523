//! [`VmBox`]: an owned heap allocation that compiled code may read and
//! write through raw pointers while Rust owns it.
//!
//! A `Box` asserts unique access whenever it is moved or used, which would
//! invalidate the raw pointers compiled code holds (into a vmctx, a
//! funcref, a memory's or table's definition). A `VmBox` owns its value
//! through a raw pointer instead, so moving it (say, when the store's
//! vectors grow) leaves every pointer handed out valid; it frees the value
//! when dropped. Values that compiled code writes are `UnsafeCell`s or
//! `Cell`s, so shared references to them from Rust are sound too.

use std::ptr::NonNull;

/// An owned, address-stable allocation shared with compiled code.
pub(crate) struct VmBox<T: ?Sized> {
    ptr: NonNull<T>,
}

impl<T> VmBox<T> {
    /// Move `value` to the heap.
    pub(crate) fn new(value: T) -> VmBox<T> {
        VmBox::from_box(Box::new(value))
    }
}

impl<T: ?Sized> VmBox<T> {
    /// Take over a boxed value.
    pub(crate) fn from_box(value: Box<T>) -> VmBox<T> {
        VmBox { ptr: NonNull::from(Box::leak(value)) }
    }

    /// The stable address of the value.
    pub(crate) fn as_ptr(&self) -> *mut T {
        self.ptr.as_ptr()
    }
}

impl<T: ?Sized> std::ops::Deref for VmBox<T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: the allocation lives until `drop`; compiled code only
        // writes the parts that are `UnsafeCell`s or `Cell`s (see the module
        // docs), and nothing hands out a `&mut T`.
        unsafe { self.ptr.as_ref() }
    }
}

impl<T: ?Sized> Drop for VmBox<T> {
    fn drop(&mut self) {
        // SAFETY: `ptr` came from `Box::leak` in `from_box` and is freed once,
        // here; no compiled code runs against it once its owner (a store) is
        // being dropped.
        drop(unsafe { Box::from_raw(self.ptr.as_ptr()) });
    }
}
