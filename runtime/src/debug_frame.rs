//! What a stopped frame shows the debugger: locals and operands, read from
//! where the shared code keeps them at that moment.
//!
//! Debug code keeps locals in registers and frame slots like normal code;
//! nothing at a breakable point moves them anywhere. When a guard stops,
//! every register is saved (see `debug_stop.rs`), and the jit's
//! per-function location tables (`onecopy_jit::debug_info`, computed on the
//! first request by recompiling the function with its values labelled) say
//! where each local's value is at that site: a register, a slot of the
//! stopped frame, a constant folded into the code, or nowhere, because the
//! program never reads that value again ("unavailable"). Writes go to the
//! same place and take effect when the guard resumes. Calling frames are
//! read at their call sites, their callee-saved registers recovered from
//! the slots the inner frames' prologues saved them to.

use std::sync::Arc;

use onecopy_jit::debug_info::{FunctionDebugInfo, Location, SavedReg, Slot};
use onecopy_jit::{CompiledModule, Site, ValType};

use crate::debug_stop::SavedRegs;
use crate::error::{Error, Result};
use crate::func::known::KnownFuncrefs;
use crate::instance::Instance;
use crate::store::{StoreContextMut, StoreOpaque};
use crate::values::Val;

/// The registers of one frame as far as they are known: all of them for
/// the stopped frame, the callee-saved ones for its callers.
#[derive(Clone)]
pub(crate) struct Registers {
    gpr: [Option<u64>; 16],
    xmm: [Option<u64>; 16],
    /// Frame pointer of this frame.
    pub fp: usize,
}

/// x86-64 SysV callee-saved general registers: rbx, rbp, r12-r15.
const CALLEE_SAVED: [u8; 6] = [3, 5, 12, 13, 14, 15];

impl Registers {
    pub(crate) fn stopped(regs: &SavedRegs) -> Registers {
        let gpr = std::array::from_fn(|n| regs.gpr(n as u8));
        let xmm = std::array::from_fn(|n| regs.xmm(n as u8));
        Registers { gpr, xmm, fp: regs.fp() }
    }

    /// The registers of this frame's caller: callee-saved ones, taken from
    /// the slots this frame saved them to, or still live.
    ///
    /// # Safety
    /// `self.fp` must be the frame pointer of a live compiled frame whose
    /// prologue saved exactly `saved`.
    pub(crate) unsafe fn caller(&self, saved: &[SavedReg]) -> Registers {
        let mut gpr = [None; 16];
        for r in CALLEE_SAVED {
            gpr[r as usize] = self.gpr[r as usize];
        }
        for s in saved {
            let slot = (self.fp as isize + s.fp_offset as isize) as *const u64;
            // SAFETY: the slot lies in this live frame (caller's contract).
            gpr[s.reg as usize] = Some(unsafe { *slot });
        }
        // SAFETY: compiled frames store the caller's frame pointer at fp.
        let fp = unsafe { *(self.fp as *const usize) };
        gpr[5] = Some(fp as u64);
        Registers { gpr, xmm: [None; 16], fp }
    }

    fn read(&self, at: &Location) -> Option<u64> {
        match *at {
            Location::Gpr(r) => self.gpr.get(r as usize).copied().flatten(),
            Location::Xmm(x) => self.xmm.get(x as usize).copied().flatten(),
            // SAFETY: frame slots lie in this live frame; CFA = fp + 16.
            Location::Frame(off) => Some(unsafe { *((self.fp as isize + 16 + off as isize) as *const u64) }),
        }
    }
}

/// Read a value of type `ty` from a slot of a frame; `funcrefs` gives the
/// store's funcrefs, asked for only when a funcref is read.
fn read_slot(regs: &Registers, slot: &Slot, ty: ValType, funcrefs: impl FnOnce() -> Arc<KnownFuncrefs>) -> Option<Val> {
    let raw = match slot {
        Slot::Located { at, .. } => regs.read(at)?,
        Slot::Constant(bits) => *bits,
        Slot::Dead => return None,
    };
    match ty {
        // The bits came from where the location tables say the value is;
        // a wrong table must show nothing, never follow a stray pointer.
        ValType::FuncRef => funcrefs().decode(raw).map(Val::FuncRef),
        _ => Val::from_plain_raw(raw, ty),
    }
}

