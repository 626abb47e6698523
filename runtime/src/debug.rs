//! Per-instance debugging: the debug table compiled code reads at every
//! breakable point, breakpoints, stepping, and the handler called when a
//! guard fires.
//!
//! Nothing here changes code: setting a breakpoint sets the bit of its wasm
//! offset in this instance's debug table, and stepping points this
//! instance's vmctx at the module's shared all-ones table. Other instances
//! running the same code never notice.

use std::cell::{Cell, RefCell, UnsafeCell};
use std::collections::{BTreeSet, HashMap};

use onecopy_jit::{Site, ValType};

use crate::error::{Error, Result};
use crate::instance::InstanceInner;
use crate::values::Val;
use crate::Instance;

/// What the handler wants after a stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DebugAction {
    /// Run on (stop again only at breakpoints).
    Continue,
    /// Stop at the next breakable point, in any function.
    Step,
    /// Abort the call with a `DebugAbort` trap.
    Abort,
}

/// The stopped frame as the handler sees it: locals and operand stack are
/// readable and writable; writes take effect when execution resumes.
pub struct DebugFrame<'a> {
    /// The breakable point.
    pub site: &'a Site,
    /// Types of the locals (parameters first).
    pub local_types: &'a [ValType],
    cells: &'a mut [u64],
}

impl DebugFrame<'_> {
    /// Local `index`.
    pub fn local(&self, index: usize) -> Option<Val> {
        let ty = *self.local_types.get(index)?;
        // SAFETY: the cell holds a value of the local's type.
        Some(unsafe { Val::from_raw(self.cells[index], ty) })
    }

    /// Change local `index`.
    pub fn set_local(&mut self, index: usize, value: Val) -> Result<()> {
        let ty = *self.local_types.get(index).ok_or_else(|| Error::NotFound(format!("local {index}")))?;
        store(&mut self.cells[index], ty, value)
    }

    /// All locals.
    pub fn locals(&self) -> Vec<Val> {
        (0..self.local_types.len()).filter_map(|i| self.local(i)).collect()
    }

    /// Operand-stack value `index` (0 = bottom).
    pub fn stack(&self, index: usize) -> Option<Val> {
        let ty = *self.site.stack.get(index)?;
        // SAFETY: the cell holds a value of the slot's type.
        Some(unsafe { Val::from_raw(self.cells[self.local_types.len() + index], ty) })
    }

    /// Change operand-stack value `index`.
    pub fn set_stack(&mut self, index: usize, value: Val) -> Result<()> {
        let ty = *self.site.stack.get(index).ok_or_else(|| Error::NotFound(format!("stack slot {index}")))?;
        let n = self.local_types.len();
        store(&mut self.cells[n + index], ty, value)
    }
}

fn store(cell: &mut u64, ty: ValType, value: Val) -> Result<()> {
    if value.ty() != ty || ty.is_ref() {
        return Err(Error::Type(format!("cannot store {} into a {ty} slot", value.ty())));
    }
    *cell = value.to_raw();
    Ok(())
}

type Handler = Box<dyn FnMut(&mut DebugFrame<'_>) -> DebugAction>;

pub(crate) struct DebugState {
    /// One bit per code-section byte: a set bit sends the guard at that
    /// wasm offset to the handler. Zeroed pages cost no memory until a
    /// breakpoint is set in them.
    table: Box<[UnsafeCell<u8>]>,
    /// Breakpoint site ids by function.
    breakpoints: RefCell<HashMap<u32, BTreeSet<u32>>>,
    stepping: Cell<bool>,
    handler: RefCell<Option<Handler>>,
}

impl DebugState {
    pub(crate) fn new(table_len: usize) -> DebugState {
        let zeroed = vec![0u8; table_len].into_boxed_slice();
        // SAFETY: UnsafeCell<u8> has the layout of u8.
        let table = unsafe { Box::from_raw(Box::into_raw(zeroed) as *mut [UnsafeCell<u8>]) };
        DebugState {
            table,
            breakpoints: RefCell::new(HashMap::new()),
            stepping: Cell::new(false),
            handler: RefCell::new(None),
        }
    }

    pub(crate) fn table_ptr(&self) -> *const u8 {
        self.table.as_ptr() as *const u8
    }

    pub(crate) fn footprint(&self) -> usize {
        self.table.len()
    }

    /// Called from compiled code at a guard whose byte is set. Returns true
    /// to abort the call.
    pub(crate) fn on_site(&self, inner: &InstanceInner, func: u32, local_site: u32, frame: *mut u64) -> bool {
        let compiled = inner.module.compiled();
        let defined = (func - compiled.info.imported_funcs) as usize;
        let id = compiled.site_base[defined] + local_site;
        let Some(mut handler) = self.handler.borrow_mut().take() else { return false };
        let site = &compiled.sites[id as usize];
        let local_types = &compiled.func_locals[defined];
        // SAFETY: the guard spilled locals then the operand stack into `frame`.
        let cells = unsafe { std::slice::from_raw_parts_mut(frame, local_types.len() + site.stack.len()) };
        let action = handler(&mut DebugFrame { site, local_types, cells });
        // A handler installed during the call wins over the one that ran.
        self.handler.borrow_mut().get_or_insert(handler);
        match action {
            DebugAction::Continue => self.set_stepping(inner, false),
            DebugAction::Step => self.set_stepping(inner, true),
            DebugAction::Abort => return true,
        }
        false
    }

    fn set_stepping(&self, inner: &InstanceInner, on: bool) {
        self.stepping.set(on);
        let table = if on { inner.module.inner.all_ones.as_ptr() } else { self.table_ptr() };
        inner.set_debug_table(table);
    }
}

/// The debugger interface of one instance.
pub struct Debugger<'a> {
    instance: &'a Instance,
}

