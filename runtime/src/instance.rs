//! Instances: a module's code plus this instance's own vmctx, memories,
//! tables, globals and debug table.

use std::cell::{RefCell, UnsafeCell};
use std::rc::Rc;

use onecopy_jit::module_info::{ConstExpr, EntityKind, SegmentMode};
use onecopy_jit::vmctx::header;
use onecopy_jit::TrapKind;

use crate::debug::DebugState;
use crate::error::{Error, Result, Trap};
use crate::func::Func;
use crate::global::Global;
use crate::memory::Memory;
use crate::module::{entity_type, ExternType, Module};
use crate::table::Table;
use crate::values::Val;
use crate::vm::VMFuncRef;
use crate::Extern;

pub(crate) struct InstanceInner {
    pub module: Module,
    /// The vmctx compiled code receives; boxed so its address is stable.
    vmctx: Box<[UnsafeCell<u64>]>,
    /// `VMFuncRef`s of the functions this module defines.
    funcrefs: Box<[UnsafeCell<VMFuncRef>]>,
    pub memories: Vec<Memory>,
    pub tables: Vec<Table>,
    pub globals: Vec<Global>,
    /// Imported functions, kept alive with the instance.
    imported_funcs: Vec<Func>,
    pub dropped_data: RefCell<Vec<bool>>,
    pub dropped_elems: RefCell<Vec<bool>>,
    pub debug: DebugState,
    /// Legacy debug code only: this instance's private code clone.
    pub legacy: crate::legacy::LegacyClones,
}

impl InstanceInner {
    /// The instance that owns `vmctx`.
    ///
    /// # Safety
    /// `vmctx` must be the vmctx of a live instance.
    pub(crate) unsafe fn from_vmctx<'a>(vmctx: *mut u8) -> &'a InstanceInner {
        unsafe { &*(*(vmctx as *const *const InstanceInner)) }
    }

    pub(crate) fn vmctx_ptr(&self) -> *mut u8 {
        self.vmctx.as_ptr() as *mut u8
    }

    fn set_field(&self, offset: i32, value: usize) {
        // SAFETY: offsets come from the module's layout, within the vmctx.
        unsafe { *self.vmctx[offset as usize / 8].get() = value as u64 };
    }

    /// The `VMFuncRef` of function `index` (imported or defined).
    pub(crate) fn funcref(&self, index: u32) -> *const VMFuncRef {
        let offset = self.module.compiled().layout.func(index);
        // SAFETY: every funcs slot was filled at instantiation.
        unsafe { *self.vmctx[offset as usize / 8].get() as *const VMFuncRef }
    }

    /// Point the defined functions' funcrefs at a copy of the module's code
    /// starting at `base` (the shared code, or a legacy clone).
    pub(crate) fn set_code_base(&self, base: *const u8) {
        for (f, offset) in self.funcrefs.iter().zip(&self.module.compiled().func_offsets) {
            // SAFETY: only this thread reads or writes the instance's funcrefs.
            unsafe { (*f.get()).code = base.wrapping_add(*offset as usize) };
        }
    }

    /// Evaluate a constant expression to a raw cell.
    pub(crate) fn const_raw(&self, expr: &ConstExpr) -> u64 {
        match *expr {
            ConstExpr::I32(v) => v as u32 as u64,
            ConstExpr::I64(v) => v as u64,
            ConstExpr::F32(bits) => bits as u64,
            ConstExpr::F64(bits) => bits,
            ConstExpr::RefNull => 0,
            ConstExpr::RefFunc(index) => self.funcref(index) as u64,
            // SAFETY: the storage holds a value of the global's type.
            ConstExpr::GlobalGet(index) => unsafe { *self.globals[index as usize].storage() as u64 },
        }
    }
}

/// An instantiated module. Lives on the thread that created it (it is not
/// `Send`); each worker thread instantiates the shared [`Module`] itself.
#[derive(Clone)]
pub struct Instance {
    pub(crate) inner: Rc<InstanceInner>,
}

/// Imports sorted by kind, in index order.
#[derive(Default)]
struct Imports {
    funcs: Vec<Func>,
    memories: Vec<Memory>,
    tables: Vec<Table>,
    globals: Vec<Global>,
}

impl Instance {
    /// Instantiate `module` with `imports` given in the module's import order.
    pub fn new(module: &Module, imports: &[Extern]) -> Result<Instance> {
        let imports = check_imports(module, imports)?;
        let instance = Instance::allocate(module, imports)?;
        instance.initialize()?;
        Ok(instance)
    }

