//! [`Errno`]: what a WASI call returns, and how host I/O errors map to it.

use std::io;

/// A preview1 `errno` value (0 is success, never an `Errno`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Errno(pub u16);

macro_rules! errnos {
    ($($name:ident = $value:literal),* $(,)?) => {
        impl Errno {$(
            #[doc = concat!("`", stringify!($name), "`.")]
            pub const $name: Errno = Errno($value);
        )*}
    };
}
errnos! {
    TOOBIG = 1, ACCES = 2, AGAIN = 6, BADF = 8, BUSY = 10, EXIST = 20, FAULT = 21, FBIG = 22,
    ILSEQ = 25, INTR = 27, INVAL = 28, IO = 29, ISDIR = 31, LOOP = 32, MFILE = 33, MLINK = 34,
    NAMETOOLONG = 37, NFILE = 41, NOENT = 44, NOMEM = 48, NOSPC = 51, NOSYS = 52, NOTDIR = 54,
    NOTEMPTY = 55, NOTSUP = 58, NOTTY = 59, NXIO = 60, OVERFLOW = 61, PERM = 63, PIPE = 64,
    ROFS = 69, SPIPE = 70, TXTBSY = 74, XDEV = 75, NOTCAPABLE = 76,
}

/// What a WASI call's body returns: `Ok` becomes errno 0.
pub type WasiResult<T = ()> = Result<T, Errno>;

impl From<io::Error> for Errno {
    /// The host's errno when there is one; a path that would leave its
    /// directory (cap-std refuses it without an OS errno) is `NOTCAPABLE`.
    fn from(error: io::Error) -> Errno {
        if let Some(raw) = error.raw_os_error() {
            return from_host(raw);
        }
        match error.kind() {
            io::ErrorKind::PermissionDenied => Errno::NOTCAPABLE,
            io::ErrorKind::NotFound => Errno::NOENT,
            io::ErrorKind::AlreadyExists => Errno::EXIST,
            io::ErrorKind::InvalidInput => Errno::INVAL,
            io::ErrorKind::BrokenPipe => Errno::PIPE,
            io::ErrorKind::WouldBlock => Errno::AGAIN,
            io::ErrorKind::Interrupted => Errno::INTR,
            io::ErrorKind::Unsupported => Errno::NOTSUP,
            io::ErrorKind::OutOfMemory => Errno::NOMEM,
            _ => Errno::IO,
        }
    }
}

/// The WASI errno of a host (Linux) errno.
fn from_host(raw: i32) -> Errno {
    match raw {
        libc::E2BIG => Errno::TOOBIG,
        libc::EACCES => Errno::ACCES,
        libc::EAGAIN => Errno::AGAIN,
        libc::EBADF => Errno::BADF,
        libc::EBUSY => Errno::BUSY,
        libc::EEXIST => Errno::EXIST,
        libc::EFAULT => Errno::FAULT,
        libc::EFBIG => Errno::FBIG,
        libc::EILSEQ => Errno::ILSEQ,
        libc::EINTR => Errno::INTR,
        libc::EINVAL => Errno::INVAL,
        libc::EISDIR => Errno::ISDIR,
        libc::ELOOP => Errno::LOOP,
        libc::EMFILE => Errno::MFILE,
        libc::EMLINK => Errno::MLINK,
        libc::ENAMETOOLONG => Errno::NAMETOOLONG,
        libc::ENFILE => Errno::NFILE,
        libc::ENOENT => Errno::NOENT,
        libc::ENOMEM => Errno::NOMEM,
        libc::ENOSPC => Errno::NOSPC,
        libc::ENOSYS => Errno::NOSYS,
        libc::ENOTDIR => Errno::NOTDIR,
        libc::ENOTEMPTY => Errno::NOTEMPTY,
        libc::EOPNOTSUPP => Errno::NOTSUP,
        libc::ENOTTY => Errno::NOTTY,
        libc::ENXIO => Errno::NXIO,
        libc::EOVERFLOW => Errno::OVERFLOW,
        libc::EPERM => Errno::PERM,
        libc::EPIPE => Errno::PIPE,
        libc::EROFS => Errno::ROFS,
        libc::ESPIPE => Errno::SPIPE,
        libc::ETXTBSY => Errno::TXTBSY,
        libc::EXDEV => Errno::XDEV,
        _ => Errno::IO,
    }
}
