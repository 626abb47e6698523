//! `onecopy wast`: runs WebAssembly spec test scripts and reports per file.

mod expect;
mod isolate;
mod remote;
mod report;
mod script;
mod threads;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use wast::lexer::Lexer;
use wast::parser::{self, ParseBuffer};
use wast::Wast;

use report::{FileReport, Summary, Verdict};
use script::Script;

/// Host stack for each script's thread: deep-recursion tests must exhaust the
/// wasm stack limit, never the host thread's stack.
const SCRIPT_STACK: usize = 64 << 20;

/// Arguments of `onecopy wast`.
#[derive(Debug, clap::Args)]
pub struct WastArgs {
    /// `.wast` files, or folders searched recursively for them.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Compile with breakpoint guards (debug code).
    #[arg(long)]
    pub debug: bool,
    /// Single-step every instance the scripts create (implies --debug): a
    /// handler that only counts its calls stops at every breakable point,
    /// so the suite checks that stopping never changes a result.
    #[arg(long)]
    pub step: bool,
    /// Legacy clone-and-patch debug code (implies --debug): every instance
    /// gets a breakpoint at the module's first breakable point, so it runs
    /// its own patched clone of the module's code.
    #[arg(long, conflicts_with = "step")]
    pub legacy: bool,
    /// Wasmtime's script convention: a named module (`(module $env ...)`)
    /// is importable under its name (`env`) without `register`.
    #[arg(long)]
    pub wasmtime_compat: bool,
    /// Bounds-check every memory access explicitly instead of relying on
    /// guard pages (`Config::memory_guard(false)`).
    #[arg(long)]
    pub explicit_checks: bool,
    /// Compile with Cranelift's `opt_level` speed instead of none.
    #[arg(long)]
    pub speed: bool,
    /// Print one JSON object instead of the readable summary.
    #[arg(long)]
    pub json: bool,
    /// Run the scripts in this process instead of one child process each
    /// (what each child does; a crash then ends the whole run).
    #[arg(long, hide = true)]
    pub in_process: bool,
}

/// How each script runs: the flags a child process receives again.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Compile with breakpoint guards.
    pub debug: bool,
    /// Step every instance (see [`WastArgs::step`]).
    pub step: bool,
    /// Legacy debug code, one clone per instance (see [`WastArgs::legacy`]).
    pub legacy: bool,
    /// Named modules importable under their names (see [`WastArgs::wasmtime_compat`]).
    pub wasmtime_compat: bool,
    /// Explicit bounds checks (see [`WastArgs::explicit_checks`]).
    pub explicit_checks: bool,
    /// `opt_level` speed (see [`WastArgs::speed`]).
    pub speed: bool,
}

/// Run every script; succeed (exit 0) only if no directive failed.
pub fn main(args: &WastArgs) -> Result<ExitCode> {
    let mut files = Vec::new();
    for path in &args.paths {
        collect(path, &mut files)?;
    }
    files.sort();
    let run_one = if args.in_process { run_on_thread } else { isolate::run };
    let options = Options {
        debug: args.debug || args.step || args.legacy,
        step: args.step,
        legacy: args.legacy,
        wasmtime_compat: args.wasmtime_compat,
        explicit_checks: args.explicit_checks,
        speed: args.speed,
    };
    let reports = files.iter().map(|file| run_one(file, options)).collect();
    let summary = Summary::new(reports);
    if args.json {
        println!("{}", serde_json::to_string(&summary)?);
    } else {
        print!("{}", summary.text());
    }
    Ok(if summary.failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// `path` itself if it is a file, else the `.wast` files below it.
fn collect(path: &Path, files: &mut Vec<PathBuf>) -> Result<()> {
    if !path.is_dir() {
        anyhow::ensure!(path.exists(), "{}: no such file or folder", path.display());
        files.push(path.to_path_buf());
        return Ok(());
    }
    for entry in std::fs::read_dir(path).with_context(|| format!("reading {}", path.display()))? {
        let entry = entry?.path();
        if entry.is_dir() || entry.extension().is_some_and(|e| e == "wast") {
            collect(&entry, files)?;
        }
    }
    Ok(())
}

/// One script on its own big-stack thread, so that neither its recursion nor
/// a panic escaping it can take the other scripts down.
fn run_on_thread(file: &Path, options: Options) -> FileReport {
    let name = file.display().to_string();
    let path = file.to_path_buf();
    let thread = std::thread::Builder::new().name(format!("wast {name}")).stack_size(SCRIPT_STACK).spawn(move || run_file(&path, options));
    let outcome = match thread {
        Ok(handle) => handle.join().map_err(|payload| panic_message(payload.as_ref())),
        Err(e) => Err(format!("cannot start a thread: {e}")),
    };
    outcome.unwrap_or_else(|message| {
        let mut report = FileReport::new(name);
        report.record(0, Err(Verdict::Fail(message)));
        report
    })
}

/// Run the script at `path`; a problem with the file as a whole (unreadable,
/// unparsable) is one failure at line 0.
fn run_file(path: &Path, options: Options) -> FileReport {
    let mut report = FileReport::new(path.display().to_string());
    if let Err(e) = run_directives(path, options, &mut report) {
        report.record(0, Err(Verdict::Fail(format!("{e:#}"))));
    }
    report
}

fn run_directives(path: &Path, options: Options, report: &mut FileReport) -> Result<()> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let located = |mut e: wast::Error| {
        e.set_path(path);
        e.set_text(&text);
        e
    };
    // names.wast deliberately holds bidirectional-override characters.
    let mut lexer = Lexer::new(&text);
    lexer.allow_confusing_unicode(true);
    let buffer = ParseBuffer::new_with_lexer(lexer).map_err(located)?;
    let script = parser::parse::<Wast>(&buffer).map_err(located)?;
    threads::run(&text, script.directives, Script::new(options)?, report);
    Ok(())
}

/// The text a panic carried, if any.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    let text =
        payload.downcast_ref::<&str>().copied().or_else(|| payload.downcast_ref::<String>().map(String::as_str)).unwrap_or("(no message)");
    format!("panicked: {text}")
}
