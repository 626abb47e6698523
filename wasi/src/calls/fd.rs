//! Byte I/O on descriptors: `fd_read`, `fd_write`, `fd_pread`,
//! `fd_pwrite`, `fd_seek`, `fd_tell`, and the calls that manage a
//! descriptor's life (`fd_close`, `fd_renumber`) or its file's data
//! (`fd_sync`, `fd_datasync`, `fd_advise`, `fd_allocate`).

use std::io::{Read, SeekFrom, Write};
use std::os::unix::fs::FileExt;

use system_interface::fs::{Advice, FileIoExt};

use crate::abi::{advice, rights, whence};
use crate::ctx::WasiCtx;
use crate::errno::{Errno, WasiResult};
use crate::fd_table::Descriptor;
use crate::memory::GuestMemory;

/// Move bytes through each guest buffer `(ptr, len)` of `iovs` in turn
/// with `transfer(ptr, len, moved so far)`, until one moves short: the
/// bytes moved in all.
fn each_buffer(iovs: &[(u32, u32)], mut transfer: impl FnMut(u32, u32, u64) -> WasiResult<usize>) -> WasiResult<u32> {
    let mut total: u32 = 0;
    for &(buf, len) in iovs {
        let n = transfer(buf, len, u64::from(total))?;
        total = total.checked_add(n as u32).ok_or(Errno::OVERFLOW)?;
        if n < len as usize {
            break;
        }
    }
    Ok(total)
}

/// Read into the guest buffers with `read(buffer, read so far)`.
fn read_into(
    mem: &mut GuestMemory<'_>,
    iovs: &[(u32, u32)],
    mut read: impl FnMut(&mut [u8], u64) -> std::io::Result<usize>,
) -> WasiResult<u32> {
    each_buffer(iovs, |buf, len, done| Ok(read(mem.slice_mut(buf, len)?, done)?))
}

/// Write the guest buffers with `write(buffer, written so far)`.
fn write_from(mem: &GuestMemory<'_>, iovs: &[(u32, u32)], mut write: impl FnMut(&[u8], u64) -> std::io::Result<usize>) -> WasiResult<u32> {
    each_buffer(iovs, |buf, len, done| Ok(write(mem.slice(buf, len)?, done)?))
}

pub(crate) fn fd_read(mem: &mut GuestMemory<'_>, ctx: &mut WasiCtx, fd: u32, iovs: u32, count: u32, nread: u32) -> WasiResult {
    let iovs = mem.iovecs(iovs, count)?;
    let descriptor = ctx.fds.get_mut(fd)?;
    descriptor.check(rights::FD_READ)?;
    let n = match descriptor {
        Descriptor::Reader { stream, .. } => read_into(mem, &iovs, |buf, _| stream.read(buf))?,
        Descriptor::File { file, .. } => read_into(mem, &iovs, |buf, _| file.read(buf))?,
        Descriptor::Writer { .. } => return Err(Errno::BADF),
        Descriptor::Dir { .. } => return Err(Errno::ISDIR),
    };
    mem.write_u32(nread, n)
}

pub(crate) fn fd_write(mem: &mut GuestMemory<'_>, ctx: &mut WasiCtx, fd: u32, iovs: u32, count: u32, nwritten: u32) -> WasiResult {
    let iovs = mem.iovecs(iovs, count)?;
    let descriptor = ctx.fds.get_mut(fd)?;
    descriptor.check(rights::FD_WRITE)?;
    let n = match descriptor {
        Descriptor::Writer { stream, .. } => {
            let n = write_from(mem, &iovs, |buf, _| stream.write_all(buf).map(|()| buf.len()))?;
            stream.flush()?;
            n
        }
        Descriptor::File { file, .. } => write_from(mem, &iovs, |buf, _| file.write(buf))?,
        Descriptor::Reader { .. } => return Err(Errno::BADF),
        Descriptor::Dir { .. } => return Err(Errno::ISDIR),
    };
    mem.write_u32(nwritten, n)
}

/// The file of a descriptor, for calls that only files support.
fn file(descriptor: &Descriptor) -> WasiResult<&std::fs::File> {
    match descriptor {
        Descriptor::File { file, .. } => Ok(file),
        Descriptor::Dir { .. } => Err(Errno::ISDIR),
        Descriptor::Reader { .. } | Descriptor::Writer { .. } => Err(Errno::SPIPE),
    }
}

pub(crate) fn fd_pread(
    mem: &mut GuestMemory<'_>,
    ctx: &mut WasiCtx,
    fd: u32,
    iovs: u32,
    count: u32,
    offset: u64,
    nread: u32,
) -> WasiResult {
    let iovs = mem.iovecs(iovs, count)?;
    let descriptor = ctx.fds.get(fd)?;
    let file = file(descriptor)?;
    descriptor.check(rights::FD_READ | rights::FD_SEEK)?;
    let n = read_into(mem, &iovs, |buf, done| FileExt::read_at(file, buf, offset.saturating_add(done)))?;
    mem.write_u32(nread, n)
}

