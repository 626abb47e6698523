//! Instances: a module's code plus this instance's own vmctx, funcrefs,
//! memories, tables, globals and debug table, all owned by a store. An
//! [`Instance`] is a handle into that store.

use std::cell::UnsafeCell;
use std::rc::Rc;

use onecopy_jit::module_info::{ConstExpr, EntityKind, SegmentMode};
use onecopy_jit::vmctx::header;
use onecopy_jit::TrapKind;

use crate::debug::DebugState;
use crate::error::{Error, Result, Trap};
use crate::func::Func;
use crate::global::GlobalData;
use crate::limits::Limit;
use crate::memory::MemoryData;
use crate::module::Module;
use crate::store::{self, AsContext, AsContextMut, StoreContextMut, StoreOpaque};
use crate::table::TableData;
use crate::vm::VMFuncRef;
use crate::vm_box::VmBox;
use crate::vmctx_cells::VmCells;
use crate::{Extern, Global, Memory, Table};

/// One instance as its store holds it.
pub(crate) struct InstanceData {
    pub module: Module,
    /// One cell holding the instance's index in its store, then the vmctx
    /// compiled code receives (see [`InstanceData::vmctx_ptr`]); in the
    /// debug table's reservation for guarded debug code.
    cells: VmCells,
    /// `VMFuncRef`s of the functions this module defines.
    funcrefs: VmBox<[UnsafeCell<VMFuncRef>]>,
    /// Store indices of the memories, tables and globals, in the module's
    /// index spaces (imported ones first).
    pub memories: Vec<u32>,
    pub tables: Vec<u32>,
    pub globals: Vec<u32>,
    pub dropped_data: Vec<bool>,
    pub dropped_elems: Vec<bool>,
    /// Shared with a stop in progress, which works on it while the handler
    /// has the store.
    pub debug: Rc<DebugState>,
    /// Legacy debug code only: this instance's private code clone.
    pub legacy: crate::legacy::LegacyClones,
}

impl InstanceData {
    /// The store and instance index behind a vmctx.
    ///
    /// # Safety
    /// `vmctx` must be the vmctx of a live instance.
    pub(crate) unsafe fn from_vmctx(vmctx: *mut u8) -> (*mut StoreOpaque, u32) {
        // SAFETY: the store pointer is the vmctx's first field, the instance
        // index the cell before it (see `allocate`).
        unsafe {
            let store = *(vmctx as *const *mut StoreOpaque).add(header::INSTANCE as usize / 8);
            let index = *(vmctx as *const u64).sub(1) as u32;
            (store, index)
        }
    }

    pub(crate) fn vmctx_ptr(&self) -> *mut u8 {
        self.cells[1..].as_ptr() as *mut u8
    }

    fn set_field(&self, offset: i32, value: usize) {
        // SAFETY: offsets come from the module's layout, within the vmctx;
        // no compiled code runs during instantiation's writes.
        unsafe { *self.cells[1 + offset as usize / 8].get() = value as u64 };
    }

    /// The `VMFuncRef` of function `index` (imported or defined).
    pub(crate) fn funcref(&self, index: u32) -> *const VMFuncRef {
        let offset = self.module.compiled().layout.func(index);
        // SAFETY: every funcs slot was filled at instantiation.
        unsafe { *self.cells[1 + offset as usize / 8].get() as *const VMFuncRef }
    }

    /// `[start, end)` of the addresses of this instance's defined funcrefs.
    pub(crate) fn funcref_span(&self) -> (usize, usize) {
        let start = self.funcrefs.as_ptr() as *const UnsafeCell<VMFuncRef> as usize;
        (start, start + self.funcrefs.len() * std::mem::size_of::<UnsafeCell<VMFuncRef>>())
    }

    /// Point the defined functions' funcrefs at a copy of the module's code
    /// starting at `base` (the shared code, or a legacy clone).
    pub(crate) fn set_code_base(&self, base: *const u8) {
        for (f, offset) in self.funcrefs.iter().zip(&self.module.compiled().func_offsets) {
            // SAFETY: compiled code only reads funcrefs, and is suspended
            // (this runs from the debugger API or a stop).
            unsafe { (*f.get()).code = base.wrapping_add(*offset as usize) };
        }
    }

