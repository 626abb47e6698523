//! `onecopy check-inputs FILE...` (hidden): compile each file as normal and
//! as debug code and instantiate it against `spectest`, and say in one JSON
//! object how each ended, the slowest input and this process's peak
//! memory. The hostile-input test runs it as a child on batches of mutated
//! modules, so that a crash, a hang or runaway memory is the child's alone.

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;
use onecopy_runtime::{Config, Engine, Error, Linker, Module, Store, TrapKind};
use serde::Serialize;

/// Arguments of `onecopy check-inputs`.
#[derive(Debug, clap::Args)]
pub struct CheckInputsArgs {
    /// Module binaries to try.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

/// What the child reports.
#[derive(Debug, Serialize)]
struct InputsReport {
    /// Files tried (each in both modes).
    inputs: usize,
    /// How many compiles and instantiations ended each way: `instantiated`,
    /// `compile error`, `link error`, `trap`, `resource`, `arena full`.
    outcomes: BTreeMap<&'static str, usize>,
    /// Inputs that did not end in a clear error or trap: a panic, an error
    /// with no message, a trap that is a fault no trap site explains.
    unclear: Vec<String>,
    /// The slowest input (both modes together) and its milliseconds.
    worst_file: String,
    worst_ms: f64,
    /// Peak resident memory of this process (`ru_maxrss`).
    peak_rss_bytes: u64,
}

/// Try every file; print the report.
pub fn main(args: &CheckInputsArgs) -> Result<()> {
    let engines = [Engine::new(&Config::new())?, Engine::new(&Config::new().debug(true))?];
    let mut report = InputsReport {
        inputs: 0,
        outcomes: BTreeMap::new(),
        unclear: Vec::new(),
        worst_file: String::new(),
        worst_ms: 0.0,
        peak_rss_bytes: 0,
    };
    for file in &args.files {
        // Named on stderr first, so that a crash says which input it was.
        eprintln!("input {}", file.display());
        let wasm = std::fs::read(file)?;
        let start = Instant::now();
        for engine in &engines {
            let outcome = catch_unwind(AssertUnwindSafe(|| try_one(engine, &wasm)));
            match outcome {
                Ok(Ok(())) => *report.outcomes.entry("instantiated").or_default() += 1,
                Ok(Err(e)) => match classify(&e) {
                    Some(class) => *report.outcomes.entry(class).or_default() += 1,
                    None => report.unclear.push(format!("{}: {e:?}", file.display())),
                },
                Err(_) => report.unclear.push(format!("{}: panicked", file.display())),
            }
        }
        let ms = start.elapsed().as_secs_f64() * 1e3;
        if ms > report.worst_ms {
            report.worst_ms = ms;
            report.worst_file = file.display().to_string();
        }
        report.inputs += 1;
    }
    report.peak_rss_bytes = crate::bench_compile::peak_rss();
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}

/// Compile `wasm` and instantiate it in a fresh store with `spectest` linked.
fn try_one(engine: &Engine, wasm: &[u8]) -> Result<(), Error> {
    let module = Module::new(engine, wasm)?;
    let mut store = Store::new(engine, ());
    let mut linker = Linker::new(engine);
    crate::spectest::define(&mut store, &mut linker)?;
    linker.instantiate(&mut store, &module).map(drop)
}

/// A clear error's class; `None` for one that is not clear.
fn classify(e: &Error) -> Option<&'static str> {
    if e.to_string().trim().is_empty() {
        return None;
    }
    Some(match e {
        Error::Compile(_) => "compile error",
        Error::Link(_) | Error::NotFound(_) | Error::Type(_) => "link error",
        Error::Trap(trap) if trap.kind == TrapKind::Fault => return None,
        Error::Trap(_) => "trap",
        Error::Resource(_) | Error::LimitExceeded(_) => "resource",
        Error::CodeArenaExhausted(_) => "arena full",
        Error::WrongStore(_) | Error::Host(_) => return None,
    })
}
