//! Calls on paths beneath a directory descriptor. Every path resolves with
//! cap-std beneath its directory: `..` past it, absolute paths and symbolic
//! links leading out of it fail (`ENOTCAPABLE`), whatever the path's shape.

use std::os::unix::ffi::OsStrExt;

use cap_fs_ext::{DirExt, FollowSymlinks, OpenOptionsFollowExt, OpenOptionsMaybeDirExt, OpenOptionsSyncExt, SystemTimeSpec};
use cap_std::fs::{Dir, OpenOptions};

use crate::abi::{fdflags, oflags, rights, LOOKUP_SYMLINK_FOLLOW};
use crate::ctx::WasiCtx;
use crate::errno::{Errno, WasiResult};
use crate::fd_table::Descriptor;
use crate::filestat::{self, new_times, NewTime};
use crate::memory::GuestMemory;

/// Directory `fd` and the path at `ptr`.
fn dir_and_path<'c, 'm>(mem: &'m GuestMemory<'_>, ctx: &'c WasiCtx, fd: u32, ptr: u32, len: u32) -> WasiResult<(&'c Dir, &'m str)> {
    Ok((ctx.fds.get(fd)?.dir()?, mem.str(ptr, len)?))
}

/// The (directory, path) pairs of a call on two paths (rename, link).
#[allow(clippy::too_many_arguments)]
fn two_paths<'c, 'm>(
    mem: &'m GuestMemory<'_>,
    ctx: &'c WasiCtx,
    fd: u32,
    old: u32,
    old_len: u32,
    new_fd: u32,
    new: u32,
    new_len: u32,
) -> WasiResult<[(&'c Dir, &'m str); 2]> {
    Ok([dir_and_path(mem, ctx, fd, old, old_len)?, dir_and_path(mem, ctx, new_fd, new, new_len)?])
}

