//! Per-instance debugging: the debug table compiled code reads at every
//! breakable point, breakpoints, stepping, and the handler called when a
//! guard fires.
//!
//! Nothing here changes code: setting a breakpoint sets the bit of its wasm
//! offset in this instance's debug table, and stepping points this
//! instance's vmctx at the module's shared all-ones table. Other instances
//! running the same code never notice.

use std::cell::{Cell, RefCell};
use std::collections::BTreeSet;
use std::sync::Arc;

use onecopy_jit::debug_info::Location;
use onecopy_jit::Site;

use crate::debug_frame::FrameView;
pub use crate::debug_frame::{CallerFrame, DebugFrame};
use crate::debug_stop::{EndCall, SavedRegs};
use crate::debug_table::{DebugRemote, DebugTable, Watch};
use crate::error::Result;
use crate::instance::InstanceData;
use crate::store::{StoreContextMut, StoreInner, StoreOpaque};
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

/// The handler as the stop sees it: the frame, and the store (of the data
/// type the handler was installed for) to lend it.
type Handler = Box<dyn FnMut(FrameView<'_>, *mut StoreOpaque) -> DebugAction>;

/// How far the current step goes, by frame pointer (the stack grows down:
/// callers have higher frame pointers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stepping {
    Off,
    Into,
    Over(usize),
    Out(usize),
}

/// Where a stop comes from, and what it can show.
pub(crate) enum StopFrame<'a> {
    /// A breakpoint guard: every register, saved by the trampoline.
    Guard(&'a mut SavedRegs),
    /// Legacy debug code's break stub: the frame pointer only.
    Legacy(usize),
}

impl StopFrame<'_> {
    fn fp(&self) -> usize {
        match self {
            StopFrame::Guard(regs) => regs.fp(),
            StopFrame::Legacy(fp) => *fp,
        }
    }
}

pub(crate) struct DebugState {
    pub table: Arc<DebugTable>,
    stepping: Cell<Stepping>,
    handler: RefCell<Option<Handler>>,
    /// How many times a guard asked whether to stop (see [`Debugger::stop_checks`]).
    checks: Cell<u64>,
}

impl DebugState {
    pub(crate) fn new(module: &crate::Module) -> Result<DebugState> {
        let table = DebugTable::new(module)?;
        Ok(DebugState { table, stepping: Cell::new(Stepping::Off), handler: RefCell::new(None), checks: Cell::new(0) })
    }

    pub(crate) fn footprint(&self) -> usize {
        self.table.len()
    }

    /// Watch what a step needs: everything for a step into; for a step over
    /// or out, the stopped function and its caller (a step over the last
    /// site goes on in the caller), whose sites the frame-pointer test then
    /// filters.
    fn set_stepping(&self, instance: &InstanceData, stepping: Stepping, at: Option<(u32, usize)>) {
        self.stepping.set(stepping);
        let watch = match (stepping, at) {
            (Stepping::Off, _) => Watch::Nothing,
            (Stepping::Into, _) | (_, None) => Watch::Everything,
            (Stepping::Over(_) | Stepping::Out(_), Some((func, fp))) => {
                let mut funcs: BTreeSet<u32> = caller_function(instance, fp).into_iter().collect();
                if matches!(stepping, Stepping::Over(_)) {
                    funcs.insert(func);
                }
                Watch::Functions(funcs)
            }
        };
        self.table.set_watch(watch);
        if let Err(e) = crate::legacy::sync(instance) {
            tracing::error!(error = %e, "legacy debug code: cannot clone the module's code");
        }
    }

    pub(crate) fn is_stepping(&self) -> bool {
        self.stepping.get() != Stepping::Off
    }
}