/// The raw bits a value of type `ty` is stored as, refusing references
/// (the debugger cannot make new ones).
fn raw_of(value: &Val, ty: ValType) -> Result<u64> {
    match value.number_bits() {
        Some(bits) if value.ty() == ty => Ok(bits),
        _ => Err(Error::Type(format!("cannot store {} into a {ty} slot", value.ty()))),
    }
}

/// How the stopped frame's storage is reached.
enum Storage<'a> {
    /// Legacy debug code: no locals or operands.
    None,
    /// Guarded debug code: saved registers and the frame's slots.
    Guard { regs: &'a mut SavedRegs, info: Arc<FunctionDebugInfo>, local_site: u32 },
}

/// The stopped frame, read from where the code keeps it (see the module
/// docs), apart from the store: what a stop builds before the handler gets
/// the store too (as a [`DebugFrame`]).
pub(crate) struct FrameView<'a> {
    site: &'a Site,
    local_types: &'a [ValType],
    stack_types: &'a [ValType],
    reason: crate::StopReason,
    storage: Storage<'a>,
    module: &'a CompiledModule,
    fp: usize,
    instance: Instance,
}

impl<'a> FrameView<'a> {
    pub(crate) fn legacy(
        site: &'a Site,
        reason: crate::StopReason,
        fp: usize,
        module: &'a CompiledModule,
        instance: Instance,
    ) -> FrameView<'a> {
        FrameView { site, local_types: &[], stack_types: &[], reason, storage: Storage::None, module, fp, instance }
    }

    pub(crate) fn guarded(
        site: &'a Site,
        reason: crate::StopReason,
        regs: &'a mut SavedRegs,
        module: &'a CompiledModule,
        instance: Instance,
    ) -> Result<FrameView<'a>> {
        let defined = (site.func - module.info.imported_funcs) as usize;
        let info = module.function_debug_info(site.func)?;
        let local_site = site.id - module.site_base[defined];
        let fp = regs.fp();
        Ok(FrameView {
            site,
            local_types: &module.func_locals[defined],
            stack_types: module.site_stack(site),
            reason,
            storage: Storage::Guard { regs, info, local_site },
            module,
            fp,
            instance,
        })
    }

    fn local_slot(&self, index: usize) -> Option<Slot> {
        match &self.storage {
            Storage::Guard { info, local_site, .. } => Some(info.local_at_site(*local_site, index as u32)),
            Storage::None => None,
        }
    }

    fn stack_slot(&self, index: usize) -> Option<Slot> {
        match &self.storage {
            Storage::Guard { info, local_site, .. } => info.stack_at_site(*local_site).get(index).cloned(),
            Storage::None => None,
        }
    }

    fn registers(&self) -> Option<Registers> {
        match &self.storage {
            Storage::Guard { regs, .. } => Some(Registers::stopped(regs)),
            Storage::None => None,
        }
    }

    /// See [`DebugFrame::local`].
    pub(crate) fn local(&self, index: usize, store: &StoreOpaque) -> Option<Val> {
        let ty = *self.local_types.get(index)?;
        read_slot(&self.registers()?, &self.local_slot(index)?, ty, || Arc::new(KnownFuncrefs::of(store)))
    }

    /// See [`DebugFrame::set_local`].
    pub(crate) fn set_local(&mut self, index: usize, value: Val) -> Result<()> {
        let ty = *self.local_types.get(index).ok_or_else(|| Error::NotFound(format!("local {index}")))?;
        let slot = self.local_slot(index).ok_or_else(|| Error::NotFound(format!("local {index}")))?;
        self.write(&format!("local {index}"), slot, raw_of(&value, ty)?)
    }

    /// See [`DebugFrame::locals`].
    pub(crate) fn locals(&self, store: &StoreOpaque) -> Vec<Option<Val>> {
        let known = std::cell::OnceCell::new();
        let funcrefs = || known.get_or_init(|| Arc::new(KnownFuncrefs::of(store))).clone();
        (0..self.local_types.len()).map(|i| read_slot(&self.registers()?, &self.local_slot(i)?, self.local_types[i], funcrefs)).collect()
    }

    /// See [`DebugFrame::stack`].
    pub(crate) fn stack(&self, index: usize, store: &StoreOpaque) -> Option<Val> {
        let ty = *self.stack_types.get(index)?;
        read_slot(&self.registers()?, &self.stack_slot(index)?, ty, || Arc::new(KnownFuncrefs::of(store)))
    }

    /// See [`DebugFrame::set_stack`].
    pub(crate) fn set_stack(&mut self, index: usize, value: Val) -> Result<()> {
        let ty = *self.stack_types.get(index).ok_or_else(|| Error::NotFound(format!("stack slot {index}")))?;
        let slot = self.stack_slot(index).ok_or_else(|| Error::NotFound(format!("stack slot {index}")))?;
        self.write(&format!("stack slot {index}"), slot, raw_of(&value, ty)?)
    }

    /// Write `raw` everywhere the code after the stop may read the value
    /// in `slot` from (see `onecopy_jit::debug_info`'s write targets).
    fn write(&mut self, what: &str, slot: Slot, raw: u64) -> Result<()> {
        let Storage::Guard { regs, info, local_site } = &mut self.storage else {
            return Err(Error::Type("legacy debug code keeps no locations".into()));
        };
        let targets = info.write_targets(*local_site, &slot).map_err(|why| Error::Type(format!("cannot write {what}: {why}")))?;
        for at in targets {
            let done = match at {
                Location::Gpr(r) => regs.set_gpr(r, raw),
                Location::Xmm(x) => regs.set_xmm(x, raw),
                Location::Frame(off) => {
                    let addr = (regs.fp() as isize + 16 + off as isize) as *mut u64;
                    // SAFETY: a slot of the stopped frame, which stays suspended until we return.
                    unsafe { *addr = raw };
                    true
                }
            };
            if !done {
                return Err(Error::Type(format!("cannot write {what}: it is in a register the debugger cannot set")));
            }
        }
        Ok(())
    }

    /// See [`DebugFrame::backtrace`].
    pub(crate) fn backtrace(&self) -> Vec<crate::backtrace::FrameInfo> {
        let top = crate::backtrace::FrameInfo { func: self.site.func, wasm_offset: self.site.wasm_offset };
        // SAFETY: `fp` is the stopped compiled frame's frame pointer.
        unsafe { crate::backtrace::walk(top, self.fp) }
    }

    /// See [`DebugFrame::callers`].
    pub(crate) fn callers(&self, store: &StoreOpaque) -> Vec<CallerFrame> {
        let funcrefs = Arc::new(KnownFuncrefs::of(store));
        let (Some(mut regs), Storage::Guard { info, .. }) = (self.registers(), &self.storage) else { return vec![] };
        let mut info = info.clone();
        let mut frames = Vec::new();
        let (code_start, code_end) = self.module.code.range();
        loop {
            // SAFETY: compiled frames store [saved fp, return address] at fp.
            let ret = unsafe { *((regs.fp + 8) as *const usize) };
            if ret <= code_start || ret > code_end {
                break;
            }
            let offset = (ret - code_start) as u32;
            let Some(func) = self.module.func_at(offset - 1) else { break };
            // SAFETY: `regs.fp` is a live compiled frame of the function `info` describes.
            regs = unsafe { regs.caller(info.saved_registers()) };
            let Ok(caller_info) = self.module.function_debug_info(func) else { break };
            let defined = (func - self.module.info.imported_funcs) as usize;
            let start = self.module.func_offsets[defined];
            frames.push(CallerFrame {
                func,
                wasm_offset: self.module.wasm_offset_at(offset - 1),
                local_types: self.module.func_locals[defined].clone(),
                slots: (0..self.module.func_locals[defined].len() as u32).map(|i| caller_info.local_at_call(offset - start, i)).collect(),
                regs: regs.clone(),
                funcrefs: funcrefs.clone(),
            });
            info = caller_info;
        }
        frames
    }
}

