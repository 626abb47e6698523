//! `random_get`: bytes from the host's secure random source.

use crate::ctx::WasiCtx;
use crate::errno::{Errno, WasiResult};
use crate::memory::GuestMemory;

pub(crate) fn random_get(mem: &mut GuestMemory<'_>, _ctx: &mut WasiCtx, buf: u32, len: u32) -> WasiResult {
    getrandom::fill(mem.slice_mut(buf, len)?).map_err(|e| {
        tracing::warn!(error = %e, "random_get: the host's random source failed");
        Errno::IO
    })
}