    /// Evaluate a constant expression to a raw cell.
    pub(crate) fn const_raw(&self, store: &StoreOpaque, expr: &ConstExpr) -> u64 {
        match *expr {
            ConstExpr::I32(v) => v as u32 as u64,
            ConstExpr::I64(v) => v as u64,
            ConstExpr::F32(bits) => bits as u64,
            ConstExpr::F64(bits) => bits,
            ConstExpr::RefNull => 0,
            ConstExpr::RefFunc(index) => self.funcref(index) as u64,
            ConstExpr::GlobalGet(index) => store.globals[self.globals[index as usize] as usize].raw(),
        }
    }

    /// Bytes this instance owns outside the shared code and its store's
    /// memories and tables: vmctx, funcrefs and debug table.
    fn own_bytes(&self) -> usize {
        self.cells.len() * 8 + self.funcrefs.len() * std::mem::size_of::<VMFuncRef>() + self.debug.footprint()
    }
}

store::handle!(
    /// An instantiated module, a handle into the store that owns it. Each
    /// worker thread instantiates the shared [`Module`] in its own store.
    Instance, instances, InstanceData, "an instance"
);

impl std::fmt::Debug for Instance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Instance({})", self.index)
    }
}

/// Imports sorted by kind, in index order, as store indices (functions as
/// their records).
#[derive(Default)]
struct Imports {
    funcs: Vec<*const VMFuncRef>,
    memories: Vec<u32>,
    tables: Vec<u32>,
    globals: Vec<u32>,
}

impl Instance {
    /// Instantiate `module` in `store`, with `imports` given in the
    /// module's import order.
    ///
    /// ```
    /// use onecopy_runtime::{Engine, Instance, Module, Store};
    /// let engine = Engine::default();
    /// let module = Module::new(&engine, wat::parse_str(r#"(module (func (export "one") (result i32) i32.const 1))"#).unwrap())?;
    /// let mut store = Store::new(&engine, ());
    /// let instance = Instance::new(&mut store, &module, &[])?;
    /// assert_eq!(instance.get_typed_func::<(), i32>(&store, "one")?.call(&mut store, ())?, 1);
    /// # Ok::<(), onecopy_runtime::Error>(())
    /// ```
    pub fn new(mut store: impl AsContextMut, module: &Module, imports: &[Extern]) -> Result<Instance> {
        let mut store = store.as_context_mut();
        let raw = store.raw().cast::<StoreOpaque>();
        let opaque = store.opaque_mut();
        if !crate::Engine::same(module.engine(), &opaque.engine) {
            return Err(Error::Link("the module was compiled by another engine than the store's".into()));
        }
        let imports = check_imports(opaque, module, imports)?;
        let instance = allocate(opaque, raw, module, imports)?;
        initialize(store, instance)?;
        Ok(instance)
    }

    /// The module this is an instance of.
    pub fn module(&self, store: impl AsContext) -> Result<Module> {
        Ok(self.data_in(store.as_context().opaque())?.module.clone())
    }

    /// An export by name; `None` if there is none (or `store` does not own
    /// the instance).
    pub fn get_export(&self, store: impl AsContext, name: &str) -> Option<Extern> {
        let store = store.as_context();
        let data = self.data_in(store.opaque()).ok()?;
        let export = data.module.info().export(name)?;
        let i = export.index as usize;
        Some(match export.kind {
            // SAFETY: the funcref of a live instance of this store.
            EntityKind::Func => Extern::Func(unsafe { Func::from_raw(data.funcref(export.index), self.store) }?),
            EntityKind::Memory => Extern::Memory(Memory::from_index(self.store, data.memories[i])),
            EntityKind::Table => Extern::Table(Table::from_index(self.store, data.tables[i])),
            EntityKind::Global => Extern::Global(Global::from_index(self.store, data.globals[i])),
        })
    }

