//! `args_*` and `environ_*`: NUL-terminated strings in one buffer, and an
//! array of pointers into it.

use crate::ctx::WasiCtx;
use crate::errno::{Errno, WasiResult};
use crate::memory::GuestMemory;

/// The count and total size (with NULs) of `strings`.
fn sizes<'s>(mem: &mut GuestMemory<'_>, strings: impl Iterator<Item = &'s [u8]> + Clone, count_ptr: u32, size_ptr: u32) -> WasiResult {
    let count = u32::try_from(strings.clone().count()).map_err(|_| Errno::OVERFLOW)?;
    let size: usize = strings.map(|s| s.len() + 1).sum();
    mem.write_u32(count_ptr, count)?;
    mem.write_u32(size_ptr, u32::try_from(size).map_err(|_| Errno::OVERFLOW)?)
}

/// Write `strings` into `buf` and their addresses into `ptrs`.
fn write<'s>(mem: &mut GuestMemory<'_>, strings: impl Iterator<Item = &'s [u8]>, ptrs: u32, buf: u32) -> WasiResult {
    let mut at = buf;
    for (i, s) in strings.enumerate() {
        mem.write_u32(ptrs.checked_add(4 * i as u32).ok_or(Errno::FAULT)?, at)?;
        mem.write(at, s)?;
        let end = at.checked_add(s.len() as u32).ok_or(Errno::FAULT)?;
        mem.write_u8(end, 0)?;
        at = end + 1;
    }
    Ok(())
}

fn env_strings(ctx: &WasiCtx) -> Vec<Vec<u8>> {
    ctx.env.iter().map(|(k, v)| format!("{k}={v}").into_bytes()).collect()
}

pub(crate) fn args_sizes_get(mem: &mut GuestMemory<'_>, ctx: &mut WasiCtx, count: u32, size: u32) -> WasiResult {
    sizes(mem, ctx.args.iter().map(|a| a.as_bytes()), count, size)
}

pub(crate) fn args_get(mem: &mut GuestMemory<'_>, ctx: &mut WasiCtx, ptrs: u32, buf: u32) -> WasiResult {
    write(mem, ctx.args.iter().map(|a| a.as_bytes()), ptrs, buf)
}

pub(crate) fn environ_sizes_get(mem: &mut GuestMemory<'_>, ctx: &mut WasiCtx, count: u32, size: u32) -> WasiResult {
    let env = env_strings(ctx);
    sizes(mem, env.iter().map(Vec::as_slice), count, size)
}

pub(crate) fn environ_get(mem: &mut GuestMemory<'_>, ctx: &mut WasiCtx, ptrs: u32, buf: u32) -> WasiResult {
    let env = env_strings(ctx);
    write(mem, env.iter().map(Vec::as_slice), ptrs, buf)
}
