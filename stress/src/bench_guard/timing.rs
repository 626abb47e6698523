//! The timed half of `onecopy bench guard`: one kernel in five
//! configurations, alternating every round so that the machine's drift
//! reaches all five alike, medians reported.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Instant;

use anyhow::{bail, Result};
use indicatif::ProgressBar;
use onecopy_runtime::{Instance, Module, Store, TypedFunc};

use super::kernels::{Breakpoint, Kernel, Kernels};

/// The five configurations, in the order they run each round.
#[derive(Debug, Clone, Copy)]
enum Setup {
    /// (a) normal code.
    NoDebug,
    /// (e) normal code with explicit bounds checks (no guard pages).
    Explicit,
    /// (b) debug code, no breakpoint.
    Idle,
    /// (c) debug code, a breakpoint in a function that never runs.
    Unrelated,
    /// (d) debug code, a breakpoint in the kernel that is never reached.
    SameFunction,
}

const SETUPS: [Setup; 5] = [Setup::NoDebug, Setup::Explicit, Setup::Idle, Setup::Unrelated, Setup::SameFunction];

/// The number of timed runs of one kernel at `rounds` rounds.
pub fn runs(rounds: u32) -> u64 {
    u64::from(rounds) * SETUPS.len() as u64
}

/// Median milliseconds of one kernel's call in each configuration.
#[derive(Debug, Clone, Copy)]
pub struct Timed {
    /// (a) normal code.
    pub nodebug_ms: f64,
    /// (e) normal code with explicit bounds checks.
    pub explicit_ms: f64,
    /// (b) idle debug code.
    pub idle_ms: f64,
    /// (c) a breakpoint elsewhere.
    pub unrelated_ms: f64,
    /// (d) a never-hit breakpoint in the kernel.
    pub same_function_ms: f64,
}

/// One configuration's kernel, in a store and instance of its own, and the
/// stops it has made (there must be none: no configuration's breakpoint is
/// ever reached).
struct Prepared {
    store: Store<()>,
    call: TypedFunc<(i32,), i32>,
    stops: Rc<Cell<u32>>,
}

fn prepare(kernels: &Kernels, module: &Module, setup: Setup, kernel: Kernel) -> Result<Prepared> {
    let mut store = Store::new(module.engine(), ());
    let instance = Instance::new(&mut store, module, &[])?;
    let debug = instance.debug(&mut store)?;
    let breakpoint = match setup {
        Setup::NoDebug | Setup::Explicit | Setup::Idle => Breakpoint::None,
        Setup::Unrelated => Breakpoint::Unrelated,
        Setup::SameFunction => Breakpoint::NeverHit,
    };
    let stops = breakpoint.set(kernels, kernel, &debug)?;
    let call = instance.get_typed_func::<(i32,), i32>(&store, kernel.name())?;
    Ok(Prepared { store, call, stops })
}

/// The kernels compiled for each kind of code the configurations run.
pub struct Modules<'a> {
    /// Normal code (guard pages if the engine has them).
    pub plain: &'a Module,
    /// Normal code with explicit bounds checks.
    pub explicit: &'a Module,
    /// Debug code.
    pub debug: &'a Module,
}

/// Time `kernel(arg)` in every configuration, `rounds` times each, one
/// instance per configuration throughout (every configuration's memory
/// has the same history, so all five must return the same result in
/// each round: debug code computes what normal code does).
pub fn measure(kernels: &Kernels, modules: &Modules<'_>, kernel: Kernel, arg: i32, rounds: u32, progress: &ProgressBar) -> Result<Timed> {
    let module = |setup: Setup| match setup {
        Setup::NoDebug => modules.plain,
        Setup::Explicit => modules.explicit,
        Setup::Idle | Setup::Unrelated | Setup::SameFunction => modules.debug,
    };
    let mut prepared = SETUPS.iter().map(|&setup| prepare(kernels, module(setup), setup, kernel)).collect::<Result<Vec<_>>>()?;
    let mut times: [Vec<f64>; SETUPS.len()] = Default::default();
    for round in 0..rounds {
        let mut results = Vec::new();
        for (i, p) in prepared.iter_mut().enumerate() {
            progress.set_message(format!("{}({arg}): {:?}, round {} of {rounds}", kernel.name(), SETUPS[i], round + 1));
            let start = Instant::now();
            let result = p.call.call(&mut p.store, (arg,))?;
            times[i].push(start.elapsed().as_secs_f64() * 1e3);
            results.push(result);
            progress.inc(1);
        }
        if results.iter().any(|r| *r != results[0]) {
            bail!("{}({arg}) returned {results:?} in the configurations {SETUPS:?} (round {})", kernel.name(), round + 1);
        }
    }
    for (setup, p) in SETUPS.iter().zip(&prepared) {
        if p.stops.get() > 0 {
            bail!("{}: {setup:?} stopped {} times at a breakpoint that is never reached", kernel.name(), p.stops.get());
        }
    }
    let [nodebug_ms, explicit_ms, idle_ms, unrelated_ms, same_function_ms] = times.map(median);
    Ok(Timed { nodebug_ms, explicit_ms, idle_ms, unrelated_ms, same_function_ms })
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}
