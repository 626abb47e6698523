//! `onecopy bench isolation`: does debugging one worker slow another that
//! runs the same module? Worker B runs fib and the loop kernel in debug code
//! while worker A, on the same module, is (1) idle, (2) stopped at a
//! breakpoint in the function B runs, (3) single-stepping through it (the
//! coordinator answering every stop with a step). Each of B's calls is
//! timed on B's thread; the three conditions alternate every round and
//! medians are compared: B's ratios (2)/(1) and (3)/(1) (issue 13 item 5).
//!
//! A's breakpoint lives in A's own debug table, so B's guards never see it;
//! what stepping can still cost B is the machine: A's thread and the
//! coordinator's keep cores busy (this machine has 2, shared). So B's
//! thread's own CPU time is reported beside its wall time: the ratios of
//! the first leave out the time the scheduler gave the others. And a
//! fourth condition is the control: no debugging, a plain thread spinning
//! while B runs (what any busy thread costs B on this machine).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};
use clap::Args;
use onecopy_runtime::{Config, Engine, Module};
use onecopy_workers::{CallError, CallHandle, DebugSession, PoolConfig, Resume, Target, Value, Who, WorkerPool};
use serde::Serialize;

use crate::progress;

/// Options of `onecopy bench isolation`.
#[derive(Debug, Args)]
pub struct IsolationArgs {
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Rounds (each times B once per condition and kernel; medians reported).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    pub rounds: u32,
    /// fib's argument for B.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(i32).range(1..))]
    pub fib: i32,
    /// Iterations of the loop kernel for B.
    #[arg(long = "loop", default_value_t = 30_000_000, value_parser = clap::value_parser!(i32).range(1..))]
    pub loop_iterations: i32,
}

/// The kernels of `bench guard`.
const KERNELS_WAT: &str = include_str!("bench_guard/kernels.wat");

/// The worker being debugged, and the one timed.
const A: usize = 0;
const B: usize = 1;

/// How long to wait for A's stops.
const WAIT: Duration = Duration::from_secs(30);

/// What A does while B is timed; `Busy` is the control: no debugging at
/// all, a plain thread spinning on the other core (what any busy thread
/// costs B on this machine).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Condition {
    Idle,
    Stopped,
    Stepping,
    Busy,
}

const CONDITIONS: [Condition; 4] = [Condition::Idle, Condition::Stopped, Condition::Stepping, Condition::Busy];

/// A kernel B runs, with its argument and A's (A's is small: A must finish
/// quickly once released, yet take far longer than B's call when stepped).
#[derive(Debug, Clone, Copy)]
struct Kernel {
    name: &'static str,
    b_arg: i32,
    a_arg: i32,
}

/// One kernel's medians and ratios: of B's wall time, and of the CPU time
/// B's thread itself used (which leaves out the time the scheduler gave
/// A's thread and the coordinator instead: on 2 cores, 3 busy threads).
#[derive(Debug, Serialize)]
struct KernelReport {
    kernel: &'static str,
    arg: i32,
    idle_ms: f64,
    stopped_ms: f64,
    stepping_ms: f64,
    ratio_stopped: f64,
    ratio_stepping: f64,
    cpu_idle_ms: f64,
    cpu_stopped_ms: f64,
    cpu_stepping_ms: f64,
    cpu_ratio_stopped: f64,
    cpu_ratio_stepping: f64,
    /// The control: B's time beside a plain busy thread, no debugging.
    busy_ms: f64,
    ratio_busy: f64,
    cpu_ratio_busy: f64,
    /// Steps A took while B's calls ran, over all rounds.
    steps: u64,
}

/// The report: the top-level ratios are the worst over the kernels.
#[derive(Debug, Serialize)]
struct IsolationReport {
    other_worker_ratio_stopped: f64,
    other_worker_ratio_stepping: f64,
    other_worker_cpu_ratio_stopped: f64,
    other_worker_cpu_ratio_stepping: f64,
    /// The control's worst ratio: what any busy thread costs B here.
    busy_thread_ratio: f64,
    kernels: Vec<KernelReport>,
    rounds: u32,
    command: String,
}

/// What one call of B took: wall time, and B's thread's CPU time.
#[derive(Debug, Clone, Copy, Default)]
struct Took {
    wall: Duration,
    cpu: Duration,
}

