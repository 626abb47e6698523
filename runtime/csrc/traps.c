/*
 * Signal-based trap handling for onecopy's JIT code.
 *
 * JIT-compiled wasm code reports a trap by executing a trap instruction
 * (ud2 on x86_64, udf/brk on aarch64). A miscompile could also fault with
 * SIGSEGV/SIGBUS/SIGFPE. This file turns such a fault into an ordinary
 * return value of `onecopy_call_guarded`, provided that:
 *   - the faulting PC lies in a code range registered with
 *     `onecopy_register_code_range`, and
 *   - a guarded call is active on the faulting thread.
 * Every other fault is passed on to whatever handler was installed before
 * ours (for Rust programs that is std's stack-overflow reporter).
 *
 * This lives in C rather than Rust because sigsetjmp "returns twice", which
 * Rust cannot express soundly; wrapping it in a C function that returns
 * normally (0 = completed, 1 = trapped) keeps the Rust side free of
 * returns_twice semantics.
 */
#define _GNU_SOURCE 1

#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <ucontext.h>

/*
 * initial-exec TLS: the signal handler reads these, and the general-dynamic
 * model may call __tls_get_addr, which is not async-signal-safe (it can
 * allocate on first access in a thread).
 */
#define ONECOPY_TLS __thread __attribute__((tls_model("initial-exec")))

/* Jump buffer of the innermost active guarded call on this thread, or NULL. */
ONECOPY_TLS sigjmp_buf *onecopy_current_jmp;
/* Details of the last trap taken on this thread (valid after a return of 1). */
ONECOPY_TLS uintptr_t onecopy_trap_pc;
ONECOPY_TLS uintptr_t onecopy_trap_fp;
ONECOPY_TLS uintptr_t onecopy_trap_addr;
ONECOPY_TLS int onecopy_trap_signal;

/* ------------------------------------------------------------------------ */
/* Guarded calls                                                            */
/* ------------------------------------------------------------------------ */

/*
 * Run body(data). Returns 0 if it returned normally, 1 if a fault in
 * registered JIT code stopped it (details via onecopy_trap_info).
 *
 * sigsetjmp is called with savemask = 0: saving/restoring the signal mask
 * costs a syscall per call, and is unnecessary because our handlers are
 * installed with SA_NODEFER and an empty sa_mask, so jumping out of the
 * handler leaves no signal blocked.
 */
int onecopy_call_guarded(void (*body)(void *), void *data) {
    /* volatile: must keep its value across the longjmp back to here. */
    sigjmp_buf *volatile prev = onecopy_current_jmp;
    sigjmp_buf buf;

    if (sigsetjmp(buf, 0) != 0) {
        /* Trapped: the handler already recorded the trap details. */
        onecopy_current_jmp = prev;
        return 1;
    }
    onecopy_current_jmp = &buf;
    body(data);
    /* Restoring (not clearing) keeps an enclosing guarded call armed, which
     * is what makes wasm -> host -> wasm nesting work. */
    onecopy_current_jmp = prev;
    return 0;
}

/* End the guarded call from a debug stop, as a trap at `pc` would:
 * `signal` 0 for a debugger abort, SIGSEGV for a fault at no breakable
 * point (at address `addr`). Called from Rust, in the debug trampoline's
 * context, inside a guarded call. */
void onecopy_trap_from_debug_stop(uintptr_t pc, uintptr_t fp, uintptr_t addr, int signal) {
    sigjmp_buf *jmp = onecopy_current_jmp;
    if (jmp == NULL) return;
    onecopy_trap_pc = pc;
    onecopy_trap_fp = fp;
    onecopy_trap_addr = addr;
    onecopy_trap_signal = signal;
    siglongjmp(*jmp, 1);
}

void onecopy_trap_info(uintptr_t *pc, uintptr_t *fp, uintptr_t *addr, int *sig) {
    if (pc) *pc = onecopy_trap_pc;
    if (fp) *fp = onecopy_trap_fp;
    if (addr) *addr = onecopy_trap_addr;
    if (sig) *sig = onecopy_trap_signal;
}

