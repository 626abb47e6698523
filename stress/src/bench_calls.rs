//! `onecopy bench calls`: how many calls per second of a trivial export
//! (`id(x) = x`) one thread makes through `TypedFunc::call`, alone and with
//! a second thread calling at the same time, measured side by side in one
//! run (rounds alternate between the two, medians are reported): the second
//! thread must not slow the first.
//!
//! Each rate is given per second of wall time and per second of the
//! thread's own CPU time: on a machine busy with other work the first
//! drops with the CPU a thread gets, the second only with what the calls
//! themselves cost (a lock or a cache line the threads fight over would
//! lower it).

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use anyhow::{anyhow, Result};
use clap::Args;
use onecopy_runtime::{Engine, Instance, Module, Store};
use serde::Serialize;

/// Options of `onecopy bench calls`.
#[derive(Debug, Args)]
pub struct CallsArgs {
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Rounds of each configuration (the median is reported).
    #[arg(long, default_value_t = 5)]
    pub rounds: u32,
    /// How long each thread calls in one round, in milliseconds.
    #[arg(long, default_value_t = 300)]
    pub millis: u64,
}

const PROGRAM: &str = r#"(module (func (export "id") (param i32) (result i32) local.get 0))"#;

/// Calls between two looks at the clock.
const BATCH: u32 = 1024;

/// The report.
#[derive(Debug, Serialize)]
struct CallsReport {
    /// Calls per second of one thread calling alone.
    one_thread: f64,
    /// Calls per second of each of two threads calling at once.
    two_threads: [f64; 2],
    /// Both threads together.
    two_threads_total: f64,
    /// The first thread's rate next to a second thread, over its rate alone.
    first_thread_ratio: f64,
    /// The same three rates per second of the calling thread's CPU time.
    one_thread_cpu: f64,
    two_threads_cpu: [f64; 2],
    first_thread_cpu_ratio: f64,
    command: String,
}

/// One thread's rates in one round: per wall second, per CPU second.
#[derive(Debug, Clone, Copy)]
struct Rate {
    wall: f64,
    cpu: f64,
}

/// CPU time the calling thread has used, in seconds.
fn thread_cpu_seconds() -> f64 {
    crate::thread_cpu::now().as_secs_f64()
}

/// The rates of `threads` threads calling `id` at once, one store and
/// instance each, for `millis` milliseconds.
fn round(module: &Module, threads: usize, millis: u64) -> Result<Vec<Rate>> {
    let barrier = Arc::new(Barrier::new(threads));
    let rates = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let barrier = barrier.clone();
                s.spawn(move || -> Result<Rate> {
                    let mut store = Store::new(module.engine(), ());
                    let instance = Instance::new(&mut store, module, &[])?;
                    let id = instance.get_typed_func::<(i32,), i32>(&store, "id")?;
                    id.call(&mut store, (0,))?;
                    barrier.wait();
                    let duration = Duration::from_millis(millis);
                    let (start, cpu_start) = (Instant::now(), thread_cpu_seconds());
                    let mut calls = 0u64;
                    while start.elapsed() < duration {
                        for i in 0..BATCH {
                            std::hint::black_box(id.call(&mut store, (std::hint::black_box(i as i32),))?);
                        }
                        calls += u64::from(BATCH);
                    }
                    let (wall, cpu) = (start.elapsed().as_secs_f64(), thread_cpu_seconds() - cpu_start);
                    Ok(Rate { wall: calls as f64 / wall, cpu: calls as f64 / cpu.max(1e-9) })
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().map_err(|_| anyhow!("a calling thread panicked"))?).collect::<Result<Vec<Rate>>>()
    })?;
    Ok(rates)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Run the benchmark.
pub fn main(args: &CallsArgs) -> Result<()> {
    let engine = Engine::default();
    let module = Module::new(&engine, wat::parse_str(PROGRAM)?)?;
    let (mut one, mut first, mut second) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..args.rounds.max(1) {
        one.push(round(&module, 1, args.millis)?[0]);
        let two = round(&module, 2, args.millis)?;
        first.push(two[0]);
        second.push(two[1]);
    }
    let medians = |rates: &[Rate], of: fn(&Rate) -> f64| median(rates.iter().map(of).collect());
    let wall: fn(&Rate) -> f64 = |r| r.wall;
    let cpu: fn(&Rate) -> f64 = |r| r.cpu;
    let one_thread = medians(&one, wall);
    let two_threads = [medians(&first, wall), medians(&second, wall)];
    let one_thread_cpu = medians(&one, cpu);
    let two_threads_cpu = [medians(&first, cpu), medians(&second, cpu)];
    let report = CallsReport {
        one_thread,
        two_threads,
        two_threads_total: two_threads[0] + two_threads[1],
        first_thread_ratio: two_threads[0] / one_thread,
        one_thread_cpu,
        two_threads_cpu,
        first_thread_cpu_ratio: two_threads_cpu[0] / one_thread_cpu,
        command: format!("cargo run --release --bin onecopy -- bench calls --rounds {} --millis {}", args.rounds, args.millis),
    };
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!(
            "{:<8} {:>18} {:>18} {:>22} {:>22}",
            "threads", "thread 0 calls/s", "thread 1 calls/s", "thread 0 calls/CPU-s", "thread 1 calls/CPU-s"
        );
        println!("{:<8} {:>18.0} {:>18} {:>22.0} {:>22}", 1, report.one_thread, "-", report.one_thread_cpu, "-");
        println!(
            "{:<8} {:>18.0} {:>18.0} {:>22.0} {:>22.0}",
            2, report.two_threads[0], report.two_threads[1], report.two_threads_cpu[0], report.two_threads_cpu[1]
        );
        println!(
            "2 threads: {:.0} calls/s in all; thread 0 runs at {:.2}x its rate alone ({:.2}x per CPU second)",
            report.two_threads_total, report.first_thread_ratio, report.first_thread_cpu_ratio
        );
        println!("reproduce: {}", report.command);
    }
    Ok(())
}
