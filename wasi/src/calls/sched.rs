//! `sched_yield`.

use crate::ctx::WasiCtx;
use crate::errno::WasiResult;
use crate::memory::GuestMemory;

pub(crate) fn sched_yield(_mem: &mut GuestMemory<'_>, _ctx: &mut WasiCtx) -> WasiResult {
    std::thread::yield_now();
    Ok(())
}
