//! `fd_readdir`: a directory's entries as `dirent` records, from a cookie
//! (the index of the next entry; `.` and `..` come first, as in POSIX).

use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::DirEntryExt;

use cap_std::fs::MetadataExt;

use crate::abi::{dirent, filetype, rights};
use crate::ctx::WasiCtx;
use crate::errno::{Errno, WasiResult};
use crate::memory::GuestMemory;

/// One entry: inode, type and name.
struct Entry {
    ino: u64,
    filetype: u8,
    name: Vec<u8>,
}

fn filetype_of(ty: cap_std::fs::FileType) -> u8 {
    if ty.is_dir() {
        filetype::DIRECTORY
    } else if ty.is_file() {
        filetype::REGULAR_FILE
    } else if ty.is_symlink() {
        filetype::SYMBOLIC_LINK
    } else {
        filetype::UNKNOWN
    }
}

/// Every entry of `dir`, `.` and `..` first.
fn entries(dir: &cap_std::fs::Dir) -> WasiResult<Vec<Entry>> {
    let own = dir.dir_metadata()?.ino();
    // The parent may lie outside the sandbox: its inode is not told.
    let mut all = vec![
        Entry { ino: own, filetype: filetype::DIRECTORY, name: b".".to_vec() },
        Entry { ino: 0, filetype: filetype::DIRECTORY, name: b"..".to_vec() },
    ];
    for entry in dir.entries()? {
        let entry = entry?;
        all.push(Entry { ino: entry.ino(), filetype: filetype_of(entry.file_type()?), name: entry.file_name().as_bytes().to_vec() });
    }
    Ok(all)
}

pub(crate) fn fd_readdir(
    mem: &mut GuestMemory<'_>,
    ctx: &mut WasiCtx,
    fd: u32,
    buf: u32,
    buf_len: u32,
    cookie: u64,
    used: u32,
) -> WasiResult {
    let descriptor = ctx.fds.get(fd)?;
    descriptor.check(rights::FD_READDIR)?;
    let all = entries(descriptor.dir()?)?;
    // Records back to back; the last one cut off where the buffer ends
    // (the guest sees a full buffer and asks again with a larger one).
    let mut out = Vec::new();
    let start = usize::try_from(cookie).map_err(|_| Errno::INVAL)?;
    for (index, entry) in all.iter().enumerate().skip(start) {
        if out.len() >= buf_len as usize {
            break;
        }
        let mut record = [0u8; dirent::SIZE];
        record[dirent::NEXT..dirent::NEXT + 8].copy_from_slice(&(index as u64 + 1).to_le_bytes());
        record[dirent::INO..dirent::INO + 8].copy_from_slice(&entry.ino.to_le_bytes());
        record[dirent::NAMLEN..dirent::NAMLEN + 4].copy_from_slice(&(entry.name.len() as u32).to_le_bytes());
        record[dirent::TYPE] = entry.filetype;
        out.extend_from_slice(&record);
        out.extend_from_slice(&entry.name);
    }
    out.truncate(buf_len as usize);
    mem.write(buf, &out)?;
    mem.write_u32(used, out.len() as u32)
}
