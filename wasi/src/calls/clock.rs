//! `clock_res_get`, `clock_time_get`, and the clocks `poll_oneoff` waits on.

use crate::abi::clock;
use crate::ctx::WasiCtx;
use crate::errno::{Errno, WasiResult};
use crate::memory::GuestMemory;

/// The host clock behind WASI clock `id`.
fn host_clock(id: u32) -> WasiResult<libc::clockid_t> {
    Ok(match id {
        clock::REALTIME => libc::CLOCK_REALTIME,
        clock::MONOTONIC => libc::CLOCK_MONOTONIC,
        clock::PROCESS_CPUTIME_ID => libc::CLOCK_PROCESS_CPUTIME_ID,
        clock::THREAD_CPUTIME_ID => libc::CLOCK_THREAD_CPUTIME_ID,
        _ => return Err(Errno::INVAL),
    })
}

fn nanos(t: libc::timespec) -> u64 {
    (t.tv_sec as u64).saturating_mul(1_000_000_000).saturating_add(t.tv_nsec as u64)
}

/// Clock `id`'s time now, in nanoseconds.
pub(crate) fn now(id: u32) -> WasiResult<u64> {
    let mut t = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: writes one timespec we own.
    if unsafe { libc::clock_gettime(host_clock(id)?, &mut t) } != 0 {
        return Err(std::io::Error::last_os_error().into());
    }
    Ok(nanos(t))
}

pub(crate) fn clock_res_get(mem: &mut GuestMemory<'_>, _ctx: &mut WasiCtx, id: u32, out: u32) -> WasiResult {
    let mut t = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: writes one timespec we own.
    if unsafe { libc::clock_getres(host_clock(id)?, &mut t) } != 0 {
        return Err(std::io::Error::last_os_error().into());
    }
    mem.write_u64(out, nanos(t))
}

pub(crate) fn clock_time_get(mem: &mut GuestMemory<'_>, _ctx: &mut WasiCtx, id: u32, _precision: u64, out: u32) -> WasiResult {
    mem.write_u64(out, now(id)?)
}
