//! `onecopy bench guard`: what the breakpoint guard costs, on four kernels
//! (`kernels.wat`: fib, an integer loop, a checksum over 16 MiB of memory,
//! `call_indirect` through a table), each measured in one run:
//!
//! - time, side by side, in (a) normal code, (b) debug code with no
//!   breakpoint, (c) debug code with a breakpoint in an unrelated function,
//!   (d) debug code with a never-hit breakpoint in the running function
//!   (`timing`), and (e) normal code with explicit bounds checks instead of
//!   guard pages, which (a) uses when the engine has them;
//! - instructions executed by (b), (c) and (d) over (a), and by (a) over (e), under
//!   callgrind (`instructions`, one child process per run, `child`), when
//!   valgrind is installed;
//! - debug code's bytes per breakable point on the kernels' module.

mod child;
mod instructions;
mod kernels;
mod report;
mod timing;

use std::fmt;

use anyhow::{Context, Result};
use clap::Args;
use onecopy_runtime::{Config, Engine, Module};

pub use child::{main as child, GuardOneArgs};
use kernels::{Kernel, Kernels};
use report::{CodeBytes, KernelRow, Report};

/// Two kernel arguments N1 < N2, written `N1,N2`: the instruction counts'
/// difference between them is the kernel's own work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArgPair(pub i32, pub i32);

impl fmt::Display for ArgPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{},{}", self.0, self.1)
    }
}

fn arg_pair(text: &str) -> Result<ArgPair, String> {
    let (a, b) = text.split_once(',').ok_or("expected N1,N2")?;
    let parse = |s: &str| s.trim().parse::<i32>().map_err(|e| format!("{s:?}: {e}"));
    let (n1, n2) = (parse(a)?, parse(b)?);
    if !(1 <= n1 && n1 < n2) {
        return Err(format!("expected 1 <= N1 < N2, got {n1},{n2}"));
    }
    Ok(ArgPair(n1, n2))
}

/// Options of `onecopy bench guard`. Defaults: timed calls of 0.2-1 s in
/// normal code, callgrind runs of a few seconds, on the 2-core machine.
#[derive(Debug, Args)]
pub struct GuardArgs {
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Timed runs per configuration (the median is reported).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    pub rounds: u32,
    /// fib's argument in timed runs.
    #[arg(long, default_value_t = 37, value_parser = clap::value_parser!(i32).range(1..))]
    pub fib: i32,
    /// Iterations of the loop kernel in timed runs.
    #[arg(long = "loop", alias = "iterations", default_value_t = 150_000_000, value_parser = clap::value_parser!(i32).range(1..))]
    pub loop_iterations: i32,
    /// Rounds over 16 MiB of the memory kernel in timed runs.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(i32).range(1..))]
    pub memsum: i32,
    /// Indirect calls of the call_indirect kernel in timed runs.
    #[arg(long, default_value_t = 100_000_000, value_parser = clap::value_parser!(i32).range(1..))]
    pub indirect: i32,
    /// fib's arguments N1,N2 under callgrind.
    #[arg(long, default_value = "22,26", value_parser = arg_pair)]
    pub fib_instructions: ArgPair,
    /// The loop kernel's arguments under callgrind.
    #[arg(long, default_value = "1000000,2000000", value_parser = arg_pair)]
    pub loop_instructions: ArgPair,
    /// The memory kernel's arguments under callgrind.
    #[arg(long, default_value = "1,2", value_parser = arg_pair)]
    pub memsum_instructions: ArgPair,
    /// The call_indirect kernel's arguments under callgrind.
    #[arg(long, default_value = "1000000,2000000", value_parser = arg_pair)]
    pub indirect_instructions: ArgPair,
    /// Do not count instructions (they are counted when valgrind is on PATH).
    #[arg(long)]
    pub no_instructions: bool,
}

impl GuardArgs {
    /// `kernel`'s argument in timed runs.
    fn timed(&self, kernel: Kernel) -> i32 {
        match kernel {
            Kernel::Fib => self.fib,
            Kernel::Loop => self.loop_iterations,
            Kernel::Memsum => self.memsum,
            Kernel::Indirect => self.indirect,
        }
    }

    /// `kernel`'s arguments under callgrind.
    fn counted(&self, kernel: Kernel) -> ArgPair {
        match kernel {
            Kernel::Fib => self.fib_instructions,
            Kernel::Loop => self.loop_instructions,
            Kernel::Memsum => self.memsum_instructions,
            Kernel::Indirect => self.indirect_instructions,
        }
    }

    /// The command line of this run (instruction arguments only if counted).
    fn command(&self, counted: bool) -> String {
        let mut command = format!("cargo run --release --bin onecopy -- bench guard --rounds {}", self.rounds);
        for k in Kernel::ALL {
            command += &format!(" --{} {}", k.name(), self.timed(k));
        }
        if counted {
            for k in Kernel::ALL {
                command += &format!(" --{}-instructions {}", k.name(), self.counted(k));
            }
        } else if self.no_instructions {
            command += " --no-instructions";
        }
        if self.json {
            command += " --json";
        }
        command
    }
}

/// Run the guard benchmark and print its report.
pub fn main(args: &GuardArgs) -> Result<()> {
    let kernels = Kernels::load()?;
    let compile =
        |config: Config| -> Result<Module> { Module::new(&Engine::new(&config)?, &kernels.wasm).context("cannot compile the kernels") };
    let plain = compile(Config::new())?;
    let explicit = compile(Config::new().memory_guard(false))?;
    let debug = compile(Config::new().debug(true))?;
    let modules = timing::Modules { plain: &plain, explicit: &explicit, debug: &debug };
    let valgrind = instructions::valgrind(args.no_instructions);
    let kernel_count = Kernel::ALL.len() as u64;
    let counted_runs = if valgrind.is_ok() { kernel_count * instructions::RUNS_PER_KERNEL } else { 0 };
    let progress = crate::progress::bar(kernel_count * timing::runs(args.rounds) + counted_runs, "runs");
    // Counted first, before any timing: the children load every core.
    let counted = match &valgrind {
        Ok(valgrind) => {
            tracing::info!(valgrind = %valgrind.display(), "counting instructions");
            Some(instructions::measure(valgrind, |k| args.counted(k), &progress).context("counting instructions under callgrind")?)
        }
        Err(why) => {
            tracing::info!("instructions: {why}");
            None
        }
    };
    let mut rows = Vec::new();
    for (i, kernel) in Kernel::ALL.into_iter().enumerate() {
        let arg = args.timed(kernel);
        let timed = timing::measure(&kernels, &modules, kernel, arg, args.rounds, &progress)?;
        rows.push(KernelRow::new(kernel.name(), arg, timed, counted.as_ref().map(|c| c[i])));
    }
    progress.finish_and_clear();
    let code = CodeBytes {
        nodebug: plain.code_size(),
        debug: debug.code_size(),
        sites: debug.sites().len(),
        guard: debug.compiled().debug_code.as_ref().map_or(0, |d| d.guard_bytes),
    };
    let instructions = match valgrind {
        Ok(_) => "measured".to_owned(),
        Err(why) => why.to_owned(),
    };
    let memory_guard = plain.engine().memory_guard();
    let report = Report::new(rows, instructions, code, memory_guard, args.rounds, args.command(counted.is_some()));
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        report.print_table();
    }
    Ok(())
}
