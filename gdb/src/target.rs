//! The workers as a `gdbstub` target: threads, registers (the wasm PC),
//! memory (module images and each worker's linear memory) and resuming.

use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::sync::Arc;

use gdbstub::common::{Signal, Tid};
use gdbstub::target::ext::base::multithread::{
    MultiThreadBase, MultiThreadResume, MultiThreadResumeOps, MultiThreadSchedulerLocking, MultiThreadSchedulerLockingOps,
    MultiThreadSingleStep, MultiThreadSingleStepOps,
};
use gdbstub::target::ext::base::single_register_access::{SingleRegisterAccess, SingleRegisterAccessOps};
use gdbstub::target::ext::base::BaseOps;
use gdbstub::target::ext::breakpoints::BreakpointsOps;
use gdbstub::target::ext::host_info::HostInfoOps;
use gdbstub::target::ext::libraries::LibrariesOps;
use gdbstub::target::ext::lldb_register_info_override::LldbRegisterInfoOverrideOps;
use gdbstub::target::ext::process_info::ProcessInfoOps;
use gdbstub::target::ext::thread_extra_info::ThreadExtraInfoOps;
use gdbstub::target::ext::wasm::WasmOps;
use gdbstub::target::{Target, TargetError, TargetResult};
use gdbstub_arch::wasm::reg::id::WasmRegId;
use gdbstub_arch::wasm::reg::WasmRegisters;
use onecopy_runtime::Module;
use onecopy_workers::Resume;

use crate::addr::{self, Place};
use crate::conn::Focus;
use crate::sites::Sites;
use crate::threads::Threads;
use crate::GdbError;

/// The errno LLDB sees for a request that cannot be served (EFAULT: a bad
/// address, a worker that is not stopped, a value the program lost).
const EFAULT: u8 = 14;

/// The program being debugged: its compiled module and the binary LLDB
/// reads (with its DWARF sections).
#[derive(Clone)]
pub struct Program {
    /// The library name LLDB shows (the file name, usually).
    pub name: String,
    /// The module binary, exactly as compiled.
    pub bytes: Arc<[u8]>,
    /// The module compiled with breakpoint guards.
    pub module: Module,
}

/// The debugged workers as LLDB's process: each worker a thread, each
/// worker's instance a library.
pub struct WasmTarget {
    pub(crate) threads: Threads,
    pub(crate) program: Program,
    pub(crate) sites: Sites,
    actions: HashMap<usize, Resume>,
    scheduler_locked: bool,
    /// The thread LLDB named last (see `conn.rs`).
    pub(crate) focus: Focus,
}

impl WasmTarget {
    /// A target over `threads`, whose workers run `program`.
    pub fn new(program: Program, threads: Threads) -> WasmTarget {
        let sites = Sites::new(&program.module);
        WasmTarget { threads, program, sites, actions: HashMap::new(), scheduler_locked: false, focus: Focus::default() }
    }

    /// The worker behind thread id `tid`.
    pub(crate) fn worker(tid: Tid) -> usize {
        tid.get() - 1
    }

    /// The thread id of `worker`.
    pub(crate) fn tid(worker: usize) -> Tid {
        NonZeroUsize::MIN.saturating_add(worker)
    }

    /// The PC of a stopped worker, as a protocol address.
    pub(crate) fn pc(&self, worker: usize) -> Option<u64> {
        self.threads.stopped(worker).map(|e| addr::code_address(worker, e.wasm_offset))
    }

    /// The worker LLDB means by a request gdbstub gives for `tid` (its
    /// selected thread): the thread LLDB named last, which LLDB 22 does
    /// not always select before asking (see `conn.rs`).
    pub(crate) fn focused(&self, tid: Tid) -> usize {
        self.focus.get().map_or(Self::worker(tid), |t| t - 1)
    }

    /// The worker whose memory `place` names, and the offset in it.
    fn memory_of(&self, place: Place, tid: Tid) -> Option<(usize, u32)> {
        match place {
            Place::Memory { worker, offset } => Some((worker.unwrap_or_else(|| self.focused(tid)), offset)),
            Place::Code { .. } => None,
        }
    }
}

impl Target for WasmTarget {
    type Arch = gdbstub_arch::wasm::Wasm;
    type Error = GdbError;

    fn base_ops(&mut self) -> BaseOps<'_, Self::Arch, Self::Error> {
        BaseOps::MultiThread(self)
    }

    // Breakpoints live in the debug tables; LLDB must not write trap
    // instructions into the module image.
    fn guard_rail_implicit_sw_breakpoints(&self) -> bool {
        true
    }

    fn support_breakpoints(&mut self) -> Option<BreakpointsOps<'_, Self>> {
        Some(self)
    }

    fn support_wasm(&mut self) -> Option<WasmOps<'_, Self>> {
        Some(self)
    }

    fn support_libraries(&mut self) -> Option<LibrariesOps<'_, Self>> {
        Some(self)
    }

    fn support_lldb_register_info_override(&mut self) -> Option<LldbRegisterInfoOverrideOps<'_, Self>> {
        Some(self)
    }

    fn support_host_info(&mut self) -> Option<HostInfoOps<'_, Self>> {
        Some(self)
    }

    fn support_process_info(&mut self) -> Option<ProcessInfoOps<'_, Self>> {
        Some(self)
    }
}

