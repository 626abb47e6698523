//! The counted half of `onecopy bench guard`: instructions executed by
//! debug code (idle, and with each configuration's never-reached
//! breakpoint) over normal code, from valgrind's callgrind, which counts
//! the same on a busy machine as on an idle one: what backs the timed
//! ratios, which drift.
//!
//! The n-difference method: each kernel runs once in a child process
//! (`onecopy bench guard-one`, which compiles on one thread, so its
//! instruction count is the same every time) at two arguments N1 < N2, in
//! normal and in debug code. Compiling, start-up, setting the breakpoint
//! and valgrind's own work are the same at both arguments, so `I(N2) - I(N1)` is the work of the
//! kernel alone, and the ratio is
//! `(I_debug(N2) - I_debug(N1)) / (I_normal(N2) - I_normal(N1))`. Normal
//! code with explicit bounds checks runs at both arguments too, for what
//! guard pages save.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use anyhow::{anyhow, bail, Result};
use indicatif::ProgressBar;
use serde::Serialize;

use super::kernels::{Breakpoint, Kernel};
use super::{child, ArgPair};
use crate::child_process;

/// valgrind's options: JIT code is written at run time, so it must watch
/// for self-modifying code everywhere but in files; no output file (the
/// total is on stderr).
const CALLGRIND: [&str; 3] = ["--tool=callgrind", "--smc-check=all-non-file", "--callgrind-out-file=/dev/null"];

/// Children run per kernel: normal, explicitly checked, idle debug code and
/// debug code with each breakpoint, at N1 and N2.
pub const RUNS_PER_KERNEL: u64 = 10;

/// Why instructions are not counted, or valgrind to count them with.
pub fn valgrind(disabled: bool) -> Result<PathBuf, &'static str> {
    if disabled {
        return Err("skipped (--no-instructions)");
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).map(|dir| dir.join("valgrind")).find(|p| p.is_file()).ok_or("skipped (valgrind not found)")
}

/// One kernel's instruction counts.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Counted {
    /// N1 and N2.
    pub args: [i32; 2],
    /// `I(N2) - I(N1)` in normal code.
    pub nodebug: u64,
    /// `I(N2) - I(N1)` in idle debug code.
    pub debug: u64,
    /// `I(N2) - I(N1)` in debug code with a breakpoint in a function that never runs.
    pub unrelated: u64,
    /// `I(N2) - I(N1)` in debug code with a never-hit breakpoint in the kernel.
    pub never_hit: u64,
    /// `I(N2) - I(N1)` in normal code with explicit bounds checks.
    pub explicit: u64,
}

impl Counted {
    /// Idle debug code's instructions over normal code's.
    pub fn ratio(&self) -> f64 {
        self.debug as f64 / self.nodebug as f64
    }

    /// Debug code's with a breakpoint in a function that never runs, over normal code's.
    pub fn unrelated_ratio(&self) -> f64 {
        self.unrelated as f64 / self.nodebug as f64
    }

    /// Debug code's with a never-hit breakpoint in the kernel, over normal code's.
    pub fn never_hit_ratio(&self) -> f64 {
        self.never_hit as f64 / self.nodebug as f64
    }

    /// Normal code's instructions over explicitly checked normal code's.
    pub fn guard_ratio(&self) -> f64 {
        self.nodebug as f64 / self.explicit as f64
    }
}

/// One child's run: kernel, debug code or not (and its breakpoint),
/// explicit checks or not, argument.
#[derive(Debug, Clone, Copy)]
struct Run {
    kernel: Kernel,
    debug: bool,
    breakpoint: Breakpoint,
    explicit: bool,
    arg: i32,
}

/// What one run reported: the instructions valgrind counted and what the
/// kernel returned.
#[derive(Debug, Clone, Copy)]
struct Outcome {
    instructions: u64,
    result: i32,
}