    /// All exports, in the module's order.
    pub fn exports(&self, store: impl AsContext) -> Vec<(String, Extern)> {
        let store = store.as_context();
        let Ok(data) = self.data_in(store.opaque()) else { return Vec::new() };
        let names = data.module.info().exports.iter().map(|e| e.name.clone());
        names.filter_map(|name| Some((name.clone(), self.get_export(&store, &name)?))).collect()
    }

    /// An exported function.
    pub fn get_func(&self, store: impl AsContext, name: &str) -> Option<Func> {
        self.get_export(store, name)?.into_func()
    }

    /// An exported function with a signature checked against `P` and `R`.
    ///
    /// ```
    /// use onecopy_runtime::{Engine, Instance, Module, Store};
    /// let engine = Engine::default();
    /// let wasm = wat::parse_str(r#"(module (func (export "add") (param i32 i32) (result i32)
    ///     local.get 0 local.get 1 i32.add))"#).unwrap();
    /// let module = Module::new(&engine, &wasm)?;
    /// let mut store = Store::new(&engine, ());
    /// let instance = Instance::new(&mut store, &module, &[])?;
    /// let add = instance.get_typed_func::<(i32, i32), i32>(&store, "add")?;
    /// assert_eq!(add.call(&mut store, (2, 3))?, 5);
    /// # Ok::<(), onecopy_runtime::Error>(())
    /// ```
    pub fn get_typed_func<P: crate::WasmParams, R: crate::WasmResults>(
        &self,
        store: impl AsContext,
        name: &str,
    ) -> Result<crate::TypedFunc<P, R>> {
        let store = store.as_context();
        self.data_in(store.opaque())?;
        let func = self.get_func(&store, name).ok_or_else(|| Error::NotFound(format!("function export {name:?}")))?;
        func.typed(&store)
    }

    /// An exported memory.
    pub fn get_memory(&self, store: impl AsContext, name: &str) -> Option<Memory> {
        self.get_export(store, name)?.into_memory()
    }

    /// An exported table.
    pub fn get_table(&self, store: impl AsContext, name: &str) -> Option<Table> {
        self.get_export(store, name)?.into_table()
    }

    /// An exported global.
    pub fn get_global(&self, store: impl AsContext, name: &str) -> Option<Global> {
        self.get_export(store, name)?.into_global()
    }

    /// Global `index` (module index space), exported or not.
    pub fn global(&self, store: impl AsContext, index: u32) -> Option<Global> {
        let store = store.as_context();
        let global = *self.data_in(store.opaque()).ok()?.globals.get(index as usize)?;
        Some(Global::from_index(self.store, global))
    }

    /// Memory `index` (module index space), exported or not.
    pub fn memory(&self, store: impl AsContext, index: u32) -> Option<Memory> {
        let store = store.as_context();
        let memory = *self.data_in(store.opaque()).ok()?.memories.get(index as usize)?;
        Some(Memory::from_index(self.store, memory))
    }

    /// The address of function `index`'s code as this instance calls it.
    pub fn func_address(&self, store: impl AsContext, index: u32) -> Option<*const u8> {
        let store = store.as_context();
        let data = self.data_in(store.opaque()).ok()?;
        if index as usize >= data.module.info().funcs.len() {
            return None;
        }
        // SAFETY: the funcref is live while the store is.
        unsafe { data.funcref(index).as_ref().map(|f| f.code) }
    }

    /// Bytes this instance owns outside the shared code: vmctx, funcrefs,
    /// debug table, and committed linear memory and table cells of the
    /// memories and tables it defines.
    pub fn footprint(&self, store: impl AsContext) -> Result<usize> {
        let store = store.as_context();
        let store = store.opaque();
        let data = self.data_in(store)?;
        let info = data.module.info();
        let memories = data.memories[info.imported_memories as usize..].iter().map(|m| store.memories[*m as usize].len());
        let tables = data.tables[info.imported_tables as usize..].iter().map(|t| store.tables[*t as usize].len() as usize * 8);
        Ok(data.own_bytes() + memories.sum::<usize>() + tables.sum::<usize>())
    }

