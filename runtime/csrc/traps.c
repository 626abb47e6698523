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

    sigjmp_buf *jmp = onecopy_current_jmp;
    if (jmp != NULL && pc_in_code_range(pc)) {
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
