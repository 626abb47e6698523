//! Linear memory: one mapping per memory that reserves its space up front
//! (so the base never moves) and makes pages accessible as it grows. The
//! space is the maximum size with explicit bounds checks, or the whole
//! guard-page reservation (`onecopy_jit::memory_guard`, 6 GiB) when the
//! engine's code leaves out-of-bounds accesses to the MMU.
//! A [`Memory`] is a handle into its store; the bytes are reached through
//! the store ([`Memory::data`], [`Memory::read`], ...), so a borrow of the
//! bytes is a borrow of the store and no wasm can run meanwhile.

use std::cell::UnsafeCell;

use onecopy_jit::memory_guard::RESERVATION_BYTES;
use onecopy_jit::MemoryType;

use crate::error::{Error, Result};
use crate::store::{self, AsContext, AsContextMut, StoreContext, StoreContextMut};
use crate::vm::VMMemoryDef;
use crate::vm_box::VmBox;

/// 64 KiB.
pub const PAGE_SIZE: u64 = 65536;
/// Wasm32 limit: 4 GiB.
const MAX_PAGES: u64 = 65536;

/// A memory's mapping and the definition compiled code reads.
pub(crate) struct MemoryData {
    ty: MemoryType,
    /// The address space, unmapped when the memory (and so its store) goes.
    _reservation: Reservation,
    /// Stable address: compiled code holds a pointer to it.
    def: VmBox<UnsafeCell<VMMemoryDef>>,
}

/// Whether this host can have guard-page memories at all: 64-bit x86-64
/// Linux (the compiled accesses and the signal handler are x86-64's, and
/// only a 64-bit address space has room for the reservations).
const GUARD_PAGES_SUPPORTED: bool = cfg!(all(target_arch = "x86_64", target_pointer_width = "64", target_os = "linux"));

/// Resolve [`crate::Config::memory_guard`] for a new engine: `Some(on)` is
/// the caller's choice; `None` is guard pages if supported and one
/// reservation can be had now (a process under a low `ulimit -v` cannot),
/// else explicit checks.
pub(crate) fn guard_pages(choice: Option<bool>) -> Result<bool> {
    match choice {
        Some(false) => Ok(false),
        Some(true) if GUARD_PAGES_SUPPORTED => Ok(true),
        Some(true) => Err(Error::Resource("guard-page memories need a 64-bit x86-64 Linux host".into())),
        None if !GUARD_PAGES_SUPPORTED => Ok(false),
        None => match Reservation::new(RESERVATION_BYTES as usize) {
            Ok(_probe) => Ok(true),
            Err(e) => {
                tracing::info!(error = %e, "no room for guard-page memories: bounds checks are explicit");
                Ok(false)
            }
        },
    }
}

/// An inaccessible anonymous mapping, unmapped on drop.
struct Reservation {
    base: *mut u8,
    bytes: usize,
}

// SAFETY: the mapping is plain address space owned by this value; which
// thread maps, touches or unmaps it does not matter to the kernel.
unsafe impl Send for Reservation {}
// SAFETY: a `&Reservation` gives no access to the bytes (`MemoryData`
// hands them out under the store's borrow rules).
unsafe impl Sync for Reservation {}

impl Reservation {
    /// Reserve `bytes` of address space (no memory: `PROT_NONE`, `MAP_NORESERVE`).
    fn new(bytes: usize) -> Result<Reservation> {
        // SAFETY: a fresh anonymous mapping; nothing else refers to it.
        let base = unsafe {
            libc::mmap(std::ptr::null_mut(), bytes, libc::PROT_NONE, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE, -1, 0)
        };
        if base == libc::MAP_FAILED {
            let error = std::io::Error::last_os_error();
            return Err(Error::Resource(format!("reserve {bytes} bytes of address space for a linear memory: {error}")));
        }
        Ok(Reservation { base: base.cast(), bytes })
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        // SAFETY: the mapping was created by `new` with this size; its owner
        // (a probe, or a memory whose store is being dropped) no longer
        // lets code or slices refer to it.
        unsafe { libc::munmap(self.base.cast(), self.bytes) };
    }
}

