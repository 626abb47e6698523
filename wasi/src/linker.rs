//! Adding the preview1 functions to a [`Linker`]: each one finds the
//! calling instance's memory and the store's [`WasiCtx`], then runs its
//! call (see `calls/`).

use onecopy_runtime::{Caller, Error, Extern, Linker, Module, Result};

use crate::abi::MODULE;
use crate::calls::{args, clock, fd, path, poll, random, readdir, sched, stat, unsupported};
use crate::ctx::{I32Exit, WasiCtx};
use crate::errno::WasiResult;
use crate::memory::GuestMemory;

/// Run `call` with the caller's memory and WASI context; its errno is the
/// result. A module without a `memory` export cannot use WASI: that traps.
fn run<T>(
    caller: &mut Caller<'_, T>,
    get: impl Fn(&mut T) -> &mut WasiCtx,
    call: impl FnOnce(&mut GuestMemory<'_>, &mut WasiCtx) -> WasiResult,
) -> Result<i32> {
    let memory = caller.get_export("memory").and_then(Extern::into_memory);
    let memory = memory.ok_or_else(|| Error::NotFound("a memory export named \"memory\" (WASI calls need it)".into()))?;
    let (bytes, data) = memory.data_and_store_mut(caller)?;
    Ok(match call(&mut GuestMemory::new(bytes), get(data)) {
        Ok(()) => 0,
        Err(errno) => i32::from(errno.0),
    })
}

macro_rules! define {
    ($linker:ident, $get:ident; $($name:ident($($arg:ident: $ty:ty),*) => $call:path;)*) => {$(
        $linker.func_wrap(MODULE, stringify!($name), move |mut caller: Caller<'_, T>, $($arg: $ty),*| -> Result<i32> {
            run(&mut caller, $get, |mem, ctx| $call(mem, ctx, $($arg),*))
        })?;
    )*};
}

/// Define every `wasi_snapshot_preview1` function in `linker`, reaching
/// each store's [`WasiCtx`] through `get` (`|data| &mut data.wasi`).
pub fn add_to_linker<T: 'static>(
    linker: &mut Linker<T>,
    get: impl Fn(&mut T) -> &mut WasiCtx + Copy + Send + Sync + 'static,
) -> Result<()> {
    define! { linker, get;
        args_get(argv: u32, buf: u32) => args::args_get;
        args_sizes_get(count: u32, size: u32) => args::args_sizes_get;
        environ_get(environ: u32, buf: u32) => args::environ_get;
        environ_sizes_get(count: u32, size: u32) => args::environ_sizes_get;
        clock_res_get(id: u32, out: u32) => clock::clock_res_get;
        clock_time_get(id: u32, precision: u64, out: u32) => clock::clock_time_get;
        fd_advise(fd: u32, offset: u64, len: u64, advice: u32) => fd::fd_advise;
        fd_allocate(fd: u32, offset: u64, len: u64) => fd::fd_allocate;
        fd_close(fd: u32) => fd::fd_close;
        fd_datasync(fd: u32) => fd::fd_datasync;
        fd_fdstat_get(fd: u32, out: u32) => stat::fd_fdstat_get;
        fd_fdstat_set_flags(fd: u32, flags: u32) => stat::fd_fdstat_set_flags;
        fd_fdstat_set_rights(fd: u32, base: u64, inheriting: u64) => stat::fd_fdstat_set_rights;
        fd_filestat_get(fd: u32, out: u32) => stat::fd_filestat_get;
        fd_filestat_set_size(fd: u32, size: u64) => stat::fd_filestat_set_size;
        fd_filestat_set_times(fd: u32, atim: u64, mtim: u64, flags: u32) => stat::fd_filestat_set_times;
        fd_pread(fd: u32, iovs: u32, count: u32, offset: u64, nread: u32) => fd::fd_pread;
        fd_prestat_get(fd: u32, out: u32) => stat::fd_prestat_get;
        fd_prestat_dir_name(fd: u32, path: u32, len: u32) => stat::fd_prestat_dir_name;
        fd_pwrite(fd: u32, iovs: u32, count: u32, offset: u64, nwritten: u32) => fd::fd_pwrite;
        fd_read(fd: u32, iovs: u32, count: u32, nread: u32) => fd::fd_read;
        fd_readdir(fd: u32, buf: u32, len: u32, cookie: u64, used: u32) => readdir::fd_readdir;
        fd_renumber(from: u32, to: u32) => fd::fd_renumber;
        fd_seek(fd: u32, offset: i64, whence: u32, out: u32) => fd::fd_seek;
        fd_sync(fd: u32) => fd::fd_sync;
        fd_tell(fd: u32, out: u32) => fd::fd_tell;
        fd_write(fd: u32, iovs: u32, count: u32, nwritten: u32) => fd::fd_write;
        path_create_directory(fd: u32, path: u32, len: u32) => path::path_create_directory;
        path_filestat_get(fd: u32, lookup: u32, path: u32, len: u32, out: u32) => path::path_filestat_get;
        path_filestat_set_times(fd: u32, lookup: u32, path: u32, len: u32, atim: u64, mtim: u64, flags: u32) => path::path_filestat_set_times;
        path_link(fd: u32, lookup: u32, old: u32, old_len: u32, new_fd: u32, new: u32, new_len: u32) => path::path_link;
        path_open(fd: u32, lookup: u32, path: u32, len: u32, oflags: u32, base: u64, inheriting: u64, fdflags: u32, fd_out: u32) => path::path_open;
        path_readlink(fd: u32, path: u32, len: u32, buf: u32, buf_len: u32, used: u32) => path::path_readlink;
        path_remove_directory(fd: u32, path: u32, len: u32) => path::path_remove_directory;
        path_rename(fd: u32, old: u32, old_len: u32, new_fd: u32, new: u32, new_len: u32) => path::path_rename;
        path_symlink(old: u32, old_len: u32, fd: u32, new: u32, new_len: u32) => path::path_symlink;
        path_unlink_file(fd: u32, path: u32, len: u32) => path::path_unlink_file;
        poll_oneoff(input: u32, output: u32, count: u32, nevents: u32) => poll::poll_oneoff;
        proc_raise(signal: u32) => unsupported::proc_raise;
        random_get(buf: u32, len: u32) => random::random_get;
        sched_yield() => sched::sched_yield;
        sock_accept(fd: u32, flags: u32, fd_out: u32) => unsupported::sock_accept;
        sock_recv(fd: u32, data: u32, data_len: u32, flags: u32, len_out: u32, flags_out: u32) => unsupported::sock_recv;
        sock_send(fd: u32, data: u32, data_len: u32, flags: u32, len_out: u32) => unsupported::sock_send;
        sock_shutdown(fd: u32, how: u32) => unsupported::sock_shutdown;
    }
    // Ends the call that runs the program with the status, as an error
    // the embedder looks for (`I32Exit`).
    linker.func_wrap(MODULE, "proc_exit", |code: i32| -> Result<()> { Err(Error::host(I32Exit(code))) })?;
    Ok(())
}

/// Whether `module` is a WASI command: it exports `_start` (taking and
/// returning nothing) and a memory, and imports nothing but preview1
/// functions.
pub fn is_command(module: &Module) -> bool {
    let start = module.exports().into_iter().any(|(name, ty)| {
        name == "_start" && matches!(ty, onecopy_runtime::ExternType::Func(f) if f.params.is_empty() && f.results.is_empty())
    });
    start && module.imports().iter().all(|i| i.module == MODULE)
}
