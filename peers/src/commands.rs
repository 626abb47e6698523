//! The runtimes compared on WASI commands (the C programs): each compiles
//! a program once, then runs its `_start` in a fresh store and instance
//! per run, as `wasmtime run prog.wasm` would, capturing what it printed.
//! onecopy uses its own `onecopy-wasi`; Wasmtime and wasmi the subset in
//! `wasi_shim`.

use std::fmt;

use anyhow::Result;

use crate::runtimes::{self, Peer};
use crate::wasi_shim::{self, ProcExit, ShimCtx};

/// What one run did: its exit status and the bytes it wrote. Runs compare
/// equal only if every byte matches.
#[derive(PartialEq, Eq)]
pub struct Outcome {
    /// The `proc_exit` status (0 if `_start` returned).
    pub status: i32,
    /// Everything written to fd 1.
    pub stdout: Vec<u8>,
    /// Everything written to fd 2.
    pub stderr: Vec<u8>,
}

// As text: a mismatch report should read like the programs' output.
impl fmt::Debug for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "exit {} stdout {:?}", self.status, String::from_utf8_lossy(&self.stdout))?;
        if !self.stderr.is_empty() {
            write!(f, " stderr {:?}", String::from_utf8_lossy(&self.stderr))?;
        }
        Ok(())
    }
}

/// A program compiled for one runtime, ready to run any number of times.
pub trait CommandRunner {
    /// Run `_start` once with `args` (the first is the program's name).
    fn run(&mut self, args: &[String]) -> Result<Outcome>;
}

/// Compile `wasm` (a WASI command) for `peer`. Breakpoint peers are not
/// supported here: the programs have no function known never to run.
pub fn prepare(peer: Peer, wasm: &[u8]) -> Result<Box<dyn CommandRunner>> {
    Ok(match peer {
        Peer::Onecopy | Peer::OnecopyDebug => Box::new(Onecopy::new(peer, wasm)?),
        Peer::Wasmtime | Peer::Winch | Peer::WasmtimeDebug => Box::new(Wasmtime::new(peer, wasm)?),
        Peer::Wasmi => Box::new(Wasmi::new(wasm)?),
        Peer::OnecopyDebugBp | Peer::WasmtimeDebugBp => anyhow::bail!("{} is not run on the C programs", peer.name()),
    })
}

struct Onecopy {
    engine: onecopy_runtime::Engine,
    module: onecopy_runtime::Module,
    linker: onecopy_runtime::Linker<onecopy_wasi::WasiCtx>,
}

impl Onecopy {
    fn new(peer: Peer, wasm: &[u8]) -> Result<Onecopy> {
        let engine = onecopy_runtime::Engine::new(&runtimes::onecopy_config(peer))?;
        let module = onecopy_runtime::Module::new(&engine, wasm)?;
        let mut linker = onecopy_runtime::Linker::new(&engine);
        onecopy_wasi::add_to_linker(&mut linker, |ctx: &mut onecopy_wasi::WasiCtx| ctx)?;
        Ok(Onecopy { engine, module, linker })
    }
}

impl CommandRunner for Onecopy {
    fn run(&mut self, args: &[String]) -> Result<Outcome> {
        let (stdout, stderr) = (onecopy_wasi::Pipe::default(), onecopy_wasi::Pipe::default());
        let ctx = onecopy_wasi::WasiCtx::builder().args(args.iter().cloned()).stdout(stdout.clone()).stderr(stderr.clone()).build();
        let mut store = onecopy_runtime::Store::new(&self.engine, ctx);
        let instance = self.linker.instantiate(&mut store, &self.module)?;
        let start = instance.get_typed_func::<(), ()>(&store, "_start")?;
        let status = match start.call(&mut store, ()) {
            Ok(()) => 0,
            Err(e) => match e.downcast_ref::<onecopy_wasi::I32Exit>() {
                Some(exit) => exit.0,
                None => return Err(e.into()),
            },
        };
        Ok(Outcome { status, stdout: stdout.contents(), stderr: stderr.contents() })
    }
}

struct Wasmtime {
    engine: wasmtime::Engine,
    module: wasmtime::Module,
    linker: wasmtime::Linker<ShimCtx>,
}

impl Wasmtime {
    fn new(peer: Peer, wasm: &[u8]) -> Result<Wasmtime> {
        let engine = wasmtime::Engine::new(&runtimes::wasmtime_config(peer))?;
        let module = wasmtime::Module::new(&engine, wasm)?;
        let mut linker = wasmtime::Linker::new(&engine);
        wasi_shim::add_to_wasmtime(&mut linker)?;
        Ok(Wasmtime { engine, module, linker })
    }
}

impl CommandRunner for Wasmtime {
    fn run(&mut self, args: &[String]) -> Result<Outcome> {
        let mut store = wasmtime::Store::new(&self.engine, ShimCtx::new(args));
        let instance = self.linker.instantiate(&mut store, &self.module)?;
        let start = instance.get_typed_func::<(), ()>(&mut store, "_start")?;
        let status = match start.call(&mut store, ()) {
            Ok(()) => 0,
            Err(e) => match e.downcast_ref::<ProcExit>() {
                Some(exit) => exit.0,
                None => return Err(e.into()),
            },
        };
        let ctx = store.into_data();
        Ok(Outcome { status, stdout: ctx.stdout, stderr: ctx.stderr })
    }
}

struct Wasmi {
    engine: wasmi::Engine,
    module: wasmi::Module,
    linker: wasmi::Linker<ShimCtx>,
}

impl Wasmi {
    fn new(wasm: &[u8]) -> Result<Wasmi> {
        let engine = wasmi::Engine::default();
        let module = wasmi::Module::new(&engine, wasm)?;
        let mut linker = wasmi::Linker::new(&engine);
        wasi_shim::add_to_wasmi(&mut linker)?;
        Ok(Wasmi { engine, module, linker })
    }
}

impl CommandRunner for Wasmi {
    fn run(&mut self, args: &[String]) -> Result<Outcome> {
        let mut store = wasmi::Store::new(&self.engine, ShimCtx::new(args));
        let instance = self.linker.instantiate_and_start(&mut store, &self.module)?;
        let start = instance.get_typed_func::<(), ()>(&store, "_start")?;
        let status = match start.call(&mut store, ()) {
            Ok(()) => 0,
            Err(e) => match e.i32_exit_status() {
                Some(code) => code,
                None => return Err(e.into()),
            },
        };
        let ctx = store.into_data();
        Ok(Outcome { status, stdout: ctx.stdout, stderr: ctx.stderr })
    }
}