impl MemoryData {
    /// A zeroed memory of type `ty` (`ty.min` pages), reserving the
    /// guard-page reservation if `guarded` (the engine's code relies on it)
    /// or else its maximum size.
    pub(crate) fn new(ty: MemoryType, guarded: bool) -> Result<MemoryData> {
        let max = ty.max.unwrap_or(MAX_PAGES).min(MAX_PAGES);
        let bytes = if guarded { RESERVATION_BYTES } else { (max * PAGE_SIZE).max(PAGE_SIZE) };
        let reservation = Reservation::new(bytes as usize).map_err(|e| match e {
            Error::Resource(why) if guarded => Error::Resource(format!(
                "{why} (a guard-page memory: the 4 GiB index space and a 2 GiB guard; \
                 Config::memory_guard(false) reserves only the maximum)"
            )),
            other => other,
        })?;
        let def = VmBox::new(UnsafeCell::new(VMMemoryDef { base: reservation.base, length: 0 }));
        let mut memory = MemoryData { ty, _reservation: reservation, def };
        if memory.grow(ty.min).is_none() {
            return Err(Error::Resource(format!("linear memory of {} pages", ty.min)));
        }
        Ok(memory)
    }

    /// What the vmctx's memory slot points at.
    pub(crate) fn def_ptr(&self) -> *mut VMMemoryDef {
        self.def.get()
    }

    /// The first byte.
    pub(crate) fn base(&self) -> *mut u8 {
        // SAFETY: only `grow` writes the def, and it never moves the base.
        unsafe { (*self.def.get()).base }
    }

    /// Current size in bytes.
    pub(crate) fn len(&self) -> usize {
        // SAFETY: compiled code only reads the def; `grow` (through `&mut
        // self` or a builtin holding the store) writes it.
        unsafe { (*self.def.get()).length as usize }
    }

    pub(crate) fn pages(&self) -> u64 {
        self.len() as u64 / PAGE_SIZE
    }

    /// The memory's type, with its current size as the minimum.
    pub(crate) fn ty(&self) -> MemoryType {
        MemoryType { min: self.pages(), max: self.ty.max }
    }

    /// Grow by `delta` pages: the old size in pages, or `None` past the
    /// maximum (or wasm32's 4 GiB) or when the system refuses the pages.
    pub(crate) fn grow(&mut self, delta: u64) -> Option<u64> {
        let old = self.pages();
        let max = self.ty.max.unwrap_or(MAX_PAGES).min(MAX_PAGES);
        old.checked_add(delta).filter(|n| *n <= max)?;
        if delta == 0 {
            return Some(old);
        }
        // SAFETY: [old, old + delta) pages lie inside the reservation.
        let rc = unsafe {
            let start = self.base().add((old * PAGE_SIZE) as usize);
            libc::mprotect(start.cast(), (delta * PAGE_SIZE) as usize, libc::PROT_READ | libc::PROT_WRITE)
        };
        if rc != 0 {
            tracing::warn!(delta, error = %std::io::Error::last_os_error(), "memory.grow could not commit pages");
            return None;
        }
        // SAFETY: see `len`; compiled code re-reads the length after a grow.
        unsafe { (*self.def.get()).length = (old + delta) * PAGE_SIZE };
        Some(old)
    }
}

store::handle!(
    /// A linear memory, a handle into the store that owns it.
    Memory, memories, MemoryData, "a memory"
);

impl Memory {
    /// Create a memory of type `ty` (zeroed, `ty.min` pages) in `store`.
    pub fn new(mut store: impl AsContextMut, ty: MemoryType) -> Result<Memory> {
        let mut store = store.as_context_mut();
        let store = store.opaque_mut();
        store.limits.count(crate::Limit::Memories, store.memories.len() + 1)?;
        store.limits.memory_size(initial_bytes(&ty))?;
        let index = store::push(&mut store.memories, MemoryData::new(ty, store.engine.memory_guard())?)?;
        Ok(Memory { store: store.id, index })
    }

