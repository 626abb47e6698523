//! The few `wasi_snapshot_preview1` calls the C programs import (see
//! `programs/build.sh`), for Wasmtime and wasmi: arguments, writing to
//! stdout and stderr (kept in memory, to compare across runtimes),
//! `fd_fdstat_get` for wasi-libc's isatty, and `proc_exit`. Wasmtime's own
//! `wasmtime-wasi` is not used: it builds the component model and tokio,
//! over half an hour on this machine.

use anyhow::Result;

/// The module every import comes from.
pub const MODULE: &str = "wasi_snapshot_preview1";

/// Every function defined here: a program importing anything else is
/// refused before it is run (see [`check_imports`]).
pub const PROVIDED: [&str; 7] = ["args_get", "args_sizes_get", "fd_close", "fd_fdstat_get", "fd_seek", "fd_write", "proc_exit"];

/// WASI errno values returned here.
mod errno {
    pub const BADF: i32 = 8;
    pub const FAULT: i32 = 21;
    pub const SPIPE: i32 = 70;
}

/// One store's WASI state: the arguments and what the program wrote.
#[derive(Debug, Default)]
pub struct ShimCtx {
    args: Vec<String>,
    /// Bytes written to fd 1.
    pub stdout: Vec<u8>,
    /// Bytes written to fd 2.
    pub stderr: Vec<u8>,
}

impl ShimCtx {
    /// A context whose program sees `args` (the first is its name).
    pub fn new(args: &[String]) -> ShimCtx {
        ShimCtx { args: args.to_vec(), ..ShimCtx::default() }
    }
}

/// `proc_exit(code)` in Wasmtime: ends the `_start` call as an error the
/// runner looks for. (wasmi has its own, `wasmi::Error::i32_exit`.)
#[derive(Debug)]
pub struct ProcExit(pub i32);

impl std::fmt::Display for ProcExit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "proc_exit({})", self.0)
    }
}

impl std::error::Error for ProcExit {}

/// Fail unless every import of `wasm` is one of [`PROVIDED`], naming the
/// first that is not.
pub fn check_imports(wasm: &[u8]) -> Result<()> {
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        if let wasmparser::Payload::ImportSection(imports) = payload? {
            for import in imports.into_imports() {
                let import = import?;
                anyhow::ensure!(
                    import.module == MODULE && PROVIDED.contains(&import.name),
                    "imports {}::{}, which the WASI shim does not provide (see src/wasi_shim.rs)",
                    import.module,
                    import.name
                );
            }
        }
    }
    Ok(())
}

/// The guest's linear memory, every access bounds-checked (out of bounds
/// is `EFAULT`, as WASI says).
struct Mem<'a>(&'a mut [u8]);

impl Mem<'_> {
    fn bytes(&mut self, at: u32, len: u32) -> Result<&mut [u8], i32> {
        let start = at as usize;
        let end = start.checked_add(len as usize).ok_or(errno::FAULT)?;
        self.0.get_mut(start..end).ok_or(errno::FAULT)
    }

    fn read_u32(&mut self, at: u32) -> Result<u32, i32> {
        Ok(u32::from_le_bytes(self.bytes(at, 4)?.try_into().unwrap()))
    }

    fn write(&mut self, at: u32, data: &[u8]) -> Result<(), i32> {
        self.bytes(at, data.len() as u32)?.copy_from_slice(data);
        Ok(())
    }
}

type Errno = Result<(), i32>;

fn args_sizes_get(mem: &mut Mem<'_>, ctx: &mut ShimCtx, count: u32, size: u32) -> Errno {
    let bytes: usize = ctx.args.iter().map(|a| a.len() + 1).sum();
    mem.write(count, &(ctx.args.len() as u32).to_le_bytes())?;
    mem.write(size, &(bytes as u32).to_le_bytes())
}

fn args_get(mem: &mut Mem<'_>, ctx: &mut ShimCtx, argv: u32, buf: u32) -> Errno {
    let mut at = buf;
    for (i, arg) in ctx.args.iter().enumerate() {
        mem.write(argv + 4 * i as u32, &at.to_le_bytes())?;
        mem.write(at, arg.as_bytes())?;
        mem.write(at + arg.len() as u32, &[0])?;
        at += arg.len() as u32 + 1;
    }
    Ok(())
}

