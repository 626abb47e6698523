//! `onecopy bench debug --load`: the stop -> coordinator -> resume round
//! trip while the machine is busy. `--workers` workers share one
//! debug-compiled module; `--stopping` of them hit a breakpoint in a loop
//! (the coordinator resumes each stop as soon as it sees it) while the
//! others run a CPU kernel. Phases with the breakpoint alternate with phases
//! without it (the stopping workers idle then), so the kernel workers'
//! throughput with and without stops comes from the same run.
//!
//! The round trip is timed on the coordinator: from sending worker W its
//! resume to receiving W's next stop. It holds W's wake-up, W's run to the
//! next breakpoint, the event's trip back and the coordinator's own wake-up
//! or queueing behind other workers' stops: with more runnable threads than
//! cores most of it is the scheduler's, which a run with `--stopping 2` and
//! no kernel workers separates out.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, ensure, Result};
use onecopy_workers::{CallError, CallHandle, DebugSession, Resume, Target, Who, WorkerPool};
use serde::Serialize;

use super::{debugged_pool, percentile, DebugBenchArgs, WAIT};
use crate::progress;

/// `spin`'s argument per call of a stopping worker: breakpoint hits between
/// two looks at whether its phase is over (calls are not what is measured).
const SPIN_CHUNK: i32 = 1000;

/// `work`'s argument per call of a kernel worker (well under a millisecond
/// of work, so the count read at a phase's edges is off by little).
const KERNEL_CHUNK: i32 = 100_000;

/// How long the coordinator blocks for a stop before it looks at the clock
/// again (to end its phase).
const POLL: Duration = Duration::from_millis(1);

/// What a phase measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
enum Phase {
    /// The stopping workers hit the breakpoint in a loop.
    Breakpoint,
    /// No breakpoint set; the stopping workers idle.
    Quiet,
}

/// What the workers and the coordinator share.
#[derive(Default)]
struct Flags {
    /// The stopping workers keep calling `spin` while this is set.
    stopping: AtomicBool,
    /// Stopping workers still inside their phase's job.
    stoppers_active: AtomicUsize,
    /// The kernel workers stop once this is set.
    finished: AtomicBool,
    /// `work` iterations done by all kernel workers so far.
    kernel_iterations: AtomicU64,
}

/// Counts `Flags::stoppers_active` down when a stopping worker's job ends,
/// however it ends (a trap or panic too), so the coordinator never waits for
/// a worker that left.
struct Leaving<'a>(&'a AtomicUsize);

impl Drop for Leaving<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Round-trip quantiles in microseconds.
#[derive(Debug, Serialize)]
struct RoundTrip {
    median: f64,
    p90: f64,
    p99: f64,
    max: f64,
}

/// Kernel workers' throughput in `work` iterations per second (of wall
/// time, or of this process's CPU time).
#[derive(Debug, Serialize)]
struct KernelRate {
    /// No breakpoint set, the stopping workers idle.
    quiet: f64,
    /// The stopping workers hitting the breakpoint.
    breakpoint: f64,
}

/// One phase as it went, to see the machine's noise between phases.
#[derive(Debug, Serialize)]
struct PhaseReport {
    phase: Phase,
    seconds: f64,
    kernel_iterations_per_second: f64,
    /// This process's CPU seconds per second of the phase (at most the cores).
    cpu_share: f64,
    stops: u64,
}

/// Kernel iterations and time over the phases of one kind.
#[derive(Debug, Default, Clone, Copy)]
struct Tally {
    iterations: u64,
    seconds: f64,
    cpu_seconds: f64,
}

/// The report of the load mode.
#[derive(Debug, Serialize)]
struct LoadReport {
    workers: usize,
    stopping_workers: usize,
    kernel_workers: usize,
    /// What `round_trip_us` times.
    round_trip_definition: &'static str,
    round_trip_us: RoundTrip,
    round_trips: usize,
    /// Stops the coordinator received, and resumed.
    stops: u64,
    resumed: u64,
    /// Stopping workers that stopped at least once.
    stopping_workers_seen: usize,
    /// Workers whose jobs all ended without error.
    workers_finished: usize,
    events_per_second: f64,
    /// With no kernel workers: this process's CPU time per stop (worker,
    /// coordinator, signals and wake-ups), what a round trip costs apart
    /// from waiting to be scheduled.
    cpu_us_per_stop: Option<f64>,
    /// Summed over the breakpoint phases.
    breakpoint_seconds: f64,
    kernel_iterations_per_second: Option<KernelRate>,
    /// Per CPU second of the whole process: the stops' own CPU time counts
    /// against the kernel, while what other processes on the machine take
    /// (which moves between phases on a shared machine) does not.
    kernel_iterations_per_cpu_second: Option<KernelRate>,
    /// Quiet throughput over breakpoint throughput (above 1: slowed by the stops).
    kernel_slowdown: Option<f64>,
    /// The same per CPU second.
    kernel_slowdown_per_cpu: Option<f64>,
    rounds: u32,
    phase_ms: u64,
    kernel_nice: i32,
    phases: Vec<PhaseReport>,
    load_average_1m: Option<f64>,
    command: String,
}

