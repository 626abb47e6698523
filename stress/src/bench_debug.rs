//! `onecopy bench debug`: how fast the coordinator handles breakpoint
//! stops. One worker measures the round trip (breakpoint hit -> event at the
//! coordinator -> resume -> next hit); many workers measure throughput
//! (events per second with every worker hitting a breakpoint in a loop).
//! `--load` runs [`load`] instead: the round trip's distribution while other
//! workers on the same module run a CPU kernel.

mod load;

use std::time::{Duration, Instant};

use anyhow::{anyhow, Result};
use clap::Args;
use onecopy_runtime::{Config, Engine, Module};
use onecopy_workers::{DebugSession, PoolConfig, Resume, Value, Who, WorkerPool};
use serde::Serialize;

/// Options of `onecopy bench debug`.
#[derive(Debug, Args)]
pub struct DebugBenchArgs {
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Breakpoint hits timed for the round trip (one worker).
    #[arg(long, default_value_t = 5000)]
    pub hits: u32,
    /// Workers for the throughput run.
    #[arg(long, default_value_t = 64)]
    pub workers: usize,
    /// Breakpoint hits per worker in the throughput run.
    #[arg(long, default_value_t = 500)]
    pub hits_per_worker: u32,
    /// Measure under load instead: of `--workers` workers on one module,
    /// `--stopping` hit a breakpoint in a loop while the others run a CPU
    /// kernel; phases with the breakpoint alternate with phases without.
    #[arg(long)]
    pub load: bool,
    /// With `--load`: how many of the workers hit the breakpoint (the rest
    /// run the kernel).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u64).range(1..))]
    pub stopping: u64,
    /// With `--load`: rounds, each one phase with the breakpoint and one
    /// without (their order alternating, so drift reaches both).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    pub rounds: u32,
    /// With `--load`: length of each phase in milliseconds.
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u64).range(1..))]
    pub phase_ms: u64,
    /// With `--load`: the kernel workers' nice value (0-19). Run once with
    /// 19 to see how much of the round trip's tail is the scheduler: the
    /// debugger's threads then win every core they wake up for.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(i32).range(0..=19))]
    pub kernel_nice: i32,
}

/// `tick` (function 0) is where the breakpoint sits; `spin(n)` calls it n
/// times. `work(n)`, n rounds of a linear congruential generator, is the
/// CPU kernel of `--load`: in the same module, so its workers run the very
/// code the stopping workers are debugged in.
const PROGRAM: &str = r#"(module
  (func $tick (param i32) (result i32) local.get 0 i32.const 1 i32.add)
  (func (export "spin") (param i32) (result i32) (local i32)
    (loop $l
      (local.set 1 (call $tick (local.get 1)))
      (br_if $l (local.tee 0 (i32.sub (local.get 0) (i32.const 1)))))
    (local.get 1))
  (func (export "work") (param i32) (result i32) (local i32)
    (loop $l
      (local.set 1 (i32.add (i32.mul (local.get 1) (i32.const 1103515245)) (i32.const 12345)))
      (br_if $l (local.tee 0 (i32.sub (local.get 0) (i32.const 1)))))
    (local.get 1)))"#;

const WAIT: Duration = Duration::from_secs(30);

/// The report.
#[derive(Debug, Serialize)]
struct DebugReport {
    round_trip_median_us: f64,
    round_trip_p99_us: f64,
    round_trips: usize,
    workers: usize,
    events: u64,
    events_per_second: f64,
    command: String,
}

/// A pool of `workers` on one debug-compiled [`PROGRAM`], all joined to a
/// session, and the offset of `tick`'s entry (no breakpoint set yet).
fn debugged_pool(workers: usize) -> Result<(WorkerPool, DebugSession, u32)> {
    let engine = Engine::new(&Config::new().debug(true))?;
    let module = Module::new(&engine, wat::parse_str(PROGRAM)?)?;
    let session = DebugSession::new();
    let pool = WorkerPool::new(&module, PoolConfig::new(workers).on_instance(session.hook()))?;
    let entry = module.sites().iter().find(|s| s.func == 0).ok_or_else(|| anyhow!("tick has no site"))?.wasm_offset;
    Ok((pool, session, entry))
}

/// A pool of `workers` whose every instance has a breakpoint at `tick`'s entry.
fn stopping_pool(workers: usize) -> Result<(WorkerPool, DebugSession)> {
    let (pool, session, entry) = debugged_pool(workers)?;
    session.set_breakpoint(Who::All, 0, entry)?;
    Ok((pool, session))
}

/// Answer `events` stops with Continue; returns the intervals between a
/// resume and the next stop.
fn serve(session: &mut DebugSession, events: u64) -> Result<Vec<Duration>> {
    let mut intervals = Vec::with_capacity(events as usize);
    let mut resumed = None;
    for _ in 0..events {
        let stop = session.wait(None, WAIT).ok_or_else(|| anyhow!("no stop within {WAIT:?}"))?;
        if let Some(at) = resumed {
            intervals.push(Instant::now() - at);
        }
        resumed = Some(Instant::now());
        session.resume(stop.worker, Resume::Continue)?;
    }
    Ok(intervals)
}

/// The `p` quantile (0..=1) of `sorted` in microseconds, 0 if it is empty.
fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).map_or(0.0, |d| d.as_secs_f64() * 1e6)
}

/// Run the debugger benchmark.
pub fn main(args: &DebugBenchArgs) -> Result<()> {
    if args.load {
        return load::main(args);
    }
    let (pool, mut session) = stopping_pool(1)?;
    let call = pool.call_all("spin", vec![Value::I32(args.hits as i32)]);
    let mut trips = serve(&mut session, args.hits as u64)?;
    for handle in call {
        handle.wait()?;
    }
    trips.sort_unstable();

    let (pool, mut session) = stopping_pool(args.workers)?;
    let start = Instant::now();
    let calls = pool.call_all("spin", vec![Value::I32(args.hits_per_worker as i32)]);
    let events = args.workers as u64 * args.hits_per_worker as u64;
    serve(&mut session, events)?;
    let elapsed = start.elapsed().as_secs_f64();
    for handle in calls {
        handle.wait()?;
    }
    let report = DebugReport {
        round_trip_median_us: percentile(&trips, 0.5),
        round_trip_p99_us: percentile(&trips, 0.99),
        round_trips: trips.len(),
        workers: args.workers,
        events,
        events_per_second: events as f64 / elapsed,
        command: format!(
            "cargo run --release --bin onecopy -- bench debug --hits {} --workers {} --hits-per-worker {}",
            args.hits, args.workers, args.hits_per_worker
        ),
    };
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!(
            "round trip (hit -> event -> resume -> next hit), 1 worker: median {:.1} us, p99 {:.1} us over {} stops",
            report.round_trip_median_us, report.round_trip_p99_us, report.round_trips
        );
        println!("throughput: {} workers, {} events in total: {:.0} events/s", report.workers, report.events, report.events_per_second);
        println!("reproduce: {}", report.command);
    }
    Ok(())
}