/// Call `kernel(arg)` on B, timed on B's thread.
fn time_b(pool: &WorkerPool, kernel: &'static str, arg: i32) -> CallHandle<Took> {
    pool.run(Target::Worker(B), move |_, store, instance| {
        let call = instance.get_typed_func::<(i32,), i32>(&*store, kernel).map_err(CallError::from)?;
        let (start, cpu) = (Instant::now(), crate::thread_cpu::now());
        call.call(&mut *store, (arg,)).map_err(CallError::from)?;
        Ok(Took { wall: start.elapsed(), cpu: crate::thread_cpu::now() - cpu })
    })
}

/// Stop A at the entry of `func`: arm it in A's table only, call the
/// kernel on A, wait for the stop, and disarm (A stays stopped).
fn stop_a(pool: &WorkerPool, session: &mut DebugSession, kernel: Kernel, func: u32, entry: u32) -> Result<CallHandle<Vec<Value>>> {
    session.set_breakpoint(Who::Worker(A), func, entry)?;
    let call = pool.call(Target::Worker(A), kernel.name, vec![Value::I32(kernel.a_arg)]);
    let stop = session.wait(Some(A), WAIT).ok_or_else(|| anyhow!("worker A did not stop within {WAIT:?}"))?;
    anyhow::ensure!(stop.func == func, "worker A stopped in function {} instead of {func}", stop.func);
    session.clear_breakpoint(Who::Worker(A), func, entry)?;
    Ok(call)
}

/// Time B under `condition`; returns B's time and A's steps meanwhile.
fn one(pool: &WorkerPool, session: &mut DebugSession, module: &Module, kernel: Kernel, condition: Condition) -> Result<(Took, u64)> {
    let func = session.func_index(kernel.name).with_context(|| format!("no function `{}`", kernel.name))?;
    let entry = module.function_sites(func).first().with_context(|| format!("`{}` has no breakable point", kernel.name))?.wasm_offset;
    match condition {
        Condition::Idle => Ok((time_b(pool, kernel.name, kernel.b_arg).wait()?, 0)),
        Condition::Stopped => {
            let a = stop_a(pool, session, kernel, func, entry)?;
            let took = time_b(pool, kernel.name, kernel.b_arg).wait()?;
            session.resume(A, Resume::Continue)?;
            a.wait()?;
            Ok((took, 0))
        }
        Condition::Busy => {
            let stop = Arc::new(AtomicBool::new(false));
            let spinning = stop.clone();
            let spinner = std::thread::spawn(move || {
                let mut n = 0u64;
                while !spinning.load(Ordering::Relaxed) {
                    n = std::hint::black_box(n.wrapping_mul(6364136223846793005).wrapping_add(1));
                }
            });
            let took = time_b(pool, kernel.name, kernel.b_arg).wait();
            stop.store(true, Ordering::Relaxed);
            spinner.join().map_err(|_| anyhow!("the busy thread panicked"))?;
            Ok((took?, 0))
        }
        Condition::Stepping => {
            let a = stop_a(pool, session, kernel, func, entry)?;
            let mut b = time_b(pool, kernel.name, kernel.b_arg);
            let mut steps = 0;
            // Step first, then look at B: A steps at least once per call of B.
            let took = loop {
                session.resume(A, Resume::StepInto)?;
                session.wait(Some(A), WAIT).ok_or_else(|| anyhow!("worker A's step did not stop within {WAIT:?} (A's call too short?)"))?;
                steps += 1;
                match b.wait_timeout(Duration::ZERO) {
                    Ok(took) => break took?,
                    Err(pending) => b = pending,
                }
            };
            session.resume(A, Resume::Continue)?;
            a.wait()?;
            Ok((took, steps))
        }
    }
}

/// The median of `samples`' wall times and of their CPU times, in ms.
fn medians(samples: &[Took]) -> (f64, f64) {
    let median = |of: fn(&Took) -> Duration| {
        let mut times: Vec<Duration> = samples.iter().map(of).collect();
        times.sort();
        times[times.len() / 2].as_secs_f64() * 1e3
    };
    (median(|t| t.wall), median(|t| t.cpu))
}

