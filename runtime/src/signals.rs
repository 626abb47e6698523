//! Turning faults in JIT code into error values.
//!
//! JIT-compiled wasm reports a trap by executing a trap instruction (`ud2`
//! on x86_64 → SIGILL, `udf`/`brk` on aarch64 → SIGILL/SIGTRAP); a
//! miscompile could also raise SIGSEGV/SIGBUS/SIGFPE. The C shim in
//! `csrc/traps.c` installs one handler for all of these. When the faulting
//! PC lies in a range registered with [`register_code_range`] and the thread
//! is inside [`call_guarded`], the handler `siglongjmp`s back to the guarded
//! call, which then returns `Err(TrapSignal)`. Every other fault is chained
//! to the previously installed handler (std's stack-overflow reporter, or
//! the default action), so the process still dies as it normally would on
//! bugs outside JIT code.
//!
//! The jump itself happens in C (`onecopy_call_guarded`) because
//! `sigsetjmp` returns twice, which Rust cannot express; from Rust's point
//! of view the C function simply returns 0 or 1.

use std::any::Any;
use std::ffi::{c_int, c_void};
use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;

unsafe extern "C" {
    fn onecopy_install_handlers() -> c_int;
    fn onecopy_call_guarded(body: extern "C" fn(*mut c_void), data: *mut c_void) -> c_int;
    fn onecopy_register_code_range(start: usize, end: usize) -> c_int;
    fn onecopy_unregister_code_range(slot: c_int);
    fn onecopy_trap_info(pc: *mut usize, fp: *mut usize, addr: *mut usize, sig: *mut c_int);
    fn onecopy_stack_pointer() -> usize;
}

/// Where a guarded call was stopped by a fault in JIT code.
///
/// Carries enough to map the fault back to a wasm trap code (`pc` through
/// the trap table), to walk the wasm stack for a backtrace (`fp`), and to
/// tell out-of-bounds accesses from other faults (`fault_addr`, `signal`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TrapSignal {
    /// Program counter of the faulting instruction.
    pub pc: usize,
    /// Frame-pointer register at the fault (rbp on x86_64, x29 on aarch64).
    pub fp: usize,
    /// `si_addr` of the fault: the bad data address for SIGSEGV/SIGBUS, the
    /// instruction address for SIGILL/SIGFPE.
    pub fault_addr: usize,
    /// Signal number (`libc::SIGILL`, `libc::SIGSEGV`, ...).
    pub signal: i32,
}

static INIT: Once = Once::new();

/// Install the handlers once per process (std::sync::Once); safe to call often.
///
/// [`call_guarded`] and [`register_code_range`] call this themselves, so an
/// explicit call is only needed to control *when* the handlers go in (e.g.
/// after some other library installed its own, so that ours chains to it).
///
/// # Panics
/// If `sigaction` fails, which only happens on a broken platform; running
/// JIT code without the handlers would kill the process on the first trap.
pub(crate) fn init() {
    INIT.call_once(|| {
        // SAFETY: the C function only calls sigaction under its own lock.
        let rc = unsafe { onecopy_install_handlers() };
        if rc != 0 {
            let err = std::io::Error::last_os_error();
            tracing::error!(%err, "failed to install trap signal handlers");
            panic!("onecopy: failed to install trap signal handlers: {err}");
        }
        tracing::debug!("trap signal handlers installed");
    });
}

/// State shared between [`call_guarded`] and its C-called trampoline.
///
/// It lives in `call_guarded`'s frame, which the longjmp never skips, so
/// the closure and any panic payload are dropped normally on every path.
struct GuardedCtx<F> {
    f: F,
    panic: Option<Box<dyn Any + Send + 'static>>,
}

