//! Tables of references (funcref or externref), stored as raw 8-byte cells
//! compiled code reads and writes directly. A [`Table`] is a handle into
//! its store; a funcref in a table points at a function record of the same
//! store, so nothing needs keeping alive beyond the store itself.

use std::cell::{Cell, UnsafeCell};

use onecopy_jit::{TableType, ValType};

use crate::error::{Error, Result};
use crate::store::{self, AsContext, AsContextMut};
use crate::values::Val;
use crate::vm::VMTableDef;
use crate::vm_box::VmBox;

/// Largest table onecopy will grow to, so a runaway `table.grow` fails
/// (returns -1) instead of exhausting host memory.
const MAX_ELEMENTS: u32 = 10_000_000;

/// A table's cells and the definition compiled code reads.
pub(crate) struct TableData {
    ty: TableType,
    /// `Cell`s: compiled code writes them through the def's base pointer.
    elements: Vec<Cell<u64>>,
    /// Stable address: compiled code holds a pointer to it.
    def: VmBox<UnsafeCell<VMTableDef>>,
}

impl TableData {
    /// A table of type `ty` with every element set to the raw cell `init`.
    pub(crate) fn new(ty: TableType, init: u64) -> Result<TableData> {
        let def = VmBox::new(UnsafeCell::new(VMTableDef { base: std::ptr::null_mut(), length: 0 }));
        let mut table = TableData { ty, elements: Vec::new(), def };
        if table.grow(ty.min, init).is_none() {
            return Err(Error::Resource(format!("table of {} elements", ty.min)));
        }
        Ok(table)
    }

    /// What the vmctx's table slot points at.
    pub(crate) fn def_ptr(&self) -> *mut VMTableDef {
        self.def.get()
    }

    /// The element type.
    pub(crate) fn element(&self) -> ValType {
        self.ty.element
    }

    /// The table's type, with its current size as the minimum.
    pub(crate) fn ty(&self) -> TableType {
        TableType { min: self.len(), ..self.ty }
    }

    /// Current number of elements.
    pub(crate) fn len(&self) -> u32 {
        self.elements.len() as u32
    }

    /// The raw cells (compiled code may change them while wasm runs).
    pub(crate) fn cells(&self) -> &[Cell<u64>] {
        &self.elements
    }

    /// Grow by `delta` cells set to `init`; the old size, or `None` past
    /// the maximum.
    pub(crate) fn grow(&mut self, delta: u32, init: u64) -> Option<u32> {
        let old = self.len();
        let max = self.ty.max.unwrap_or(u32::MAX).min(MAX_ELEMENTS);
        let new = old.checked_add(delta).filter(|n| *n <= max)?;
        self.elements.resize(new as usize, Cell::new(init));
        // `Cell<u64>` has the layout of `u64`: compiled code sees raw cells.
        let base = self.elements.as_ptr() as *mut u64;
        // SAFETY: compiled code only reads the def, and is suspended while
        // the table grows (in a builtin or with the store borrowed).
        unsafe { *self.def.get() = VMTableDef { base, length: new } };
        Some(old)
    }
}

store::handle!(
    /// A table, a handle into the store that owns it.
    Table, tables, TableData, "a table"
);

impl Table {
    /// Create a table of type `ty` in `store` with every element set to `init`.
    pub fn new(mut store: impl AsContextMut, ty: TableType, init: Val) -> Result<Table> {
        let mut store = store.as_context_mut();
        let store = store.opaque_mut();
        let raw = init.checked_raw(store, ty.element, "table")?;
        store.limits.count(crate::Limit::Tables, store.tables.len() + 1)?;
        store.limits.table_elements(ty.min as usize)?;
        let index = store::push(&mut store.tables, TableData::new(ty, raw)?)?;
        Ok(Table { store: store.id, index })
    }

    /// The table's type, with its current size as the minimum.
    pub fn ty(&self, store: impl AsContext) -> Result<TableType> {
        Ok(self.data_in(store.as_context().opaque())?.ty())
    }

    /// Current number of elements.
    pub fn size(&self, store: impl AsContext) -> Result<u32> {
        Ok(self.data_in(store.as_context().opaque())?.len())
    }

    /// Element `index`; `None` past the end (or in a store that does not own
    /// the table).
    pub fn get(&self, store: impl AsContext, index: u32) -> Option<Val> {
        let store = store.as_context();
        let table = self.data_in(store.opaque()).ok()?;
        let raw = table.cells().get(index as usize)?.get();
        // SAFETY: cells hold values of the table's element type; a funcref
        // points at a record of this store.
        Some(unsafe { Val::from_raw(raw, table.element(), self.store) })
    }

    /// Set element `index`.
    pub fn set(&self, mut store: impl AsContextMut, index: u32, value: Val) -> Result<()> {
        let store = store.as_context_mut();
        let table = self.data_in(store.opaque())?;
        let raw = value.checked_raw(store.opaque(), table.element(), "table")?;
        table.cells().get(index as usize).ok_or_else(|| Error::NotFound(format!("table index {index}")))?.set(raw);
        Ok(())
    }

    /// Grow by `delta` elements set to `init`; the old size, or `None` if
    /// the maximum (or the store's limit) would be exceeded.
    pub fn grow(&self, mut store: impl AsContextMut, delta: u32, init: Val) -> Result<Option<u32>> {
        let mut store = store.as_context_mut();
        let store = store.opaque_mut();
        let index = self.index_in(store)? as usize;
        let raw = init.checked_raw(store, store.tables[index].element(), "table")?;
        Ok(store.grow_table(index, delta, raw))
    }
}