    /// The instance's debugger interface (for debug code; see [`crate::Config::debug`]).
    pub fn debug<'a, T: 'static>(&self, store: impl Into<StoreContextMut<'a, T>>) -> Result<crate::debug::Debugger<'a, T>> {
        let store = store.into();
        let index = self.index_in(store.opaque())?;
        Ok(crate::debug::Debugger::new(store, index))
    }
}

fn instantiation_trap(kind: TrapKind) -> Error {
    Error::Trap(Trap::new(kind))
}

/// Match `imports` against the module's import types.
fn check_imports(store: &StoreOpaque, module: &Module, imports: &[Extern]) -> Result<Imports> {
    let info = module.info();
    if imports.len() != info.imports.len() {
        return Err(Error::Link(format!("module needs {} imports, got {}", info.imports.len(), imports.len())));
    }
    let mut sorted = Imports::default();
    for (import, value) in info.imports.iter().zip(imports) {
        let expected = crate::module::entity_type(info, import.kind, import.index);
        let name = format!("{}::{}", import.module, import.name);
        if !crate::linker::matches(store, value, &expected)? {
            return Err(Error::Link(format!("incompatible import type for {name}: expected {expected:?}")));
        }
        match value {
            Extern::Func(f) => sorted.funcs.push(f.raw(store)?),
            Extern::Memory(m) => sorted.memories.push(m.index_in(store)?),
            Extern::Table(t) => sorted.tables.push(t.index_in(store)?),
            Extern::Global(g) => sorted.globals.push(g.index_in(store)?),
        }
    }
    Ok(sorted)
}

/// Whether the instance fits the store's limits, checked before anything is
/// created so that a refused instantiation leaves the store as it was.
fn check_limits(store: &StoreOpaque, module: &Module, imports: &Imports) -> Result<()> {
    let info = module.info();
    let memories = &info.memories[imports.memories.len()..];
    let tables = &info.tables[imports.tables.len()..];
    let limits = &store.limits;
    limits.count(Limit::Instances, store.instances.len() + 1)?;
    limits.count(Limit::Memories, store.memories.len() + memories.len())?;
    limits.count(Limit::Tables, store.tables.len() + tables.len())?;
    memories.iter().try_for_each(|ty| limits.memory_size(crate::memory::initial_bytes(ty)))?;
    tables.iter().try_for_each(|ty| limits.table_elements(ty.min as usize))?;
    Ok(())
}

/// Create the instance's own memories, tables and globals and its vmctx,
/// and add it to the store (`raw` is the store's pointer for its vmctx).
fn allocate(store: &mut StoreOpaque, raw: *mut StoreOpaque, module: &Module, imports: Imports) -> Result<Instance> {
    let info = module.info();
    check_limits(store, module, &imports)?;
    let mut memories = imports.memories;
    for ty in &info.memories[memories.len()..] {
        memories.push(store::push(&mut store.memories, MemoryData::new(*ty, store.engine.memory_guard())?)?);
    }
    let mut tables = imports.tables;
    for ty in &info.tables[tables.len()..] {
        tables.push(store::push(&mut store.tables, TableData::new(*ty, 0)?)?);
    }
    let mut globals = imports.globals;
    for ty in &info.globals[globals.len()..] {
        globals.push(store::push(&mut store.globals, GlobalData::new(*ty, 0))?);
    }
    let index = u32::try_from(store.instances.len()).map_err(|_| Error::Resource("too many instances in one store".into()))?;
    let compiled = module.compiled();
    let layout = &compiled.layout;
    let funcrefs: Box<[UnsafeCell<VMFuncRef>]> = (info.imported_funcs..info.funcs.len() as u32)
        .map(|func| {
            UnsafeCell::new(VMFuncRef {
                code: compiled.func_address(func).expect("defined function"),
                vmctx: std::ptr::null_mut(),
                type_id: compiled.type_ids[info.funcs[func as usize] as usize],
                index: func,
                owner: index as usize,
            })
        })
        .collect();
    let debug = Rc::new(DebugState::new(module)?);
    let cells = debug.table.vmctx_cells(1 + layout.size as usize / 8).unwrap_or_else(|| VmCells::boxed(1 + layout.size as usize / 8));
    let data = InstanceData {
        module: module.clone(),
        cells,
        funcrefs: VmBox::from_box(funcrefs),
        memories,
        tables,
        globals,
        dropped_data: vec![false; info.data.len()],
        dropped_elems: vec![false; info.elements.len()],
        debug,
        legacy: Default::default(),
    };
    let vmctx = data.vmctx_ptr();
    for f in data.funcrefs.iter() {
        // SAFETY: nothing else refers to the funcrefs yet.
        unsafe { (*f.get()).vmctx = vmctx };
    }
    // SAFETY: the index cell is ours, before any code runs.
    unsafe { *data.cells[0].get() = index as u64 };
    data.set_field(header::INSTANCE, raw as usize);
    data.set_field(header::BUILTINS, crate::builtins::table() as usize);
    data.set_field(header::LIMITS, crate::vm::thread_limits() as usize);
    // Guarded debug code's loop headers have no probe where a guard group
    // starts: an interrupt arms the table instead (see `interrupt.rs`).
    let probes = module.engine().inner.compiler.config().interrupts == crate::Interrupts::Probe;
    if probes && data.debug.table.len() != 0 {
        crate::vm::thread_limits_arc().interrupt.register_table(&data.debug.table);
    }
    data.set_field(header::TYPE_IDS, compiled.type_ids.as_ptr() as usize);
    for (i, m) in data.memories.iter().enumerate() {
        data.set_field(layout.memory(i as u32), store.memories[*m as usize].def_ptr() as usize);
    }
    for (i, t) in data.tables.iter().enumerate() {
        data.set_field(layout.table(i as u32), store.tables[*t as usize].def_ptr() as usize);
    }
    for (i, g) in data.globals.iter().enumerate() {
        data.set_field(layout.global(i as u32), store.globals[*g as usize].storage() as usize);
    }
    for (i, f) in imports.funcs.iter().enumerate() {
        data.set_field(layout.func(i as u32), *f as usize);
    }
    for (j, f) in data.funcrefs.iter().enumerate() {
        data.set_field(layout.func(info.imported_funcs + j as u32), f.get() as usize);
    }
    store.instances.push(data);
    Ok(Instance { store: store.id, index })
}

/// Globals, segments and the start function, in the spec's order. What a
/// trap leaves behind stays in the store (element writes into an imported
/// table persist, as wasm requires).
fn initialize<T>(mut store: StoreContextMut<'_, T>, instance: Instance) -> Result<()> {
    let opaque = store.opaque_mut();
    let i = instance.index as usize;
    // A handle of our own: `info` must not borrow the store it changes.
    let module = opaque.instances[i].module.clone();
    let info = module.info();
    for (k, init) in info.global_inits.iter().enumerate() {
        let data = &opaque.instances[i];
        let raw = data.const_raw(opaque, init);
        opaque.globals[data.globals[info.imported_globals as usize + k] as usize].set_raw(raw);
    }
    for (k, segment) in info.elements.iter().enumerate() {
        match &segment.mode {
            SegmentMode::Active { index, offset } => {
                let dst = opaque.instances[i].const_raw(opaque, offset) as u32;
                let len = segment.items.len() as u32;
                crate::builtins::table_init(opaque, instance.index, *index, k as u32, dst, 0, len).map_err(instantiation_trap)?;
                opaque.instances[i].dropped_elems[k] = true;
            }
            SegmentMode::Declared => opaque.instances[i].dropped_elems[k] = true,
            SegmentMode::Passive => {}
        }
    }
    for (k, segment) in info.data.iter().enumerate() {
        if let SegmentMode::Active { index, offset } = &segment.mode {
            let dst = opaque.instances[i].const_raw(opaque, offset) as u32;
            let len = segment.bytes.len() as u32;
            crate::builtins::memory_init(opaque, instance.index, *index, k as u32, dst, 0, len).map_err(instantiation_trap)?;
            opaque.instances[i].dropped_data[k] = true;
        }
    }
    if let Some(start) = info.start {
        // SAFETY: the funcref of a live instance of this store.
        let func = unsafe { Func::from_raw(opaque.instances[i].funcref(start), opaque.id) };
        func.ok_or_else(|| Error::NotFound(format!("start function {start}")))?.call(store, &[], &mut [])?;
    }
    Ok(())
}