/// Called by `onecopy_call_guarded` to run the closure.
///
/// A panic must not unwind through the C frame (that aborts), so it is
/// caught here and handed back through the context. Nothing in this frame
/// has a destructor, so a longjmp over it is harmless.
extern "C" fn guarded_trampoline<F: FnMut()>(data: *mut c_void) {
    // SAFETY: `data` is the `&mut GuardedCtx<F>` passed by `call_guarded`,
    // exclusively borrowed for the duration of the C call.
    let ctx = unsafe { &mut *data.cast::<GuardedCtx<F>>() };
    let f = &mut ctx.f;
    if let Err(payload) = panic::catch_unwind(AssertUnwindSafe(f)) {
        ctx.panic = Some(payload);
    }
}

/// Run `f` so that a fault in registered JIT code returns Err(TrapSignal) instead of killing the process.
///
/// Guarded calls nest: a trap returns from the innermost active
/// `call_guarded` on the faulting thread, and the enclosing ones stay
/// armed. A panic in `f` is propagated to the caller after the guard has
/// been torn down.
///
/// # Safety
/// Between entry and the fault, only JIT frames and frames without pending destructors may be skipped; `f` must not hold values with Drop across the JIT call.
/// A trap abandons every frame between this call and the faulting
/// instruction without running destructors or releasing locks, so anything
/// `f` (or host code called from JIT code) holds at that point is leaked
/// or left locked.
pub(crate) unsafe fn call_guarded<F: FnMut()>(f: F) -> Result<(), TrapSignal> {
    init();
    let mut ctx = GuardedCtx { f, panic: None };
    // SAFETY: the trampoline matches the context type; the C side only
    // calls it synchronously. The caller upholds the longjmp contract.
    let trapped = unsafe { onecopy_call_guarded(guarded_trampoline::<F>, (&mut ctx as *mut GuardedCtx<F>).cast::<c_void>()) };
    if let Some(payload) = ctx.panic.take() {
        panic::resume_unwind(payload);
    }
    if trapped == 0 {
        return Ok(());
    }
    let (mut pc, mut fp, mut addr, mut signal) = (0usize, 0usize, 0usize, 0 as c_int);
    // SAFETY: plain reads of this thread's trap record into valid pointers.
    unsafe { onecopy_trap_info(&mut pc, &mut fp, &mut addr, &mut signal) };
    Err(TrapSignal { pc, fp, fault_addr: addr, signal })
}

/// Registration handle for a JIT code range; unregisters on Drop.
///
/// Keep it alive exactly as long as the code is mapped executable: after
/// Drop, faults in the range are no longer caught. The number of
/// simultaneously registered ranges is limited (64, in `traps.c`), so a
/// range should cover a whole code mapping, not a single function.
#[derive(Debug)]
pub(crate) struct CodeRangeRegistration {
    slot: i32,
}

impl Drop for CodeRangeRegistration {
    fn drop(&mut self) {
        // SAFETY: the slot came from a successful registration and is
        // released exactly once.
        unsafe { onecopy_unregister_code_range(self.slot) };
    }
}

/// Register `[start, end)` as JIT code whose faults become [`TrapSignal`]s
/// inside [`call_guarded`].
///
/// Returns `None` if the range is empty (`start >= end`) or every slot is
/// taken. Also installs the signal handlers if that has not happened yet,
/// so a registered range is always covered.
#[must_use = "dropping the registration immediately unregisters the range"]
pub(crate) fn register_code_range(start: usize, end: usize) -> Option<CodeRangeRegistration> {
    init();
    if start >= end {
        return None;
    }
    // SAFETY: registration only stores two integers with atomic writes.
    let slot = unsafe { onecopy_register_code_range(start, end) };
    if slot < 0 {
        tracing::warn!(start, end, "no free JIT code range slot");
        return None;
    }
    Some(CodeRangeRegistration { slot })
}

/// Current stack pointer (approximate), for stack limits.
///
/// The address of a local in a C frame just below the caller's: within a
/// few hundred bytes of the real stack pointer, which is plenty for
/// computing a wasm stack limit with a safety margin.
pub(crate) fn stack_pointer() -> usize {
    // SAFETY: takes the address of a local; no other effect.
    unsafe { onecopy_stack_pointer() }
}

