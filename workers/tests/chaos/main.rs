//! Concurrency chaos: 64 workers run a debug-compiled module's kernels
//! while a coordinator sets and clears breakpoints, pauses, steps, reads
//! and writes locals, operands, globals and memory at random (seeded; the
//! seed is printed, `CHAOS_SEED=N` repeats a run), and another thread fills
//! the same engine's small code arena with modules and drops them again.
//!
//! What must hold: every call returns its known result (the debugger's
//! writes keep values as they were, or touch scratch memory no kernel
//! reads), every pause asked of a worker is delivered, the coordinator's
//! memory writes stay in the worker they were made in, a full arena is a
//! typed error, the arena's accounting returns to where it started, and
//! nothing waits forever: every wait has a bound, and the whole test fails
//! with a message (not a hang) past [`DEADLINE`].

mod churn;
#[path = "../common/mod.rs"]
mod common;
mod coordinator;
mod kernels;

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use onecopy_workers::runtime::{CodeMemory, Config, Engine, Module};
use onecopy_workers::{DebugSession, PoolConfig, Target, WorkerPool};

use churn::{churn, churn_wat, footprint};
use common::Rng;
use coordinator::{Coordinator, Stops};
use kernels::{check, drive, random_call};

const PROGRAM: &str = include_str!("../data/chaos.wat");
const WORKERS: usize = 64;
/// How long the chaos goes on (`CHAOS_SECONDS` overrides): long enough for
/// thousands of stops, short enough for CI on two cores.
const CHAOS: Duration = Duration::from_secs(10);
/// The whole test's bound: past it, it fails as a deadlock.
const DEADLINE: Duration = Duration::from_secs(150);
/// The bound of any single wait (a call, a stop, a thread's end).
const WAIT: Duration = Duration::from_secs(30);
/// Scratch bytes at address 0 of each worker's memory, which no kernel uses.
const SCRATCH: usize = 64;
/// Function indices of the kernels (`data/chaos.wat`), and `dispatch`.
const FUNCS: [(&str, u32); 5] = [("fib", 0), ("mix", 1), ("checksum", 2), ("collatz", 3), ("dispatch", 4)];
/// The churn thread's module: this many small looping functions.
const CHURN_FUNCS: u32 = 24;

/// What every thread counts, for the report and for the deadlock message.
#[derive(Default)]
struct Progress {
    calls: AtomicUsize,
    stops: AtomicUsize,
    compiled: AtomicUsize,
    exhausted: AtomicUsize,
    /// Set when the driver has made its last call (or any thread failed).
    done: AtomicBool,
    /// The coordinator's latest action.
    last: Mutex<String>,
}

impl fmt::Display for Progress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} calls checked, {} stops, {} modules compiled, {} arena-full errors, last coordinator action: {}",
            self.calls.load(Ordering::Relaxed),
            self.stops.load(Ordering::Relaxed),
            self.compiled.load(Ordering::Relaxed),
            self.exhausted.load(Ordering::Relaxed),
            self.last.lock().unwrap()
        )
    }
}

/// What one run saw.
#[derive(Debug)]
struct Report {
    rounds: usize,
    stops: Stops,
}