    fn allocate(module: &Module, imports: Imports) -> Result<Instance> {
        let engine = module.engine();
        let info = module.info();
        let mut memories = imports.memories;
        for ty in &info.memories[memories.len()..] {
            memories.push(Memory::new(engine, *ty)?);
        }
        let mut tables = imports.tables;
        for ty in &info.tables[tables.len()..] {
            tables.push(Table::new(engine, *ty, Val::default_for(ty.element))?);
        }
        let mut globals = imports.globals;
        for ty in &info.globals[globals.len()..] {
            globals.push(Global::from_raw(*ty, 0));
        }
        let compiled = module.compiled();
        let layout = &compiled.layout;
        let debug = DebugState::new(module)?;
        let inner = Rc::new_cyclic(|weak| {
            let owner: *const InstanceInner = weak.as_ptr();
            let funcrefs = (info.imported_funcs..info.funcs.len() as u32)
                .map(|index| {
                    UnsafeCell::new(VMFuncRef {
                        code: compiled.func_address(index).expect("defined function"),
                        vmctx: std::ptr::null_mut(),
                        type_id: compiled.type_ids[info.funcs[index as usize] as usize],
                        index,
                        owner: owner.cast(),
                    })
                })
                .collect();
            InstanceInner {
                module: module.clone(),
                vmctx: (0..layout.size / 8).map(|_| UnsafeCell::new(0)).collect(),
                funcrefs,
                memories,
                tables,
                globals,
                imported_funcs: imports.funcs,
                dropped_data: RefCell::new(vec![false; info.data.len()]),
                dropped_elems: RefCell::new(vec![false; info.elements.len()]),
                debug,
                legacy: Default::default(),
            }
        });
        let vmctx = inner.vmctx_ptr();
        // SAFETY: nothing else refers to the funcrefs yet.
        for f in inner.funcrefs.iter() {
            unsafe { (*f.get()).vmctx = vmctx };
        }
        // Compiled code can store this instance's funcrefs into imported
        // tables, which outlive it: the tables keep it alive.
        if info.defined_funcs() > 0 {
            for table in &inner.tables[..info.imported_tables as usize] {
                table.keep_alive(Box::new(inner.clone()));
            }
        }
        inner.set_field(header::INSTANCE, Rc::as_ptr(&inner) as usize);
        inner.set_field(header::BUILTINS, crate::builtins::table() as usize);
        inner.set_field(header::LIMITS, crate::vm::thread_limits() as usize);
        inner.set_field(header::DEBUG_TABLE, inner.debug.table.base() as usize);
        inner.debug.table.set_owner(vmctx);
        inner.set_field(header::TYPE_IDS, compiled.type_ids.as_ptr() as usize);
        for (i, m) in inner.memories.iter().enumerate() {
            inner.set_field(layout.memory(i as u32), m.def() as usize);
        }
        for (i, t) in inner.tables.iter().enumerate() {
            inner.set_field(layout.table(i as u32), t.def() as usize);
        }
        for (i, g) in inner.globals.iter().enumerate() {
            inner.set_field(layout.global(i as u32), g.storage() as usize);
        }
        for (i, f) in inner.imported_funcs.iter().enumerate() {
            inner.set_field(layout.func(i as u32), f.raw() as usize);
        }
        for (j, f) in inner.funcrefs.iter().enumerate() {
            inner.set_field(layout.func(info.imported_funcs + j as u32), f.get() as usize);
        }
        Ok(Instance { inner })
    }

    /// Globals, segments and the start function, in the spec's order.
    fn initialize(&self) -> Result<()> {
        let inner = &self.inner;
        let info = inner.module.info();
        for (i, init) in info.global_inits.iter().enumerate() {
            let raw = inner.const_raw(init);
            let global = &inner.globals[info.imported_globals as usize + i];
            // SAFETY: single-threaded, no wasm running.
            unsafe { *global.storage() = raw as u128 };
        }
        for (i, segment) in info.elements.iter().enumerate() {
            match &segment.mode {
                SegmentMode::Active { index, offset } => {
                    let dst = inner.const_raw(offset) as u32;
                    let len = segment.items.len() as u32;
                    crate::builtins::table_init(inner, *index, i as u32, dst, 0, len).map_err(instantiation_trap)?;
                    inner.dropped_elems.borrow_mut()[i] = true;
                }
                SegmentMode::Declared => inner.dropped_elems.borrow_mut()[i] = true,
                SegmentMode::Passive => {}
            }
        }
        for (i, segment) in info.data.iter().enumerate() {
            if let SegmentMode::Active { index, offset } = &segment.mode {
                let dst = inner.const_raw(offset) as u32;
                let len = segment.bytes.len() as u32;
                crate::builtins::memory_init(inner, *index, i as u32, dst, 0, len).map_err(instantiation_trap)?;
                inner.dropped_data.borrow_mut()[i] = true;
            }
        }
        if let Some(start) = info.start {
            Func::wasm(inner.clone(), start).call(&[])?;
        }
        Ok(())
    }

    /// A handle on an instance whose inner part is borrowed (it is alive).
    pub(crate) fn from_inner(inner: &InstanceInner) -> Instance {
        let ptr: *const InstanceInner = inner;
        // SAFETY: every InstanceInner lives in an Rc (see `allocate`).
        unsafe {
            Rc::increment_strong_count(ptr);
            Instance { inner: Rc::from_raw(ptr) }
        }
    }

    /// The module this is an instance of.
    pub fn module(&self) -> &Module {
        &self.inner.module
    }

