//! A descriptor's state: `fd_fdstat_*` (type, flags, rights),
//! `fd_filestat_*` (its file's metadata, size and times) and
//! `fd_prestat_*` (the name of a preopened directory).

use std::fs::FileTimes;
use std::os::unix::fs::MetadataExt;

use system_interface::fs::{FdFlags, GetSetFdFlags};

use crate::abi::{fdflags, fdstat, filetype, rights};
use crate::ctx::WasiCtx;
use crate::errno::{Errno, WasiResult};
use crate::fd_table::Descriptor;
use crate::filestat::{self, new_times};
use crate::memory::GuestMemory;

/// The file type and flags a descriptor reports.
fn type_and_flags(descriptor: &Descriptor) -> WasiResult<(u8, u16)> {
    Ok(match descriptor {
        Descriptor::Reader { tty, .. } | Descriptor::Writer { tty, .. } => {
            (if *tty { filetype::CHARACTER_DEVICE } else { filetype::UNKNOWN }, 0)
        }
        Descriptor::File { file, .. } => {
            let append = file.get_fd_flags()?.contains(FdFlags::APPEND);
            (filestat::filetype_of_mode(file.metadata()?.mode()), if append { fdflags::APPEND } else { 0 })
        }
        Descriptor::Dir { .. } => (filetype::DIRECTORY, 0),
    })
}

pub(crate) fn fd_fdstat_get(mem: &mut GuestMemory<'_>, ctx: &mut WasiCtx, fd: u32, out: u32) -> WasiResult {
    let descriptor = ctx.fds.get(fd)?;
    let (filetype, flags) = type_and_flags(descriptor)?;
    let at = |field: u32| out.checked_add(field).ok_or(Errno::FAULT);
    mem.write_u8(at(fdstat::FILETYPE)?, filetype)?;
    mem.write_u16(at(fdstat::FLAGS)?, flags)?;
    // A terminal cannot seek: wasi-libc's isatty looks for exactly that.
    let tty = filetype == filetype::CHARACTER_DEVICE;
    let base = descriptor.rights() & if tty { !(rights::FD_SEEK | rights::FD_TELL) } else { rights::ALL };
    mem.write_u64(at(fdstat::RIGHTS_BASE)?, base)?;
    mem.write_u64(at(fdstat::RIGHTS_INHERITING)?, rights::ALL)
}

pub(crate) fn fd_fdstat_set_flags(_mem: &mut GuestMemory<'_>, ctx: &mut WasiCtx, fd: u32, flags: u32) -> WasiResult {
    let descriptor = ctx.fds.get_mut(fd)?;
    descriptor.check(rights::FD_FDSTAT_SET_FLAGS)?;
    let flags = u16::try_from(flags).map_err(|_| Errno::INVAL)?;
    let Descriptor::File { file, .. } = descriptor else {
        // Streams and directories have no flags to change.
        return if flags == 0 { Ok(()) } else { Err(Errno::NOTSUP) };
    };
    if flags & !(fdflags::APPEND | fdflags::NONBLOCK) != 0 {
        // The sync flags only take effect when a file is opened.
        return Err(Errno::NOTSUP);
    }
    let mut host = FdFlags::empty();
    host.set(FdFlags::APPEND, flags & fdflags::APPEND != 0);
    host.set(FdFlags::NONBLOCK, flags & fdflags::NONBLOCK != 0);
    let change = std::fs::File::new_set_fd_flags(file, host)?;
    Ok(GetSetFdFlags::set_fd_flags(file, change)?)
}

pub(crate) fn fd_fdstat_set_rights(_mem: &mut GuestMemory<'_>, ctx: &mut WasiCtx, fd: u32, base: u64, _inheriting: u64) -> WasiResult {
    match ctx.fds.get_mut(fd)? {
        // Rights can only be given up.
        Descriptor::File { rights, .. } | Descriptor::Dir { rights, .. } if base & !*rights == 0 => {
            *rights = base;
            Ok(())
        }
        Descriptor::Reader { .. } | Descriptor::Writer { .. } if base & !rights::STREAM == 0 => Err(Errno::NOTSUP),
        _ => Err(Errno::NOTCAPABLE),
    }
}

