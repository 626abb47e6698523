//! Compile throughput on a large module: onecopy against Wasmtime's
//! Cranelift, normal code against normal code and onecopy's debug code
//! against Wasmtime's guest-debug code, on one thread and on all cores.

use anyhow::Result;
use indicatif::ProgressBar;

use crate::report::{Better, Row};
use crate::runtimes::{self, Peer};
use crate::timing;

/// One compiler setup: whose, which code, how many threads.
#[derive(Debug, Clone, Copy)]
struct Setup {
    onecopy: bool,
    debug: bool,
    parallel: bool,
}

impl Setup {
    fn name(self) -> String {
        let who = match (self.onecopy, self.debug) {
            (true, false) => Peer::Onecopy.name(),
            (true, true) => Peer::OnecopyDebug.name(),
            (false, false) => Peer::Wasmtime.name(),
            (false, true) => Peer::WasmtimeDebug.name(),
        };
        format!("{who}{}", if self.parallel { "" } else { " 1 thread" })
    }
}

/// Every setup, onecopy and Wasmtime interleaved.
fn setups() -> Vec<Setup> {
    let mut all = Vec::new();
    for debug in [false, true] {
        for parallel in [true, false] {
            for onecopy in [true, false] {
                all.push(Setup { onecopy, debug, parallel });
            }
        }
    }
    all
}

/// Compiles timed: `rounds` per setup.
pub fn runs(rounds: u32) -> u64 {
    u64::from(rounds) * setups().len() as u64
}

/// A compiler for one setup, its engine made once.
enum Compiler {
    Onecopy(onecopy_runtime::Engine),
    Wasmtime(wasmtime::Engine),
}

impl Compiler {
    fn new(setup: Setup) -> Result<Compiler> {
        Ok(if setup.onecopy {
            let peer = if setup.debug { Peer::OnecopyDebug } else { Peer::Onecopy };
            Compiler::Onecopy(onecopy_runtime::Engine::new(&runtimes::onecopy_config(peer).parallel_compilation(setup.parallel))?)
        } else {
            let peer = if setup.debug { Peer::WasmtimeDebug } else { Peer::Wasmtime };
            let mut config = runtimes::wasmtime_config(peer);
            config.parallel_compilation(setup.parallel);
            Compiler::Wasmtime(wasmtime::Engine::new(&config)?)
        })
    }

    /// Compile `wasm`, returning the machine code's size (and dropping the module).
    fn compile(&self, wasm: &[u8]) -> Result<usize> {
        Ok(match self {
            Compiler::Onecopy(engine) => onecopy_runtime::Module::new(engine, wasm)?.code_size(),
            Compiler::Wasmtime(engine) => wasmtime::Module::new(engine, wasm)?.text().len(),
        })
    }
}

/// Compile `wasm` (named `name`) in every setup, alternating, and compare
/// MB/s of wasm compiled per second of wall time.
pub fn measure(wasm: &[u8], name: &str, rounds: u32, command: &str, progress: &ProgressBar) -> Result<Vec<Row>> {
    let setups = setups();
    let compilers = setups.iter().map(|&s| Compiler::new(s)).collect::<Result<Vec<_>>>()?;
    progress.set_message(format!("compiling {name} ({:.2} MB)", wasm.len() as f64 / 1e6));
    let mut code_bytes = vec![0usize; setups.len()];
    // Each setup compiles the same module, so the value checked equal
    // across setups is the wasm size (code sizes differ by design).
    let medians = timing::alternate(setups.len(), rounds, progress, |i, _| {
        code_bytes[i] = compilers[i].compile(wasm)?;
        Ok(wasm.len())
    })?;
    let mbps = |i: usize| wasm.len() as f64 / 1e6 / medians[i].as_secs_f64();
    let mut rows = Vec::new();
    for (i, ours) in setups.iter().enumerate().filter(|(_, s)| s.onecopy) {
        let j = setups.iter().position(|t| !t.onecopy && t.debug == ours.debug && t.parallel == ours.parallel).unwrap();
        let mode = if ours.debug { "debug" } else { "normal" };
        let threads = if ours.parallel { "all cores" } else { "1 thread" };
        rows.push(Row::new(
            "compile",
            format!("{name} {mode}, {threads}"),
            &ours.name(),
            &setups[j].name(),
            "MB/s",
            mbps(i),
            mbps(j),
            Better::Higher,
            command.to_string(),
        ));
        rows.push(Row::new(
            "code-size",
            format!("{name} {mode}"),
            &ours.name(),
            &setups[j].name(),
            "bytes",
            code_bytes[i] as f64,
            code_bytes[j] as f64,
            Better::Lower,
            command.to_string(),
        ));
    }
    // Code size does not depend on the thread count: keep one row per mode.
    rows.retain({
        let mut seen = std::collections::HashSet::new();
        move |r: &Row| r.section != "code-size" || seen.insert(r.item.clone())
    });
    Ok(rows)
}
