//! `onecopy`: the command line of the onecopy WebAssembly runtime.
//!
//! - `onecopy` (or `onecopy stress`): the main job: N debugged workers in shared and
//!   legacy mode on a built-in generated module, arena bytes side by side.
//! - `onecopy demo`: one module, one instance per core, shared code.
//! - `onecopy run FILE [ARGS...]`: run a WASI command and exit with its status;
//!   `--invoke NAME` calls one export and prints its results; `--workers N`
//!   runs it on N workers from one copy of the code.
//! - `onecopy wast PATH...`: run WebAssembly spec test scripts.
//! - `onecopy bench guard` / `onecopy bench debug` / `onecopy bench compile` /
//!   `onecopy bench calls` / `onecopy bench isolation`: the breakpoint guard's
//!   cost on four kernels (time and instructions executed); debugger round
//!   trips; what compiling costs in each mode (code bytes per breakable point,
//!   time, peak memory); calls per second from one thread and from two; one
//!   worker's time while another is stopped or stepping in the same function.
//! - `onecopy stress`: many workers debugging one shared module; arena bytes per worker count.
//! - `onecopy debug FILE --workers N [--script FILE|-]`: drive a debug session
//!   over N workers with text commands; one JSON object per line.
//! - `onecopy debug --gdb 127.0.0.1:PORT FILE [--workers N] [-- ARGS...]`:
//!   serve LLDB's wasm plug-in; every worker a thread.
//! - `onecopy fuzz --seconds N [--seed S] [--json]`: differential fuzzing
//!   against wasmi; failing modules saved to a folder.
//! - `onecopy disas FILE --func N [--debug|--legacy]`: one function's machine
//!   code, breakable points and guards marked.
//!
//! Logging goes to stderr, filtered by `RUST_LOG` (default: warnings).

mod bench;
mod bench_calls;
mod bench_compile;
mod bench_debug;
mod bench_guard;
mod bench_isolation;
mod check_inputs;
mod child_process;
mod debug_cli;
mod debug_gdb;
mod demo;
mod disas;
mod fuzz;
mod progress;
mod run;
mod spectest;
mod stress;
mod thread_cpu;
mod values;
mod wast;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// The command line.
#[derive(Debug, Parser)]
#[command(name = "onecopy", version, about = "onecopy: one copy of JIT code for every worker")]
struct Cli {
    /// What to do; without one, `stress` runs on its built-in default.
    #[command(subcommand)]
    command: Option<Command>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
enum Command {
    /// One module compiled once, one instance per thread.
    Demo(demo::DemoArgs),
    /// Run a WASI command (`_start`) and exit with its status, or call one
    /// export; on one thread or on N workers sharing one copy of the code.
    Run(run::RunArgs),
    /// Run WebAssembly spec test scripts (.wast).
    Wast(wast::WastArgs),
    /// Benchmarks (ratios measured side by side in one run).
    Bench(bench::BenchArgs),
    /// Many workers debugging one module at once: code arena bytes and
    /// breakpoint events per worker count.
    Stress(stress::StressArgs),
    /// Print one function's machine code as compiled, breakable points marked.
    Disas(disas::DisasArgs),
    /// Debug a module on N workers with text commands (one per line, from
    /// a script or stdin), answering one JSON object per line.
    Debug(debug_cli::DebugArgs),
    /// Differential fuzzing: generated modules in onecopy's four modes and
    /// in wasmi, results, traps, globals and memories compared.
    Fuzz(fuzz::FuzzArgs),
    /// Compile and instantiate module files in normal and debug mode and
    /// report how each ended (the hostile-input test's child).
    #[command(hide = true)]
    CheckInputs(check_inputs::CheckInputsArgs),
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .init();
    // Without a subcommand, the main job: `onecopy stress` on its built-in default.
    let command = Cli::parse().command.unwrap_or_else(|| Cli::parse_from(["onecopy", "stress"]).command.expect("`onecopy stress` parses"));
    let outcome = match command {
        Command::Demo(args) => demo::main(&args).map(|()| ExitCode::SUCCESS),
        Command::Run(args) => run::main(&args),
        Command::Wast(args) => wast::main(&args),
        Command::Stress(args) => stress::main(&args),
        Command::Debug(args) => debug_cli::main(&args),
        Command::Fuzz(args) => fuzz::main(&args),
        Command::CheckInputs(args) => check_inputs::main(&args).map(|()| ExitCode::SUCCESS),
        Command::Disas(args) => disas::main(&args).map(|()| ExitCode::SUCCESS),
        Command::Bench(args) => match &args.what {
            bench::BenchWhat::Guard(guard) => bench_guard::main(guard).map(|()| ExitCode::SUCCESS),
            bench::BenchWhat::GuardOne(one) => bench_guard::child(one).map(|()| ExitCode::SUCCESS),
            bench::BenchWhat::Debug(debug) => bench_debug::main(debug).map(|()| ExitCode::SUCCESS),
            bench::BenchWhat::Isolation(isolation) => bench_isolation::main(isolation).map(|()| ExitCode::SUCCESS),
            bench::BenchWhat::Compile(compile) => bench_compile::main(compile),
            bench::BenchWhat::Calls(calls) => bench_calls::main(calls).map(|()| ExitCode::SUCCESS),
            bench::BenchWhat::CompileOne(one) => bench_compile::child(one),
        },
    };
    outcome.unwrap_or_else(|e| {
        eprintln!("error: {}", describe(&e));
        ExitCode::FAILURE
    })
}

/// An error and its causes on one line, `: `-separated, leaving out a cause
/// whose text its parent already shows (errors that both print and chain
/// their source would otherwise read twice).
fn describe(error: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in error.chain() {
        let part = cause.to_string();
        if text.contains(&part) {
            continue;
        }
        if !text.is_empty() {
            text += ": ";
        }
        text += &part;
    }
    text
}
