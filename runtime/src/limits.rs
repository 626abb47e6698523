//! Per-store resource limits, shaped like Wasmtime's `StoreLimits`: how
//! large one store's memories and tables may grow and how many instances,
//! memories and tables it may hold, so one tenant's wasm cannot take the
//! host's memory. Set with [`crate::Store::limiter`].
//!
//! Growing past a limit fails the way growing past a maximum does
//! (`memory.grow` and `table.grow` return -1 and change nothing);
//! instantiating past one fails with [`crate::Error::LimitExceeded`] and
//! leaves the store as it was.

use std::fmt;

/// Which limit of [`StoreLimits`] was exceeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// Bytes of one linear memory.
    MemorySize,
    /// Elements of one table.
    TableElements,
    /// Instances in the store.
    Instances,
    /// Memories in the store.
    Memories,
    /// Tables in the store.
    Tables,
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Limit::MemorySize => "memory size (bytes)",
            Limit::TableElements => "table elements",
            Limit::Instances => "instances",
            Limit::Memories => "memories",
            Limit::Tables => "tables",
        })
    }
}

/// Creating something would exceed a store's limit (see [`StoreLimits`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("store limit on {limit} exceeded: {requested} requested, {allowed} allowed")]
pub struct LimitExceeded {
    /// The limit.
    pub limit: Limit,
    /// What was asked for (bytes, elements or a count, as the limit counts).
    pub requested: usize,
    /// What the limit allows.
    pub allowed: usize,
}

/// A store's resource limits; build them with [`StoreLimitsBuilder`]. The
/// default limits nothing but the number of instances, memories and tables
/// (10,000 each, as in Wasmtime).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreLimits {
    memory_size: Option<usize>,
    table_elements: Option<usize>,
    instances: usize,
    memories: usize,
    tables: usize,
}

impl Default for StoreLimits {
    fn default() -> StoreLimits {
        StoreLimits { memory_size: None, table_elements: None, instances: 10_000, memories: 10_000, tables: 10_000 }
    }
}

/// Builds [`StoreLimits`], as Wasmtime's builder of the same name does.
///
/// ```
/// use onecopy_runtime::{Engine, Instance, Module, Store, StoreLimitsBuilder};
/// let engine = Engine::default();
/// let wasm = wat::parse_str(r#"(module (memory 1)
///   (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0))))"#).unwrap();
/// let module = Module::new(&engine, &wasm)?;
/// let mut store = Store::new(&engine, ());
/// store.limiter(StoreLimitsBuilder::new().memory_size(2 << 16).build());
/// let instance = Instance::new(&mut store, &module, &[])?;
/// let grow = instance.get_typed_func::<i32, i32>(&store, "grow")?;
/// assert_eq!(grow.call(&mut store, 1)?, 1); // 2 pages: at the limit
/// assert_eq!(grow.call(&mut store, 1)?, -1); // 3 pages: over it
/// # Ok::<(), onecopy_runtime::Error>(())
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct StoreLimitsBuilder(StoreLimits);

impl StoreLimitsBuilder {
    /// Start from [`StoreLimits::default`].
    pub fn new() -> StoreLimitsBuilder {
        StoreLimitsBuilder::default()
    }

    /// The most bytes any one linear memory may have (each memory on its
    /// own). Default: unlimited (up to the memory's maximum).
    pub fn memory_size(mut self, bytes: usize) -> StoreLimitsBuilder {
        self.0.memory_size = Some(bytes);
        self
    }

    /// The most elements any one table may have. Default: unlimited (up to
    /// the table's maximum).
    pub fn table_elements(mut self, elements: usize) -> StoreLimitsBuilder {
        self.0.table_elements = Some(elements);
        self
    }

    /// The most instances the store may hold. Default: 10,000.
    pub fn instances(mut self, instances: usize) -> StoreLimitsBuilder {
        self.0.instances = instances;
        self
    }

    /// The most memories the store may hold (defined by instances or
    /// created by the host). Default: 10,000.
    pub fn memories(mut self, memories: usize) -> StoreLimitsBuilder {
        self.0.memories = memories;
        self
    }

    /// The most tables the store may hold. Default: 10,000.
    pub fn tables(mut self, tables: usize) -> StoreLimitsBuilder {
        self.0.tables = tables;
        self
    }

    /// The limits.
    pub fn build(self) -> StoreLimits {
        self.0
    }
}

/// `Err` if `requested` is over `allowed`.
fn within(limit: Limit, requested: usize, allowed: usize) -> Result<(), LimitExceeded> {
    if requested <= allowed {
        Ok(())
    } else {
        Err(LimitExceeded { limit, requested, allowed })
    }
}

impl StoreLimits {
    /// Whether a memory may have `bytes` bytes.
    pub(crate) fn memory_size(&self, bytes: usize) -> Result<(), LimitExceeded> {
        within(Limit::MemorySize, bytes, self.memory_size.unwrap_or(usize::MAX))
    }

    /// Whether a table may have `elements` elements.
    pub(crate) fn table_elements(&self, elements: usize) -> Result<(), LimitExceeded> {
        within(Limit::TableElements, elements, self.table_elements.unwrap_or(usize::MAX))
    }

    /// Whether a store may hold `count` of what `limit` counts
    /// (instances, memories or tables).
    pub(crate) fn count(&self, limit: Limit, count: usize) -> Result<(), LimitExceeded> {
        let allowed = match limit {
            Limit::Instances => self.instances,
            Limit::Memories => self.memories,
            Limit::Tables => self.tables,
            Limit::MemorySize | Limit::TableElements => unreachable!("{limit} is not a count"),
        };
        within(limit, count, allowed)
    }
}