impl<'a> Debugger<'a> {
    pub(crate) fn new(instance: &'a Instance) -> Debugger<'a> {
        Debugger { instance }
    }

    fn state(&self) -> &DebugState {
        &self.instance.inner.debug
    }

    /// Breakable points of function `func`.
    pub fn sites(&self, func: u32) -> Vec<&'a Site> {
        self.instance.module().sites().iter().filter(|s| s.func == func).collect()
    }

    /// Set a breakpoint at `wasm_offset` in `func` (the function's first
    /// site is its entry). Returns the site id.
    pub fn set_breakpoint(&self, func: u32, wasm_offset: u32) -> Result<u32> {
        if !self.instance.module().compiled().debug {
            return Err(Error::Type("module was compiled without debug guards (Config::debug)".into()));
        }
        let sites = self.sites(func);
        let Some(site) = sites.iter().find(|s| s.wasm_offset == wasm_offset) else {
            let mut near: Vec<u32> = sites.iter().map(|s| s.wasm_offset).collect();
            near.sort_by_key(|o| o.abs_diff(wasm_offset));
            near.truncate(5);
            return Err(Error::NotFound(format!(
                "no breakable point at offset {wasm_offset:#x} in function {func}; nearest: {}",
                near.iter().map(|o| format!("{o:#x}")).collect::<Vec<_>>().join(", ")
            )));
        };
        self.state().breakpoints.borrow_mut().entry(func).or_default().insert(site.id);
        self.set_bit(site.wasm_offset, true);
        Ok(site.id)
    }

    /// Clear a breakpoint.
    pub fn clear_breakpoint(&self, func: u32, wasm_offset: u32) {
        let mut all = self.state().breakpoints.borrow_mut();
        let Some(set) = all.get_mut(&func) else { return };
        set.retain(|id| self.instance.module().sites()[*id as usize].wasm_offset != wasm_offset);
        if set.is_empty() {
            all.remove(&func);
        }
        self.set_bit(wasm_offset, false);
    }

    /// Clear every breakpoint and stop stepping.
    pub fn clear_all(&self) {
        let sites = self.instance.module().sites();
        let ids: Vec<u32> = self.state().breakpoints.borrow_mut().drain().flat_map(|(_, s)| s).collect();
        for id in ids {
            self.set_bit(sites[id as usize].wasm_offset, false);
        }
        self.set_stepping(false);
    }

    /// Install the handler called when a breakpoint is hit or a step stops.
    pub fn set_handler(&self, handler: impl FnMut(&mut DebugFrame<'_>) -> DebugAction + 'static) {
        *self.state().handler.borrow_mut() = Some(Box::new(handler));
    }

    /// Stop at every breakable point (on) or only at breakpoints (off).
    pub fn set_stepping(&self, on: bool) {
        self.state().set_stepping(&self.instance.inner, on);
    }

    /// Whether this instance's guard at `wasm_offset` calls the handler
    /// (its bit in this instance's own table).
    pub fn is_armed(&self, wasm_offset: u32) -> bool {
        let (byte, mask) = self.instance.module().info().debug_bit(wasm_offset);
        // SAFETY: single-threaded owner.
        self.state().table.get(byte).is_some_and(|cell| unsafe { *cell.get() } & mask != 0)
    }

    fn set_bit(&self, wasm_offset: u32, on: bool) {
        let (byte, mask) = self.instance.module().info().debug_bit(wasm_offset);
        if let Some(cell) = self.state().table.get(byte) {
            // SAFETY: compiled code only reads it, on this same thread.
            unsafe { *cell.get() = if on { *cell.get() | mask } else { *cell.get() & !mask } };
        }
    }
}
