//! The hidden `onecopy bench guard-one`: one kernel called once, in normal
//! or debug code (idle, or with a breakpoint it never reaches), in a
//! process of its own (`bench guard` runs it under callgrind). Everything but the call is the same at every
//! argument, and compiling on one thread keeps it so from run to run.

use std::cell::Cell;
use std::rc::Rc;

use anyhow::{bail, Context, Result};
use clap::Args;
use onecopy_runtime::{Config, Engine, Instance, Interrupts, Module, Store};
use serde::{Deserialize, Serialize};

use super::kernels::{Breakpoint, Kernel, Kernels};

/// Options of `onecopy bench guard-one`.
#[derive(Debug, Args)]
pub struct GuardOneArgs {
    /// The kernel to call.
    #[arg(long, value_enum)]
    pub kernel: Kernel,
    /// Debug code instead of normal code.
    #[arg(long)]
    pub debug: bool,
    /// The breakpoint debug code runs with (none is ever reached).
    #[arg(long, value_enum, default_value_t = Breakpoint::None, requires = "debug")]
    pub breakpoint: Breakpoint,
    /// The kernel's argument.
    #[arg(long, allow_hyphen_values = true)]
    pub arg: i32,
    /// The interrupt check compiled in (to measure its cost against `off`).
    #[arg(long, value_enum, default_value_t = InterruptCheck::Default)]
    pub interrupts: InterruptCheck,
    /// Explicit bounds checks instead of guard pages.
    #[arg(long)]
    pub explicit_checks: bool,
}

/// `--interrupts`: which interrupt check the kernels are compiled with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum InterruptCheck {
    /// The engine's default.
    Default,
    /// No check.
    Off,
    /// The branch-free probe load.
    Probe,
    /// A flag, a test and a branch.
    Flag,
}

impl InterruptCheck {
    fn apply(self, config: Config) -> Config {
        match self {
            InterruptCheck::Default => config,
            InterruptCheck::Off => config.interrupt_check(Interrupts::Off),
            InterruptCheck::Probe => config.interrupt_check(Interrupts::Probe),
            InterruptCheck::Flag => config.interrupt_check(Interrupts::Flag),
        }
    }
}

/// What the child prints: the kernel's result, which the parent compares
/// between normal and debug code.
#[derive(Debug, Serialize, Deserialize)]
struct ChildReport {
    result: i32,
}

/// The command line of a child calling `kernel(arg)`, after the executable.
/// `breakpoint` applies to debug code only.
pub fn args(kernel: Kernel, debug: bool, breakpoint: Breakpoint, explicit_checks: bool, arg: i32) -> Vec<String> {
    let mut args = vec!["bench".into(), "guard-one".into(), "--kernel".into(), kernel.name().into(), "--arg".into(), arg.to_string()];
    if debug {
        args.extend(["--debug".into(), "--breakpoint".into(), breakpoint.name().into()]);
    }
    if explicit_checks {
        args.push("--explicit-checks".into());
    }
    args
}

/// The kernel's result from a child's stdout.
pub fn parse_result(stdout: &[u8]) -> Result<i32, String> {
    serde_json::from_slice::<ChildReport>(stdout).map(|r| r.result).map_err(|e| format!("the child's report is unreadable: {e}"))
}

/// Compile the kernels on this thread, call one once, print its result.
pub fn main(args: &GuardOneArgs) -> Result<()> {
    let kernels = Kernels::load()?;
    let mut config = args.interrupts.apply(Config::new().debug(args.debug).parallel_compilation(false));
    if args.explicit_checks {
        config = config.memory_guard(false);
    }
    let engine = Engine::new(&config)?;
    let module = Module::new(&engine, &kernels.wasm).context("cannot compile the kernels")?;
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &module, &[])?;
    let stops = match args.breakpoint {
        Breakpoint::None => Rc::new(Cell::new(0)),
        breakpoint => breakpoint.set(&kernels, args.kernel, &instance.debug(&mut store)?)?,
    };
    let result = instance.get_typed_func::<(i32,), i32>(&store, args.kernel.name())?.call(&mut store, (args.arg,))?;
    if stops.get() > 0 {
        bail!("{}: stopped {} times at a breakpoint that is never reached", args.kernel.name(), stops.get());
    }
    println!("{}", serde_json::to_string(&ChildReport { result })?);
    Ok(())
}
