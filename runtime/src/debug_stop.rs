//! Entering the debugger from a breakpoint guard.
//!
//! A guard whose debug-table entry is set faults: a fault guard's store
//! writes the table's PROT_NONE half, an exit guard branches to its byte of
//! the module's PROT_NONE trap tail. The fault is redirected by the C shim
//! (`csrc/traps.c`) into `onecopy_debug_trampoline`, which saves every
//! register into a [`SavedRegs`] on the stack and calls [`debug_stop`] in an
//! ordinary (non-signal) context, as if the guard had made a call that
//! clobbers nothing. The stop handler then decides where to resume, and
//! whether to step there ([`step_to`]): a guard group's later sites are
//! points with no code, reached by single-stepping from a stop in the group.
//! Whatever the debugger writes into the saved registers is restored before
//! the guard resumes, so locals held in registers can be read and written
//! without any code at the site moving them.

use std::ffi::c_void;
use std::sync::Once;

unsafe extern "C" {
    fn onecopy_set_debug_stop(stop: extern "C" fn(*mut c_void));
    fn onecopy_trap_from_debug_stop(pc: usize, fp: usize, addr: usize, signal: std::ffi::c_int);
    fn onecopy_step_arm(pcs: *const usize, ids: *const u32, n: usize, fault_addr: usize);
    fn onecopy_step_taken(id: *mut u32) -> std::ffi::c_int;
}

/// x86's trap flag (single-step after each instruction).
const TRAP_FLAG: u64 = 0x100;

thread_local! {
    /// The points a resumed stop steps to: (code addresses, site ids). The
    /// C shim reads them from its signal handler while this thread runs
    /// compiled code, and only then; they change only inside a stop, when
    /// it is not stepping.
    static STEP_TARGETS: std::cell::RefCell<(Vec<usize>, Vec<u32>)> = const { std::cell::RefCell::new((Vec::new(), Vec::new())) };
}

/// The site id of the point this stop stepped to, if it came from a step
/// (see [`step_to`]); a guard's own fault otherwise.
pub(crate) fn step_taken() -> Option<u32> {
    let mut id = 0;
    // SAFETY: reads and clears this thread's step state.
    (unsafe { onecopy_step_taken(&mut id) } != 0).then_some(id)
}

/// Resume single-stepping until the thread reaches one of `points`
/// ((code address, site id), in the order the code runs them), which then
/// stops as a guard would, with `regs.fault_addr` as its faulting address
/// (how the stop finds its instance). Points have no code: this is how a
/// guard group's later sites stop (see the jit's `translate/guard.rs`).
pub(crate) fn step_to(regs: &mut SavedRegs, points: impl IntoIterator<Item = (usize, u32)>) {
    let armed = STEP_TARGETS.with(|targets| {
        let mut targets = targets.borrow_mut();
        let (pcs, ids) = &mut *targets;
        pcs.clear();
        ids.clear();
        for (pc, id) in points {
            pcs.push(pc);
            ids.push(id);
        }
        if pcs.is_empty() {
            return false;
        }
        // SAFETY: the buffers stay put until the next stop on this thread
        // (they are thread-local and only changed here, inside a stop, when
        // the shim is not stepping: a stop ends the step first).
        unsafe { onecopy_step_arm(pcs.as_ptr(), ids.as_ptr(), pcs.len(), regs.fault_addr) };
        true
    });
    if armed {
        regs.rflags |= TRAP_FLAG;
    }
}

/// Registers as the trampoline saved them: xmm0-15, the general registers
/// from r15 down to rax (rsp excluded), the flags, the faulting address and
/// PC, and the address the guard resumes at.
#[repr(C)]
pub(crate) struct SavedRegs {
    xmm: [[u64; 2]; 16],
    /// r15, r14, ..., r8, rdi, rsi, rbp, rbx, rdx, rcx, rax.
    gpr: [u64; 15],
    rflags: u64,
    /// The address whose access faulted (the PC itself for a fetch).
    pub fault_addr: usize,
    /// The faulting PC: a fault guard's store, or the trap-tail byte an exit
    /// guard branched to.
    pub stop_pc: usize,
    /// Where execution continues: zero on entry, set by the stop handler
    /// (the guard's resume address, or its function's abort trap).
    pub resume: usize,
}

