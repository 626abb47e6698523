//! The calling thread's CPU time: what a benchmark thread itself spent,
//! apart from the time the scheduler gave other threads (on this 2-core
//! machine a busy debugger thread takes a core from the thread measured).

use std::time::Duration;

/// CPU time the calling thread has used.
pub fn now() -> Duration {
    let mut t = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: writes one timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}
