//! A store's open descriptors: the three streams, preopened directories,
//! and what the guest opened, by WASI fd number.

use std::collections::BTreeMap;
use std::io::{Read, Write};

use crate::abi::rights;
use crate::errno::{Errno, WasiResult};

/// What a descriptor refers to.
pub(crate) enum Descriptor {
    /// A stream the guest reads (stdin).
    Reader { stream: Box<dyn Read + Send>, tty: bool },
    /// A stream the guest writes (stdout, stderr).
    Writer { stream: Box<dyn Write + Send>, tty: bool },
    /// An open regular file (or other non-directory): past its opening no
    /// path is involved, so the plain file is enough.
    File { file: std::fs::File, rights: u64 },
    /// A directory: paths resolve beneath it, never outside (cap-std).
    Dir { dir: cap_std::fs::Dir, preopen: Option<String>, rights: u64 },
}

impl Descriptor {
    /// What the descriptor may be used for.
    pub(crate) fn rights(&self) -> u64 {
        match self {
            Descriptor::Reader { .. } | Descriptor::Writer { .. } => rights::STREAM,
            Descriptor::File { rights, .. } | Descriptor::Dir { rights, .. } => *rights,
        }
    }

    /// `Ok` if the descriptor has every right in `needed`.
    pub(crate) fn check(&self, needed: u64) -> WasiResult {
        if self.rights() & needed == needed {
            Ok(())
        } else {
            Err(Errno::NOTCAPABLE)
        }
    }

    /// The directory, for path calls (`ENOTDIR` for anything else).
    pub(crate) fn dir(&self) -> WasiResult<&cap_std::fs::Dir> {
        match self {
            Descriptor::Dir { dir, .. } => Ok(dir),
            _ => Err(Errno::NOTDIR),
        }
    }
}

/// Open descriptors by number.
#[derive(Default)]
pub(crate) struct FdTable {
    open: BTreeMap<u32, Descriptor>,
}

impl FdTable {
    /// Place `descriptor` at `fd` (replacing what was there).
    pub(crate) fn insert_at(&mut self, fd: u32, descriptor: Descriptor) {
        self.open.insert(fd, descriptor);
    }

    /// Place `descriptor` at the lowest free number, as POSIX does.
    pub(crate) fn insert(&mut self, descriptor: Descriptor) -> WasiResult<u32> {
        let mut fd = 0;
        for used in self.open.keys() {
            if *used != fd {
                break;
            }
            fd = fd.checked_add(1).ok_or(Errno::NFILE)?;
        }
        self.open.insert(fd, descriptor);
        Ok(fd)
    }

    pub(crate) fn get(&self, fd: u32) -> WasiResult<&Descriptor> {
        self.open.get(&fd).ok_or(Errno::BADF)
    }

    pub(crate) fn get_mut(&mut self, fd: u32) -> WasiResult<&mut Descriptor> {
        self.open.get_mut(&fd).ok_or(Errno::BADF)
    }

    pub(crate) fn remove(&mut self, fd: u32) -> WasiResult<Descriptor> {
        self.open.remove(&fd).ok_or(Errno::BADF)
    }

    /// Move `from` to `to`, closing what `to` held (both must be open).
    pub(crate) fn renumber(&mut self, from: u32, to: u32) -> WasiResult {
        self.get(to)?;
        let descriptor = self.remove(from)?;
        self.open.insert(to, descriptor);
        Ok(())
    }
}
