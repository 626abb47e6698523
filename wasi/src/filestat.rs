//! The `filestat` record from host metadata, and the `*_set_times`
//! arguments as host times.

use std::time::{Duration, SystemTime};

use crate::abi::{filestat, filetype, fstflags};
use crate::errno::{Errno, WasiResult};
use crate::memory::GuestMemory;

/// The WASI file type of a host file mode.
pub(crate) fn filetype_of_mode(mode: u32) -> u8 {
    match mode & libc::S_IFMT {
        libc::S_IFREG => filetype::REGULAR_FILE,
        libc::S_IFDIR => filetype::DIRECTORY,
        libc::S_IFLNK => filetype::SYMBOLIC_LINK,
        libc::S_IFCHR => filetype::CHARACTER_DEVICE,
        libc::S_IFBLK => filetype::BLOCK_DEVICE,
        libc::S_IFSOCK => filetype::SOCKET_STREAM,
        _ => filetype::UNKNOWN,
    }
}

fn nanos(seconds: i64, nanos: i64) -> u64 {
    (seconds.max(0) as u64).saturating_mul(1_000_000_000).saturating_add(nanos.max(0) as u64)
}

/// What a `filestat` holds.
pub(crate) struct Stat {
    dev: u64,
    ino: u64,
    mode: u32,
    nlink: u64,
    size: u64,
    times: [u64; 3],
}

/// The `Stat` of a metadata value whose `MetadataExt` trait is in scope
/// (std's and cap-std's are two traits with the same methods).
macro_rules! stat {
    ($meta:expr) => {{
        let m = $meta;
        Stat {
            dev: m.dev(),
            ino: m.ino(),
            mode: m.mode(),
            nlink: m.nlink(),
            size: m.size(),
            times: [nanos(m.atime(), m.atime_nsec()), nanos(m.mtime(), m.mtime_nsec()), nanos(m.ctime(), m.ctime_nsec())],
        }
    }};
}

impl From<&std::fs::Metadata> for Stat {
    fn from(meta: &std::fs::Metadata) -> Stat {
        use std::os::unix::fs::MetadataExt;
        stat!(meta)
    }
}

impl From<&cap_std::fs::Metadata> for Stat {
    fn from(meta: &cap_std::fs::Metadata) -> Stat {
        use cap_std::fs::MetadataExt;
        stat!(meta)
    }
}

/// Write the `filestat` of `stat` at `out`.
pub(crate) fn write(mem: &mut GuestMemory<'_>, out: u32, stat: Stat) -> WasiResult {
    let at = |field: u32| out.checked_add(field).ok_or(Errno::FAULT);
    mem.write_u64(at(filestat::DEV)?, stat.dev)?;
    mem.write_u64(at(filestat::INO)?, stat.ino)?;
    mem.write_u8(at(filestat::FILETYPE)?, filetype_of_mode(stat.mode))?;
    mem.write_u64(at(filestat::NLINK)?, stat.nlink)?;
    mem.write_u64(at(filestat::SIZE)?, stat.size)?;
    mem.write_u64(at(filestat::ATIM)?, stat.times[0])?;
    mem.write_u64(at(filestat::MTIM)?, stat.times[1])?;
    mem.write_u64(at(filestat::CTIM)?, stat.times[2])
}

/// A time to set: now, a given time, or left alone (`None`).
#[derive(Debug, Clone, Copy)]
pub(crate) enum NewTime {
    Now,
    At(SystemTime),
}

impl NewTime {
    pub(crate) fn resolve(self) -> SystemTime {
        match self {
            NewTime::Now => SystemTime::now(),
            NewTime::At(t) => t,
        }
    }
}

/// The access and modification times `flags` asks for (`EINVAL` when a
/// time is both given and "now").
pub(crate) fn new_times(atim: u64, mtim: u64, flags: u32) -> WasiResult<(Option<NewTime>, Option<NewTime>)> {
    let flags = u16::try_from(flags).map_err(|_| Errno::INVAL)?;
    let one = |value: u64, set: u16, now: u16| -> WasiResult<Option<NewTime>> {
        match (flags & set != 0, flags & now != 0) {
            (true, true) => Err(Errno::INVAL),
            (true, false) => Ok(Some(NewTime::At(SystemTime::UNIX_EPOCH + Duration::from_nanos(value)))),
            (false, true) => Ok(Some(NewTime::Now)),
            (false, false) => Ok(None),
        }
    };
    Ok((one(atim, fstflags::ATIM, fstflags::ATIM_NOW)?, one(mtim, fstflags::MTIM, fstflags::MTIM_NOW)?))
}
