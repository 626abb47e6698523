//! A compiled module: its code sits once in the engine's arena and every
//! instance, on every thread, runs those same bytes.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use onecopy_jit::module_info::EntityKind;
use onecopy_jit::{CompiledModule, FuncType, GlobalType, MemoryType, ModuleInfo, Site, TableType};

use crate::code_registry::{self, CodeKind, Registration};
use crate::engine::{Engine, Stubs};
use crate::error::Result;

/// The type of an import or export.
#[derive(Debug, Clone, PartialEq)]
pub enum ExternType {
    /// A function.
    Func(FuncType),
    /// A linear memory.
    Memory(MemoryType),
    /// A table.
    Table(TableType),
    /// A global.
    Global(GlobalType),
}

/// One import of a module.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportType {
    /// Module name.
    pub module: String,
    /// Field name.
    pub name: String,
    /// What it must be.
    pub ty: ExternType,
}

pub(crate) struct ModuleInner {
    pub engine: Engine,
    pub compiled: Arc<CompiledModule>,
    /// The stubs of each of the module's types, found by calls without the
    /// engine's lock.
    stubs: Box<[Arc<Stubs>]>,
    _registration: Registration,
}

impl Drop for ModuleInner {
    fn drop(&mut self) {
        self.engine.inner.modules.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A compiled wasm module. Cheap to clone (an `Arc`), `Send + Sync`: compile
/// once, instantiate on every thread.
#[derive(Clone)]
pub struct Module {
    pub(crate) inner: Arc<ModuleInner>,
}

impl Module {
    /// Validate and compile `wasm` (the binary format), placing its code once
    /// in the engine's code arena.
    pub fn new(engine: &Engine, wasm: impl AsRef<[u8]>) -> Result<Module> {
        let compiled = engine.inner.compiler.compile(wasm.as_ref(), &engine.inner.types, &engine.inner.arena)?;
        let stubs = engine.ensure_stubs(&compiled.type_ids)?.into_boxed_slice();
        let (start, _) = compiled.code.range();
        let (_, end) = compiled.code.tail_range();
        let registration =
            code_registry::register((start, end.max(start + compiled.code.len())), CodeKind::Module(Arc::downgrade(&compiled)));
        if compiled.debug_code.is_some() {
            crate::debug_stop::install(crate::debug::guard_stop);
        }
        engine.inner.modules.fetch_add(1, Ordering::Relaxed);
        Ok(Module { inner: Arc::new(ModuleInner { engine: engine.clone(), compiled, stubs, _registration: registration }) })
    }

    /// The engine the module was compiled by.
    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    /// The entry trampoline of the module's type `ty`.
    pub(crate) fn trampoline(&self, ty: u32) -> *const u8 {
        self.inner.stubs[ty as usize].trampoline
    }

    /// Declarations (types, imports, exports, segments).
    pub fn info(&self) -> &ModuleInfo {
        &self.inner.compiled.info
    }

    /// The compiled code and its tables.
    pub fn compiled(&self) -> &CompiledModule {
        &self.inner.compiled
    }

    /// Machine-code bytes of the module (one copy, however many instances).
    pub fn code_size(&self) -> usize {
        self.inner.compiled.code_size()
    }

    /// Address of function `index`'s code, if the module defines it.
    pub fn func_address(&self, index: u32) -> Option<*const u8> {
        self.inner.compiled.func_address(index)
    }

    /// Breakable points of debug code (empty without debug guards), in
    /// function order and, within a function, in code order.
    pub fn sites(&self) -> &[Site] {
        &self.inner.compiled.sites
    }

    /// Breakable points of function `func` (empty for imported functions).
    pub fn function_sites(&self, func: u32) -> &[Site] {
        self.inner.compiled.function_sites(func)
    }

    /// The module's imports, in order.
    pub fn imports(&self) -> Vec<ImportType> {
        let info = self.info();
        info.imports
            .iter()
            .map(|i| ImportType { module: i.module.clone(), name: i.name.clone(), ty: entity_type(info, i.kind, i.index) })
            .collect()
    }

    /// The module's exports, in order.
    pub fn exports(&self) -> Vec<(String, ExternType)> {
        let info = self.info();
        info.exports.iter().map(|e| (e.name.clone(), entity_type(info, e.kind, e.index))).collect()
    }

    /// Whether two handles are the same compiled module.
    pub fn same(a: &Module, b: &Module) -> bool {
        Arc::ptr_eq(&a.inner, &b.inner)
    }
}

/// The type of entity `index` of `kind`.
pub(crate) fn entity_type(info: &ModuleInfo, kind: EntityKind, index: u32) -> ExternType {
    let i = index as usize;
    match kind {
        EntityKind::Func => ExternType::Func(info.func_type(index).clone()),
        EntityKind::Memory => ExternType::Memory(info.memories[i]),
        EntityKind::Table => ExternType::Table(info.tables[i]),
        EntityKind::Global => ExternType::Global(info.globals[i]),
    }
}
