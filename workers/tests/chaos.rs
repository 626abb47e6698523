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

mod common;

use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::{sites, Rng};
use onecopy_workers::runtime::{CodeMemory, Config, Engine, Error, Instance, Module, StopReason, Store};
use onecopy_workers::{CallHandle, DebugEvent, DebugSession, GlobalRef, PoolConfig, Resume, Target, Value, Who, WorkerPool};

const PROGRAM: &str = include_str!("data/chaos.wat");
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

/// One kernel call and the result it must give.
#[derive(Debug, Clone)]
struct Call {
    export: &'static str,
    args: Vec<Value>,
    expected: i32,
}

fn fib(n: i32) -> i32 {
    if n < 2 {
        n
    } else {
        fib(n - 1).wrapping_add(fib(n - 2))
    }
}

fn mix(n: i32) -> i32 {
    let acc = (0..n as u32).fold(0u64, |acc, i| acc.wrapping_mul(31).wrapping_add(i as u64));
    (acc as u32 ^ (acc >> 32) as u32) as i32
}

fn checksum(n: i32) -> i32 {
    let byte = |i: i32| i.wrapping_mul(31).wrapping_add(n) as u8;
    (0..n).fold(0u32, |h, i| h.rotate_left(5) ^ byte(i) as u32) as i32
}

fn collatz(n: i32) -> i32 {
    let (mut n, mut steps) = (n as u32, 0i32);
    while n > 1 {
        n = if n & 1 == 1 { n.wrapping_mul(3).wrapping_add(1) } else { n >> 1 };
        steps = steps.wrapping_add(1);
    }
    steps
}

/// A random kernel call: directly by export, or through `dispatch`'s `call_indirect`.
fn random_call(rng: &mut Rng) -> Call {
    let k = rng.below(4) as usize;
    let (n, expected) = match k {
        0 => {
            let n = rng.range(5..=17);
            (n, fib(n))
        }
        1 => {
            let n = rng.range(0..=3000);
            (n, mix(n))
        }
        2 => {
            let n = rng.range(0..=3000);
            (n, checksum(n))
        }
        _ => {
            let n = rng.range(1..=50_000);
            (n, collatz(n))
        }
    };
    if rng.chance(50) {
        Call { export: FUNCS[k].0, args: vec![Value::I32(n)], expected }
    } else {
        Call { export: "dispatch", args: vec![Value::I32(k as i32), Value::I32(n)], expected }
    }
}

/// Wait for `handle` and check its result against `call`'s.
fn check(call: &Call, target: Target, handle: CallHandle) -> Result<(), String> {
    match handle.wait_timeout(WAIT) {
        Ok(Ok(results)) if results == [Value::I32(call.expected)] => Ok(()),
        Ok(Ok(results)) => Err(format!("{call:?} on {target:?} returned {results:?}")),
        Ok(Err(e)) => Err(format!("{call:?} on {target:?} failed: {e}")),
        Err(_) => Err(format!("{call:?} on {target:?} did not return within {WAIT:?}: deadlock?")),
    }
}

/// The driver: rounds of one call per worker plus a few to whichever is
/// idle, every result checked, until the chaos time is up.
fn drive(pool: &WorkerPool, seed: u64, chaos: Duration, progress: &Progress) -> Result<usize, String> {
    let mut rng = Rng::new(seed ^ 0xd1);
    let start = Instant::now();
    let mut rounds = 0;
    while start.elapsed() < chaos && !progress.done.load(Ordering::Relaxed) {
        let targets = (0..WORKERS).map(Target::Worker).chain((0..WORKERS / 4).map(|_| Target::Any));
        let batch: Vec<(Call, Target, CallHandle)> = targets
            .map(|target| {
                let call = random_call(&mut rng);
                let handle = pool.call(target, call.export, call.args.clone());
                (call, target, handle)
            })
            .collect();
        for (call, target, handle) in batch {
            check(&call, target, handle)?;
            progress.calls.fetch_add(1, Ordering::Relaxed);
        }
        rounds += 1;
    }
    Ok(rounds)
}

/// A breakpoint the coordinator set.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Breakpoint {
    who: Who,
    func: u32,
    offset: u32,
}