/// Index into `SavedRegs::gpr` of x86-64 register number `hw` (0 = rax ...
/// 15 = r15, the hardware encoding Cranelift reports); rsp (4) has none.
fn gpr_slot(hw: u8) -> Option<usize> {
    match hw {
        0..=3 => Some(14 - hw as usize),
        5..=15 => Some(15 - hw as usize),
        _ => None,
    }
}

impl SavedRegs {
    /// General register `hw` (hardware encoding).
    pub(crate) fn gpr(&self, hw: u8) -> Option<u64> {
        gpr_slot(hw).map(|i| self.gpr[i])
    }

    /// Change general register `hw`; false for rsp or an unknown number.
    pub(crate) fn set_gpr(&mut self, hw: u8, value: u64) -> bool {
        gpr_slot(hw).map(|i| self.gpr[i] = value).is_some()
    }

    /// The low 64 bits of xmm register `n`.
    pub(crate) fn xmm(&self, n: u8) -> Option<u64> {
        self.xmm.get(n as usize).map(|x| x[0])
    }

    /// Change the low 64 bits of xmm register `n` (the upper half is zeroed,
    /// as a scalar load would leave it).
    pub(crate) fn set_xmm(&mut self, n: u8, value: u64) -> bool {
        self.xmm.get_mut(n as usize).map(|x| *x = [value, 0]).is_some()
    }

    /// The stopped code's frame pointer.
    pub(crate) fn fp(&self) -> usize {
        self.gpr(5).unwrap_or(0) as usize
    }
}

type StopHandler = fn(&mut SavedRegs);

static HANDLER: std::sync::OnceLock<StopHandler> = std::sync::OnceLock::new();

/// Called by the trampoline. A panic must not unwind into the trampoline
/// or compiled code, so it is caught here; the handler is expected to have
/// turned its own panics into an abort already.
extern "C" fn debug_stop(regs: *mut c_void) {
    // SAFETY: the trampoline passes its save area, exclusively ours until we return.
    let regs = unsafe { &mut *regs.cast::<SavedRegs>() };
    let Some(handler) = HANDLER.get() else { return };
    if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| handler(regs))).is_err() {
        tracing::error!("debug stop handler panicked; resuming");
    }
}

static INIT: Once = Once::new();

/// Route debug stops to `handler` (once per process; later calls keep the first).
pub(crate) fn install(handler: StopHandler) {
    INIT.call_once(|| {
        let _ = HANDLER.set(handler);
        crate::signals::init();
        // SAFETY: stores a function pointer the trampoline calls with its save area.
        unsafe { onecopy_set_debug_stop(debug_stop) };
    });
}

/// How a stop ends the call instead of resuming.
pub(crate) enum EndCall {
    /// A fault that is no breakable point's (a wild jump or access) in
    /// compiled code, reported as the signal handler reports one.
    Fault,
    /// The debugger aborted the call ([`crate::TrapKind::DebugAbort`]).
    Abort,
    /// The thread was interrupted ([`crate::TrapKind::Interrupt`]): a guard
    /// stood in for a loop header's interrupt check.
    Interrupt,
}

/// The trap signal of a call ended by [`EndCall::Interrupt`] (no real signal).
pub(crate) const INTERRUPTED: libc::c_int = -1;

