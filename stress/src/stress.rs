//! `onecopy stress`: many workers debugging one module at once, and what the
//! code arena holds meanwhile, in onecopy's design and in the old one.
//!
//! For each worker count N, N threads each instantiate the module, set one
//! breakpoint in their own instance and hit it once, and the engine's code
//! arena is measured while all N instances are alive:
//!
//! - `shared`: onecopy's debug code (`Config::new().debug(true)`), compiled
//!   once; breakpoints are bits in each instance's own debug table, so the
//!   arena holds one copy of the code however many workers debug.
//! - `legacy`: clone-and-patch debug code (`.legacy(true)`): setting a
//!   breakpoint gives the instance its own clone of the module's code, so
//!   the arena grows by one copy per debugged worker until it is exhausted
//!   (`Error::CodeArenaExhausted` from `set_breakpoint`).
//!
//! Each mode has its own `Engine` (its own arena) with the same cap; the
//! module is compiled once per mode and every row reuses it (each row's
//! instances, and so their clones, are gone before the next row starts).
//!
//! The workload is the built-in generated module (see `generate`), or any
//! module given with `--module`: then every worker breaks at the entry of
//! the module's first exported function that it defines and that takes no
//! parameters, calls it once, and aborts the call at the breakpoint (stub
//! imports trap, and a foreign export may run for ever: the breakpoint
//! event is what is measured). With no such export, workers break at the
//! entry of the first defined function and call nothing (0 events). A
//! WASI command (`_start`, preview1 imports only) runs to its end instead:
//! every worker breaks at the entry of `_start`, continues, and runs the
//! program with WASI of its own (its output discarded).

pub(crate) mod generate;
mod imports;
mod plot;
mod report;
mod setup;
mod workers;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use serde::Serialize;

use report::{ModuleReport, Report, Row};

/// How workers get their code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// One compiled module, shared by every worker, debugged or not.
    Shared,
    /// One copy of the code per debugged worker (clone and patch).
    Legacy,
}

impl Mode {
    /// The name on the command line and in reports.
    fn name(self) -> &'static str {
        match self {
            Mode::Shared => "shared",
            Mode::Legacy => "legacy",
        }
    }
}

/// `--mode` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ModeArg {
    /// onecopy's shared debug code.
    Shared,
    /// Clone-and-patch debug code, one clone per debugged worker.
    Legacy,
    /// Both, shared first.
    Both,
}

/// Arguments of `onecopy stress`.
#[derive(Debug, clap::Args)]
pub struct StressArgs {
    /// A module to stress instead of the built-in one (.wasm or .wat). Every
    /// worker breaks at the entry of its first exported function without
    /// parameters, calls it and aborts the call there; with no such export,
    /// it breaks in the first defined function and calls nothing.
    #[arg(long, value_name = "FILE")]
    pub module: Option<PathBuf>,
    /// With --module: satisfy imports with functions that trap when called
    /// and fresh memories, tables and globals of the declared types.
    #[arg(long, requires = "module")]
    pub stub_imports: bool,
    /// Worker counts, one row each per mode (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "1,2,4,8,16,32,64,128,256")]
    pub workers: Vec<usize>,
    /// How workers get their code.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "both")]
    pub mode: Vec<ModeArg>,
    /// Code arena cap of each mode's engine, in bytes (suffixes K, M, G).
    #[arg(long, value_name = "BYTES", default_value = "2G", value_parser = parse_bytes)]
    pub arena_cap: usize,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Draw arena bytes against workers, both modes and the cap, into an SVG file.
    #[arg(long, value_name = "FILE.svg")]
    pub plot: Option<PathBuf>,
    /// Functions in the built-in module (scale it down for quick runs).
    #[arg(long, hide = true, default_value_t = generate::DEFAULT_FUNCS)]
    pub funcs: u32,
}

/// `2147483648`, `2G`, `512M`, `64K`, `8MiB`.
fn parse_bytes(text: &str) -> Result<usize, String> {
    let t = text.trim();
    let t = t.strip_suffix("iB").or_else(|| t.strip_suffix('B')).unwrap_or(t);
    let (digits, shift) = match t.chars().last().map(|c| c.to_ascii_uppercase()) {
        Some('K') => (&t[..t.len() - 1], 10),
        Some('M') => (&t[..t.len() - 1], 20),
        Some('G') => (&t[..t.len() - 1], 30),
        Some('T') => (&t[..t.len() - 1], 40),
        _ => (t, 0),
    };
    let n: usize = digits.trim().parse().map_err(|_| format!("not a byte count: {text:?} (try 2G, 512M or 8388608)"))?;
    n.checked_mul(1 << shift).filter(|&n| n > 0).ok_or_else(|| format!("byte count out of range: {text:?}"))
}

