//! The preview1 ABI's numbers and record layouts (`wasi_snapshot_preview1`
//! in the WASI repository's `witx` files): flag bits, enum values, and the
//! byte offsets of the records calls read and write in guest memory.

/// The import module name.
pub const MODULE: &str = "wasi_snapshot_preview1";

/// `filetype`.
pub mod filetype {
    pub const UNKNOWN: u8 = 0;
    pub const BLOCK_DEVICE: u8 = 1;
    pub const CHARACTER_DEVICE: u8 = 2;
    pub const DIRECTORY: u8 = 3;
    pub const REGULAR_FILE: u8 = 4;
    pub const SOCKET_STREAM: u8 = 6;
    pub const SYMBOLIC_LINK: u8 = 7;
}

/// `fdflags`.
pub mod fdflags {
    pub const APPEND: u16 = 1 << 0;
    pub const DSYNC: u16 = 1 << 1;
    pub const NONBLOCK: u16 = 1 << 2;
    pub const RSYNC: u16 = 1 << 3;
    pub const SYNC: u16 = 1 << 4;
}

/// `oflags` of `path_open`.
pub mod oflags {
    pub const CREAT: u16 = 1 << 0;
    pub const DIRECTORY: u16 = 1 << 1;
    pub const EXCL: u16 = 1 << 2;
    pub const TRUNC: u16 = 1 << 3;
}

/// `lookupflags`.
pub const LOOKUP_SYMLINK_FOLLOW: u32 = 1;

/// `fstflags` of the `*_set_times` calls.
pub mod fstflags {
    pub const ATIM: u16 = 1 << 0;
    pub const ATIM_NOW: u16 = 1 << 1;
    pub const MTIM: u16 = 1 << 2;
    pub const MTIM_NOW: u16 = 1 << 3;
}

/// `rights`: what a descriptor may be used for.
pub mod rights {
    pub const FD_DATASYNC: u64 = 1 << 0;
    pub const FD_READ: u64 = 1 << 1;
    pub const FD_SEEK: u64 = 1 << 2;
    pub const FD_FDSTAT_SET_FLAGS: u64 = 1 << 3;
    pub const FD_SYNC: u64 = 1 << 4;
    pub const FD_TELL: u64 = 1 << 5;
    pub const FD_WRITE: u64 = 1 << 6;
    pub const FD_ADVISE: u64 = 1 << 7;
    pub const FD_ALLOCATE: u64 = 1 << 8;
    pub const FD_READDIR: u64 = 1 << 14;
    pub const FD_FILESTAT_GET: u64 = 1 << 21;
    pub const FD_FILESTAT_SET_SIZE: u64 = 1 << 22;
    pub const FD_FILESTAT_SET_TIMES: u64 = 1 << 23;
    pub const POLL_FD_READWRITE: u64 = 1 << 27;
    /// Every right preview1 defines.
    pub const ALL: u64 = (1 << 30) - 1;
    /// What a stream (stdin, stdout, stderr) can do.
    pub const STREAM: u64 = FD_READ | FD_WRITE | FD_SYNC | FD_DATASYNC | FD_FILESTAT_GET | POLL_FD_READWRITE;
    /// What a directory descriptor can do: everything but byte I/O on it.
    pub const DIRECTORY: u64 = ALL & !(FD_READ | FD_WRITE | FD_SEEK | FD_TELL | FD_ADVISE | FD_ALLOCATE | FD_FILESTAT_SET_SIZE);
}

/// `whence` of `fd_seek`.
pub mod whence {
    pub const SET: u8 = 0;
    pub const CUR: u8 = 1;
    pub const END: u8 = 2;
}

/// `clockid`.
pub mod clock {
    pub const REALTIME: u32 = 0;
    pub const MONOTONIC: u32 = 1;
    pub const PROCESS_CPUTIME_ID: u32 = 2;
    pub const THREAD_CPUTIME_ID: u32 = 3;
}

/// `advice` of `fd_advise`.
pub mod advice {
    pub const NORMAL: u8 = 0;
    pub const SEQUENTIAL: u8 = 1;
    pub const RANDOM: u8 = 2;
    pub const WILLNEED: u8 = 3;
    pub const DONTNEED: u8 = 4;
    pub const NOREUSE: u8 = 5;
}

/// `eventtype` of `poll_oneoff`.
pub mod eventtype {
    pub const CLOCK: u8 = 0;
    pub const FD_READ: u8 = 1;
    pub const FD_WRITE: u8 = 2;
}

/// `subclockflags`: the timeout is an absolute time of its clock.
pub const SUBSCRIPTION_CLOCK_ABSTIME: u16 = 1;

/// `fdstat`: 24 bytes.
pub mod fdstat {
    pub const FILETYPE: u32 = 0;
    pub const FLAGS: u32 = 2;
    pub const RIGHTS_BASE: u32 = 8;
    pub const RIGHTS_INHERITING: u32 = 16;
}

/// `filestat`: 64 bytes.
pub mod filestat {
    pub const DEV: u32 = 0;
    pub const INO: u32 = 8;
    pub const FILETYPE: u32 = 16;
    pub const NLINK: u32 = 24;
    pub const SIZE: u32 = 32;
    pub const ATIM: u32 = 40;
    pub const MTIM: u32 = 48;
    pub const CTIM: u32 = 56;
}

/// `dirent`: a 24-byte header, then the name.
pub mod dirent {
    pub const NEXT: usize = 0;
    pub const INO: usize = 8;
    pub const NAMLEN: usize = 16;
    pub const TYPE: usize = 20;
    pub const SIZE: usize = 24;
}

/// `subscription`: 48 bytes.
pub mod subscription {
    pub const USERDATA: u32 = 0;
    pub const TAG: u32 = 8;
    pub const CLOCK_ID: u32 = 16;
    pub const CLOCK_TIMEOUT: u32 = 24;
    pub const CLOCK_FLAGS: u32 = 40;
    pub const FD: u32 = 16;
    pub const SIZE: u32 = 48;
}

/// `event`: 32 bytes.
pub mod event {
    pub const USERDATA: u32 = 0;
    pub const ERROR: u32 = 8;
    pub const TYPE: u32 = 10;
    pub const SIZE: u32 = 32;
}
