//! Globals: 16 bytes of storage compiled code reads and writes in place. A
//! [`Global`] is a handle into its store.

use std::cell::UnsafeCell;

use onecopy_jit::GlobalType;

use crate::error::{Error, Result};
use crate::store::{self, AsContext, AsContextMut};
use crate::values::Val;
use crate::vm_box::VmBox;

/// A global's type and storage.
pub(crate) struct GlobalData {
    ty: GlobalType,
    /// Stable address: compiled code holds a pointer to it.
    storage: VmBox<UnsafeCell<u128>>,
}

impl GlobalData {
    /// A global holding the raw cell `raw`.
    pub(crate) fn new(ty: GlobalType, raw: u64) -> GlobalData {
        GlobalData { ty, storage: VmBox::new(UnsafeCell::new(raw as u128)) }
    }

    /// The global's type.
    pub(crate) fn ty(&self) -> GlobalType {
        self.ty
    }

    /// What the vmctx's global slot points at.
    pub(crate) fn storage(&self) -> *mut u128 {
        self.storage.get()
    }

    /// The raw cell.
    pub(crate) fn raw(&self) -> u64 {
        // SAFETY: compiled code is suspended while the host reads the storage.
        unsafe { *self.storage() as u64 }
    }

    /// Overwrite the raw cell.
    pub(crate) fn set_raw(&self, raw: u64) {
        // SAFETY: as in `raw`.
        unsafe { *self.storage() = raw as u128 };
    }
}

store::handle!(
    /// A global, a handle into the store that owns it.
    Global, globals, GlobalData, "a global"
);

impl Global {
    /// Create a global of type `ty` holding `value` in `store`.
    pub fn new(mut store: impl AsContextMut, ty: GlobalType, value: Val) -> Result<Global> {
        let mut store = store.as_context_mut();
        let store = store.opaque_mut();
        let raw = value.checked_raw(store, ty.content, "global")?;
        let index = store::push(&mut store.globals, GlobalData::new(ty, raw))?;
        Ok(Global { store: store.id, index })
    }

    /// The global's type.
    pub fn ty(&self, store: impl AsContext) -> Result<GlobalType> {
        Ok(self.data_in(store.as_context().opaque())?.ty)
    }

    /// The current value.
    pub fn get(&self, store: impl AsContext) -> Result<Val> {
        let store = store.as_context();
        let global = self.data_in(store.opaque())?;
        // SAFETY: the storage holds a value of the global's type; a funcref
        // points at a record of this store.
        Ok(unsafe { Val::from_raw(global.raw(), global.ty.content, self.store) })
    }

    /// Set the value (mutable globals only).
    pub fn set(&self, mut store: impl AsContextMut, value: Val) -> Result<()> {
        let store = store.as_context_mut();
        let global = self.data_in(store.opaque())?;
        if !global.ty.mutable {
            return Err(Error::Type("global is immutable".into()));
        }
        global.set_raw(value.checked_raw(store.opaque(), global.ty.content, "global")?);
        Ok(())
    }
}
