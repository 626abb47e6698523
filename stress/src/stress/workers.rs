//! One row of `onecopy stress`: N worker threads, each instantiating the
//! module, setting one breakpoint and hitting it once, with the arena and
//! the process measured while every instance is alive.
//!
//! Every worker passes every barrier whatever happens to it (a worker that
//! cannot instantiate, or gets no code clone in legacy mode, records its
//! error and waits with the others), so a failing worker never leaves the
//! rest waiting.

use std::cell::Cell;
use std::panic::AssertUnwindSafe;
use std::rc::Rc;
use std::sync::mpsc;
use std::sync::{Arc, Barrier, Condvar, Mutex};
use std::time::{Duration, Instant};

use onecopy_runtime::{CodeArenaExhausted, DebugAction, Error, Instance, Module, SiteKind, Store, Val};
use onecopy_wasi::{I32Exit, WasiCtx};

use super::generate;
use super::imports;

/// Native stack of each worker thread: wasm here needs little, and 256
/// threads stay cheap.
const WORKER_STACK: usize = 2 << 20;
/// The fuel `run` gets on the built-in module: a call tree a few levels deep.
const FUEL: i32 = 2;

/// What each worker does with its instance.
pub enum Workload {
    /// The built-in module: worker `w` breaks at the entry of the entry
    /// point in table slot `slot(w)` and calls `run(slot, FUEL)`, which
    /// enters that function exactly once; the handler continues.
    Builtin { slots: Vec<u32> },
    /// A foreign module: every worker breaks at the entry of `func` and, if
    /// `call` is set, calls that export (no parameters) once; the handler
    /// counts the stop and aborts the call there, since what a foreign
    /// export does with stub imports is unknown. Without `call`, no call:
    /// the breakpoint is only set (and 0 events are expected).
    Foreign { func: u32, call: Option<String>, stub_imports: bool },
    /// A WASI command: every worker breaks at the entry of `_start`
    /// (function `func`), continues, and runs the program to its end with
    /// WASI of its own (no arguments, stdout and stderr discarded).
    Command { func: u32 },
}

impl Workload {
    /// The function worker `w` breaks in, and the table slot it calls.
    fn target(&self, w: usize) -> (u32, Option<usize>) {
        match self {
            Workload::Builtin { slots } => {
                let slot = w * 7919 % slots.len();
                (slots[slot], Some(slot))
            }
            Workload::Foreign { func, .. } | Workload::Command { func } => (*func, None),
        }
    }

    /// Breakpoint events one worker must see.
    fn expected_events(&self) -> u64 {
        match self {
            Workload::Foreign { call: None, .. } => 0,
            _ => 1,
        }
    }
}

/// Why one worker failed.
#[derive(Debug, Clone)]
pub enum WorkerError {
    /// No room in the code arena (legacy mode: no room for this worker's clone).
    Exhausted(CodeArenaExhausted),
    Other(String),
}

impl std::fmt::Display for WorkerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WorkerError::Exhausted(e) => write!(f, "CodeArenaExhausted ({e})"),
            WorkerError::Other(e) => f.write_str(e),
        }
    }
}

fn other(e: impl std::fmt::Display) -> WorkerError {
    WorkerError::Other(e.to_string())
}

/// What one row measured.
pub struct Measured {
    /// `engine.code_memory().used` while every instance was alive and armed.
    pub arena_used: usize,
    /// Process RSS at that moment.
    pub rss: Option<u64>,
    /// From starting the workers until every one had instantiated and set
    /// its breakpoint (or failed to).
    pub instantiate: Duration,
    /// Handler calls over all workers.
    pub events: u64,
    /// Workers whose breakpoint was set.
    pub debugged: usize,
    /// Every debugged worker calls the module's one shared copy of the code.
    pub same_code_addresses: bool,
    /// Failed workers, by index.
    pub errors: Vec<(usize, WorkerError)>,
}

/// At most `permits` holders at once: instantiating and arming are limited
/// to one per core, so that legacy mode's clones (each a whole copy of the
/// code, built on the heap before it goes to the arena) are not all in
/// flight at once with hundreds of workers.
struct Semaphore {
    free: Mutex<usize>,
    freed: Condvar,
}

impl Semaphore {
    fn with<T>(&self, f: impl FnOnce() -> T) -> T {
        let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        while *free == 0 {
            free = self.freed.wait(free).unwrap_or_else(|e| e.into_inner());
        }
        *free -= 1;
        drop(free);
        let out = f();
        *self.free.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        self.freed.notify_one();
        out
    }
}