/// What one breakpoint phase found.
#[derive(Default)]
struct Served {
    stops: u64,
    resumed: u64,
    seconds: f64,
}

/// Everything the phases accumulate.
struct Run<'a> {
    pool: &'a WorkerPool,
    session: &'a mut DebugSession,
    flags: Arc<Flags>,
    entry: u32,
    stoppers: Vec<usize>,
    trips: Vec<Duration>,
    seen: Vec<bool>,
    served: Served,
    /// Per kind of phase: quiet, breakpoint.
    kernel: [Tally; 2],
    phases: Vec<PhaseReport>,
}

/// Run the load mode.
pub(super) fn main(args: &DebugBenchArgs) -> Result<()> {
    let stopping = usize::try_from(args.stopping)?;
    ensure!(stopping <= args.workers, "--stopping {stopping} is more than --workers {}", args.workers);
    let (pool, mut session, entry) = debugged_pool(args.workers)?;
    let flags = Arc::new(Flags::default());
    let kernels: Vec<CallHandle<()>> = (stopping..args.workers).map(|w| kernel_job(&pool, w, args.kernel_nice, flags.clone())).collect();
    let mut run = Run {
        pool: &pool,
        session: &mut session,
        flags: flags.clone(),
        entry,
        stoppers: (0..stopping).collect(),
        trips: Vec::new(),
        seen: vec![false; stopping],
        served: Served::default(),
        kernel: [Tally::default(); 2],
        phases: Vec::new(),
    };
    let phases = run.phases_of(args);
    // Set before looking at the outcome: kernel workers left looping would
    // hold up the pool's shutdown on an error.
    flags.finished.store(true, Ordering::Release);
    phases?;
    // A stopping worker that trapped, panicked or went away failed its
    // phase's `job.wait()` already: all of them finished to get here.
    let mut finished = run.seen.len();
    for kernel in kernels {
        kernel.wait()?;
        finished += 1;
    }
    let report = run.report(args, finished);
    let shutdown = pool.shutdown(Duration::from_secs(10));
    ensure!(shutdown.is_clean(), "the workers did not shut down cleanly: {shutdown:?}");
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print_table(&report);
    }
    Ok(())
}

/// Worker `worker`, at nice value `nice`, calls `work` until the run is over.
fn kernel_job(pool: &WorkerPool, worker: usize, nice: i32, flags: Arc<Flags>) -> CallHandle<()> {
    pool.run(Target::Worker(worker), move |_, store, instance| {
        if nice != 0 {
            set_thread_nice(nice).map_err(|e| CallError::Wasm(format!("setpriority: {e}")))?;
        }
        let work = instance.get_typed_func::<(i32,), i32>(&*store, "work").map_err(CallError::from)?;
        while !flags.finished.load(Ordering::Acquire) {
            work.call(&mut *store, (KERNEL_CHUNK,)).map_err(CallError::from)?;
            flags.kernel_iterations.fetch_add(KERNEL_CHUNK as u64, Ordering::Relaxed);
        }
        Ok(())
    })
}

/// Worker `worker` calls `spin` while its phase lasts.
fn stopping_job(pool: &WorkerPool, worker: usize, flags: Arc<Flags>) -> CallHandle<()> {
    pool.run(Target::Worker(worker), move |_, store, instance| {
        let _leaving = Leaving(&flags.stoppers_active);
        let spin = instance.get_typed_func::<(i32,), i32>(&*store, "spin").map_err(CallError::from)?;
        while flags.stopping.load(Ordering::Acquire) {
            spin.call(&mut *store, (SPIN_CHUNK,)).map_err(CallError::from)?;
        }
        Ok(())
    })
}