fn chaos(seed: u64, chaos: Duration, progress: Arc<Progress>) -> Result<Report, String> {
    let program = wat::parse_str(PROGRAM).map_err(|e| e.to_string())?;
    let churn_wasm = wat::parse_str(churn_wat(CHURN_FUNCS)).map_err(|e| e.to_string())?;
    // Room for the program, its stubs and about three churn modules: the
    // churn thread fills the arena again and again.
    let cap = 2 * footprint(&program) + 7 * footprint(&churn_wasm) / 2;
    let engine = Engine::new(&Config::new().debug(true).arena_cap(cap)).map_err(|e| e.to_string())?;
    let module = Module::new(&engine, &program).map_err(|e| format!("compile the program: {e}"))?;
    // The churn module's first compile also makes its signatures' stubs,
    // which stay: the baseline is taken after it is gone again.
    drop(Module::new(&engine, &churn_wasm).map_err(|e| format!("compile a churn module: {e}"))?);
    let baseline: CodeMemory = engine.code_memory();

    let session = DebugSession::new();
    let config = PoolConfig::new(WORKERS).stack_size(2 << 20).on_instance(session.hook()).on_trap(session.trap_hook());
    let pool = Arc::new(WorkerPool::new(&module, config).map_err(|e| format!("start the pool: {e}"))?);
    if session.workers().len() != WORKERS {
        return Err(format!("{} of {WORKERS} workers joined the session", session.workers().len()));
    }
    let mut coordinator = Coordinator::new(session, seed, &progress, &module);
    let outcome = thread::scope(|s| {
        let (progress, pool) = (&*progress, &*pool);
        let driver = s.spawn(move || {
            let rounds = drive(pool, seed, chaos, progress);
            progress.done.store(true, Ordering::Relaxed);
            rounds
        });
        let (engine, churn_wasm) = (&engine, &churn_wasm);
        let churner = s.spawn(move || {
            let churned = churn(engine, churn_wasm, seed, progress);
            if churned.is_err() {
                progress.done.store(true, Ordering::Relaxed);
            }
            churned
        });
        let coordinated = coordinator.run();
        // A failing coordinator stops the driver; dropping it (its session) resumes every worker.
        progress.done.store(true, Ordering::Relaxed);
        let stops = coordinated.and_then(|()| {
            let rounds = driver.join().map_err(|_| "the driver panicked".to_string())??;
            Ok((rounds, coordinator.finish(pool)?))
        });
        let churned = churner.join().map_err(|_| "the churn thread panicked".to_string())?;
        churned.and(stops)
    });
    let (rounds, stops) = outcome?;

    // With the session detached, the workers run at full speed and hear nothing more.
    let mut rng = Rng::new(seed ^ 0xf1);
    for w in 0..WORKERS {
        let call = random_call(&mut rng);
        check(&call, Target::Worker(w), pool.call(Target::Worker(w), call.export, call.args.clone()))?;
    }
    let pool = Arc::try_unwrap(pool).map_err(|_| "the pool is still shared".to_string())?;
    let report = pool.shutdown(WAIT);
    if !report.is_clean() {
        return Err(format!("the pool did not shut down cleanly: {report:?}"));
    }
    if progress.exhausted.load(Ordering::Relaxed) == 0 {
        return Err(format!("the churn thread never filled the {cap}-byte arena"));
    }
    let end = engine.code_memory();
    if end != baseline {
        return Err(format!("the arena's accounting went from {baseline:?} to {end:?}"));
    }
    drop(module);
    Ok(Report { rounds, stops })
}

#[test]
fn sixty_four_debugged_workers_survive_a_random_coordinator_and_a_full_arena() {
    let seed = Rng::seed_from_env("CHAOS_SEED");
    let seconds = std::env::var("CHAOS_SECONDS").ok().and_then(|s| s.parse().ok());
    let duration = seconds.map_or(CHAOS, Duration::from_secs);
    println!("chaos seed: {seed} (CHAOS_SEED={seed} repeats the coordinator's choices)");
    let progress = Arc::new(Progress::default());
    let (tx, rx) = std::sync::mpsc::channel();
    let watched = progress.clone();
    let started = Instant::now();
    let body = thread::Builder::new()
        .name("chaos".into())
        .spawn(move || drop(tx.send(chaos(seed, duration, watched))))
        .expect("spawn the test's thread");
    match rx.recv_timeout(DEADLINE) {
        Ok(Ok(report)) => {
            println!("chaos seed {seed}: {report:?}; {progress}; {:?}", started.elapsed());
            assert!(report.rounds > 0, "seed {seed}: the driver made no round of calls");
            assert!(report.stops.breakpoint + report.stops.step + report.stops.pause > 0, "seed {seed}: no worker ever stopped");
        }
        Ok(Err(message)) => panic!("chaos seed {seed}: {message}\n  ({progress})"),
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
            let panic = body.join().expect_err("the body ended without a word, so it panicked");
            std::panic::resume_unwind(panic)
        }
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
            panic!("chaos seed {seed}: not finished after {DEADLINE:?}, a deadlock: {progress}")
        }
    }
}