/// Where a guard's stop lands (see `debug_stop.rs`): find the instance from
/// the faulting address (or the vmctx an exit guard kept), let it handle
/// the stop, and resume at the function's abort trap if the handler aborts
/// the call.
pub(crate) fn guard_stop(regs: &mut SavedRegs) {
    let found = match crate::debug_stop::step_taken() {
        Some(id) => crate::code_registry::module_at(regs.stop_pc).map(|m| (m, id)),
        None => crate::code_registry::debug_site(regs.stop_pc),
    };
    let Some((module, id)) = found else {
        // No breakable point's: a jump into non-executable JIT memory, or a
        // guard-page memory's out-of-bounds access (every fault in JIT code
        // comes here while a debugger is installed). Ended as the signal
        // handler ends it, so the access's trap site makes it
        // `MemoryOutOfBounds` (`call::resolve`).
        // SAFETY: nothing in this frame needs dropping.
        unsafe { crate::debug_stop::end_call(regs, EndCall::Fault) }
    };
    // SAFETY: the stopped thread's own limits, alive while it runs.
    if unsafe { &*crate::vm::thread_limits() }.interrupt.is_interrupted() {
        // The guard stood in for an interrupt check (see `interrupt.rs`).
        drop(module);
        // SAFETY: nothing in this frame needs dropping any more.
        unsafe { crate::debug_stop::end_call(regs, EndCall::Interrupt) }
    }
    let Some(code) = module.debug_code.as_ref() else { return };
    regs.resume = module.code.as_ptr() as usize + code.resume[id as usize] as usize;
    let read = |loc: Location| match loc {
        Location::Gpr(r) => regs.gpr(r),
        // SAFETY: a slot of the stopped frame (CFA = fp + 16), suspended.
        Location::Frame(off) => Some(unsafe { *((regs.fp() as isize + 16 + off as isize) as *const u64) }),
        Location::Xmm(_) => None,
    };
    let vmctx = match code.exit_vmctx(id) {
        // A fault guard: the faulting address is in the guard half of the
        // reservation its vmctx and table share.
        None => code.table.vmctx_of_fault(regs.fault_addr, crate::debug_table::page_size()).map(|v| v as u64),
        Some(loc) => read(loc),
    };
    let Some(vmctx) = vmctx else { return };
    // SAFETY: the stopped code's own vmctx, whose instance is alive while it runs.
    let (store, instance) = unsafe { InstanceData::from_vmctx(vmctx as *mut u8) };
    let base = module.code.as_ptr() as usize;
    let points = code.points_after(id);
    drop(module);
    let abort = on_stop(store, instance, id, StopFrame::Guard(regs));
    if abort {
        // SAFETY: nothing in this frame needs dropping any more.
        unsafe { crate::debug_stop::end_call(regs, EndCall::Abort) }
    }
    step_to_points(store, instance, regs, base, &points);
}

/// Resume by stepping to the later points of the stopped site's group that
/// may stop (a point has no code of its own to fault; see `debug_stop.rs`).
fn step_to_points(store: *mut StoreOpaque, instance: u32, regs: &mut SavedRegs, base: usize, points: &[(u32, u32)]) {
    if points.is_empty() {
        return;
    }
    let debug = {
        // SAFETY: the store of a suspended instance; no reference into it is
        // alive (the stop handler has returned).
        let opaque = unsafe { &*store };
        opaque.instances[instance as usize].debug.clone()
    };
    let wanted = points.iter().filter(|(_, id)| debug.table.is_armed(*id)).map(|&(offset, id)| (base + offset as usize, id));
    crate::debug_stop::step_to(regs, wanted);
}

/// The function of the frame above the one with frame pointer `fp`, if it
/// runs this instance's module's code.
fn caller_function(instance: &InstanceData, fp: usize) -> Option<u32> {
    // SAFETY: `fp` is a live compiled frame's; it stores the return address at fp + 8.
    let ret = unsafe { *((fp + 8) as *const usize) };
    let compiled = instance.module.compiled();
    let (start, end) = compiled.code.range();
    (ret > start && ret <= end).then(|| compiled.func_at((ret - start) as u32 - 1)).flatten()
}

/// A guard stopped (or legacy code called the break stub) at site `id` of
/// instance `instance` of `store`. Returns true to abort the call.
///
/// Holds no reference into the store while the handler runs (it gets the
/// store): the instance's debug state and module are shared handles.
pub(crate) fn on_stop(store: *mut StoreOpaque, instance: u32, id: u32, mut frame: StopFrame<'_>) -> bool {
    let (debug, module, store_id) = {
        // SAFETY: the store of a suspended instance; no reference into it is
        // alive (the store's aliasing rule).
        let opaque = unsafe { &*store };
        let data = &opaque.instances[instance as usize];
        (data.debug.clone(), data.module.clone(), opaque.id)
    };
    let compiled = module.compiled();
    let fp = frame.fp();
    debug.checks.set(debug.checks.get() + 1);
    let paused = debug.table.take_pause();
    let reason = if debug.table.has_breakpoint(id) {
        StopReason::Breakpoint
    } else if paused {
        StopReason::Pause
    } else {
        let stop = match debug.stepping.get() {
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
    let Some(mut handler) = debug.handler.borrow_mut().take() else { return false };
    let site = &compiled.sites[id as usize];
    let _span = tracing::debug_span!("debug_stop", func = site.func, offset = site.wasm_offset, ?reason).entered();
    let instance_handle = Instance::from_index(store_id, instance);
    // A panicking handler must not unwind into compiled code: it aborts the call.
    let action = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let view = match &mut frame {
            StopFrame::Guard(regs) => match FrameView::guarded(site, reason, regs, compiled, instance_handle) {
                Ok(view) => view,
                Err(e) => {
                    tracing::error!(error = %e, "cannot locate the stopped frame's locals");
                    FrameView::legacy(site, reason, fp, compiled, instance_handle)
                }
            },
            StopFrame::Legacy(fp) => FrameView::legacy(site, reason, *fp, compiled, instance_handle),
        };
        handler(view, store)
    }))
    .unwrap_or_else(|_| {
        tracing::error!(func = site.func, offset = site.wasm_offset, "debug handler panicked; aborting the call");
        DebugAction::Abort
    });
    // A handler installed during the call wins over the one that ran.
    debug.handler.borrow_mut().get_or_insert(handler);
    let stepping = match action {
        DebugAction::Continue => Stepping::Off,
        DebugAction::Step => Stepping::Into,
        DebugAction::StepOver => Stepping::Over(fp),
        DebugAction::StepOut => Stepping::Out(fp),
        DebugAction::Abort => return true,
    };
    // SAFETY: as above; the handler has returned the store.
    let data = unsafe { &(&*store).instances[instance as usize] };
    debug.set_stepping(data, stepping, Some((site.func, fp)));
    false
}