impl Run<'_> {
    /// All rounds, after a short warm-up, with a progress bar.
    fn phases_of(&mut self, args: &DebugBenchArgs) -> Result<()> {
        // Let every kernel worker get going before anything is counted.
        std::thread::sleep(Duration::from_millis(args.phase_ms.min(100)));
        let bar = progress::bar(u64::from(args.rounds) * 2, "phases");
        for round in 0..args.rounds {
            let order = if round % 2 == 0 { [Phase::Quiet, Phase::Breakpoint] } else { [Phase::Breakpoint, Phase::Quiet] };
            for phase in order {
                bar.set_message(format!("round {}: {phase:?}", round + 1));
                self.phase(phase, Duration::from_millis(args.phase_ms))?;
                bar.inc(1);
            }
        }
        bar.finish_and_clear();
        Ok(())
    }

    /// Run one phase of `length`, counting the kernel workers' iterations.
    fn phase(&mut self, phase: Phase, length: Duration) -> Result<()> {
        let (start, cpu_start) = (Instant::now(), process_cpu()?);
        let before = self.flags.kernel_iterations.load(Ordering::Relaxed);
        let stops_before = self.served.stops;
        match phase {
            Phase::Quiet => std::thread::sleep(length),
            Phase::Breakpoint => self.serve(length)?,
        }
        let iterations = self.flags.kernel_iterations.load(Ordering::Relaxed) - before;
        let seconds = start.elapsed().as_secs_f64();
        let cpu_seconds = (process_cpu()? - cpu_start).as_secs_f64();
        let tally = &mut self.kernel[usize::from(phase == Phase::Breakpoint)];
        tally.iterations += iterations;
        tally.seconds += seconds;
        tally.cpu_seconds += cpu_seconds;
        self.phases.push(PhaseReport {
            phase,
            seconds,
            kernel_iterations_per_second: iterations as f64 / seconds,
            cpu_share: cpu_seconds / seconds,
            stops: self.served.stops - stops_before,
        });
        Ok(())
    }

    /// Arm the stopping workers' breakpoints, let them spin for `length`,
    /// resuming every stop at once, then disarm them and serve the stops
    /// still in flight until all have left `spin`.
    fn serve(&mut self, length: Duration) -> Result<()> {
        for &w in &self.stoppers {
            self.session.set_breakpoint(Who::Worker(w), 0, self.entry)?;
        }
        self.flags.stopping.store(true, Ordering::Release);
        self.flags.stoppers_active.store(self.stoppers.len(), Ordering::Release);
        let jobs: Vec<CallHandle<()>> = self.stoppers.iter().map(|&w| stopping_job(self.pool, w, self.flags.clone())).collect();
        let start = Instant::now();
        // A worker's resume time, cleared at each phase: a trip never spans the gap between phases.
        let mut resumed: Vec<Option<Instant>> = vec![None; self.stoppers.len()];
        let mut last_stop = start;
        let mut armed = true;
        loop {
            if armed && start.elapsed() >= length {
                // Disarmed, the rest of each worker's `spin` call runs without
                // stopping: the phase ends within one round trip, not SPIN_CHUNK.
                self.flags.stopping.store(false, Ordering::Release);
                self.disarm()?;
                armed = false;
            }
            if !armed && self.flags.stoppers_active.load(Ordering::Acquire) == 0 {
                break;
            }
            let Some(stop) = self.session.wait(None, POLL) else {
                ensure!(last_stop.elapsed() < WAIT, "no stop within {WAIT:?} while stopping workers were running");
                continue;
            };
            last_stop = Instant::now();
            let slot = resumed.get_mut(stop.worker).ok_or_else(|| anyhow!("worker {} stopped but runs the kernel", stop.worker))?;
            if let Some(at) = slot.take() {
                self.trips.push(last_stop - at);
            }
            self.seen[stop.worker] = true;
            self.served.stops += 1;
            *slot = Some(Instant::now());
            self.session.resume(stop.worker, Resume::Continue)?;
            self.served.resumed += 1;
        }
        self.served.seconds += start.elapsed().as_secs_f64();
        // A stop left unanswered would keep its job from ending.
        for job in jobs {
            job.wait()?;
        }
        Ok(())
    }

    /// Clear the stopping workers' breakpoints.
    fn disarm(&self) -> Result<()> {
        for &w in &self.stoppers {
            self.session.clear_breakpoint(Who::Worker(w), 0, self.entry)?;
        }
        Ok(())
    }

    /// The report, with `finished` workers whose jobs all ended well.
    fn report(&mut self, args: &DebugBenchArgs, finished: usize) -> LoadReport {
        self.trips.sort_unstable();
        let kernel_workers = args.workers - self.stoppers.len();
        let [quiet, breakpoint] = self.kernel;
        let rate = |per: fn(&Tally) -> f64| {
            (kernel_workers > 0).then(|| KernelRate {
                quiet: quiet.iterations as f64 / per(&quiet),
                breakpoint: breakpoint.iterations as f64 / per(&breakpoint),
            })
        };
        let (kernel, per_cpu) = (rate(|t| t.seconds), rate(|t| t.cpu_seconds));
        LoadReport {
            workers: args.workers,
            stopping_workers: self.stoppers.len(),
            kernel_workers,
            round_trip_definition: "coordinator side: resume sent to worker W -> W's next stop received",
            round_trip_us: RoundTrip {
                median: percentile(&self.trips, 0.5),
                p90: percentile(&self.trips, 0.9),
                p99: percentile(&self.trips, 0.99),
                max: percentile(&self.trips, 1.0),
            },
            round_trips: self.trips.len(),
            stops: self.served.stops,
            resumed: self.served.resumed,
            stopping_workers_seen: self.seen.iter().filter(|s| **s).count(),
            workers_finished: finished,
            events_per_second: self.served.stops as f64 / self.served.seconds,
            cpu_us_per_stop: (kernel_workers == 0 && self.served.stops > 0)
                .then(|| breakpoint.cpu_seconds * 1e6 / self.served.stops as f64),
            breakpoint_seconds: self.served.seconds,
            kernel_slowdown: kernel.as_ref().map(KernelRate::slowdown),
            kernel_slowdown_per_cpu: per_cpu.as_ref().map(KernelRate::slowdown),
            kernel_iterations_per_second: kernel,
            kernel_iterations_per_cpu_second: per_cpu,
            rounds: args.rounds,
            phase_ms: args.phase_ms,
            kernel_nice: args.kernel_nice,
            phases: std::mem::take(&mut self.phases),
            load_average_1m: load_average(),
            command: format!(
                "cargo run --release --bin onecopy -- bench debug --load --workers {} --stopping {} --rounds {} --phase-ms {} --kernel-nice {}",
                args.workers, args.stopping, args.rounds, args.phase_ms, args.kernel_nice
            ),
        }
    }
}