/// Run one row: `workers` threads over `module`.
pub fn measure(module: &Module, workload: &Workload, workers: usize) -> Result<Measured, String> {
    let engine = module.engine();
    let permits = std::thread::available_parallelism().map_or(2, |n| n.get());
    let gate = Semaphore { free: Mutex::new(permits), freed: Condvar::new() };
    let probes = probes(module, workload);
    let (used, rss, instantiate, outcomes) = std::thread::scope(|s| {
        // The barrier is made once every thread has started: a thread that
        // fails to start must not leave the others waiting for it forever.
        let mut gates = Vec::new();
        let mut threads = Vec::new();
        for w in 0..workers {
            let (send, receive) = mpsc::channel::<Option<Arc<Barrier>>>();
            let (gate, probes) = (&gate, &probes);
            let started = std::thread::Builder::new().name(format!("worker {w}")).stack_size(WORKER_STACK).spawn_scoped(s, move || {
                match receive.recv() {
                    Ok(Some(barrier)) => worker(module, workload, probes, w, &barrier, gate),
                    _ => Outcome::failed(other("not started")),
                }
            });
            match started {
                Ok(thread) => {
                    gates.push(send);
                    threads.push(thread);
                }
                Err(e) => {
                    gates.iter().for_each(|gate| drop(gate.send(None)));
                    return Err(format!("cannot start worker {w}: {e}"));
                }
            }
        }
        let barrier = Arc::new(Barrier::new(workers + 1));
        gates.iter().for_each(|gate| drop(gate.send(Some(barrier.clone()))));
        let start = Instant::now();
        barrier.wait(); // the workers go
        barrier.wait(); // every instance is alive and armed (or failed); the workers run
        let instantiate = start.elapsed();
        barrier.wait(); // every worker has run and keeps its instance
        let used = engine.code_memory().used;
        let rss = rss_bytes();
        barrier.wait(); // the workers finish
        let outcomes: Vec<Outcome> =
            threads.into_iter().map(|t| t.join().unwrap_or_else(|_| Outcome::failed(other("worker panicked")))).collect();
        Ok((used, rss, instantiate, outcomes))
    })?;
    let shared: Vec<Option<usize>> = probes.iter().map(|&f| module.func_address(f).map(|p| p as usize)).collect();
    let addresses: Vec<&Vec<Option<usize>>> = outcomes.iter().filter_map(|o| o.addresses.as_ref()).collect();
    Ok(Measured {
        arena_used: used,
        rss,
        instantiate,
        events: outcomes.iter().map(|o| o.events).sum(),
        debugged: addresses.len(),
        same_code_addresses: !addresses.is_empty() && addresses.iter().all(|a| **a == shared),
        errors: outcomes.into_iter().enumerate().filter_map(|(w, o)| o.error.map(|e| (w, e))).collect(),
    })
}

/// Functions whose code addresses are compared across workers: the first
/// and last defined functions and the called export (or the break target).
fn probes(module: &Module, workload: &Workload) -> Vec<u32> {
    let info = module.info();
    let (first, count) = (info.imported_funcs, info.funcs.len() as u32);
    let mut probes: Vec<u32> = if count > first { vec![first, count - 1] } else { vec![] };
    if let Workload::Foreign { func, .. } | Workload::Command { func } = workload {
        probes.push(*func);
    }
    probes.dedup();
    probes
}

/// What one worker reports.
struct Outcome {
    events: u64,
    /// Code addresses of the probes as this worker's instance calls them,
    /// once armed (`None` if it never was).
    addresses: Option<Vec<Option<usize>>>,
    error: Option<WorkerError>,
}

impl Outcome {
    fn failed(error: WorkerError) -> Outcome {
        Outcome { events: 0, addresses: None, error: Some(error) }
    }
}

/// An instance with its breakpoint set and its handler counting (its
/// store holds WASI state, used by WASI commands only).
struct Armed {
    store: Store<WasiCtx>,
    instance: Instance,
    events: Rc<Cell<u64>>,
}

/// Worker `w`: instantiate and set its breakpoint; once every worker is
/// armed, run once; keep the instance until the arena was measured.
fn worker(module: &Module, workload: &Workload, probes: &[u32], w: usize, barrier: &Barrier, gate: &Semaphore) -> Outcome {
    barrier.wait();
    let armed = gate.with(|| guarded(|| arm(module, workload, w)));
    let addresses = armed.as_ref().ok().map(|a| probes.iter().map(|&f| a.instance.func_address(&a.store, f).map(|p| p as usize)).collect());
    barrier.wait();
    let ran = armed.and_then(|mut a| guarded(|| run(&mut a, workload, w)).map(|()| a));
    barrier.wait();
    barrier.wait();
    // Dropping the store (with the outcome) frees the instance and any
    // legacy clone of its code.
    match ran {
        Ok(a) => Outcome { events: a.events.get(), addresses, error: None },
        Err(error) => Outcome { events: 0, addresses, error: Some(error) },
    }
}

