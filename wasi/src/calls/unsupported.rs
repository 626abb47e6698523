//! Calls onecopy does not implement (sockets, signals): `ENOSYS`, logged
//! once per call name and process.

use std::collections::BTreeSet;
use std::sync::Mutex;

use crate::ctx::WasiCtx;
use crate::errno::{Errno, WasiResult};
use crate::memory::GuestMemory;

static LOGGED: Mutex<BTreeSet<&'static str>> = Mutex::new(BTreeSet::new());

/// `ENOSYS` for `name`, with a warning the first time.
pub(crate) fn not_implemented(name: &'static str) -> WasiResult {
    let first = LOGGED.lock().unwrap_or_else(|e| e.into_inner()).insert(name);
    if first {
        tracing::warn!(call = name, "WASI call not implemented by onecopy: returning ENOSYS");
    }
    Err(Errno::NOSYS)
}

macro_rules! unsupported {
    ($($name:ident($($arg:ident),*);)*) => {$(
        #[allow(clippy::too_many_arguments)]
        pub(crate) fn $name(_mem: &mut GuestMemory<'_>, _ctx: &mut WasiCtx, $($arg: u32),*) -> WasiResult {
            $(let _ = $arg;)*
            not_implemented(stringify!($name))
        }
    )*};
}
unsupported! {
    proc_raise(signal);
    sock_accept(fd, flags, fd_out);
    sock_recv(fd, ri_data, ri_data_len, ri_flags, ro_datalen, ro_flags);
    sock_send(fd, si_data, si_data_len, si_flags, so_datalen);
    sock_shutdown(fd, how);
}
