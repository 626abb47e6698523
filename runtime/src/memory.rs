//! Linear memory: one mapping per memory that reserves the maximum size up
//! front (so the base never moves) and makes pages accessible as it grows.

use std::cell::UnsafeCell;
use std::rc::Rc;

use onecopy_jit::MemoryType;

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::vm::VMMemoryDef;

/// 64 KiB.
pub const PAGE_SIZE: u64 = 65536;
/// Wasm32 limit: 4 GiB.
const MAX_PAGES: u64 = 65536;

pub(crate) struct MemoryInner {
    ty: MemoryType,
    reserved: usize,
    /// Stable address: compiled code holds a pointer to it.
    pub def: Box<UnsafeCell<VMMemoryDef>>,
}

impl Drop for MemoryInner {
    fn drop(&mut self) {
        // SAFETY: the mapping was created by `Memory::new` with this size.
        unsafe { libc::munmap(self.def.get_mut().base.cast(), self.reserved) };
    }
}

/// A linear memory. Cloning shares it.
#[derive(Clone)]
pub struct Memory {
    pub(crate) inner: Rc<MemoryInner>,
}

impl Memory {
    /// Create a memory of type `ty` (zeroed, `ty.min` pages).
    pub fn new(_engine: &Engine, ty: MemoryType) -> Result<Memory> {
        let max = ty.max.unwrap_or(MAX_PAGES).min(MAX_PAGES);
        let reserved = (max * PAGE_SIZE).max(PAGE_SIZE) as usize;
        // SAFETY: a fresh anonymous mapping; nothing else refers to it.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                reserved,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(Error::Resource(format!("reserve {reserved} bytes of linear memory: {}", std::io::Error::last_os_error())));
        }
        let def = VMMemoryDef { base: base.cast(), length: 0 };
        let memory = Memory { inner: Rc::new(MemoryInner { ty, reserved, def: Box::new(UnsafeCell::new(def)) }) };
        if memory.grow(ty.min)?.is_none() {
            return Err(Error::Resource(format!("linear memory of {} pages", ty.min)));
        }
        Ok(memory)
    }

    /// The memory's type, with its current size as the minimum.
    pub fn ty(&self) -> MemoryType {
        MemoryType { min: self.size(), max: self.inner.ty.max }
    }

    pub(crate) fn def(&self) -> *mut VMMemoryDef {
        self.inner.def.get()
    }

    /// Current size in pages.
    pub fn size(&self) -> u64 {
        self.data_size() as u64 / PAGE_SIZE
    }

    /// Current size in bytes.
    pub fn data_size(&self) -> usize {
        // SAFETY: the def is only written by `grow` on this thread.
        unsafe { (*self.def()).length as usize }
    }

    /// Grow by `delta` pages; `Ok(Some(old_pages))`, or `Ok(None)` when the
    /// maximum (or wasm32's 4 GiB) would be exceeded.
    pub fn grow(&self, delta: u64) -> Result<Option<u64>> {
        let old = self.size();
        let max = self.inner.ty.max.unwrap_or(MAX_PAGES).min(MAX_PAGES);
        let Some(new) = old.checked_add(delta).filter(|n| *n <= max) else { return Ok(None) };
        if delta == 0 {
            return Ok(Some(old));
        }
        let def = self.def();
        // SAFETY: [old, new) pages lie inside the reservation.
        let rc = unsafe {
            let start = (*def).base.add((old * PAGE_SIZE) as usize);
            libc::mprotect(start.cast(), (delta * PAGE_SIZE) as usize, libc::PROT_READ | libc::PROT_WRITE)
        };
        if rc != 0 {
            tracing::warn!(delta, error = %std::io::Error::last_os_error(), "memory.grow could not commit pages");
            return Ok(None);
        }
        // SAFETY: single-threaded owner; compiled code re-reads the length.
        unsafe { (*def).length = new * PAGE_SIZE };
        Ok(Some(old))
    }

    /// The memory's bytes.
    ///
    /// # Safety
    /// No wasm may run (on this thread) while the slice is alive, since wasm
    /// may write or grow the memory, and no other slice from `data` may be
    /// alive: the memory is shared with compiled code, so `&self` cannot
    /// express exclusive access.
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn data(&self) -> &mut [u8] {
        unsafe { std::slice::from_raw_parts_mut((*self.def()).base, self.data_size()) }
    }

    /// Copy `buf.len()` bytes out, starting at `offset`.
    pub fn read(&self, offset: usize, buf: &mut [u8]) -> Result<()> {
        // SAFETY: no wasm runs during this call.
        let data = unsafe { self.data() };
        let src = offset.checked_add(buf.len()).and_then(|end| data.get(offset..end));
        buf.copy_from_slice(src.ok_or_else(|| out_of_bounds(offset, buf.len()))?);
        Ok(())
    }

    /// Copy `buf` in, starting at `offset`.
    pub fn write(&self, offset: usize, buf: &[u8]) -> Result<()> {
        // SAFETY: no wasm runs during this call.
        let data = unsafe { self.data() };
        let dst = offset.checked_add(buf.len()).and_then(|end| data.get_mut(offset..end));
        dst.ok_or_else(|| out_of_bounds(offset, buf.len()))?.copy_from_slice(buf);
        Ok(())
    }

    /// Whether two handles are the same memory.
    pub fn same(a: &Memory, b: &Memory) -> bool {
        Rc::ptr_eq(&a.inner, &b.inner)
    }
}

fn out_of_bounds(offset: usize, len: usize) -> Error {
    Error::Trap(crate::error::Trap {
        detail: Some(format!("{len} bytes at {offset:#x}")),
        ..crate::error::Trap::new(onecopy_jit::TrapKind::MemoryOutOfBounds)
    })
}