/* noinline so the local really lives in a frame just below the caller's. */
__attribute__((noinline)) uintptr_t onecopy_stack_pointer(void) {
    volatile char marker = 0;
    return (uintptr_t)&marker;
}

/* ------------------------------------------------------------------------ */
/* Code ranges                                                              */
/* ------------------------------------------------------------------------ */

#define ONECOPY_MAX_CODE_RANGES 64

/*
 * A range [start, end) is live when start < end. `used` is only for
 * allocating slots between registering threads; the signal handler never
 * looks at it and only does atomic loads of start/end.
 */
struct onecopy_code_range {
    _Atomic int used;
    _Atomic uintptr_t start;
    _Atomic uintptr_t end;
};

static struct onecopy_code_range code_ranges[ONECOPY_MAX_CODE_RANGES];

int onecopy_register_code_range(uintptr_t start, uintptr_t end) {
    if (start >= end) return -1;
    for (int i = 0; i < ONECOPY_MAX_CODE_RANGES; i++) {
        int expected = 0;
        if (atomic_compare_exchange_strong(&code_ranges[i].used, &expected, 1)) {
            /* Free slots have start == end == 0. Publish start first: the
             * intermediate state (start, 0) is an empty range, so a
             * concurrent handler never sees a bogus match. */
            atomic_store(&code_ranges[i].start, start);
            atomic_store(&code_ranges[i].end, end);
            return i;
        }
    }
    return -1;
}

void onecopy_unregister_code_range(int slot) {
    if (slot < 0 || slot >= ONECOPY_MAX_CODE_RANGES) return;
    /* Clear end first: (start, 0) is empty, whereas (0, end) would match
     * every PC below end. */
    atomic_store(&code_ranges[slot].end, 0);
    atomic_store(&code_ranges[slot].start, 0);
    atomic_store(&code_ranges[slot].used, 0);
}