/// Count every kernel's instructions at its arguments (`args(kernel)`),
/// the runs spread over the cores (counts do not depend on the load).
pub fn measure(valgrind: &Path, args: impl Fn(Kernel) -> ArgPair, progress: &ProgressBar) -> Result<Vec<Counted>> {
    let runs: Vec<Run> = Kernel::ALL
        .iter()
        .flat_map(|&kernel| {
            let ArgPair(n1, n2) = args(kernel);
            let (none, unrelated, never) = (Breakpoint::None, Breakpoint::Unrelated, Breakpoint::NeverHit);
            [(false, none, false), (true, none, false), (false, none, true), (true, unrelated, false), (true, never, false)]
                .into_iter()
                .flat_map(move |(debug, breakpoint, explicit)| [n1, n2].map(|arg| Run { kernel, debug, breakpoint, explicit, arg }))
        })
        .collect();
    let outcomes = run_all(valgrind, &runs, progress)?;
    runs.chunks(RUNS_PER_KERNEL as usize)
        .zip(outcomes.chunks(RUNS_PER_KERNEL as usize))
        .map(|(runs, out)| {
            let name = runs[0].kernel.name();
            let [n1, n2] = [runs[0].arg, runs[1].arg];
            // Pairs (N1, N2) in `runs` order: normal, idle debug, explicit, unrelated, never-hit.
            for (i, other) in out.iter().enumerate().skip(2) {
                let normal = out[i % 2];
                if normal.result != other.result {
                    bail!("{name}: normal code returned {}, {} {}", normal.result, describe(&runs[i]), other.result);
                }
            }
            let difference = |a: Outcome, b: Outcome| {
                b.instructions.checked_sub(a.instructions).filter(|d| *d > 0).ok_or_else(|| {
                    anyhow!("{name}: {} instructions at {n2}, {} at {n1}: raise the arguments", b.instructions, a.instructions)
                })
            };
            Ok(Counted {
                args: [n1, n2],
                nodebug: difference(out[0], out[1])?,
                debug: difference(out[2], out[3])?,
                explicit: difference(out[4], out[5])?,
                unrelated: difference(out[6], out[7])?,
                never_hit: difference(out[8], out[9])?,
            })
        })
        .collect()
}

/// Run every child, as many at once as there are cores; outcomes in the
/// order of `runs`.
fn run_all(valgrind: &Path, runs: &[Run], progress: &ProgressBar) -> Result<Vec<Outcome>> {
    let next = AtomicUsize::new(0);
    let outcomes: Mutex<Vec<Option<Result<Outcome>>>> = Mutex::new(runs.iter().map(|_| None).collect());
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get()).min(runs.len());
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(run) = runs.get(i) else { break };
                progress.set_message(format!("callgrind: {}", describe(run)));
                let outcome = count(valgrind, run);
                progress.inc(1);
                outcomes.lock().expect("no worker panics holding the lock")[i] = Some(outcome);
            });
        }
    });
    outcomes.into_inner().expect("no worker panicked").into_iter().map(|o| o.expect("every run was taken by a worker")).collect()
}

fn describe(run: &Run) -> String {
    let code = match (run.debug, run.breakpoint, run.explicit) {
        (true, Breakpoint::None, _) => "idle debug",
        (true, Breakpoint::Unrelated, _) => "debug (unrelated breakpoint)",
        (true, Breakpoint::NeverHit, _) => "debug (never-hit breakpoint)",
        (false, _, true) => "explicitly checked",
        (false, _, false) => "normal",
    };
    format!("{}({}) in {code} code", run.kernel.name(), run.arg)
}

/// One child under callgrind.
fn count(valgrind: &Path, run: &Run) -> Result<Outcome> {
    let mut command = Command::new(valgrind);
    command.args(CALLGRIND).arg(child_process::this_exe().map_err(|e| anyhow!(e))?);
    command.args(child::args(run.kernel, run.debug, run.breakpoint, run.explicit, run.arg)).stdin(Stdio::null());
    let output = child_process::output(&mut command).map_err(|e| anyhow!("{} under callgrind: {e}", describe(run)))?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    let instructions = collected(&stderr).ok_or_else(|| anyhow!("{}: no `Collected :` line from callgrind: {stderr}", describe(run)))?;
    let result = child::parse_result(&output.stdout).map_err(|e| anyhow!("{}: {e}", describe(run)))?;
    tracing::debug!(run = describe(run), instructions, result, "counted");
    Ok(Outcome { instructions, result })
}

/// The total callgrind prints on stderr: `==PID== Collected : N`.
fn collected(stderr: &str) -> Option<u64> {
    stderr.lines().find_map(|l| l.split_once("Collected :")).and_then(|(_, n)| n.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_callgrinds_total() {
        let stderr = "==7568== Events    : Ir\n==7568== Collected : 63997265\n==7568==\n";
        assert_eq!(super::collected(stderr), Some(63_997_265));
        assert_eq!(super::collected("==1== Command: x\n"), None);
    }
}