    /// An export by name.
    pub fn get_export(&self, name: &str) -> Option<Extern> {
        let export = self.inner.module.info().export(name)?;
        let i = export.index as usize;
        Some(match export.kind {
            EntityKind::Func => Extern::Func(Func::wasm(self.inner.clone(), export.index)),
            EntityKind::Memory => Extern::Memory(self.inner.memories[i].clone()),
            // Exported tables and globals may hold this instance's funcrefs:
            // their handles keep it alive (an importer holds the handle).
            EntityKind::Table => Extern::Table(self.inner.tables[i].with_owner(self.inner.clone())),
            EntityKind::Global => Extern::Global(self.inner.globals[i].with_owner(self.inner.clone())),
        })
    }

    /// All exports, in the module's order.
    pub fn exports(&self) -> Vec<(String, Extern)> {
        let info = self.inner.module.info();
        info.exports.iter().filter_map(|e| Some((e.name.clone(), self.get_export(&e.name)?))).collect()
    }

    /// An exported function.
    pub fn get_func(&self, name: &str) -> Option<Func> {
        self.get_export(name)?.into_func()
    }

    /// An exported function with a signature checked against `P` and `R`.
    ///
    /// ```
    /// use onecopy_runtime::{Engine, Instance, Module};
    /// let engine = Engine::default();
    /// let wasm = wat::parse_str(r#"(module (func (export "add") (param i32 i32) (result i32)
    ///     local.get 0 local.get 1 i32.add))"#).unwrap();
    /// let module = Module::new(&engine, &wasm)?;
    /// let instance = Instance::new(&module, &[])?;
    /// let add = instance.get_typed_func::<(i32, i32), i32>("add")?;
    /// assert_eq!(add.call((2, 3))?, 5);
    /// # Ok::<(), onecopy_runtime::Error>(())
    /// ```
    pub fn get_typed_func<P: crate::WasmParams, R: crate::WasmResults>(
        &self,
        name: &str,
    ) -> Result<crate::TypedFunc<P, R>> {
        self.get_func(name).ok_or_else(|| Error::NotFound(format!("function export {name:?}")))?.typed()
    }

    /// An exported memory.
    pub fn get_memory(&self, name: &str) -> Option<Memory> {
        self.get_export(name)?.into_memory()
    }

    /// An exported table.
    pub fn get_table(&self, name: &str) -> Option<Table> {
        self.get_export(name)?.into_table()
    }

    /// An exported global.
    pub fn get_global(&self, name: &str) -> Option<Global> {
        self.get_export(name)?.into_global()
    }

    /// Global `index` (module index space), exported or not.
    pub fn global(&self, index: u32) -> Option<Global> {
        self.inner.globals.get(index as usize).cloned()
    }

    /// Memory `index` (module index space), exported or not.
    pub fn memory(&self, index: u32) -> Option<Memory> {
        self.inner.memories.get(index as usize).cloned()
    }

    /// The address of function `index`'s code as this instance calls it.
    pub fn func_address(&self, index: u32) -> Option<*const u8> {
        // SAFETY: the funcref is live while the instance is.
        unsafe { self.inner.funcref(index).as_ref().map(|f| f.code) }
    }

    /// Bytes this instance owns outside the shared code: vmctx, funcrefs,
    /// debug table, and committed linear memory and table cells.
    pub fn footprint(&self) -> usize {
        let inner = &self.inner;
        inner.vmctx.len() * 8
            + inner.funcrefs.len() * std::mem::size_of::<VMFuncRef>()
            + inner.debug.footprint()
            + inner.memories.iter().map(Memory::data_size).sum::<usize>()
            + inner.tables.iter().map(|t| t.size() as usize * 8).sum::<usize>()
    }

    /// The instance's debugger interface.
    pub fn debug(&self) -> crate::debug::Debugger<'_> {
        crate::debug::Debugger::new(self)
    }
}

fn instantiation_trap(kind: TrapKind) -> Error {
    Error::Trap(Trap::new(kind))
}

/// Match `imports` against the module's import types.
fn check_imports(module: &Module, imports: &[Extern]) -> Result<Imports> {
    let info = module.info();
    if imports.len() != info.imports.len() {
        return Err(Error::Link(format!("module needs {} imports, got {}", info.imports.len(), imports.len())));
    }
    let mut sorted = Imports::default();
    for (import, value) in info.imports.iter().zip(imports) {
        let expected = entity_type(info, import.kind, import.index);
        let name = format!("{}::{}", import.module, import.name);
        if !crate::linker::matches(module.engine(), value, &expected) {
            return Err(Error::Link(format!("incompatible import type for {name}: expected {expected:?}")));
        }
        match (value, expected) {
            (Extern::Func(f), ExternType::Func(_)) => sorted.funcs.push(f.clone()),
            (Extern::Memory(m), ExternType::Memory(_)) => sorted.memories.push(m.clone()),
            (Extern::Table(t), ExternType::Table(_)) => sorted.tables.push(t.clone()),
            (Extern::Global(g), ExternType::Global(_)) => sorted.globals.push(g.clone()),
            _ => unreachable!("matches() checked the kind"),
        }
    }
    Ok(sorted)
}