impl MultiThreadBase for WasmTarget {
    fn read_registers(&mut self, regs: &mut WasmRegisters, tid: Tid) -> TargetResult<(), Self> {
        regs.pc = self.pc(Self::worker(tid)).ok_or(TargetError::Errno(EFAULT))?;
        Ok(())
    }

    fn write_registers(&mut self, _regs: &WasmRegisters, _tid: Tid) -> TargetResult<(), Self> {
        // The PC of wasm code is where its structured control is: moving it
        // would leave the operand stack and blocks meaningless.
        Err(TargetError::Errno(EFAULT))
    }

    fn support_single_register_access(&mut self) -> Option<SingleRegisterAccessOps<'_, Tid, Self>> {
        Some(self)
    }

    fn read_addrs(&mut self, start: u64, data: &mut [u8], tid: Tid) -> TargetResult<usize, Self> {
        let place = addr::decode(start).ok_or(TargetError::Errno(EFAULT))?;
        if let Place::Code { offset, .. } = place {
            let image = self.program.bytes.get(offset as usize..).ok_or(TargetError::Errno(EFAULT))?;
            let n = image.len().min(data.len());
            data[..n].copy_from_slice(&image[..n]);
            return Ok(n);
        }
        let (worker, offset) = self.memory_of(place, tid).ok_or(TargetError::Errno(EFAULT))?;
        let len = u32::try_from(data.len()).map_err(|_| TargetError::Errno(EFAULT))?;
        let bytes = self.threads.session().memory(worker, offset, len).map_err(|error| {
            tracing::debug!(worker, offset, len, %error, "memory read refused");
            TargetError::Errno(EFAULT)
        })?;
        data.copy_from_slice(&bytes);
        Ok(bytes.len())
    }

    fn write_addrs(&mut self, start: u64, data: &[u8], tid: Tid) -> TargetResult<(), Self> {
        // Code bytes never change: breakpoints are debug-table bits.
        let place = addr::decode(start).ok_or(TargetError::Errno(EFAULT))?;
        let (worker, offset) = self.memory_of(place, tid).ok_or(TargetError::Errno(EFAULT))?;
        self.threads.session().write_memory(worker, offset, data.to_vec()).map_err(|error| {
            tracing::debug!(worker, offset, %error, "memory write refused");
            TargetError::Errno(EFAULT)
        })
    }

    fn list_active_threads(&mut self, thread_is_active: &mut dyn FnMut(Tid)) -> Result<(), Self::Error> {
        self.threads.alive().for_each(|w| thread_is_active(Self::tid(w)));
        Ok(())
    }

    fn support_resume(&mut self) -> Option<MultiThreadResumeOps<'_, Self>> {
        Some(self)
    }

    fn support_thread_extra_info(&mut self) -> Option<ThreadExtraInfoOps<'_, Self>> {
        Some(self)
    }
}

/// LLDB reads the PC alone (`p0`) for each thread it looks at.
impl SingleRegisterAccess<Tid> for WasmTarget {
    fn read_register(&mut self, tid: Tid, reg: WasmRegId, buf: &mut [u8]) -> TargetResult<usize, Self> {
        let WasmRegId::Pc = reg else { return Err(TargetError::Errno(EFAULT)) };
        let pc = self.pc(Self::worker(tid)).ok_or(TargetError::Errno(EFAULT))?.to_le_bytes();
        let out = buf.get_mut(..pc.len()).ok_or(TargetError::Errno(EFAULT))?;
        out.copy_from_slice(&pc);
        Ok(pc.len())
    }

    fn write_register(&mut self, _tid: Tid, _reg: WasmRegId, _value: &[u8]) -> TargetResult<(), Self> {
        // As for `write_registers`: the PC cannot move.
        Err(TargetError::Errno(EFAULT))
    }
}

impl MultiThreadResume for WasmTarget {
    /// Apply the actions LLDB gave: threads without one continue, unless
    /// LLDB locked the scheduler (then they stay stopped).
    fn resume(&mut self) -> Result<(), Self::Error> {
        let stopped: Vec<usize> = self.threads.alive().filter(|w| self.threads.stopped(*w).is_some()).collect();
        for worker in stopped {
            match self.actions.get(&worker) {
                Some(how) => self.threads.resume(worker, *how),
                None if !self.scheduler_locked => self.threads.resume(worker, Resume::Continue),
                None => {}
            }
        }
        Ok(())
    }

    fn clear_resume_actions(&mut self) -> Result<(), Self::Error> {
        self.actions.clear();
        self.scheduler_locked = false;
        Ok(())
    }

    fn set_resume_action_continue(&mut self, tid: Tid, _signal: Option<Signal>) -> Result<(), Self::Error> {
        self.actions.insert(Self::worker(tid), Resume::Continue);
        Ok(())
    }

    fn support_single_step(&mut self) -> Option<MultiThreadSingleStepOps<'_, Self>> {
        Some(self)
    }

    fn support_scheduler_locking(&mut self) -> Option<MultiThreadSchedulerLockingOps<'_, Self>> {
        Some(self)
    }
}

impl MultiThreadSingleStep for WasmTarget {
    fn set_resume_action_step(&mut self, tid: Tid, _signal: Option<Signal>) -> Result<(), Self::Error> {
        self.actions.insert(Self::worker(tid), Resume::StepInto);
        Ok(())
    }
}

impl MultiThreadSchedulerLocking for WasmTarget {
    fn set_resume_action_scheduler_lock(&mut self) -> Result<(), Self::Error> {
        self.scheduler_locked = true;
        Ok(())
    }
}