impl KernelRate {
    /// Quiet over breakpoint: above 1, the stops slowed the kernel.
    fn slowdown(&self) -> f64 {
        self.quiet / self.breakpoint
    }
}

/// Give the calling thread nice value `nice` (raising it needs no privilege;
/// the pool's thread keeps it, which is fine for a pool that ends with the run).
fn set_thread_nice(nice: i32) -> std::io::Result<()> {
    // SAFETY: gettid has no preconditions.
    let tid = unsafe { libc::gettid() };
    // On Linux a nice value belongs to a thread, and PRIO_PROCESS with a
    // thread id sets that one thread's.
    // SAFETY: plain system call on our own thread id; no memory is passed.
    let status = unsafe { libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, nice) };
    if status == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// CPU time this process (every thread) has used so far.
fn process_cpu() -> Result<Duration> {
    let mut now = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `now` is a valid, writable timespec for the call's duration.
    let status = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut now) };
    ensure!(status == 0, "clock_gettime(CLOCK_PROCESS_CPUTIME_ID): {}", std::io::Error::last_os_error());
    Ok(Duration::new(u64::try_from(now.tv_sec)?, u32::try_from(now.tv_nsec)?))
}

/// The machine's one-minute load average, where `/proc` tells it: how
/// busy the cores were that the run shared.
fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg").ok()?.split_whitespace().next()?.parse().ok()
}

fn print_table(r: &LoadReport) {
    println!(
        "{} workers on one debug-compiled module: {} hit a breakpoint in a loop, {} run a kernel; {} rounds of {} ms phases",
        r.workers, r.stopping_workers, r.kernel_workers, r.rounds, r.phase_ms
    );
    if r.kernel_nice != 0 {
        println!("kernel workers at nice {}", r.kernel_nice);
    }
    println!("round trip = {}", r.round_trip_definition);
    let t = &r.round_trip_us;
    println!("{:<28} {:>10} {:>10} {:>10} {:>10}", "", "median", "p90", "p99", "max");
    println!("{:<28} {:>10.1} {:>10.1} {:>10.1} {:>10.1}", format!("round trip, us ({})", r.round_trips), t.median, t.p90, t.p99, t.max);
    println!("{:<28} {:>10}", "stops handled (resumed)", format!("{} ({})", r.stops, r.resumed));
    println!("{:<28} {:>10.0}", "events per second", r.events_per_second);
    if let Some(cpu) = r.cpu_us_per_stop {
        println!("{:<28} {:>10.1}", "CPU us per stop", cpu);
    }
    match &r.kernel_iterations_per_second {
        Some(k) => {
            let cpu = r.kernel_iterations_per_cpu_second.as_ref().unwrap_or(k);
            println!("{:<28} {:>10} {:>10} {:>10}", "kernel Miter/s", "no bp", "bp hit", "slowdown");
            println!("{:<28} {:>10.1} {:>10.1} {:>10.3}", "  per wall second", k.quiet / 1e6, k.breakpoint / 1e6, k.slowdown());
            println!(
                "{:<28} {:>10.1} {:>10.1} {:>10.3}",
                "  per process CPU second",
                cpu.quiet / 1e6,
                cpu.breakpoint / 1e6,
                cpu.slowdown()
            );
        }
        None => println!("{:<28} {:>10}", "kernel", "no kernel workers"),
    }
    if let Some(load) = r.load_average_1m {
        println!("{:<28} {:>10.2}", "load average (1 min)", load);
    }
    println!("reproduce: {}", r.command);
}
