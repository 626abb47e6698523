//! `onecopy bench ...`: which benchmark to run (each lives in a module of
//! its own).

use clap::{Args, Subcommand};

/// `onecopy bench ...`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Which benchmark.
    #[command(subcommand)]
    pub what: BenchWhat,
}

/// The benchmarks.
#[derive(Debug, Subcommand)]
pub enum BenchWhat {
    /// What the breakpoint guard costs: four kernels in normal and debug
    /// code, timed side by side, and instructions executed (callgrind).
    Guard(crate::bench_guard::GuardArgs),
    /// One kernel called once in this process (`bench guard` runs it under
    /// callgrind to count instructions).
    #[command(hide = true)]
    GuardOne(crate::bench_guard::GuardOneArgs),
    /// Debugger round trips: breakpoint hit -> event at the coordinator -> resume.
    Debug(crate::bench_debug::DebugBenchArgs),
    /// Isolation: one worker's time while another on the same module is
    /// idle, stopped at a breakpoint in the same function, or stepping.
    Isolation(crate::bench_isolation::IsolationArgs),
    /// What compiling a module costs in each mode: code bytes per breakable
    /// point, compile time, peak memory (one child process per mode).
    Compile(crate::bench_compile::CompileArgs),
    /// Calls per second of a trivial export from one thread and from two.
    Calls(crate::bench_calls::CallsArgs),
    /// One mode of `bench compile`, measured in this process (its children run this).
    #[command(hide = true)]
    CompileOne(crate::bench_compile::CompileOneArgs),
}