static int pc_in_code_range(uintptr_t pc) {
    for (int i = 0; i < ONECOPY_MAX_CODE_RANGES; i++) {
        uintptr_t start = atomic_load(&code_ranges[i].start);
        uintptr_t end = atomic_load(&code_ranges[i].end);
        if (start < end && pc >= start && pc < end) return 1;
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Debug stops                                                              */
/* ------------------------------------------------------------------------ */

/*
 * Debug code's breakpoint guards stop in one of two ways when their entry in
 * the instance's debug table is set: a fault guard's load reads the table's
 * PROT_NONE half (a data fault at the guard's load), and an exit guard
 * branches to its byte of a PROT_NONE "trap tail" placed after the module's
 * code (an instruction-fetch fault). The handler below turns either fault
 * into a call of the debug trampoline, as if the guard had called it: it
 * pushes a word for the resume address (the Rust side fills it in), the
 * faulting PC and the faulting address onto the interrupted stack and
 * points the PC at the trampoline. Compiled code keeps nothing below its
 * stack pointer (Cranelift uses no red zone), so the pushed words clobber
 * nothing, and its prologue's stack check leaves room for them. A fault
 * just below the stack pointer is a stack fault, never a guard's: it is left
 * to the trap path, which needs no stack. The trampoline then saves
 * every register and runs the debugger in an ordinary (non-signal) context.
 *
 * The handler only checks that the fault's PC is inside registered JIT code
 * (or its trap tail) while wasm runs and the debugger is installed; whether
 * the PC is a breakable point is looked up in Rust, outside the signal
 * handler. Any other fault (a wild jump or access) is reported from there as
 * a trap, through onecopy_trap_from_debug_stop, as the handler would have.
 */

/* The Rust side's entry, called by the trampoline with the saved registers. */
/* Not static: the trampoline (top-level asm) refers to it by name. */
__attribute__((visibility("hidden"), used)) void (*_Atomic onecopy_debug_stop_fn)(void *regs);

void onecopy_set_debug_stop(void (*stop)(void *regs)) { atomic_store(&onecopy_debug_stop_fn, stop); }

#if defined(__linux__) && defined(__x86_64__)
/*
 * Entered with [rsp] = the faulting address, [rsp+8] = the faulting PC and
 * [rsp+16] = the resume
 * address, every other register as the guard left it. Saves flags, the 15
 * general registers and xmm0-15 (the layout is `SavedRegs` in
 * runtime/src/debug_stop.rs), calls the Rust entry with a pointer to them,
 * restores them (the debugger may have changed any, the resume address
 * too) and returns to the resume address.
 */
__asm__(
    ".text\n"
    ".p2align 4\n"
    ".globl onecopy_debug_trampoline\n"
    ".type onecopy_debug_trampoline,@function\n"
    "onecopy_debug_trampoline:\n"
    "  pushfq\n"
    "  push %rax\n  push %rcx\n  push %rdx\n  push %rbx\n  push %rbp\n  push %rsi\n  push %rdi\n"
    "  push %r8\n  push %r9\n  push %r10\n  push %r11\n  push %r12\n  push %r13\n  push %r14\n  push %r15\n"
    "  sub $256, %rsp\n"
    "  movdqu %xmm0, 0(%rsp)\n  movdqu %xmm1, 16(%rsp)\n  movdqu %xmm2, 32(%rsp)\n  movdqu %xmm3, 48(%rsp)\n"
    "  movdqu %xmm4, 64(%rsp)\n  movdqu %xmm5, 80(%rsp)\n  movdqu %xmm6, 96(%rsp)\n  movdqu %xmm7, 112(%rsp)\n"
    "  movdqu %xmm8, 128(%rsp)\n  movdqu %xmm9, 144(%rsp)\n  movdqu %xmm10, 160(%rsp)\n  movdqu %xmm11, 176(%rsp)\n"
    "  movdqu %xmm12, 192(%rsp)\n  movdqu %xmm13, 208(%rsp)\n  movdqu %xmm14, 224(%rsp)\n  movdqu %xmm15, 240(%rsp)\n"
    "  mov %rsp, %rdi\n"
    "  mov %rsp, %rbx\n"
    "  and $-16, %rsp\n"
    "  cld\n"
    "  call *onecopy_debug_stop_fn(%rip)\n"
    "  mov %rbx, %rsp\n"
    "  movdqu 0(%rsp), %xmm0\n  movdqu 16(%rsp), %xmm1\n  movdqu 32(%rsp), %xmm2\n  movdqu 48(%rsp), %xmm3\n"
    "  movdqu 64(%rsp), %xmm4\n  movdqu 80(%rsp), %xmm5\n  movdqu 96(%rsp), %xmm6\n  movdqu 112(%rsp), %xmm7\n"
    "  movdqu 128(%rsp), %xmm8\n  movdqu 144(%rsp), %xmm9\n  movdqu 160(%rsp), %xmm10\n  movdqu 176(%rsp), %xmm11\n"
    "  movdqu 192(%rsp), %xmm12\n  movdqu 208(%rsp), %xmm13\n  movdqu 224(%rsp), %xmm14\n  movdqu 240(%rsp), %xmm15\n"
    "  add $256, %rsp\n"
    "  pop %r15\n  pop %r14\n  pop %r13\n  pop %r12\n  pop %r11\n  pop %r10\n  pop %r9\n  pop %r8\n"
    "  pop %rdi\n  pop %rsi\n  pop %rbp\n  pop %rbx\n  pop %rdx\n  pop %rcx\n  pop %rax\n"
    "  popfq\n"
    "  lea 16(%rsp), %rsp\n"
    "  ret\n"
    ".size onecopy_debug_trampoline, .-onecopy_debug_trampoline\n");

void onecopy_debug_trampoline(void);

/* x86's trap flag: set, the CPU raises a single-step trap after each instruction. */
#define TRAP_FLAG 0x100

/* Point the interrupted thread at the trampoline, as if the code at `pc`
 * had called it (see the comment above the handler's use). */
static void enter_trampoline(ucontext_t *uc, uintptr_t pc, uintptr_t fault_addr) {
    uintptr_t *sp = (uintptr_t *)uc->uc_mcontext.gregs[REG_RSP];
    sp -= 3;
    sp[0] = fault_addr;
    sp[1] = pc;
    sp[2] = 0;
    uc->uc_mcontext.gregs[REG_RSP] = (greg_t)(uintptr_t)sp;
    uc->uc_mcontext.gregs[REG_RIP] = (greg_t)(uintptr_t)&onecopy_debug_trampoline;
    /* The trampoline and the debugger run without single-stepping. */
    uc->uc_mcontext.gregs[REG_EFL] &= ~(greg_t)TRAP_FLAG;
}

/*
 * Stepping to a guard group's later points. A point has no code: the Rust
 * stop handler (runtime/src/debug.rs), resuming from a stop in a group whose
 * later points may stop, lists their addresses here and sets the trap flag
 * in the flags the trampoline restores; each single-step trap then either
 * finds the thread at one of those points, and enters the trampoline there as
 * a guard's fault would, or lets it run one more instruction. Stepping ends at
 * a point, at any other stop or trap, or after MAX_STEPS instructions (a
 * group holds no call, and its sites run in order unless it traps, so that
 * bound is only a safety net).
 */
struct step_state {
    const uintptr_t *pcs;  /* the points' code addresses, in group order */
    const uint32_t *ids;   /* their site ids */
    size_t n;              /* 0: not stepping */
    uintptr_t fault_addr;  /* the group's faulting address (finds the instance) */
    uint32_t steps;
    int taken;             /* the stop being entered came from a step */
    uint32_t taken_id;
};
static ONECOPY_TLS struct step_state step;
#define MAX_STEPS 100000

void onecopy_step_arm(const uintptr_t *pcs, const uint32_t *ids, size_t n, uintptr_t fault_addr) {
    step.pcs = pcs;
    step.ids = ids;
    step.fault_addr = fault_addr;
    step.steps = 0;
    step.n = n;
}

/* Whether the stop being handled came from a step (and its site id). */
int onecopy_step_taken(uint32_t *id) {
    int taken = step.taken;
    step.taken = 0;
    *id = step.taken_id;
    return taken;
}

/* End any step without a stop from it (a fault or trap came first). */
static void step_abandon(void) { step.n = 0; step.taken = 0; }

static void step_end(ucontext_t *uc) {
    step.n = 0;
    uc->uc_mcontext.gregs[REG_EFL] &= ~(greg_t)TRAP_FLAG;
}

/* A single-step trap while stepping: returns 1 if it was ours. */
static int step_trap(void *ucv, uintptr_t pc) {
    if (step.n == 0) return 0;
    ucontext_t *uc = (ucontext_t *)ucv;
    for (size_t i = 0; i < step.n; i++) {
        if (step.pcs[i] != pc) continue;
        step_end(uc);
        if (onecopy_current_jmp == NULL || atomic_load(&onecopy_debug_stop_fn) == NULL) return 1;
        step.taken = 1;
        step.taken_id = step.ids[i];
        enter_trampoline(uc, pc, step.fault_addr);
        return 1;
    }
    /* Out of compiled code (the trampoline's last instructions, or a
     * libcall Cranelift made for an operator) the step goes on: the group's
     * points come after. */
    if (++step.steps > MAX_STEPS) step_end(uc);
    return 1;
}

/* If the fault's PC is in registered JIT code while wasm runs (a guard's
 * load, or a guard branching to its trap tail), redirect the interrupted
 * thread to the trampoline and return 1. */
static int redirect_debug_stop(void *ucv, uintptr_t pc, uintptr_t fault_addr) {
    if (onecopy_current_jmp == NULL || atomic_load(&onecopy_debug_stop_fn) == NULL) return 0;
    if (!pc_in_code_range(pc)) return 0;
    ucontext_t *uc = (ucontext_t *)ucv;
    uintptr_t sp = (uintptr_t)uc->uc_mcontext.gregs[REG_RSP];
    /* A stack fault is just below the stack pointer (what lies above it is
     * the live frames, which never fault); a debug table may well be mapped
     * right above a thread's stack. */
    const uintptr_t near = 1 << 16;
    if (fault_addr < sp && fault_addr + near >= sp) return 0;
    /* A guard reached while stepping (an exit guard's branch) ends the step. */
    step_abandon();
    enter_trampoline(uc, pc, fault_addr);
    return 1;
}
#else
static int redirect_debug_stop(void *ucv, uintptr_t pc, uintptr_t fault_addr) {
    (void)ucv; (void)pc; (void)fault_addr;
    return 0;
}
static int step_trap(void *ucv, uintptr_t pc) { (void)ucv; (void)pc; return 0; }
static void step_abandon(void) {}
void onecopy_step_arm(const uintptr_t *pcs, const uint32_t *ids, size_t n, uintptr_t fault_addr) {
    (void)pcs; (void)ids; (void)n; (void)fault_addr;
}
int onecopy_step_taken(uint32_t *id) { *id = 0; return 0; }
#endif

/* ------------------------------------------------------------------------ */
/* Signal handler                                                           */
/* ------------------------------------------------------------------------ */

static const int handled_signals[] = {SIGILL, SIGSEGV, SIGBUS, SIGFPE, SIGTRAP};
#define NUM_HANDLED_SIGNALS ((int)(sizeof(handled_signals) / sizeof(handled_signals[0])))

/* Actions that were installed before ours; written before our handler is
 * installed, read-only afterwards. */
static struct sigaction old_actions[NUM_HANDLED_SIGNALS];
static pthread_mutex_t install_lock = PTHREAD_MUTEX_INITIALIZER;
static int handlers_installed;

static void context_registers(void *ucv, uintptr_t *pc, uintptr_t *fp) {
    ucontext_t *uc = (ucontext_t *)ucv;
#if defined(__linux__) && defined(__x86_64__)
    *pc = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
    *fp = (uintptr_t)uc->uc_mcontext.gregs[REG_RBP];
#elif defined(__linux__) && defined(__aarch64__)
    *pc = (uintptr_t)uc->uc_mcontext.pc;
    *fp = (uintptr_t)uc->uc_mcontext.regs[29];
#elif defined(__linux__) && defined(__riscv) && __riscv_xlen == 64
    *pc = (uintptr_t)uc->uc_mcontext.__gregs[REG_PC];
    *fp = (uintptr_t)uc->uc_mcontext.__gregs[8]; /* s0/fp */
#elif defined(__APPLE__) && defined(__x86_64__)
    *pc = (uintptr_t)uc->uc_mcontext->__ss.__rip;
    *fp = (uintptr_t)uc->uc_mcontext->__ss.__rbp;
#elif defined(__APPLE__) && defined(__aarch64__)
    *pc = (uintptr_t)uc->uc_mcontext->__ss.__pc;
    *fp = (uintptr_t)uc->uc_mcontext->__ss.__fp;
#else
#warning "onecopy: unsupported platform, JIT traps will not be caught"
    (void)uc;
    /* PC 0 never matches a registered range: every fault is chained. */
    *pc = 0;
    *fp = 0;
#endif
}

static struct sigaction *old_action_for(int sig) {
    for (int i = 0; i < NUM_HANDLED_SIGNALS; i++)
        if (handled_signals[i] == sig) return &old_actions[i];
    return NULL;
}

/* Pass a fault that is not ours to whoever handled it before us. */
static void chain_to_old_handler(int sig, siginfo_t *info, void *uc) {
    struct sigaction *old = old_action_for(sig);
    if (old == NULL) return;
    /* si_code <= 0 means sent by kill/raise/sigqueue rather than raised by
     * an instruction: returning would not re-raise it. */
    int user_sent = info != NULL && info->si_code <= 0;

    if (old->sa_flags & SA_SIGINFO) {
        if (old->sa_flags & SA_RESETHAND) {
            struct sigaction dfl;
            memset(&dfl, 0, sizeof dfl);
            dfl.sa_handler = SIG_DFL;
            sigaction(sig, &dfl, NULL);
        }
        old->sa_sigaction(sig, info, uc);
        return;
    }
    if (old->sa_handler == SIG_IGN) {
        /* An ignored user-sent signal is simply dropped. A synchronous fault
         * would re-execute forever, so hand it to the kernel, which kills
         * the process for an ignored synchronous fault. */
        if (!user_sent) sigaction(sig, old, NULL);
        return;
    }
    if (old->sa_handler == SIG_DFL) {
        /* Restore the default and return: a fault re-executes and now
         * terminates the process the normal way (core dump, right signal). A
         * user-sent signal has to be re-raised; it is not blocked thanks to
         * SA_NODEFER, so it is delivered before raise returns. */
        sigaction(sig, old, NULL);
        if (user_sent) raise(sig);
        return;
    }
    if (old->sa_flags & SA_RESETHAND) {
        struct sigaction dfl;
        memset(&dfl, 0, sizeof dfl);
        dfl.sa_handler = SIG_DFL;
        sigaction(sig, &dfl, NULL);
    }
    old->sa_handler(sig);
}

static void onecopy_signal_handler(int sig, siginfo_t *info, void *uc) {
    int saved_errno = errno;
    uintptr_t pc = 0, fp = 0;
    context_registers(uc, &pc, &fp);

    if (sig == SIGTRAP && step_trap(uc, pc)) {
        errno = saved_errno;
        return;
    }
    if ((sig == SIGSEGV || sig == SIGBUS) && info != NULL
        && redirect_debug_stop(uc, pc, (uintptr_t)info->si_addr)) {
        errno = saved_errno;
        return;
    }

    sigjmp_buf *jmp = onecopy_current_jmp;
    if (jmp != NULL && pc_in_code_range(pc)) {
        /* A trap ends a step (the jump leaves the trap flag behind). */
        step_abandon();
        onecopy_trap_pc = pc;
        onecopy_trap_fp = fp;
        onecopy_trap_addr = info != NULL ? (uintptr_t)info->si_addr : 0;
        onecopy_trap_signal = sig;
        /* errno is irrelevant to the interrupted JIT code we abandon. */
        siglongjmp(*jmp, 1);
    }

    chain_to_old_handler(sig, info, uc);
    errno = saved_errno;
}

/*
 * Install our handler for every trap signal, remembering the previous
 * actions for chaining. Idempotent and thread-safe. Returns 0 on success,
 * -1 (with errno set) on failure, in which case nothing stays installed.
 */
int onecopy_install_handlers(void) {
    int result = 0;
    pthread_mutex_lock(&install_lock);
    if (!handlers_installed) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_sigaction = onecopy_signal_handler;
        /* SA_NODEFER: we leave the handler by siglongjmp without restoring
         * the mask, so the signal must not be blocked while it runs.
         * SA_ONSTACK: a JIT stack overflow must be handled on the
         * alternate stack when the thread has one. */
        sa.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK;
        sigemptyset(&sa.sa_mask);

        int i;
        for (i = 0; i < NUM_HANDLED_SIGNALS; i++) {
            if (sigaction(handled_signals[i], &sa, &old_actions[i]) != 0) {
                int err = errno;
                while (--i >= 0) sigaction(handled_signals[i], &old_actions[i], NULL);
                errno = err;
                result = -1;
                break;
            }
        }
        if (result == 0) handlers_installed = 1;
    }
    pthread_mutex_unlock(&install_lock);
    return result;
}