pub(crate) fn fd_filestat_get(mem: &mut GuestMemory<'_>, ctx: &mut WasiCtx, fd: u32, out: u32) -> WasiResult {
    let descriptor = ctx.fds.get(fd)?;
    descriptor.check(rights::FD_FILESTAT_GET)?;
    match descriptor {
        Descriptor::File { file, .. } => filestat::write(mem, out, (&file.metadata()?).into()),
        Descriptor::Dir { dir, .. } => filestat::write(mem, out, (&dir.dir_metadata()?).into()),
        Descriptor::Reader { .. } | Descriptor::Writer { .. } => {
            // A stream has no file: all zeros but its type.
            mem.slice_mut(out, 64)?.fill(0);
            mem.write_u8(out.checked_add(crate::abi::filestat::FILETYPE).ok_or(Errno::FAULT)?, type_and_flags(descriptor)?.0)
        }
    }
}

pub(crate) fn fd_filestat_set_size(_mem: &mut GuestMemory<'_>, ctx: &mut WasiCtx, fd: u32, size: u64) -> WasiResult {
    let descriptor = ctx.fds.get(fd)?;
    descriptor.check(rights::FD_FILESTAT_SET_SIZE)?;
    match descriptor {
        Descriptor::File { file, .. } => Ok(file.set_len(size)?),
        Descriptor::Dir { .. } => Err(Errno::ISDIR),
        _ => Err(Errno::INVAL),
    }
}

pub(crate) fn fd_filestat_set_times(
    _mem: &mut GuestMemory<'_>,
    ctx: &mut WasiCtx,
    fd: u32,
    atim: u64,
    mtim: u64,
    flags: u32,
) -> WasiResult {
    let (atime, mtime) = new_times(atim, mtim, flags)?;
    let descriptor = ctx.fds.get(fd)?;
    descriptor.check(rights::FD_FILESTAT_SET_TIMES)?;
    let mut times = FileTimes::new();
    if let Some(t) = atime {
        times = times.set_accessed(t.resolve());
    }
    if let Some(t) = mtime {
        times = times.set_modified(t.resolve());
    }
    match descriptor {
        Descriptor::File { file, .. } => Ok(file.set_times(times)?),
        Descriptor::Dir { dir, .. } => Ok(dir.try_clone()?.into_std_file().set_times(times)?),
        _ => Err(Errno::INVAL),
    }
}

/// The guest name of preopened directory `fd` (`EBADF` for any other fd).
fn preopen_name(ctx: &WasiCtx, fd: u32) -> WasiResult<&str> {
    match ctx.fds.get(fd)? {
        Descriptor::Dir { preopen: Some(name), .. } => Ok(name),
        _ => Err(Errno::BADF),
    }
}

pub(crate) fn fd_prestat_get(mem: &mut GuestMemory<'_>, ctx: &mut WasiCtx, fd: u32, out: u32) -> WasiResult {
    let len = u32::try_from(preopen_name(ctx, fd)?.len()).map_err(|_| Errno::NAMETOOLONG)?;
    // Tag 0: a directory, then its name's length.
    mem.write_u32(out, 0)?;
    mem.write_u32(out.checked_add(4).ok_or(Errno::FAULT)?, len)
}

pub(crate) fn fd_prestat_dir_name(mem: &mut GuestMemory<'_>, ctx: &mut WasiCtx, fd: u32, path: u32, len: u32) -> WasiResult {
    let name = preopen_name(ctx, fd)?.as_bytes();
    if name.len() > len as usize {
        return Err(Errno::NAMETOOLONG);
    }
    mem.write(path, name)
}