#[cfg(all(test, target_arch = "x86_64", target_os = "linux"))]
mod tests {
    use super::*;
    use std::sync::{Arc, Barrier};

    /// An executable page holding machine code, registered as JIT code.
    struct CodePage {
        ptr: *mut u8,
        len: usize,
        /// Taken (unregistered) in `Drop::drop` before the unmap.
        _reg: Option<CodeRangeRegistration>,
    }

    // SAFETY: the page is immutable (read+execute) after construction and
    // only unmapped on drop, so sharing the pointer across threads is fine.
    unsafe impl Send for CodePage {}
    unsafe impl Sync for CodePage {}

    impl CodePage {
        fn new(code: &[u8]) -> Self {
            let len = 4096;
            assert!(code.len() <= len);
            // SAFETY: fresh anonymous mapping; we write within it, then make
            // it read+execute before anyone runs it.
            unsafe {
                let p = libc::mmap(
                    std::ptr::null_mut(),
                    len,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                    -1,
                    0,
                );
                assert_ne!(p, libc::MAP_FAILED);
                let ptr = p.cast::<u8>();
                std::ptr::copy_nonoverlapping(code.as_ptr(), ptr, code.len());
                assert_eq!(libc::mprotect(p, len, libc::PROT_READ | libc::PROT_EXEC), 0);
                let reg = register_code_range(ptr as usize, ptr as usize + len);
                assert!(reg.is_some(), "out of code range slots");
                CodePage { ptr, len, _reg: reg }
            }
        }

        fn start(&self) -> usize {
            self.ptr as usize
        }

        /// Call the page as `extern "C" fn() -> i32`.
        unsafe fn call(&self) -> i32 {
            let f: extern "C" fn() -> i32 = unsafe { std::mem::transmute(self.ptr) };
            f()
        }
    }

    impl Drop for CodePage {
        fn drop(&mut self) {
            // Unregister before unmapping, so the range never covers
            // memory that could be reused for something else.
            self._reg.take();
            // SAFETY: we own this mapping.
            unsafe { libc::munmap(self.ptr.cast(), self.len) };
        }
    }

    const UD2: &[u8] = &[0x0F, 0x0B];
    /// mov eax, 7; ret
    const RET7: &[u8] = &[0xB8, 0x07, 0x00, 0x00, 0x00, 0xC3];

    #[test]
    fn ud2_becomes_sigill() {
        let page = CodePage::new(UD2);
        let r = unsafe {
            call_guarded(|| {
                page.call();
            })
        };
        let t = r.expect_err("ud2 must trap");
        assert_eq!(t.signal, libc::SIGILL);
        assert_eq!(t.pc, page.start());
        assert_eq!(t.fault_addr, page.start());
    }

    #[test]
    fn repeated_traps_do_not_leak_or_crash() {
        let page = CodePage::new(UD2);
        for _ in 0..1000 {
            let t = unsafe {
                call_guarded(|| {
                    page.call();
                })
            }
            .unwrap_err();
            assert_eq!(t.signal, libc::SIGILL);
            assert_eq!(t.pc, page.start());
        }
    }

    #[test]
    fn non_trapping_code_returns_ok() {
        let page = CodePage::new(RET7);
        let mut got = 0;
        let r = unsafe { call_guarded(|| got = page.call()) };
        assert_eq!(r, Ok(()));
        assert_eq!(got, 7);
    }