    /// The memory's type, with its current size as the minimum.
    pub fn ty(&self, store: impl AsContext) -> Result<MemoryType> {
        Ok(self.data_in(store.as_context().opaque())?.ty())
    }

    /// Current size in pages.
    pub fn size(&self, store: impl AsContext) -> Result<u64> {
        Ok(self.data_in(store.as_context().opaque())?.pages())
    }

    /// Current size in bytes.
    pub fn data_size(&self, store: impl AsContext) -> Result<usize> {
        Ok(self.data_in(store.as_context().opaque())?.len())
    }

    /// Grow by `delta` pages; `Ok(Some(old_pages))`, or `Ok(None)` when the
    /// maximum (or wasm32's 4 GiB, or the store's limit) would be exceeded.
    pub fn grow(&self, mut store: impl AsContextMut, delta: u64) -> Result<Option<u64>> {
        let mut store = store.as_context_mut();
        let store = store.opaque_mut();
        let index = self.index_in(store)?;
        Ok(store.grow_memory(index as usize, delta))
    }

    /// The memory's bytes, borrowed from the store (no wasm runs while the
    /// slice lives).
    pub fn data<'a, T: 'a>(&self, store: impl Into<StoreContext<'a, T>>) -> Result<&'a [u8]> {
        let memory = self.data_in(store.into().opaque())?;
        // SAFETY: the store is borrowed for 'a, so no wasm runs (that takes
        // an exclusive borrow) and no `data_mut` slice exists; the mapping
        // lives as long as the store and its first `len` bytes are accessible.
        Ok(unsafe { std::slice::from_raw_parts(memory.base(), memory.len()) })
    }

    /// The memory's bytes, to change them, borrowed from the store.
    pub fn data_mut<'a, T: 'a>(&self, store: impl Into<StoreContextMut<'a, T>>) -> Result<&'a mut [u8]> {
        Ok(self.data_and_store_mut(store)?.0)
    }

    /// The memory's bytes and the store's user data at once (a host
    /// function that moves bytes between the guest and its own state needs
    /// both).
    pub fn data_and_store_mut<'a, T: 'a>(&self, store: impl Into<StoreContextMut<'a, T>>) -> Result<(&'a mut [u8], &'a mut T)> {
        let (data, opaque) = store.into().data_and_opaque();
        let memory = self.data_in(opaque)?;
        // SAFETY: as in `data`, with the store borrowed exclusively for 'a:
        // this is the only slice of the memory; the bytes live in their own
        // mapping, apart from the user data.
        let bytes = unsafe { std::slice::from_raw_parts_mut(memory.base(), memory.len()) };
        Ok((bytes, data))
    }

    /// Copy `buf.len()` bytes out, starting at `offset`.
    pub fn read(&self, store: impl AsContext, offset: usize, buf: &mut [u8]) -> Result<()> {
        let store = store.as_context();
        let data = self.data(&store)?;
        let src = offset.checked_add(buf.len()).and_then(|end| data.get(offset..end));
        buf.copy_from_slice(src.ok_or_else(|| out_of_bounds(offset, buf.len()))?);
        Ok(())
    }

    /// Copy `buf` in, starting at `offset`.
    pub fn write(&self, mut store: impl AsContextMut, offset: usize, buf: &[u8]) -> Result<()> {
        let data = self.data_mut(store.as_context_mut())?;
        let dst = offset.checked_add(buf.len()).and_then(|end| data.get_mut(offset..end));
        dst.ok_or_else(|| out_of_bounds(offset, buf.len()))?.copy_from_slice(buf);
        Ok(())
    }
}

/// Bytes of a memory of type `ty` when created (saturating: too many is too many).
pub(crate) fn initial_bytes(ty: &MemoryType) -> usize {
    usize::try_from(ty.min.saturating_mul(PAGE_SIZE)).unwrap_or(usize::MAX)
}

fn out_of_bounds(offset: usize, len: usize) -> Error {
    Error::Trap(crate::error::Trap {
        detail: Some(format!("{len} bytes at {offset:#x}")),
        ..crate::error::Trap::new(onecopy_jit::TrapKind::MemoryOutOfBounds)
    })
}