/// Run the isolation benchmark.
pub fn main(args: &IsolationArgs) -> Result<()> {
    let engine = Engine::new(&Config::new().debug(true))?;
    let module = Module::new(&engine, wat::parse_str(KERNELS_WAT)?)?;
    let mut session = DebugSession::new();
    let pool = WorkerPool::new(&module, PoolConfig::new(2).on_instance(session.hook()))?;
    let kernels =
        [Kernel { name: "fib", b_arg: args.fib, a_arg: 25 }, Kernel { name: "loop", b_arg: args.loop_iterations, a_arg: 1_000_000 }];
    let bar = progress::bar(u64::from(args.rounds) * (CONDITIONS.len() * kernels.len()) as u64, "calls");
    let mut samples = vec![[Vec::new(), Vec::new(), Vec::new(), Vec::new()]; kernels.len()];
    let mut steps = vec![0u64; kernels.len()];
    for round in 0..args.rounds {
        for k in 0..CONDITIONS.len() {
            // Rotate which condition goes first, so drift reaches all three.
            let c = (k + round as usize) % CONDITIONS.len();
            for (i, kernel) in kernels.iter().enumerate() {
                bar.set_message(format!("{}({}), A {:?}", kernel.name, kernel.b_arg, CONDITIONS[c]));
                let (took, stepped) = one(&pool, &mut session, &module, *kernel, CONDITIONS[c])?;
                samples[i][c].push(took);
                steps[i] += stepped;
                bar.inc(1);
            }
        }
    }
    bar.finish_and_clear();
    let report_kernels: Vec<KernelReport> = kernels
        .iter()
        .zip(samples.iter_mut())
        .zip(&steps)
        .map(|((kernel, [idle, stopped, stepping, busy]), &steps)| {
            let ((idle, cpu_idle), (stopped, cpu_stopped), (stepping, cpu_stepping)) = (medians(idle), medians(stopped), medians(stepping));
            let (busy, cpu_busy) = medians(busy);
            KernelReport {
                kernel: kernel.name,
                arg: kernel.b_arg,
                idle_ms: idle,
                stopped_ms: stopped,
                stepping_ms: stepping,
                ratio_stopped: stopped / idle,
                ratio_stepping: stepping / idle,
                cpu_idle_ms: cpu_idle,
                cpu_stopped_ms: cpu_stopped,
                cpu_stepping_ms: cpu_stepping,
                cpu_ratio_stopped: cpu_stopped / cpu_idle,
                cpu_ratio_stepping: cpu_stepping / cpu_idle,
                busy_ms: busy,
                ratio_busy: busy / idle,
                cpu_ratio_busy: cpu_busy / cpu_idle,
                steps,
            }
        })
        .collect();
    let worst = |f: fn(&KernelReport) -> f64| report_kernels.iter().map(f).fold(f64::MIN, f64::max);
    let report = IsolationReport {
        other_worker_ratio_stopped: worst(|k| k.ratio_stopped),
        other_worker_ratio_stepping: worst(|k| k.ratio_stepping),
        other_worker_cpu_ratio_stopped: worst(|k| k.cpu_ratio_stopped),
        other_worker_cpu_ratio_stepping: worst(|k| k.cpu_ratio_stepping),
        busy_thread_ratio: worst(|k| k.ratio_busy),
        rounds: args.rounds,
        command: format!(
            "cargo run --release --bin onecopy -- bench isolation --rounds {} --fib {} --loop {}",
            args.rounds, args.fib, args.loop_iterations
        ),
        kernels: report_kernels,
    };
    let shutdown = pool.shutdown(Duration::from_secs(10));
    anyhow::ensure!(shutdown.is_clean(), "the workers did not shut down cleanly");
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        for k in &report.kernels {
            println!(
                "{}({}) on B: A idle {:.2} ms, A stopped {:.2} ms ({:.3}x), A stepping {:.2} ms ({:.3}x, {} steps)",
                k.kernel, k.arg, k.idle_ms, k.stopped_ms, k.ratio_stopped, k.stepping_ms, k.ratio_stepping, k.steps
            );
            println!("{:>w$}  control, a busy thread instead of A: {:.2} ms ({:.3}x)", "", k.busy_ms, k.ratio_busy, w = k.kernel.len());
            println!(
                "{:>w$}  B's CPU time: {:.2} ms, {:.2} ms ({:.3}x), {:.2} ms ({:.3}x)",
                "",
                k.cpu_idle_ms,
                k.cpu_stopped_ms,
                k.cpu_ratio_stopped,
                k.cpu_stepping_ms,
                k.cpu_ratio_stepping,
                w = k.kernel.len()
            );
        }
        println!(
            "other-worker ratios (worst kernel): stopped {:.3}, stepping {:.3}; in B's CPU time: stopped {:.3}, stepping {:.3}",
            report.other_worker_ratio_stopped,
            report.other_worker_ratio_stepping,
            report.other_worker_cpu_ratio_stopped,
            report.other_worker_cpu_ratio_stepping
        );
        println!("control: a busy thread that debugs nothing costs B {:.3}x", report.busy_thread_ratio);
        println!("reproduce: {}", report.command);
    }
    Ok(())
}
