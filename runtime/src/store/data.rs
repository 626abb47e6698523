//! What a store holds, by kind, and the lookups from handles into it.

use std::collections::HashMap;

use super::StoreId;
use crate::engine::Engine;
use crate::func::HostFuncRecord;
use crate::global::GlobalData;
use crate::instance::InstanceData;
use crate::limits::StoreLimits;
use crate::memory::MemoryData;
use crate::table::TableData;

/// The part of a store that does not depend on its user data type: what
/// compiled code, builtins and type-erased callbacks see.
pub(crate) struct StoreOpaque {
    pub id: StoreId,
    pub engine: Engine,
    pub instances: Vec<InstanceData>,
    pub memories: Vec<MemoryData>,
    pub tables: Vec<TableData>,
    pub globals: Vec<GlobalData>,
    pub host_funcs: Vec<HostFuncRecord>,
    /// The record of each linker-defined host function already placed in
    /// this store (by the address of its shared definition), so
    /// instantiating with one linker many times adds it once.
    pub host_func_records: HashMap<usize, u32>,
    /// What the store may hold and grow to ([`crate::Store::limiter`]).
    pub limits: StoreLimits,
    /// How long each outermost call may run (see `Store::set_deadline`).
    pub deadline: Option<std::time::Duration>,
}

impl StoreOpaque {
    pub(crate) fn new(id: StoreId, engine: Engine) -> StoreOpaque {
        StoreOpaque {
            id,
            engine,
            instances: Vec::new(),
            memories: Vec::new(),
            tables: Vec::new(),
            globals: Vec::new(),
            host_funcs: Vec::new(),
            host_func_records: HashMap::new(),
            limits: StoreLimits::default(),
            deadline: None,
        }
    }

    /// Grow memory `index` by `delta` pages within the store's limits: the
    /// old size in pages, or `None` (nothing changed) past a limit or the
    /// memory's maximum. What `memory.grow` and `Memory::grow` do.
    pub(crate) fn grow_memory(&mut self, index: usize, delta: u64) -> Option<u64> {
        let memory = &mut self.memories[index];
        let bytes = memory.pages().checked_add(delta)?.checked_mul(crate::memory::PAGE_SIZE)?;
        if let Err(e) = self.limits.memory_size(usize::try_from(bytes).ok()?) {
            tracing::debug!(%e, delta, "memory.grow refused");
            return None;
        }
        memory.grow(delta)
    }

    /// Grow table `index` by `delta` cells set to `init` within the store's
    /// limits: the old size, or `None` (nothing changed).
    pub(crate) fn grow_table(&mut self, index: usize, delta: u32, init: u64) -> Option<u32> {
        let table = &mut self.tables[index];
        let elements = table.len().checked_add(delta)?;
        if let Err(e) = self.limits.table_elements(elements as usize) {
            tracing::debug!(%e, delta, "table.grow refused");
            return None;
        }
        table.grow(delta, init)
    }
}

/// Push `item` onto `items`, returning its index (stores index their
/// contents with `u32`, as compiled code's records do).
pub(crate) fn push<T>(items: &mut Vec<T>, item: T) -> crate::Result<u32> {
    let index = u32::try_from(items.len()).map_err(|_| crate::Error::Resource("a store holds at most 2^32 items of a kind".into()))?;
    items.push(item);
    Ok(index)
}

/// A `Copy` handle into a store's `$field` vector: the store's id and the
/// item's index, checked against the store it is used with.
macro_rules! handle {
    ($(#[$doc:meta])* $name:ident, $field:ident, $data:ty, $what:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq)]
        pub struct $name {
            store: crate::store::StoreId,
            index: u32,
        }

        impl $name {
            pub(crate) fn from_index(store: crate::store::StoreId, index: u32) -> $name {
                $name { store, index }
            }

            /// The item's index in `store`, if `store` owns it.
            pub(crate) fn index_in(&self, store: &crate::store::StoreOpaque) -> crate::Result<u32> {
                self.store.check(store.id, $what)?;
                Ok(self.index)
            }

            pub(crate) fn data_in<'s>(&self, store: &'s crate::store::StoreOpaque) -> crate::Result<&'s $data> {
                Ok(&store.$field[self.index_in(store)? as usize])
            }
        }
    };
}
pub(crate) use handle;
