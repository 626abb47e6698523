//! Per-instance debugging: the debug table compiled code reads at every
//! breakable point, breakpoints, stepping, and the handler called when a
//! guard fires.
//!
//! Nothing here changes code: setting a breakpoint sets the bit of its wasm
//! offset in this instance's debug table, and stepping points this
//! instance's vmctx at the module's shared all-ones table. Other instances
//! running the same code never notice.

use std::cell::{Cell, RefCell};
use std::sync::Arc;

use onecopy_jit::{Site, ValType};

use crate::backtrace::FrameInfo;
use crate::debug_table::{DebugRemote, DebugTable};
use crate::error::{Error, Result};
use crate::instance::InstanceInner;
use crate::values::Val;
use crate::Instance;

/// What the handler wants after a stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DebugAction {
    /// Run on (stop again only at breakpoints or a pause).
    Continue,
    /// Stop at the next breakable point, in any function (step into).
    Step,
    /// Stop at the next breakable point of this frame or a caller (step over).
    StepOver,
    /// Stop at the next breakable point of a caller (step out).
    StepOut,
    /// Abort the call with a `DebugAbort` trap.
    Abort,
}

/// Why the instance stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// A breakpoint at this site.
    Breakpoint,
    /// A step requested by the previous stop.
    Step,
    /// A pause requested through [`DebugRemote::pause`].
    Pause,
}

/// The stopped frame as the handler sees it: locals and operand stack are
/// readable and writable; writes take effect when execution resumes.
pub struct DebugFrame<'a> {
    /// The breakable point.
    pub site: &'a Site,
    /// Types of the locals (parameters first); empty in legacy debug code,
    /// which keeps no frame view.
    pub local_types: &'a [ValType],
    /// Types of the operand-stack values (empty in legacy debug code).
    pub stack_types: &'a [ValType],
    /// Why execution stopped here.
    pub reason: StopReason,
    cells: &'a mut [u64],
    fp: usize,
    inner: &'a InstanceInner,
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
        let ty = *self.stack_types.get(index)?;
        // SAFETY: the cell holds a value of the slot's type.
        Some(unsafe { Val::from_raw(self.cells[self.local_types.len() + index], ty) })
    }

    /// Change operand-stack value `index`. Only values of the innermost
    /// block are written back (see `onecopy_jit`'s guard).
    pub fn set_stack(&mut self, index: usize, value: Val) -> Result<()> {
        let ty = *self.stack_types.get(index).ok_or_else(|| Error::NotFound(format!("stack slot {index}")))?;
        let n = self.local_types.len();
        store(&mut self.cells[n + index], ty, value)
    }

    /// The wasm frames, innermost (this stop) first.
    pub fn backtrace(&self) -> Vec<FrameInfo> {
        let top = FrameInfo { func: self.site.func, wasm_offset: self.site.wasm_offset };
        // SAFETY: `fp` is the stopped compiled frame's frame pointer.
        unsafe { crate::backtrace::walk(top, self.fp) }
    }

    /// The stopped instance (to read or write its globals and memory).
    pub fn instance(&self) -> Instance {
        Instance::from_inner(self.inner)
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

/// How far the current step goes, by frame pointer (the stack grows down:
/// callers have higher frame pointers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stepping {
    Off,
    Into,
    Over(usize),
    Out(usize),
}

pub(crate) struct DebugState {
    pub table: Arc<DebugTable>,
    stepping: Cell<Stepping>,
    handler: RefCell<Option<Handler>>,
}

impl DebugState {
    pub(crate) fn new(module: &crate::Module) -> DebugState {
        DebugState { table: DebugTable::new(module), stepping: Cell::new(Stepping::Off), handler: RefCell::new(None) }
    }

    pub(crate) fn table_ptr(&self) -> *const u8 {
        self.table.as_ptr()
    }

    pub(crate) fn footprint(&self) -> usize {
        self.table.len()
    }