/// Stops seen, by reason.
#[derive(Debug, Default)]
struct Stops {
    breakpoint: usize,
    step: usize,
    pause: usize,
}

/// The coordinator: owns the session and does random things to the workers.
struct Coordinator<'a> {
    session: DebugSession,
    rng: Rng,
    progress: &'a Progress,
    /// Breakable points of each function of `FUNCS`.
    sites: Vec<Vec<u32>>,
    breakpoints: Vec<Breakpoint>,
    /// What each worker's scratch bytes hold (the coordinator is the only writer).
    scratch: Vec<[u8; SCRATCH]>,
    /// Workers asked to pause whose pause no stop has consumed yet.
    pause_owed: Vec<bool>,
    /// Workers kept stopped for a while (several stopped at once).
    held: Vec<usize>,
    stops: Stops,
}

impl Coordinator<'_> {
    fn note(&self, action: impl Into<String>) {
        *self.progress.last.lock().unwrap() = action.into();
    }

    fn random_worker(&mut self) -> usize {
        self.rng.below(WORKERS as u64) as usize
    }

    fn random_who(&mut self, all_percent: u64) -> Who {
        if self.rng.chance(all_percent) {
            Who::All
        } else {
            Who::Worker(self.random_worker())
        }
    }

    /// Forget what `who` no longer has after `clear_all`: breakpoints and a pending pause.
    fn cleared(&mut self, who: Who) {
        match who {
            Who::All => {
                self.breakpoints.clear();
                self.pause_owed.fill(false);
            }
            Who::Worker(w) => {
                self.breakpoints.retain(|b| b.who != Who::Worker(w));
                self.pause_owed[w] = false;
            }
        }
    }

    /// One random change to breakpoints or pauses.
    fn act(&mut self) -> Result<(), String> {
        let roll = self.rng.below(100);
        let fail = |what: &str, e: onecopy_workers::DebugError| format!("{what}: {e}");
        match roll {
            0..=24 if self.breakpoints.len() < 6 => {
                let f = self.rng.below(FUNCS.len() as u64) as usize;
                let offset = *self.rng.pick(&self.sites[f]);
                let who = self.random_who(5);
                let bp = Breakpoint { who, func: FUNCS[f].1, offset };
                self.note(format!("set {bp:?}"));
                self.session.set_breakpoint(who, bp.func, offset).map_err(|e| fail("set_breakpoint", e))?;
                self.breakpoints.push(bp);
            }
            25..=44 if !self.breakpoints.is_empty() => {
                let i = self.rng.below(self.breakpoints.len() as u64) as usize;
                let bp = self.breakpoints.swap_remove(i);
                self.note(format!("clear {bp:?}"));
                self.session.clear_breakpoint(bp.who, bp.func, bp.offset).map_err(|e| fail("clear_breakpoint", e))?;
            }
            45..=47 => {
                let who = self.random_who(20);
                self.note(format!("clear_all {who:?}"));
                self.session.clear_all(who).map_err(|e| fail("clear_all", e))?;
                self.cleared(who);
            }
            48..=59 => {
                let who = self.random_who(3);
                self.note(format!("pause {who:?}"));
                self.session.pause(who).map_err(|e| fail("pause", e))?;
                match who {
                    Who::All => self.pause_owed.fill(true),
                    Who::Worker(w) => self.pause_owed[w] = true,
                }
            }
            60..=62 => {
                let w = self.random_worker();
                self.note(format!("cancel_pause {w}"));
                self.session.cancel_pause(Who::Worker(w)).map_err(|e| fail("cancel_pause", e))?;
                self.pause_owed[w] = false;
            }
            _ => {}
        }
        Ok(())
    }

    /// Look at a stopped worker the way a debugger does, writing only
    /// values that leave the program's results as they were.
    fn inspect(&mut self, stop: &DebugEvent) -> Result<(), String> {
        let w = stop.worker;
        let at = format!("worker {w} stopped in {:?} at {:#x} ({:?})", stop.name, stop.wasm_offset, stop.kind);
        let fail = |what: &str, e: &dyn fmt::Display| format!("{at}: {what}: {e}");
        self.note(format!("inspect: {at}"));
        let (name, _) = FUNCS.iter().find(|(_, f)| *f == stop.func).ok_or_else(|| format!("{at}: not a kernel"))?;
        if stop.name.as_deref() != Some(*name) {
            return Err(format!("{at}: function {} is {name}", stop.func));
        }
        let frames = self.session.backtrace(w).map_err(|e| fail("backtrace", &e))?;
        match frames.first() {
            Some(top) if (top.func, top.wasm_offset) == (stop.func, stop.wasm_offset) => {}
            _ => return Err(format!("{at}: backtrace {frames:?} does not start at the stop")),
        }
        let locals = self.session.frame_locals(w, 0).map_err(|e| fail("locals", &e))?;
        for (i, local) in locals.iter().enumerate() {
            if let Some(value) = local.value {
                if value.ty() != local.ty {
                    return Err(format!("{at}: local {i} is a {:?} holding {value:?}", local.ty));
                }
                self.session.set_local(w, i as u32, value).map_err(|e| fail("set_local", &e))?;
            }
        }
        let again = self.session.frame_locals(w, 0).map_err(|e| fail("locals again", &e))?;
        if again != locals {
            return Err(format!("{at}: locals {locals:?} read back as {again:?}"));
        }
        if frames.len() > 1 {
            self.session.frame_locals(w, 1).map_err(|e| fail("the caller's locals", &e))?;
        }
        if self.rng.chance(40) {
            let stack = self.session.stack(w).map_err(|e| fail("stack", &e))?;
            for (i, operand) in stack.iter().enumerate() {
                if let Some(value) = operand.value {
                    self.session.set_stack(w, i as u32, value).map_err(|e| fail("set_stack", &e))?;
                }
            }
            let again = self.session.stack(w).map_err(|e| fail("stack again", &e))?;
            if again != stack {
                return Err(format!("{at}: operands {stack:?} read back as {again:?}"));
            }
        }
        let scratch = self.session.memory(w, 0, SCRATCH as u32).map_err(|e| fail("read scratch", &e))?;
        if scratch != self.scratch[w] {
            return Err(format!("{at}: scratch memory is {scratch:?}, the debugger last wrote {:?}", self.scratch[w]));
        }
        if self.rng.chance(50) {
            let mut bytes = [0u8; SCRATCH];
            bytes.iter_mut().for_each(|b| *b = self.rng.next() as u8);
            self.session.write_memory(w, 0, bytes.to_vec()).map_err(|e| fail("write scratch", &e))?;
            let back = self.session.memory(w, 0, SCRATCH as u32).map_err(|e| fail("read scratch back", &e))?;
            if back != bytes {
                return Err(format!("{at}: wrote {bytes:?} to scratch, read back {back:?}"));
            }
            self.scratch[w] = bytes;
        }
        let calls = GlobalRef::Name("calls".into());
        let count = self.session.global(w, calls.clone(), None).map_err(|e| fail("read global", &e))?;
        let written = self.session.global(w, calls, Some(count)).map_err(|e| fail("write global", &e))?;
        if written != count {
            return Err(format!("{at}: global `calls` written as {count:?} reads {written:?}"));
        }
        Ok(())
    }

    /// Let a stopped worker go on, in a random way.
    fn resume(&mut self, w: usize) -> Result<(), String> {
        let how = match self.rng.below(100) {
            0..=54 => Resume::Continue,
            55..=69 => Resume::StepInto,
            70..=83 => Resume::StepOver,
            84..=97 => Resume::StepOut,
            _ => Resume::Detach,
        };
        // A pause asked of a stopped worker must outlive the resume's
        // change of stepping (the runtime once lost it there).
        if how != Resume::Detach && self.rng.chance(15) {
            self.note(format!("pause the stopped worker {w}"));
            self.session.pause(Who::Worker(w)).map_err(|e| format!("pause {w}: {e}"))?;
            self.pause_owed[w] = true;
        }
        self.note(format!("resume {w} {how:?}"));
        self.session.resume(w, how).map_err(|e| format!("resume {w}: {e}"))?;
        if how == Resume::Detach {
            // A worker's own detach clears its breakpoints and pause.
            self.cleared(Who::Worker(w));
        }
        Ok(())
    }

    /// Take one stop, if one comes soon: inspect it, then resume it or hold it.
    fn take_stop(&mut self) -> Result<(), String> {
        let Some(stop) = self.session.wait(None, Duration::from_millis(2)) else { return Ok(()) };
        self.progress.stops.fetch_add(1, Ordering::Relaxed);
        // Any stop takes the worker's pending pause with it.
        self.pause_owed[stop.worker] = false;
        match stop.kind {
            StopReason::Breakpoint => self.stops.breakpoint += 1,
            StopReason::Step => self.stops.step += 1,
            StopReason::Pause => self.stops.pause += 1,
        }
        self.inspect(&stop)?;
        if self.held.len() < 4 && self.rng.chance(25) {
            self.held.push(stop.worker);
            Ok(())
        } else {
            self.resume(stop.worker)
        }
    }

    /// Resume some of the held workers, after another look at them.
    fn release_held(&mut self) -> Result<(), String> {
        let mut i = 0;
        while i < self.held.len() {
            if self.rng.chance(30) {
                let w = self.held.swap_remove(i);
                self.session.locals(w).map_err(|e| format!("held worker {w}: locals: {e}"))?;
                self.resume(w)?;
            } else {
                i += 1;
            }
        }
        Ok(())
    }

    /// Until the driver is done: act, take stops, release held workers.
    fn run(&mut self) -> Result<(), String> {
        while !self.progress.done.load(Ordering::Relaxed) {
            self.act()?;
            self.take_stop()?;
            self.release_held()?;
        }
        Ok(())
    }

    /// With the driver done and every worker idle: clear the breakpoints
    /// (not the pauses), then run one call on every worker; a worker still
    /// owed a pause must stop for it. Then detach.
    fn finish(mut self, pool: &WorkerPool) -> Result<Stops, String> {
        self.note("finish: clear breakpoints");
        for bp in std::mem::take(&mut self.breakpoints) {
            self.session.clear_breakpoint(bp.who, bp.func, bp.offset).map_err(|e| format!("clear {bp:?}: {e}"))?;
        }
        if !self.held.is_empty() || !self.session.stopped().is_empty() {
            return Err(format!("workers {:?} are stopped though every call returned", self.session.stopped()));
        }
        let owed = self.pause_owed.clone();
        self.note(format!("finish: deliver the pauses owed to {:?}", (0..WORKERS).filter(|w| owed[*w]).collect::<Vec<_>>()));
        let mut calls: Vec<Option<CallHandle>> =
            (0..WORKERS).map(|w| Some(pool.call(Target::Worker(w), "fib", vec![Value::I32(6)]))).collect();
        let mut first_stop: Vec<Option<StopReason>> = vec![None; WORKERS];
        let deadline = Instant::now() + WAIT;
        while calls.iter().any(Option::is_some) {
            if Instant::now() > deadline {
                return Err(format!("finish: calls on workers {:?} did not return", (0..WORKERS).filter(|w| calls[*w].is_some()).collect::<Vec<_>>()));
            }
            if let Some(stop) = self.session.wait(None, Duration::from_millis(1)) {
                first_stop[stop.worker].get_or_insert(stop.kind);
                self.session.resume(stop.worker, Resume::Continue).map_err(|e| format!("finish: resume: {e}"))?;
            }
            for (w, slot) in calls.iter_mut().enumerate() {
                if let Some(handle) = slot.take() {
                    match handle.wait_timeout(Duration::ZERO) {
                        Ok(Ok(r)) if r == [Value::I32(8)] => {}
                        Ok(other) => return Err(format!("finish: fib(6) on worker {w} gave {other:?}")),
                        Err(handle) => *slot = Some(handle),
                    }
                }
            }
        }
        for w in (0..WORKERS).filter(|w| owed[*w]) {
            if first_stop[w] != Some(StopReason::Pause) {
                return Err(format!("worker {w} was asked to pause, but its next call stopped {:?}", first_stop[w]));
            }
        }
        self.note("finish: detach");
        self.session.detach();
        Ok(self.stops)
    }
}

