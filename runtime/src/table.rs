//! Tables of references (funcref or externref), stored as raw 8-byte cells
//! compiled code reads directly.

use std::cell::{RefCell, UnsafeCell};
use std::rc::Rc;

use onecopy_jit::{TableType, ValType};

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::values::Val;
use crate::vm::VMTableDef;

/// Largest table onecopy will grow to, so a runaway `table.grow` fails
/// (returns -1) instead of exhausting host memory.
const MAX_ELEMENTS: u32 = 10_000_000;

pub(crate) struct TableInner {
    ty: TableType,
    elements: RefCell<Vec<u64>>,
    /// Stable address: compiled code holds a pointer to it.
    def: Box<UnsafeCell<VMTableDef>>,
    /// Owners of funcrefs stored here from other instances stay alive with
    /// the table (even an instance whose instantiation then failed: its
    /// element writes persist, as wasm requires).
    pub keep_alive: RefCell<Vec<Box<dyn std::any::Any>>>,
}

/// A table. Cloning shares it.
#[derive(Clone)]
pub struct Table {
    pub(crate) inner: Rc<TableInner>,
    /// The instance that exported this handle: its funcrefs may be in the
    /// table, so it lives as long as the handle does.
    _owner: Option<Rc<dyn std::any::Any>>,
}

impl Table {
    /// Create a table of type `ty` with every element set to `init`.
    pub fn new(_engine: &Engine, ty: TableType, init: Val) -> Result<Table> {
        check_ref(ty.element, &init)?;
        let table = Table {
            inner: Rc::new(TableInner {
                ty,
                elements: RefCell::new(Vec::new()),
                def: Box::new(UnsafeCell::new(VMTableDef { base: std::ptr::null_mut(), length: 0 })),
                keep_alive: RefCell::new(Vec::new()),
            }),
            _owner: None,
        };
        if table.grow_raw(ty.min, init.to_raw()).is_none() {
            return Err(Error::Resource(format!("table of {} elements", ty.min)));
        }
        table.hold(&init);
        Ok(table)
    }

    /// The table's type, with its current size as the minimum.
    pub fn ty(&self) -> TableType {
        TableType { min: self.size(), ..self.inner.ty }
    }

    pub(crate) fn def(&self) -> *mut VMTableDef {
        self.inner.def.get()
    }

    /// Current number of elements.
    pub fn size(&self) -> u32 {
        self.inner.elements.borrow().len() as u32
    }

    /// Element `index`, or None past the end.
    pub fn get(&self, index: u32) -> Option<Val> {
        let raw = *self.inner.elements.borrow().get(index as usize)?;
        // SAFETY: cells hold values of the table's element type.
        Some(unsafe { Val::from_raw(raw, self.inner.ty.element) })
    }

    /// Set element `index`.
    pub fn set(&self, index: u32, value: Val) -> Result<()> {
        check_ref(self.inner.ty.element, &value)?;
        self.hold(&value);
        let mut elements = self.inner.elements.borrow_mut();
        let cell = elements.get_mut(index as usize).ok_or_else(|| Error::NotFound(format!("table index {index}")))?;
        *cell = value.to_raw();
        Ok(())
    }

    /// Grow by `delta` elements set to `init`; the old size, or None if the
    /// maximum would be exceeded.
    pub fn grow(&self, delta: u32, init: Val) -> Result<Option<u32>> {
        check_ref(self.inner.ty.element, &init)?;
        self.hold(&init);
        Ok(self.grow_raw(delta, init.to_raw()))
    }

    pub(crate) fn grow_raw(&self, delta: u32, init: u64) -> Option<u32> {
        let old = self.size();
        let max = self.inner.ty.max.unwrap_or(u32::MAX).min(MAX_ELEMENTS);
        let new = old.checked_add(delta).filter(|n| *n <= max)?;
        let mut elements = self.inner.elements.borrow_mut();
        elements.resize(new as usize, init);
        // SAFETY: compiled code reads the def only while no borrow is active.
        unsafe { *self.def() = VMTableDef { base: elements.as_mut_ptr(), length: new } };
        Some(old)
    }

    /// Raw cells, for bulk operations from builtins.
    pub(crate) fn cells(&self) -> std::cell::RefMut<'_, Vec<u64>> {
        self.inner.elements.borrow_mut()
    }

    /// Keep the owner of a funcref alive as long as this table.
    fn hold(&self, value: &Val) {
        if let Val::FuncRef(Some(f)) = value {
            self.keep_alive(Box::new(f.clone()));
        }
    }

    /// The same table, as a handle that keeps `owner` (the exporting
    /// instance) alive.
    pub(crate) fn with_owner(&self, owner: Rc<dyn std::any::Any>) -> Table {
        Table { inner: self.inner.clone(), _owner: Some(owner) }
    }

    /// Keep `owner` alive as long as this table.
    pub(crate) fn keep_alive(&self, owner: Box<dyn std::any::Any>) {
        self.inner.keep_alive.borrow_mut().push(owner);
    }

    /// Whether two handles are the same table.
    pub fn same(a: &Table, b: &Table) -> bool {
        Rc::ptr_eq(&a.inner, &b.inner)
    }
}

fn check_ref(element: ValType, value: &Val) -> Result<()> {
    if value.ty() == element {
        Ok(())
    } else {
        Err(Error::Type(format!("{} value in a {element} table", value.ty())))
    }
}