/// `f()`, with a panic turned into an error (a panicking worker must still
/// reach the barriers).
fn guarded<T>(f: impl FnOnce() -> Result<T, WorkerError>) -> Result<T, WorkerError> {
    std::panic::catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| Err(other("worker panicked")))
}

/// A new instance with a breakpoint at the entry of worker `w`'s target.
fn arm(module: &Module, workload: &Workload, w: usize) -> Result<Armed, WorkerError> {
    let mut store = Store::new(module.engine(), WasiCtx::builder().arg("stressed").build());
    let instantiated = match workload {
        Workload::Command { .. } => {
            let linker = crate::run::linker(module.engine(), module).map_err(|e| other(format!("{e:#}")))?;
            linker.instantiate(&mut store, module)
        }
        Workload::Foreign { stub_imports: true, .. } => {
            let imports = imports::stubs(&mut store, module).map_err(other)?;
            Instance::new(&mut store, module, &imports)
        }
        _ => Instance::new(&mut store, module, &[]),
    };
    let instance = instantiated.map_err(|e| match e {
        Error::CodeArenaExhausted(e) => WorkerError::Exhausted(e),
        e => other(format!("instantiate: {e}")),
    })?;
    let (func, _) = workload.target(w);
    let debug = instance.debug(&mut store).map_err(other)?;
    let entry = debug.sites(func).iter().find(|s| s.kind == SiteKind::Entry);
    let entry = entry.ok_or_else(|| other(format!("function {func} has no entry site")))?.wasm_offset;
    debug.set_breakpoint(func, entry).map_err(|e| match e {
        Error::CodeArenaExhausted(e) => WorkerError::Exhausted(e),
        e => other(format!("set_breakpoint: {e}")),
    })?;
    let events = Rc::new(Cell::new(0));
    let counter = events.clone();
    let action = match workload {
        Workload::Builtin { .. } | Workload::Command { .. } => DebugAction::Continue,
        Workload::Foreign { .. } => DebugAction::Abort,
    };
    debug.set_handler(move |_| {
        counter.set(counter.get() + 1);
        action
    });
    Ok(Armed { store, instance, events })
}

/// The worker's one call, which hits its breakpoint once.
fn run(armed: &mut Armed, workload: &Workload, w: usize) -> Result<(), WorkerError> {
    let (store, instance) = (&mut armed.store, armed.instance);
    match workload {
        Workload::Builtin { .. } => {
            let (_, slot) = workload.target(w);
            let slot = slot.ok_or_else(|| other("a built-in target without a slot"))? as i32;
            let run = instance.get_typed_func::<(i32, i32), i32>(&*store, generate::RUN).map_err(other)?;
            run.call(&mut *store, (slot, FUEL)).map_err(|e| other(format!("run({slot}, {FUEL}): {e}")))?;
        }
        Workload::Foreign { call: Some(name), .. } => {
            // The call's outcome is not checked: it is aborted at the
            // breakpoint (an event is what counts), and a foreign module's
            // start or stub imports may trap anyway.
            let func = instance.get_func(&*store, name).ok_or_else(|| other(format!("no export {name}")))?;
            let ty = func.ty(&*store).map_err(other)?;
            let mut results: Vec<Val> = ty.results.iter().map(|t| Val::default_for(*t)).collect();
            let _ = func.call(&mut *store, &[], &mut results);
        }
        Workload::Foreign { call: None, .. } => {}
        Workload::Command { .. } => {
            let start = instance.get_typed_func::<(), ()>(&*store, "_start").map_err(other)?;
            match start.call(&mut *store, ()) {
                Ok(()) => {}
                Err(e) if e.downcast_ref::<I32Exit>().is_some() => {}
                Err(e) => return Err(other(format!("_start: {e}"))),
            }
        }
    }
    let (events, expected) = (armed.events.get(), workload.expected_events());
    if events != expected {
        return Err(other(format!("{events} breakpoint events, expected {expected}")));
    }
    Ok(())
}

/// The process's resident set (VmRSS in /proc/self/status), in bytes.
pub fn rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}