    #[test]
    fn nested_guarded_calls() {
        let trap = CodePage::new(UD2);
        let ok = CodePage::new(RET7);
        let mut inner_result = None;
        let mut after_inner = 0;
        let r = unsafe {
            call_guarded(|| {
                inner_result = Some(call_guarded(|| {
                    trap.call();
                }));
                // The outer guard must still be armed and usable.
                after_inner = ok.call();
            })
        };
        assert_eq!(r, Ok(()));
        let inner = inner_result.unwrap().unwrap_err();
        assert_eq!(inner.signal, libc::SIGILL);
        assert_eq!(inner.pc, trap.start());
        assert_eq!(after_inner, 7);

        // After the inner trap, a trap directly in the outer call must land
        // in the outer call, not in the (dead) inner jump buffer.
        let r = unsafe {
            call_guarded(|| {
                let inner = call_guarded(|| {
                    ok.call();
                });
                assert_eq!(inner, Ok(()));
                trap.call();
                unreachable!("trap returned");
            })
        };
        assert_eq!(r.unwrap_err().pc, trap.start());
    }

    #[test]
    fn other_fault_kinds_are_caught() {
        // mov rax, [0]
        let segv = CodePage::new(&[0x48, 0x8B, 0x04, 0x25, 0, 0, 0, 0, 0xC3]);
        let t = unsafe {
            call_guarded(|| {
                segv.call();
            })
        }
        .unwrap_err();
        assert_eq!(t.signal, libc::SIGSEGV);
        assert_eq!(t.pc, segv.start());
        assert_eq!(t.fault_addr, 0);

        // xor ecx, ecx; div ecx
        let fpe = CodePage::new(&[0x31, 0xC9, 0xF7, 0xF1, 0xC3]);
        let t = unsafe {
            call_guarded(|| {
                fpe.call();
            })
        }
        .unwrap_err();
        assert_eq!(t.signal, libc::SIGFPE);
        assert_eq!(t.pc, fpe.start() + 2);
    }

    #[test]
    fn trap_on_one_thread_while_another_runs_guarded() {
        let trap = Arc::new(CodePage::new(UD2));
        let ok = Arc::new(CodePage::new(RET7));
        let barrier = Arc::new(Barrier::new(2));
        let trapper = {
            let (trap, barrier) = (trap.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                for _ in 0..500 {
                    let t = unsafe {
                        call_guarded(|| {
                            trap.call();
                        })
                    }
                    .unwrap_err();
                    assert_eq!(t.signal, libc::SIGILL);
                    assert_eq!(t.pc, trap.start());
                }
            })
        };
        let runner = {
            let (ok, barrier) = (ok.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                for _ in 0..500 {
                    let mut v = 0;
                    assert_eq!(unsafe { call_guarded(|| v = ok.call()) }, Ok(()));
                    assert_eq!(v, 7);
                }
            })
        };
        trapper.join().unwrap();
        runner.join().unwrap();
    }

    #[test]
    fn panic_propagates_and_leaves_guard_usable() {
        let page = CodePage::new(UD2);
        let caught = std::panic::catch_unwind(|| unsafe {
            let _ = call_guarded(|| panic!("boom"));
        });
        let payload = caught.unwrap_err();
        assert_eq!(payload.downcast_ref::<&str>(), Some(&"boom"));
        // The guard state was restored: traps still land in a new call.
        let t = unsafe {
            call_guarded(|| {
                page.call();
            })
        }
        .unwrap_err();
        assert_eq!(t.pc, page.start());
    }

    #[test]
    fn registration_slots_are_reused() {
        // Far more register/unregister cycles than there are slots.
        for i in 0..1000usize {
            let base = 0x1000 + i * 0x1000;
            let reg = register_code_range(base, base + 0x1000);
            assert!(reg.is_some(), "slot not reused at iteration {i}");
        }
        assert!(register_code_range(10, 10).is_none());
        assert!(register_code_range(10, 5).is_none());
    }

    #[test]
    fn stack_pointer_is_near_a_local() {
        let local = 0u8;
        let here = std::ptr::addr_of!(local) as usize;
        let sp = stack_pointer();
        assert!(sp.abs_diff(here) < 64 * 1024, "sp {sp:#x} vs local {here:#x}");
    }
}
