//! The runtimes compared, each able to instantiate a module and call one of
//! its `(i32) -> i32` exports: onecopy (normal and debug code), Wasmtime
//! (optimizing Cranelift, the Winch baseline, guest debugging) and wasmi.

use std::cell::Cell;
use std::rc::Rc;

use anyhow::{Context, Result};
use clap::ValueEnum;
use serde::Serialize;

use crate::kernels::Kernels;

/// One runtime in one configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Peer {
    /// onecopy, normal code (no guards).
    Onecopy,
    /// onecopy debug code, no breakpoint set.
    OnecopyDebug,
    /// onecopy debug code, a breakpoint set in a function that never runs.
    OnecopyDebugBp,
    /// Wasmtime 48, optimizing Cranelift.
    Wasmtime,
    /// Wasmtime 48, the Winch baseline compiler.
    Winch,
    /// Wasmtime 48, Cranelift with `Config::guest_debug(true)`, no breakpoint.
    WasmtimeDebug,
    /// Wasmtime guest debugging, a breakpoint in a function that never runs.
    WasmtimeDebugBp,
    /// wasmi 2, the interpreter.
    Wasmi,
}

impl Peer {
    /// Its name in reports and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Peer::Onecopy => "onecopy",
            Peer::OnecopyDebug => "onecopy-debug",
            Peer::OnecopyDebugBp => "onecopy-debug-bp",
            Peer::Wasmtime => "wasmtime",
            Peer::Winch => "winch",
            Peer::WasmtimeDebug => "wasmtime-debug",
            Peer::WasmtimeDebugBp => "wasmtime-debug-bp",
            Peer::Wasmi => "wasmi",
        }
    }
}

/// An instance of the kernels module ready to call one export repeatedly.
pub trait Runner {
    /// Call the export with `arg`.
    fn call(&mut self, arg: i32) -> Result<i32>;
}

/// Wasmtime's `Config` for `peer` (a Wasmtime peer).
pub fn wasmtime_config(peer: Peer) -> wasmtime::Config {
    let mut config = wasmtime::Config::new();
    match peer {
        Peer::Winch => {
            config.strategy(wasmtime::Strategy::Winch);
        }
        Peer::WasmtimeDebug | Peer::WasmtimeDebugBp => {
            config.strategy(wasmtime::Strategy::Cranelift).guest_debug(true);
        }
        _ => {
            config.strategy(wasmtime::Strategy::Cranelift);
        }
    }
    config
}

/// onecopy's `Config` for `peer` (an onecopy peer).
pub fn onecopy_config(peer: Peer) -> onecopy_runtime::Config {
    onecopy_runtime::Config::new().debug(matches!(peer, Peer::OnecopyDebug | Peer::OnecopyDebugBp))
}

/// Compile the kernels for `peer`, instantiate them in a store of their
/// own, and get export `export` ready to call.
pub fn prepare(peer: Peer, kernels: &Kernels, export: &str) -> Result<Box<dyn Runner>> {
    Ok(match peer {
        Peer::Onecopy | Peer::OnecopyDebug | Peer::OnecopyDebugBp => Box::new(OnecopyRunner::new(peer, kernels, export)?),
        Peer::Wasmtime | Peer::Winch | Peer::WasmtimeDebug | Peer::WasmtimeDebugBp => Box::new(WasmtimeRunner::new(peer, kernels, export)?),
        Peer::Wasmi => Box::new(WasmiRunner::new(kernels, export)?),
    })
}

struct OnecopyRunner {
    store: onecopy_runtime::Store<()>,
    func: onecopy_runtime::TypedFunc<(i32,), i32>,
    /// Stops made: the breakpoint is never reached, so this stays 0.
    stops: Rc<Cell<u32>>,
}

impl OnecopyRunner {
    fn new(peer: Peer, kernels: &Kernels, export: &str) -> Result<OnecopyRunner> {
        let engine = onecopy_runtime::Engine::new(&onecopy_config(peer))?;
        let module = onecopy_runtime::Module::new(&engine, &kernels.wasm)?;
        let mut store = onecopy_runtime::Store::new(&engine, ());
        let instance = onecopy_runtime::Instance::new(&mut store, &module, &[])?;
        let stops = Rc::new(Cell::new(0));
        if peer == Peer::OnecopyDebugBp {
            let debug = instance.debug(&mut store)?;
            debug.set_breakpoint(kernels.unrelated_func, kernels.unrelated_offset)?;
            let count = stops.clone();
            debug.set_handler(move |_| {
                count.set(count.get() + 1);
                onecopy_runtime::DebugAction::Continue
            });
        }
        let func = instance.get_typed_func::<(i32,), i32>(&store, export)?;
        Ok(OnecopyRunner { store, func, stops })
    }
}

impl Runner for OnecopyRunner {
    fn call(&mut self, arg: i32) -> Result<i32> {
        let result = self.func.call(&mut self.store, (arg,))?;
        anyhow::ensure!(self.stops.get() == 0, "the never-called function's breakpoint was hit");
        Ok(result)
    }
}

struct WasmtimeRunner {
    store: wasmtime::Store<()>,
    func: wasmtime::TypedFunc<i32, i32>,
}

impl WasmtimeRunner {
    fn new(peer: Peer, kernels: &Kernels, export: &str) -> Result<WasmtimeRunner> {
        let engine = wasmtime::Engine::new(&wasmtime_config(peer))?;
        let module = wasmtime::Module::new(&engine, &kernels.wasm)?;
        let mut store = wasmtime::Store::new(&engine, ());
        let instance = wasmtime::Instance::new(&mut store, &module, &[])?;
        if peer == Peer::WasmtimeDebugBp {
            let mut edit = store.edit_breakpoints().context("guest debugging is off")?;
            edit.add_breakpoint(&module, wasmtime::ModulePC::new(kernels.unrelated_offset))?;
        }
        let func = instance.get_typed_func::<i32, i32>(&mut store, export)?;
        Ok(WasmtimeRunner { store, func })
    }
}

impl Runner for WasmtimeRunner {
    fn call(&mut self, arg: i32) -> Result<i32> {
        Ok(self.func.call(&mut self.store, arg)?)
    }
}

struct WasmiRunner {
    store: wasmi::Store<()>,
    func: wasmi::TypedFunc<i32, i32>,
}

impl WasmiRunner {
    fn new(kernels: &Kernels, export: &str) -> Result<WasmiRunner> {
        let engine = wasmi::Engine::default();
        let module = wasmi::Module::new(&engine, &kernels.wasm)?;
        let mut store = wasmi::Store::new(&engine, ());
        let instance = wasmi::Linker::<()>::new(&engine).instantiate_and_start(&mut store, &module)?;
        let func = instance.get_typed_func::<i32, i32>(&store, export)?;
        Ok(WasmiRunner { store, func })
    }
}

impl Runner for WasmiRunner {
    fn call(&mut self, arg: i32) -> Result<i32> {
        Ok(self.func.call(&mut self.store, arg)?)
    }
}