/// Text of the churn thread's module: `count` functions `f{k}(n)` summing
/// `i + k` for `i` in `1..=n`, and `run(k, n)` reaching them through a table.
fn churn_wat(count: u32) -> String {
    let mut wat = String::from("(module (type $t (func (param i32) (result i32)))\n");
    wat += &format!("(table {count} funcref) (elem (i32.const 0)");
    (0..count).for_each(|k| wat += &format!(" $f{k}"));
    wat += ")\n";
    for k in 0..count {
        wat += &format!(
            "(func $f{k} (type $t) (local $acc i32)
               (block $done (loop $next
                 (br_if $done (i32.eqz (local.get 0)))
                 (local.set $acc (i32.add (local.get $acc) (i32.add (local.get 0) (i32.const {k}))))
                 (local.set 0 (i32.sub (local.get 0) (i32.const 1)))
                 (br $next)))
               (local.get $acc))\n"
        );
    }
    wat + r#"(func (export "run") (param i32 i32) (result i32) (call_indirect (type $t) (local.get 1) (local.get 0))))"#
}

fn churn_expected(k: u32, n: i32) -> i32 {
    (1..=n).fold(0i32, |acc, i| acc.wrapping_add(i.wrapping_add(k as i32)))
}

/// Instantiate a churn module and check one of its functions.
fn churn_runs(module: &Module, k: u32) -> Result<(), String> {
    let mut store = Store::new(module.engine(), ());
    let instance = Instance::new(&mut store, module, &[]).map_err(|e| format!("instantiate a churn module: {e}"))?;
    let run = instance.get_typed_func::<(i32, i32), i32>(&store, "run").map_err(|e| e.to_string())?;
    match run.call(&mut store, (k as i32, 100)) {
        Ok(got) if got == churn_expected(k, 100) => Ok(()),
        other => Err(format!("churn module run({k}, 100) gave {other:?}")),
    }
}

