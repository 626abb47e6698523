//! Globals: 16 bytes of storage compiled code reads and writes in place.

use std::cell::UnsafeCell;
use std::rc::Rc;

use onecopy_jit::GlobalType;

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::values::Val;

pub(crate) struct GlobalInner {
    ty: GlobalType,
    /// Stable address: compiled code holds a pointer to it.
    storage: Box<UnsafeCell<u128>>,
    /// A funcref stored here keeps its owner alive.
    held: std::cell::RefCell<Option<Val>>,
}

/// A global. Cloning shares it.
#[derive(Clone)]
pub struct Global {
    pub(crate) inner: Rc<GlobalInner>,
    /// The instance that exported this handle: a funcref global may refer to
    /// its functions, so it lives as long as the handle does.
    _owner: Option<Rc<dyn std::any::Any>>,
}

impl Global {
    /// Create a global of type `ty` holding `value`.
    pub fn new(_engine: &Engine, ty: GlobalType, value: Val) -> Result<Global> {
        let global = Global {
            inner: Rc::new(GlobalInner { ty, storage: Box::new(UnsafeCell::new(0)), held: Default::default() }),
            _owner: None,
        };
        global.store(value)?;
        Ok(global)
    }

    /// A global initialized from a raw cell by instantiation; holds nothing
    /// alive, so an instance's own funcrefs do not keep it alive in a cycle.
    pub(crate) fn from_raw(ty: GlobalType, raw: u64) -> Global {
        let inner = Rc::new(GlobalInner { ty, storage: Box::new(UnsafeCell::new(raw as u128)), held: Default::default() });
        Global { inner, _owner: None }
    }

    /// The same global, as a handle that keeps `owner` (the exporting
    /// instance) alive.
    pub(crate) fn with_owner(&self, owner: Rc<dyn std::any::Any>) -> Global {
        Global { inner: self.inner.clone(), _owner: Some(owner) }
    }

    /// The global's type.
    pub fn ty(&self) -> GlobalType {
        self.inner.ty
    }

    pub(crate) fn storage(&self) -> *mut u128 {
        self.inner.storage.get()
    }

    /// The current value.
    pub fn get(&self) -> Val {
        // SAFETY: the storage holds a value of the global's type.
        unsafe { Val::from_raw(*self.storage() as u64, self.inner.ty.content) }
    }

    /// Set the value (mutable globals only).
    pub fn set(&self, value: Val) -> Result<()> {
        if !self.inner.ty.mutable {
            return Err(Error::Type("global is immutable".into()));
        }
        self.store(value)
    }

    fn store(&self, value: Val) -> Result<()> {
        if value.ty() != self.inner.ty.content {
            return Err(Error::Type(format!("{} value for a {} global", value.ty(), self.inner.ty.content)));
        }
        // SAFETY: single-threaded owner; no wasm runs during this call.
        unsafe { *self.storage() = value.to_raw() as u128 };
        *self.inner.held.borrow_mut() = Some(value);
        Ok(())
    }

    /// Whether two handles are the same global.
    pub fn same(a: &Global, b: &Global) -> bool {
        Rc::ptr_eq(&a.inner, &b.inner)
    }
}
