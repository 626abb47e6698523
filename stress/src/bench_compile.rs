//! `onecopy bench compile`: what compiling a module costs in each mode
//! (normal, debug, legacy): code bytes, bytes per breakable point, compile
//! time, throughput and peak memory.
//!
//! Each mode compiles in a child process of its own (the hidden
//! `onecopy bench compile-one`), because a process's peak RSS never goes
//! down: measured in one process, every mode after the largest would report
//! the largest mode's peak. The child prints one JSON object; the parent
//! only starts children, collects and compares.

use std::process::{Command, ExitCode, Stdio};

use anyhow::Result;
use clap::{Args, ValueEnum};
use indicatif::ProgressBar;
use serde::{Deserialize, Serialize};

use crate::child_process;

mod child;
mod one_function;
mod settings;
mod source;

use child::Measured;
pub use child::{child, peak_rss, CompileOneArgs};
use settings::Settings;
use source::SourceArgs;

/// How a module is compiled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// No breakpoint guards.
    Normal,
    /// onecopy's debug code: a guard at every breakable point.
    Debug,
    /// Legacy clone-and-patch debug code: a patchable call at every breakable point.
    Legacy,
}

impl Mode {
    /// The name on the command line and in reports.
    fn name(self) -> &'static str {
        match self {
            Mode::Normal => "normal",
            Mode::Debug => "debug",
            Mode::Legacy => "legacy",
        }
    }
}

/// `--mode` values of `onecopy bench compile`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ModeArg {
    /// Normal code only.
    Normal,
    /// Guarded debug code only.
    Debug,
    /// Legacy debug code only.
    Legacy,
    /// Normal, debug and legacy, in that order (ratios need normal).
    All,
}

/// Options of `onecopy bench compile`.
#[derive(Debug, Args)]
pub struct CompileArgs {
    /// The module.
    #[command(flatten)]
    pub source: SourceArgs,
    /// Which modes to measure.
    #[arg(long, value_enum, default_value = "all")]
    pub mode: ModeArg,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Threads compiling functions in each child (RAYON_NUM_THREADS);
    /// default: all cores. `--threads 1` measures one core's throughput.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub threads: Option<u32>,
    /// Bounds checks, breakable points, optimization level.
    #[command(flatten)]
    pub settings: Settings,
}