/// The churn thread: compile modules into the shared engine until its
/// arena is full, run them, drop some, go on, until the driver is done.
fn churn(engine: &Engine, wasm: &[u8], seed: u64, progress: &Progress) -> Result<(), String> {
    let mut rng = Rng::new(seed ^ 0xc4);
    let mut live = VecDeque::new();
    while !progress.done.load(Ordering::Relaxed) {
        match Module::new(engine, wasm) {
            Ok(module) => {
                churn_runs(&module, rng.below(CHURN_FUNCS as u64) as u32)?;
                progress.compiled.fetch_add(1, Ordering::Relaxed);
                live.push_back(module);
                if live.len() > 8 {
                    live.pop_front();
                }
            }
            Err(Error::CodeArenaExhausted(_)) => {
                progress.exhausted.fetch_add(1, Ordering::Relaxed);
                // Make room again, in a random order so holes open between live modules.
                for _ in 0..live.len().div_ceil(2) {
                    let i = rng.below(live.len() as u64) as usize;
                    live.remove(i);
                }
            }
            Err(e) => return Err(format!("compiling a churn module failed, not as a full arena: {e}")),
        }
    }
    Ok(())
}

/// Arena space a module takes (code pages and trap tail), measured in an engine of its own.
fn footprint(wasm: &[u8]) -> usize {
    let engine = Engine::new(&Config::new().debug(true)).expect("a measuring engine");
    let stubs = Module::new(&engine, wasm).expect("the module compiles");
    let before = engine.code_memory();
    let module = Module::new(&engine, wasm).expect("the module compiles");
    let after = engine.code_memory();
    drop((module, stubs));
    (after.committed + after.trap_tails) - (before.committed + before.trap_tails)
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
    let mut coordinator = Coordinator {
        session,
        rng: Rng::new(seed),
        progress: &progress,
        sites: FUNCS.iter().map(|(_, f)| sites(&module, *f)).collect(),
        breakpoints: Vec::new(),
        scratch: vec![[0; SCRATCH]; WORKERS],
        pause_owed: vec![false; WORKERS],
        held: Vec::new(),
        stops: Stops::default(),
    };
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