fn fd_write(mem: &mut Mem<'_>, ctx: &mut ShimCtx, fd: u32, iovs: u32, count: u32, written: u32) -> Errno {
    let mut total = 0u32;
    for i in 0..count {
        let base = mem.read_u32(iovs + 8 * i)?;
        let len = mem.read_u32(iovs + 8 * i + 4)?;
        let data = mem.bytes(base, len)?;
        match fd {
            1 => ctx.stdout.extend_from_slice(data),
            2 => ctx.stderr.extend_from_slice(data),
            _ => return Err(errno::BADF),
        }
        total += len;
    }
    mem.write(written, &total.to_le_bytes())
}

fn fd_fdstat_get(mem: &mut Mem<'_>, _ctx: &mut ShimCtx, fd: u32, out: u32) -> Errno {
    if fd > 2 {
        return Err(errno::BADF);
    }
    // Like onecopy-wasi's in-memory streams: filetype unknown (not a
    // terminal, so wasi-libc buffers stdout fully on every runtime alike),
    // no flags, the stream rights (read, write, sync, datasync,
    // filestat_get, poll), none inheriting.
    let mut stat = [0u8; 24];
    let rights: u64 = 1 << 1 | 1 << 6 | 1 << 4 | 1 << 0 | 1 << 21 | 1 << 27;
    stat[8..16].copy_from_slice(&rights.to_le_bytes());
    mem.write(out, &stat)
}

fn fd_seek(_mem: &mut Mem<'_>, _ctx: &mut ShimCtx, fd: u32, _offset: i64, _whence: u32, _out: u32) -> Errno {
    Err(if fd <= 2 { errno::SPIPE } else { errno::BADF })
}

fn fd_close(_mem: &mut Mem<'_>, _ctx: &mut ShimCtx, fd: u32) -> Errno {
    if fd <= 2 {
        Ok(())
    } else {
        Err(errno::BADF)
    }
}

/// Define the calls returning an errno in `$linker` (of crate `$rt`,
/// Wasmtime or wasmi: their `Caller`, `Extern` and `Memory` read alike);
/// `$no_memory` makes the error for a module without a `memory` export.
macro_rules! define {
    ($linker:ident, $rt:ident, $no_memory:expr; $($name:ident($($arg:ident: $ty:ty),*);)*) => {$(
        $linker.func_wrap(MODULE, stringify!($name), |mut caller: $rt::Caller<'_, ShimCtx>, $($arg: $ty),*| -> Result<i32, $rt::Error> {
            let memory = caller.get_export("memory").and_then($rt::Extern::into_memory).ok_or_else($no_memory)?;
            let (bytes, ctx) = memory.data_and_store_mut(&mut caller);
            Ok($name(&mut Mem(bytes), ctx, $($arg),*).err().unwrap_or(0))
        })?;
    )*};
}

/// Every call but `proc_exit` (whose error differs), in one runtime's linker.
macro_rules! define_calls {
    ($linker:ident, $rt:ident, $no_memory:expr) => {
        define! { $linker, $rt, $no_memory;
            args_sizes_get(count: u32, size: u32);
            args_get(argv: u32, buf: u32);
            fd_write(fd: u32, iovs: u32, count: u32, written: u32);
            fd_fdstat_get(fd: u32, out: u32);
            fd_seek(fd: u32, offset: i64, whence: u32, out: u32);
            fd_close(fd: u32);
        }
    };
}

/// Define the shim's calls in a Wasmtime linker.
pub fn add_to_wasmtime(linker: &mut wasmtime::Linker<ShimCtx>) -> Result<()> {
    define_calls!(linker, wasmtime, || wasmtime::Error::msg("WASI calls need a memory export named \"memory\""));
    linker.func_wrap(MODULE, "proc_exit", |code: i32| -> wasmtime::Result<()> { Err(wasmtime::Error::new(ProcExit(code))) })?;
    Ok(())
}

/// Define the shim's calls in a wasmi linker.
pub fn add_to_wasmi(linker: &mut wasmi::Linker<ShimCtx>) -> Result<()> {
    define_calls!(linker, wasmi, || wasmi::Error::new("WASI calls need a memory export named \"memory\""));
    linker.func_wrap(MODULE, "proc_exit", |code: i32| -> Result<(), wasmi::Error> { Err(wasmi::Error::i32_exit(code)) })?;
    Ok(())
}