/// One mode's line of the report.
#[derive(Debug, Serialize)]
struct ModeRow {
    mode: Mode,
    #[serde(flatten)]
    measured: Option<Measured>,
    /// Wasm megabytes (10^6 bytes) compiled per second.
    #[serde(skip_serializing_if = "Option::is_none")]
    mb_per_s: Option<f64>,
    /// (code bytes - normal code bytes) / sites: all debug code costs per breakable point.
    #[serde(skip_serializing_if = "Option::is_none")]
    bytes_per_site: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    guard_bytes_per_site: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// The whole report.
#[derive(Debug, Serialize)]
struct Report {
    module: String,
    wasm_bytes: usize,
    /// Threads compiling functions in each child.
    threads: u32,
    modes: Vec<ModeRow>,
    #[serde(skip_serializing_if = "Option::is_none")]
    debug_size_ratio: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    debug_compile_ratio: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    debug_memory_ratio: Option<f64>,
    command: String,
}

/// Measure each mode in a child and report; fails (exit code 1) if any mode failed.
pub fn main(args: &CompileArgs) -> Result<ExitCode> {
    let (name, wasm_bytes) = (args.source.name(), args.source.wasm()?.len());
    let threads = args.threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get() as u32));
    let modes = match args.mode {
        ModeArg::Normal => vec![Mode::Normal],
        ModeArg::Debug => vec![Mode::Debug],
        ModeArg::Legacy => vec![Mode::Legacy],
        ModeArg::All => vec![Mode::Normal, Mode::Debug, Mode::Legacy],
    };
    let progress = crate::progress::bar(modes.len() as u64, "modes");
    let mut measured = Vec::new();
    for &mode in &modes {
        progress.set_message(format!("{}: compiling in a child process", mode.name()));
        let result = run_child(args, mode, threads, &progress);
        if let Err(e) = &result {
            tracing::info!(mode = mode.name(), error = %e, "compile failed");
        }
        measured.push((mode, result));
        progress.inc(1);
    }
    progress.finish_and_clear();

    let report = report(args, name, wasm_bytes, threads, measured);
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print_table(&report);
    }
    let failed = report.modes.iter().any(|m| m.error.is_some());
    Ok(if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

/// Run `onecopy bench compile-one` for `mode`; its report, or why there is none.
fn run_child(args: &CompileArgs, mode: Mode, threads: u32, progress: &ProgressBar) -> Result<Measured, String> {
    let mut command = Command::new(child_process::this_exe()?);
    command.args(["bench", "compile-one", "--mode", mode.name()]).args(args.source.to_args()).args(args.settings.to_args());
    // Always set, so an inherited RAYON_NUM_THREADS cannot make the report lie.
    command.env("RAYON_NUM_THREADS", threads.to_string()).stdin(Stdio::null());
    tracing::info!(mode = mode.name(), threads, "starting a child: {command:?}");
    let output = child_process::output(&mut command)?;
    // The child's logs, if any, are the user's (RUST_LOG reaches it too).
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !stderr.is_empty() {
        progress.suspend(|| eprint!("{stderr}"));
    }
    serde_json::from_slice(&output.stdout).map_err(|e| format!("the child's report is unreadable: {e}"))
}

/// The report: per-mode rows, and what needs normal measured alongside.
fn report(args: &CompileArgs, module: String, wasm_bytes: usize, threads: u32, measured: Vec<(Mode, Result<Measured, String>)>) -> Report {
    let of = |mode: Mode| measured.iter().find(|(m, _)| *m == mode).and_then(|(_, r)| r.as_ref().ok());
    let (normal, debug) = (of(Mode::Normal), of(Mode::Debug));
    let ratio = |f: fn(&Measured) -> f64| Some(f(debug?) / f(normal?));
    let (size, compile, memory) = (ratio(|m| m.code_bytes as f64), ratio(|m| m.compile_ms), ratio(|m| m.peak_rss_bytes as f64));
    let normal_bytes = normal.map(|n| n.code_bytes as f64);
    let modes = measured.into_iter().map(|(mode, result)| row(mode, result, wasm_bytes, normal_bytes)).collect();
    let mut command = String::from("cargo run --release --bin onecopy -- bench compile");
    let mode = args.mode.to_possible_value().expect("no skipped values");
    command += &format!(" --mode {}", mode.get_name());
    for arg in args.source.to_args() {
        command += &format!(" {}", arg.to_string_lossy());
    }
    if let Some(n) = args.threads {
        command += &format!(" --threads {n}");
    }
    for flag in args.settings.to_args() {
        command += &format!(" {}", flag.to_string_lossy());
    }
    if args.json {
        command += " --json";
    }
    Report { module, wasm_bytes, threads, modes, debug_size_ratio: size, debug_compile_ratio: compile, debug_memory_ratio: memory, command }
}

/// One mode's row; `normal_bytes` is normal code's size, if measured.
fn row(mode: Mode, result: Result<Measured, String>, wasm_bytes: usize, normal_bytes: Option<f64>) -> ModeRow {
    match result {
        Ok(m) => {
            let sites = (m.sites > 0).then_some(m.sites as f64);
            ModeRow {
                mode,
                mb_per_s: Some(wasm_bytes as f64 / 1e6 / (m.compile_ms / 1e3)),
                bytes_per_site: normal_bytes.zip(sites).map(|(n, s)| (m.code_bytes as f64 - n) / s),
                guard_bytes_per_site: m.guard_bytes.zip(sites).map(|(g, s)| g as f64 / s),
                measured: Some(m),
                error: None,
            }
        }
        Err(e) => ModeRow { mode, measured: None, mb_per_s: None, bytes_per_site: None, guard_bytes_per_site: None, error: Some(e) },
    }
}

fn print_table(r: &Report) {
    let mb = |bytes: u64| bytes as f64 / 1e6;
    let opt = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| format!("{v:.1}"));
    println!("module: {}, {:.2} MB of wasm, compiled on {} thread(s)", r.module, mb(r.wasm_bytes as u64), r.threads);
    println!(
        "{:<7} {:>11} {:>9} {:>8} {:>7} {:>8} {:>11} {:>7} {:>9} {:>9}",
        "mode", "code bytes", "functions", "sites", "B/site", "guard B", "compile ms", "MB/s", "peak MB", "base MB"
    );
    for row in &r.modes {
        let Some(m) = &row.measured else {
            println!("{:<7} error: {}", row.mode.name(), row.error.as_deref().unwrap_or("unknown"));
            continue;
        };
        println!(
            "{:<7} {:>11} {:>9} {:>8} {:>7} {:>8} {:>11.0} {:>7.2} {:>9.1} {:>9.1}",
            row.mode.name(),
            m.code_bytes,
            m.functions,
            m.sites,
            opt(row.bytes_per_site),
            opt(row.guard_bytes_per_site),
            m.compile_ms,
            row.mb_per_s.unwrap_or(0.0),
            mb(m.peak_rss_bytes),
            mb(m.base_rss_bytes),
        );
    }
    if let (Some(size), Some(compile), Some(memory)) = (r.debug_size_ratio, r.debug_compile_ratio, r.debug_memory_ratio) {
        println!("debug / normal: code size {size:.2}x, compile time {compile:.2}x, peak memory {memory:.2}x");
    }
    println!("B/site: (code bytes - normal code bytes) / sites; guard B: guard hot-path bytes / sites; MB = 10^6 bytes");
    println!("reproduce: {}", r.command);
}