/// The debugger interface of one instance, borrowing its store.
pub struct Debugger<'a, T> {
    store: StoreContextMut<'a, T>,
    index: u32,
}

impl<'a, T: 'static> Debugger<'a, T> {
    /// The debugger of instance `index` of `store`.
    pub(crate) fn new(store: StoreContextMut<'a, T>, index: u32) -> Debugger<'a, T> {
        Debugger { store, index }
    }

    fn data(&self) -> &InstanceData {
        &self.store.opaque().instances[self.index as usize]
    }

    fn state(&self) -> &DebugState {
        &self.data().debug
    }

    /// Breakable points of function `func`.
    pub fn sites(&self, func: u32) -> &[Site] {
        self.data().module.compiled().function_sites(func)
    }

    /// Set a breakpoint at `wasm_offset` in `func` (the function's first
    /// site is its entry). Returns the site id; an offset that is not a
    /// breakable point is an error listing the nearest ones.
    /// With legacy debug code this clones the module's code for this
    /// instance, which can fail with `Error::CodeArenaExhausted`.
    pub fn set_breakpoint(&self, func: u32, wasm_offset: u32) -> Result<u32> {
        let id = self.state().table.set_breakpoint(func, wasm_offset)?;
        if let Err(e) = crate::legacy::sync(self.data()) {
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
        let _ = crate::legacy::sync(self.data());
    }

    /// Clear every breakpoint and stop stepping.
    pub fn clear_all(&self) {
        self.state().table.clear_all();
        self.set_stepping(false);
    }

    /// Code bytes of this instance's private clone (legacy debug code only;
    /// 0 while it runs the shared code).
    pub fn clone_bytes(&self) -> usize {
        self.data().legacy.clone_bytes()
    }

    /// A handle to set breakpoints and pause this instance from other
    /// threads (guarded debug code; legacy code ignores remote breakpoints
    /// until the instance's own thread re-syncs its clone).
    pub fn remote(&self) -> DebugRemote {
        DebugRemote { table: self.state().table.clone() }
    }

    /// Install the handler called when a breakpoint is hit or a step stops.
    /// It gets the stopped frame, which also lends the store (to read
    /// globals and memory, or to reach the store's data).
    pub fn set_handler(&self, mut handler: impl FnMut(&mut DebugFrame<'_, T>) -> DebugAction + 'static) {
        let wrapped = move |view: FrameView<'_>, store: *mut StoreOpaque| {
            // SAFETY: the instance lives in a `Store<T>` (this debugger was
            // made from a context of it), whose opaque part the stop's
            // pointer points at; the stop holds no reference into it.
            let store = unsafe { StoreContextMut::from_raw(store.cast::<StoreInner<T>>()) };
            handler(&mut DebugFrame::new(view, store))
        };
        *self.state().handler.borrow_mut() = Some(Box::new(wrapped));
    }

    /// Stop at every breakable point (on) or only at breakpoints (off).
    pub fn set_stepping(&self, on: bool) {
        let stepping = if on { Stepping::Into } else { Stepping::Off };
        self.state().set_stepping(self.data(), stepping, None);
    }

    /// How many times this instance's code asked whether to stop: every
    /// stop, and every fault of a site whose guard group's entry another
    /// site's breakpoint (or a watch) armed, which goes on at once. What
    /// a breakpoint costs the sites around it, counted rather than timed.
    pub fn stop_checks(&self) -> u64 {
        self.state().checks.get()
    }

    /// Whether this instance's guard at `wasm_offset` stops (its entry in
    /// this instance's own table is armed).
    pub fn is_armed(&self, wasm_offset: u32) -> bool {
        self.state().table.is_armed_at(wasm_offset)
    }
}
