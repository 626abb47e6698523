//! The child side of `onecopy bench compile`: one mode compiled in this
//! process, which then reports its own peak memory.

use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;
use onecopy_runtime::{Config, Engine, Module};
use serde::{Deserialize, Serialize};

use super::{Mode, Settings, SourceArgs};

/// Options of the hidden `onecopy bench compile-one`: one mode, measured
/// in this process; `bench compile` runs it in a child per mode.
#[derive(Debug, Args)]
pub struct CompileOneArgs {
    /// The mode.
    #[arg(long, value_enum)]
    pub mode: Mode,
    /// The module.
    #[command(flatten)]
    pub source: SourceArgs,
    /// Bounds checks, breakable points, optimization level.
    #[command(flatten)]
    pub settings: Settings,
}

/// What a child measures, as it prints it.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Measured {
    /// The module's machine code (`Module::code_size`).
    pub code_bytes: usize,
    /// Defined functions (imports have no code).
    pub functions: usize,
    /// Breakable points.
    pub sites: usize,
    /// Wall time of `Module::new`.
    pub compile_ms: f64,
    /// Peak RSS of the whole child (`ru_maxrss`).
    pub peak_rss_bytes: u64,
    /// RSS with the wasm loaded and the engine made, before compiling.
    pub base_rss_bytes: u64,
    /// All guards' hot paths (guarded debug code only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub guard_bytes: Option<u64>,
}

/// Compile in one mode here and print what it cost as one JSON object.
pub fn child(args: &CompileOneArgs) -> Result<ExitCode> {
    let wasm = args.source.wasm()?;
    let config = args.settings.apply(Config::new().debug(args.mode != Mode::Normal).legacy(args.mode == Mode::Legacy));
    let engine = Engine::new(&config)?;
    let base_rss_bytes = current_rss()?;
    let start = Instant::now();
    let module = Module::new(&engine, &wasm).context("cannot compile the module")?;
    let compile_ms = start.elapsed().as_secs_f64() * 1e3;
    let compiled = module.compiled();
    let measured = Measured {
        code_bytes: module.code_size(),
        functions: compiled.func_offsets.len(),
        sites: module.sites().len(),
        compile_ms,
        peak_rss_bytes: peak_rss(),
        base_rss_bytes,
        guard_bytes: compiled.debug_code.as_ref().map(|d| d.guard_bytes),
    };
    println!("{}", serde_json::to_string(&measured)?);
    Ok(ExitCode::SUCCESS)
}

/// This process's resident memory now, in bytes (Linux: `VmRSS` of `/proc/self/status`).
fn current_rss() -> Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status").context("cannot read /proc/self/status")?;
    let kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().strip_suffix("kB"))
        .and_then(|v| v.trim().parse::<u64>().ok())
        .context("no VmRSS in /proc/self/status")?;
    Ok(kib * 1024)
}

/// This process's peak resident memory so far, in bytes.
pub fn peak_rss() -> u64 {
    // SAFETY: getrusage only writes the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    // Linux reports KiB.
    usage.ru_maxrss.max(0) as u64 * 1024
}