/// A calling frame: its function, the call it is in, and its locals there.
pub struct CallerFrame {
    /// Function index.
    pub func: u32,
    /// Byte offset of the `call` in the module binary.
    pub wasm_offset: u32,
    /// Types of the function's locals.
    pub local_types: Vec<ValType>,
    slots: Vec<Slot>,
    regs: Registers,
    funcrefs: Arc<KnownFuncrefs>,
}

impl CallerFrame {
    /// Local `index` at the call; `None` if unavailable there.
    pub fn local(&self, index: usize) -> Option<Val> {
        read_slot(&self.regs, self.slots.get(index)?, *self.local_types.get(index)?, || self.funcrefs.clone())
    }

    /// All locals, `None` where unavailable.
    pub fn locals(&self) -> Vec<Option<Val>> {
        (0..self.local_types.len()).map(|i| self.local(i)).collect()
    }
}

/// The stopped frame as the handler sees it: locals and operand stack are
/// readable and writable (where the program still uses them; writes take
/// effect when execution resumes), and the store is lent to the handler
/// (pass the frame wherever a store is wanted: `global.get(&frame)`,
/// `memory.read(&frame, ..)`, `instance.debug(&mut frame)`).
pub struct DebugFrame<'a, T> {
    /// The breakable point.
    pub site: &'a Site,
    /// Types of the locals (parameters first); empty in legacy debug code,
    /// which keeps no locations.
    pub local_types: &'a [ValType],
    /// Types of the operand-stack values (empty in legacy debug code).
    pub stack_types: &'a [ValType],
    /// Why execution stopped here.
    pub reason: crate::StopReason,
    view: FrameView<'a>,
    store: StoreContextMut<'a, T>,
}