pub(crate) fn fd_pwrite(
    mem: &mut GuestMemory<'_>,
    ctx: &mut WasiCtx,
    fd: u32,
    iovs: u32,
    count: u32,
    offset: u64,
    nwritten: u32,
) -> WasiResult {
    let iovs = mem.iovecs(iovs, count)?;
    let descriptor = ctx.fds.get(fd)?;
    let file = file(descriptor)?;
    descriptor.check(rights::FD_WRITE | rights::FD_SEEK)?;
    let n = write_from(mem, &iovs, |buf, done| FileExt::write_at(file, buf, offset.saturating_add(done)))?;
    mem.write_u32(nwritten, n)
}

pub(crate) fn fd_seek(mem: &mut GuestMemory<'_>, ctx: &mut WasiCtx, fd: u32, offset: i64, how: u32, out: u32) -> WasiResult {
    let descriptor = ctx.fds.get(fd)?;
    let pos = match u8::try_from(how).map_err(|_| Errno::INVAL)? {
        whence::SET => SeekFrom::Start(u64::try_from(offset).map_err(|_| Errno::INVAL)?),
        whence::CUR => SeekFrom::Current(offset),
        whence::END => SeekFrom::End(offset),
        _ => return Err(Errno::INVAL),
    };
    let file = file(descriptor)?;
    descriptor.check(if pos == SeekFrom::Current(0) { rights::FD_TELL } else { rights::FD_SEEK })?;
    let at = file.seek(pos)?;
    mem.write_u64(out, at)
}

pub(crate) fn fd_tell(mem: &mut GuestMemory<'_>, ctx: &mut WasiCtx, fd: u32, out: u32) -> WasiResult {
    fd_seek(mem, ctx, fd, 0, whence::CUR as u32, out)
}

pub(crate) fn fd_close(_mem: &mut GuestMemory<'_>, ctx: &mut WasiCtx, fd: u32) -> WasiResult {
    ctx.fds.remove(fd).map(drop)
}

pub(crate) fn fd_renumber(_mem: &mut GuestMemory<'_>, ctx: &mut WasiCtx, from: u32, to: u32) -> WasiResult {
    ctx.fds.renumber(from, to)
}

/// Flush a stream, or sync a file's (or directory's) data to disk.
fn sync(ctx: &mut WasiCtx, fd: u32, data_only: bool) -> WasiResult {
    let descriptor = ctx.fds.get_mut(fd)?;
    descriptor.check(if data_only { rights::FD_DATASYNC } else { rights::FD_SYNC })?;
    match descriptor {
        Descriptor::Writer { stream, .. } => stream.flush()?,
        Descriptor::Reader { .. } => {}
        Descriptor::File { file, .. } if data_only => file.sync_data()?,
        Descriptor::File { file, .. } => file.sync_all()?,
        Descriptor::Dir { dir, .. } => dir.try_clone()?.into_std_file().sync_all()?,
    }
    Ok(())
}

pub(crate) fn fd_sync(_mem: &mut GuestMemory<'_>, ctx: &mut WasiCtx, fd: u32) -> WasiResult {
    sync(ctx, fd, false)
}

pub(crate) fn fd_datasync(_mem: &mut GuestMemory<'_>, ctx: &mut WasiCtx, fd: u32) -> WasiResult {
    sync(ctx, fd, true)
}

pub(crate) fn fd_advise(_mem: &mut GuestMemory<'_>, ctx: &mut WasiCtx, fd: u32, offset: u64, len: u64, how: u32) -> WasiResult {
    let descriptor = ctx.fds.get(fd)?;
    descriptor.check(rights::FD_ADVISE)?;
    let how = match u8::try_from(how).map_err(|_| Errno::INVAL)? {
        advice::NORMAL => Advice::Normal,
        advice::SEQUENTIAL => Advice::Sequential,
        advice::RANDOM => Advice::Random,
        advice::WILLNEED => Advice::WillNeed,
        advice::DONTNEED => Advice::DontNeed,
        advice::NOREUSE => Advice::NoReuse,
        _ => return Err(Errno::INVAL),
    };
    Ok(file(descriptor)?.advise(offset, len, how)?)
}

pub(crate) fn fd_allocate(_mem: &mut GuestMemory<'_>, ctx: &mut WasiCtx, fd: u32, offset: u64, len: u64) -> WasiResult {
    let descriptor = ctx.fds.get(fd)?;
    descriptor.check(rights::FD_ALLOCATE)?;
    Ok(file(descriptor)?.allocate(offset, len)?)
}