/// Run every (mode, workers) row and report them. Fails (exit code 1) if a
/// compile failed or a row failed for any reason other than legacy mode
/// running out of code arena, which is what it is expected to do.
pub fn main(args: &StressArgs) -> Result<ExitCode> {
    anyhow::ensure!(args.workers.iter().all(|&w| w > 0), "--workers: every count must be at least 1");
    let mut modes: Vec<Mode> = Vec::new();
    for m in &args.mode {
        let add: &[Mode] = match m {
            ModeArg::Shared => &[Mode::Shared],
            ModeArg::Legacy => &[Mode::Legacy],
            ModeArg::Both => &[Mode::Shared, Mode::Legacy],
        };
        for &mode in add {
            if !modes.contains(&mode) {
                modes.push(mode);
            }
        }
    }
    let mut piece = setup::load(args)?;
    let progress = crate::progress::bar((modes.len() * args.workers.len()) as u64, "rows");

    let page = setup::page_size();
    let mut compiles = Vec::new();
    let mut rows = Vec::new();
    let mut break_in = None;
    for &mode in &modes {
        progress.set_message(format!("{}: compiling", mode.name()));
        let (compile, module) = setup::compile(mode, &piece.wasm, args.arena_cap, page);
        compiles.push(compile);
        let Some((engine, module)) = module else {
            let error = format!("compile: {}", compiles.last().and_then(|c| c.error.clone()).unwrap_or_default());
            for &n in &args.workers {
                rows.push(Row::failed(mode, n, error.clone()));
                progress.inc(1);
            }
            continue;
        };
        piece.functions = Some(module.info().funcs.len());
        if piece.workload.is_none() {
            let (workload, description) = setup::workload(args, &module)?;
            piece.workload = Some(workload);
            break_in = description;
        }
        let workload = piece.workload.as_ref().expect("set above");
        if let workers::Workload::Command { .. } = workload {
            // WASI defines functions of signatures the module may not use:
            // their stubs go in the arena once per engine, before the
            // baseline every row is compared with.
            crate::run::linker(module.engine(), &module)?;
        }
        let baseline = module.engine().code_memory().used;
        for &n in &args.workers {
            progress.set_message(format!("{}: {n} workers", mode.name()));
            rows.push(match workers::measure(&module, workload, n) {
                Ok(measured) => Row::measured(mode, &module, n, measured, baseline),
                Err(e) => Row::failed(mode, n, e),
            });
            progress.inc(1);
        }
        // Every instance is gone: so must the module be once dropped.
        drop(module);
        compiles.last_mut().expect("pushed above").module_freed = Some(engine.code_memory().modules == 0);
    }
    progress.finish_and_clear();

    let first = compiles.iter().find(|c| c.mode == Mode::Shared && c.error.is_none()).or(compiles.first());
    let report = Report {
        module: ModuleReport {
            name: piece.name.clone(),
            wasm_bytes: piece.wasm.len(),
            functions: piece.functions,
            code_bytes_per_copy: first.and_then(|c| c.code_bytes_per_copy),
            compile_ms: first.and_then(|c| c.compile_ms),
            break_in,
            page_bytes: page,
            compiles,
        },
        rows,
    };
    if let Some(path) = &args.plot {
        plot::write(path, &report)?;
    }
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        report::print_table(&report);
    }
    let failed = report.module.compiles.iter().any(|c| c.error.is_some())
        || report.rows.iter().any(|r| r.error.is_some() && !(r.mode == Mode::Legacy && r.exhausted));
    Ok(if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

#[cfg(test)]
mod tests {
    use super::parse_bytes;

    #[test]
    fn byte_counts_take_suffixes() {
        assert_eq!(parse_bytes("2G"), Ok(2 << 30));
        assert_eq!(parse_bytes("512M"), Ok(512 << 20));
        assert_eq!(parse_bytes("8MiB"), Ok(8 << 20));
        assert_eq!(parse_bytes("64k"), Ok(64 << 10));
        assert_eq!(parse_bytes("4096"), Ok(4096));
        assert!(parse_bytes("lots").is_err() && parse_bytes("0").is_err());
    }
}