impl<'a, T> DebugFrame<'a, T> {
    pub(crate) fn new(view: FrameView<'a>, store: StoreContextMut<'a, T>) -> DebugFrame<'a, T> {
        DebugFrame { site: view.site, local_types: view.local_types, stack_types: view.stack_types, reason: view.reason, view, store }
    }

    /// Local `index`; `None` if there is no such local or its value is
    /// unavailable here (the program never reads it again).
    pub fn local(&self, index: usize) -> Option<Val> {
        self.view.local(index, self.store.opaque())
    }

    /// Change local `index`. Refused (with the reason) where the local has
    /// no storage of its own: its value is unavailable, a constant compiled
    /// into the code, or shared with an operand of an enclosing expression.
    pub fn set_local(&mut self, index: usize, value: Val) -> Result<()> {
        self.view.set_local(index, value)
    }

    /// All locals, `None` where unavailable.
    pub fn locals(&self) -> Vec<Option<Val>> {
        self.view.locals(self.store.opaque())
    }

    /// Operand-stack value `index` (0 = bottom).
    pub fn stack(&self, index: usize) -> Option<Val> {
        self.view.stack(index, self.store.opaque())
    }

    /// Change operand-stack value `index` (see [`Self::set_local`] for
    /// when that is refused).
    pub fn set_stack(&mut self, index: usize, value: Val) -> Result<()> {
        self.view.set_stack(index, value)
    }

    /// The wasm frames, innermost (this stop) first.
    pub fn backtrace(&self) -> Vec<crate::backtrace::FrameInfo> {
        self.view.backtrace()
    }

    /// The calling frames, innermost first, with their locals at their call
    /// sites (read-only), as far as the stack stays in this module's code.
    pub fn callers(&self) -> Vec<CallerFrame> {
        self.view.callers(self.store.opaque())
    }

    /// The stopped instance (to read or write its globals and memory, with
    /// the frame as the store).
    pub fn instance(&self) -> Instance {
        self.view.instance
    }

    /// The store's user data.
    pub fn data(&self) -> &T {
        self.store.data()
    }

    /// The store's user data, to change it.
    pub fn data_mut(&mut self) -> &mut T {
        self.store.data_mut()
    }
}

crate::store::lends_store!(DebugFrame, store);