    /// Called from compiled code at a guard whose bit is set (or while
    /// stepping, at every guard). Returns true to abort the call.
    pub(crate) fn on_site(&self, inner: &InstanceInner, func: u32, local_site: u32, frame: *mut u64, fp: usize) -> bool {
        let compiled = inner.module.compiled();
        let defined = (func - compiled.info.imported_funcs) as usize;
        let id = compiled.site_base[defined] + local_site;
        let paused = self.table.take_pause();
        let reason = if self.table.has_breakpoint(id) {
            StopReason::Breakpoint
        } else if paused {
            StopReason::Pause
        } else {
            let stop = match self.stepping.get() {
                Stepping::Off => false,
                Stepping::Into => true,
                Stepping::Over(at) => fp >= at,
                Stepping::Out(at) => fp > at,
            };
            if !stop {
                return false;
            }
            StopReason::Step
        };
        let Some(mut handler) = self.handler.borrow_mut().take() else { return false };
        let site = &compiled.sites[id as usize];
        let (local_types, stack_types, cells): (&[ValType], &[ValType], &mut [u64]) = if frame.is_null() {
            (&[], &[], &mut [])
        } else {
            let locals = &compiled.func_locals[defined];
            // SAFETY: the guard spilled locals then the operand stack into `frame`.
            let cells = unsafe { std::slice::from_raw_parts_mut(frame, locals.len() + site.stack.len()) };
            (locals, &site.stack, cells)
        };
        let _span = tracing::debug_span!("debug_stop", func, offset = site.wasm_offset, ?reason).entered();
        // A panicking handler must not unwind into compiled code: it aborts the call.
        let action = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            handler(&mut DebugFrame { site, local_types, stack_types, reason, cells, fp, inner })
        }))
        .unwrap_or_else(|_| {
            tracing::error!(func, offset = site.wasm_offset, "debug handler panicked; aborting the call");
            DebugAction::Abort
        });
        // A handler installed during the call wins over the one that ran.
        self.handler.borrow_mut().get_or_insert(handler);
        let stepping = match action {
            DebugAction::Continue => Stepping::Off,
            DebugAction::Step => Stepping::Into,
            DebugAction::StepOver => Stepping::Over(fp),
            DebugAction::StepOut => Stepping::Out(fp),
            DebugAction::Abort => return true,
        };
        self.set_stepping(inner, stepping);
        false
    }

    fn set_stepping(&self, inner: &InstanceInner, stepping: Stepping) {
        self.stepping.set(stepping);
        let table = if stepping == Stepping::Off { self.table_ptr() } else { inner.module.inner.all_ones.as_ptr() };
        inner.set_debug_table(table);
        if let Err(e) = crate::legacy::sync(inner) {
            tracing::error!(error = %e, "legacy debug code: cannot clone the module's code");
        }
    }

    pub(crate) fn is_stepping(&self) -> bool {
        self.stepping.get() != Stepping::Off
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
    /// site is its entry). Returns the site id; an offset that is not a
    /// breakable point is an error listing the nearest ones.
    /// With legacy debug code this clones the module's code for this
    /// instance, which can fail with `Error::CodeArenaExhausted`.
    pub fn set_breakpoint(&self, func: u32, wasm_offset: u32) -> Result<u32> {
        let id = self.state().table.set_breakpoint(func, wasm_offset)?;
        if let Err(e) = crate::legacy::sync(&self.instance.inner) {
            self.state().table.clear_breakpoint(func, wasm_offset);
            return Err(e);
        }
        Ok(id)
    }

    /// Clear a breakpoint.
    pub fn clear_breakpoint(&self, func: u32, wasm_offset: u32) {
        self.state().table.clear_breakpoint(func, wasm_offset);
        // Going back to fewer patched sites never needs more arena space
        // than the shared code, which always exists.
        let _ = crate::legacy::sync(&self.instance.inner);
    }

    /// Clear every breakpoint and stop stepping.
    pub fn clear_all(&self) {
        self.state().table.clear_all();
        self.set_stepping(false);
    }

    /// Code bytes of this instance's private clone (legacy debug code only;
    /// 0 while it runs the shared code).
    pub fn clone_bytes(&self) -> usize {
        self.instance.inner.legacy.clone_bytes()
    }

    /// A handle to set breakpoints and pause this instance from other
    /// threads (guarded debug code; legacy code ignores remote breakpoints
    /// until the instance's own thread re-syncs its clone).
    pub fn remote(&self) -> DebugRemote {
        DebugRemote { table: self.state().table.clone() }
    }

    /// Install the handler called when a breakpoint is hit or a step stops.
    pub fn set_handler(&self, handler: impl FnMut(&mut DebugFrame<'_>) -> DebugAction + 'static) {
        *self.state().handler.borrow_mut() = Some(Box::new(handler));
    }

    /// Stop at every breakable point (on) or only at breakpoints (off).
    pub fn set_stepping(&self, on: bool) {
        let stepping = if on { Stepping::Into } else { Stepping::Off };
        self.state().set_stepping(&self.instance.inner, stepping);
    }

    /// Whether this instance's guard at `wasm_offset` calls the handler
    /// (its bit in this instance's own table).
    pub fn is_armed(&self, wasm_offset: u32) -> bool {
        self.state().table.is_set(wasm_offset)
    }
}