fn follows(lookup: u32) -> bool {
    lookup & LOOKUP_SYMLINK_FOLLOW != 0
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn path_open(
    mem: &mut GuestMemory<'_>,
    ctx: &mut WasiCtx,
    fd: u32,
    lookup: u32,
    path: u32,
    path_len: u32,
    open: u32,
    base: u64,
    _inheriting: u64,
    flags: u32,
    fd_out: u32,
) -> WasiResult {
    let (dir, path) = dir_and_path(mem, ctx, fd, path, path_len)?;
    let open = u16::try_from(open).map_err(|_| Errno::INVAL)?;
    let flags = u16::try_from(flags).map_err(|_| Errno::INVAL)?;
    let follow = if follows(lookup) { FollowSymlinks::Yes } else { FollowSymlinks::No };
    let descriptor = if open & oflags::DIRECTORY != 0 {
        if open & (oflags::CREAT | oflags::TRUNC) != 0 {
            return Err(Errno::INVAL);
        }
        let opened = if follows(lookup) { dir.open_dir(path)? } else { dir.open_dir_nofollow(path)? };
        Descriptor::Dir { dir: opened, preopen: None, rights: rights::DIRECTORY & base }
    } else {
        let write = base & (rights::FD_WRITE | rights::FD_ALLOCATE | rights::FD_FILESTAT_SET_SIZE) != 0;
        let read = base & (rights::FD_READ | rights::FD_READDIR) != 0 || !write;
        let mut options = OpenOptions::new();
        options.read(read).write(write);
        options.create(open & oflags::CREAT != 0 && open & oflags::EXCL == 0);
        options.create_new(open & oflags::CREAT != 0 && open & oflags::EXCL != 0);
        options.truncate(open & oflags::TRUNC != 0);
        options.append(flags & fdflags::APPEND != 0);
        options.sync(flags & fdflags::SYNC != 0).dsync(flags & fdflags::DSYNC != 0).rsync(flags & fdflags::RSYNC != 0);
        options.follow(follow);
        // Opening a directory without O_DIRECTORY is fine on POSIX.
        options.maybe_dir(!write);
        let file = dir.open_with(path, &options)?;
        if file.metadata()?.is_dir() {
            Descriptor::Dir { dir: Dir::from_std_file(file.into_std()), preopen: None, rights: rights::DIRECTORY & base }
        } else {
            Descriptor::File { file: file.into_std(), rights: base }
        }
    };
    let new = ctx.fds.insert(descriptor)?;
    mem.write_u32(fd_out, new)
}

pub(crate) fn path_create_directory(mem: &mut GuestMemory<'_>, ctx: &mut WasiCtx, fd: u32, path: u32, len: u32) -> WasiResult {
    let (dir, path) = dir_and_path(mem, ctx, fd, path, len)?;
    Ok(dir.create_dir(path)?)
}

pub(crate) fn path_remove_directory(mem: &mut GuestMemory<'_>, ctx: &mut WasiCtx, fd: u32, path: u32, len: u32) -> WasiResult {
    let (dir, path) = dir_and_path(mem, ctx, fd, path, len)?;
    Ok(dir.remove_dir(path)?)
}

pub(crate) fn path_unlink_file(mem: &mut GuestMemory<'_>, ctx: &mut WasiCtx, fd: u32, path: u32, len: u32) -> WasiResult {
    let (dir, path) = dir_and_path(mem, ctx, fd, path, len)?;
    Ok(dir.remove_file_or_symlink(path)?)
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn path_rename(
    mem: &mut GuestMemory<'_>,
    ctx: &mut WasiCtx,
    fd: u32,
    old: u32,
    old_len: u32,
    new_fd: u32,
    new: u32,
    new_len: u32,
) -> WasiResult {
    let [(from, old), (to, new)] = two_paths(mem, ctx, fd, old, old_len, new_fd, new, new_len)?;
    Ok(from.rename(old, to, new)?)
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn path_link(
    mem: &mut GuestMemory<'_>,
    ctx: &mut WasiCtx,
    fd: u32,
    lookup: u32,
    old: u32,
    old_len: u32,
    new_fd: u32,
    new: u32,
    new_len: u32,
) -> WasiResult {
    if follows(lookup) {
        // Linking to what a symbolic link names is not offered by cap-std.
        return Err(Errno::NOTSUP);
    }
    let [(from, old), (to, new)] = two_paths(mem, ctx, fd, old, old_len, new_fd, new, new_len)?;
    Ok(from.hard_link(old, to, new)?)
}

pub(crate) fn path_symlink(
    mem: &mut GuestMemory<'_>,
    ctx: &mut WasiCtx,
    old: u32,
    old_len: u32,
    fd: u32,
    new: u32,
    new_len: u32,
) -> WasiResult {
    let target = mem.str(old, old_len)?;
    let (dir, link) = dir_and_path(mem, ctx, fd, new, new_len)?;
    Ok(dir.symlink(target, link)?)
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn path_readlink(
    mem: &mut GuestMemory<'_>,
    ctx: &mut WasiCtx,
    fd: u32,
    path: u32,
    len: u32,
    buf: u32,
    buf_len: u32,
    used: u32,
) -> WasiResult {
    let (dir, path) = dir_and_path(mem, ctx, fd, path, len)?;
    let target = dir.read_link(path)?;
    let bytes = target.as_os_str().as_bytes();
    // Like readlink(2): as much as fits, not NUL-terminated.
    let n = bytes.len().min(buf_len as usize);
    let bytes = bytes[..n].to_vec();
    mem.write(buf, &bytes)?;
    mem.write_u32(used, n as u32)
}

pub(crate) fn path_filestat_get(
    mem: &mut GuestMemory<'_>,
    ctx: &mut WasiCtx,
    fd: u32,
    lookup: u32,
    path: u32,
    len: u32,
    out: u32,
) -> WasiResult {
    let (dir, path) = dir_and_path(mem, ctx, fd, path, len)?;
    let meta = if follows(lookup) { dir.metadata(path)? } else { dir.symlink_metadata(path)? };
    filestat::write(mem, out, (&meta).into())
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn path_filestat_set_times(
    mem: &mut GuestMemory<'_>,
    ctx: &mut WasiCtx,
    fd: u32,
    lookup: u32,
    path: u32,
    len: u32,
    atim: u64,
    mtim: u64,
    flags: u32,
) -> WasiResult {
    let (atime, mtime) = new_times(atim, mtim, flags)?;
    let spec = |t: Option<NewTime>| {
        t.map(|t| match t {
            NewTime::Now => SystemTimeSpec::SymbolicNow,
            NewTime::At(at) => SystemTimeSpec::Absolute(cap_std::time::SystemTime::from_std(at)),
        })
    };
    let (dir, path) = dir_and_path(mem, ctx, fd, path, len)?;
    if follows(lookup) {
        Ok(dir.set_times(path, spec(atime), spec(mtime))?)
    } else {
        Ok(dir.set_symlink_times(path, spec(atime), spec(mtime))?)
    }
}