/// End the innermost guarded call with a trap at the stop. Does not return.
///
/// # Safety
/// Must be called on the stopped thread, from the stop handler, with no
/// value that needs dropping alive in the frames above the trampoline.
pub(crate) unsafe fn end_call(regs: &SavedRegs, how: EndCall) -> ! {
    let signal = match how {
        EndCall::Fault => libc::SIGSEGV,
        EndCall::Abort => 0,
        EndCall::Interrupt => INTERRUPTED,
    };
    // SAFETY: inside a guarded call (the redirect checks); the caller
    // guarantees nothing above needs dropping.
    unsafe { onecopy_trap_from_debug_stop(regs.stop_pc, regs.fp(), regs.fault_addr, signal) };
    unreachable!("onecopy_trap_from_debug_stop returned outside a guarded call")
}

#[cfg(all(test, target_arch = "x86_64", target_os = "linux"))]
mod tests {
    use super::*;

    /// Two pages: code (read+execute) then a PROT_NONE trap tail.
    struct Pages {
        base: *mut u8,
    }

    impl Pages {
        fn new(code: &[u8]) -> Pages {
            // SAFETY: a fresh private mapping we fill, then protect.
            unsafe {
                let p = libc::mmap(
                    std::ptr::null_mut(),
                    8192,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                    -1,
                    0,
                );
                assert_ne!(p, libc::MAP_FAILED);
                std::ptr::copy_nonoverlapping(code.as_ptr(), p.cast::<u8>(), code.len());
                assert_eq!(libc::mprotect(p, 4096, libc::PROT_READ | libc::PROT_EXEC), 0);
                assert_eq!(libc::mprotect(p.cast::<u8>().add(4096).cast(), 4096, libc::PROT_NONE), 0);
                Pages { base: p.cast() }
            }
        }
    }

    impl Drop for Pages {
        fn drop(&mut self) {
            // SAFETY: our mapping.
            unsafe { libc::munmap(self.base.cast(), 8192) };
        }
    }

    fn stop(regs: &mut SavedRegs) {
        if regs.stop_pc % 4096 != 3 {
            // Another test's fault, not this test's stop: a trap, as in production.
            // SAFETY: nothing in this frame needs dropping.
            unsafe { end_call(regs, EndCall::Fault) }
        }
        // The code below stops with eax = 7; make it 41 and check the others survive.
        assert_eq!(regs.gpr(0), Some(7));
        assert_eq!(regs.gpr(3), Some(0x1234));
        regs.set_gpr(0, 41);
        assert_eq!(regs.stop_pc % 4096, 3);
        assert_eq!(regs.resume, 0, "the stop handler sets where to resume");
        regs.resume = regs.stop_pc - 4096 - 3 + 0x10;
    }

    #[test]
    fn a_tail_fetch_resumes_after_the_debugger_changed_a_register() {
        install(stop);
        // push rbx; mov ebx, 0x1234; mov eax, 7; jmp tail+3; (resume:) add eax, ebx... keep simple:
        // 0: 53                push rbx
        // 1: bb 34 12 00 00    mov ebx, 0x1234
        // 6: b8 07 00 00 00    mov eax, 7
        // b: e9 rel32          jmp 0x1003 (tail byte 3)
        // 10: 83 c0 01         add eax, 1
        // 13: 5b               pop rbx
        // 14: c3               ret
        let mut code = vec![0x53, 0xbb, 0x34, 0x12, 0, 0, 0xb8, 7, 0, 0, 0, 0xe9];
        let rel = (0x1003i32 - 0x10).to_le_bytes();
        code.extend_from_slice(&rel);
        code.extend_from_slice(&[0x83, 0xc0, 0x01, 0x5b, 0xc3]);
        let pages = Pages::new(&code);
        let base = pages.base as usize;
        let _range = crate::signals::register_code_range(base, base + 8192).expect("slot");
        let f: extern "C" fn() -> i32 = unsafe { std::mem::transmute(pages.base) };
        let mut got = (0, 0);
        // SAFETY: the page's code is a complete function; nothing is dropped across it.
        let r = unsafe { crate::signals::call_guarded(|| got = (f(), f())) };
        assert_eq!(r, Ok(()));
        assert_eq!(got, (42, 42), "a second stop works the same");
    }
}
