//! `onecopy stress`: many workers debugging one module at once, and what the
//! code arena holds meanwhile. In `shared` mode the module is compiled once
//! and every worker thread instantiates it, sets a breakpoint in a function
//! of its own and hits it once; the arena's bytes must not grow with the
//! number of workers.

use std::cell::Cell;
use std::process::ExitCode;
use std::rc::Rc;
use std::sync::mpsc;
use std::sync::{Arc, Barrier};
use std::time::Instant;

use anyhow::Result;
use onecopy_runtime::{Config, DebugAction, Engine, Instance, Module, SiteKind};
use serde::Serialize;

/// Functions in the generated module.
const FUNCS: u32 = 300;
/// Loop iterations of each function call.
const ITERATIONS: i32 = 100;

/// How workers get their code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// One compiled module, shared by every worker.
    Shared,
    /// One copy of the code per debugged worker, as runtimes that patch code
    /// for breakpoints do (the baseline to compare against; not built yet).
    Legacy,
}

/// Arguments of `onecopy stress`.
#[derive(Debug, clap::Args)]
pub struct StressArgs {
    /// Worker counts, one row each (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "1,2,4,8,16,32,64")]
    pub workers: Vec<usize>,
    /// How workers get their code (comma-separated for several).
    #[arg(long, value_delimiter = ',', default_value = "shared")]
    pub mode: Vec<Mode>,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
}

impl Mode {
    /// The name on the command line and in reports.
    fn name(self) -> &'static str {
        match self {
            Mode::Shared => "shared",
            Mode::Legacy => "legacy",
        }
    }
}

/// One (mode, worker count) measurement. The numbers are `None` when the
/// row failed, and `error` says why.
#[derive(Debug, Serialize)]
struct Row {
    mode: Mode,
    workers: usize,
    /// `engine.code_memory().used` while every worker's instance is alive,
    /// after all have hit their breakpoint (so the call stubs are included).
    arena_used_bytes: Option<usize>,
    /// The arena's reserved size.
    arena_cap_bytes: Option<usize>,
    /// Machine code of one compiled copy of the module.
    code_bytes_per_copy: Option<usize>,
    /// Wall time from starting the workers until all have instantiated and
    /// set their breakpoint.
    instantiate_ms: Option<f64>,
    /// Handler calls over all workers (each worker hits its breakpoint once).
    events: Option<u64>,
    error: Option<String>,
}

impl Row {
    /// A row that could not be measured.
    fn failed(mode: Mode, workers: usize, error: String) -> Row {
        Row {
            mode,
            workers,
            arena_used_bytes: None,
            arena_cap_bytes: None,
            code_bytes_per_copy: None,
            instantiate_ms: None,
            events: None,
            error: Some(error),
        }
    }
}

/// The JSON report.
#[derive(Debug, Serialize)]
struct Report {
    rows: Vec<Row>,
}

/// Run every (mode, workers) row and print them; fail if any row failed.
pub fn main(args: &StressArgs) -> Result<ExitCode> {
    anyhow::ensure!(args.workers.iter().all(|&w| w > 0), "--workers: every count must be at least 1");
    let wasm = wat::parse_str(program())?;
    let mut rows = Vec::new();
    for &mode in &args.mode {
        for &workers in &args.workers {
            let outcome = match mode {
                Mode::Shared => shared(&wasm, workers),
                Mode::Legacy => Err("legacy mode (one code copy per worker) is not implemented yet".into()),
            };
            rows.push(outcome.unwrap_or_else(|error| Row::failed(mode, workers, error)));
        }
    }
    let failed = rows.iter().any(|r| r.error.is_some());
    if args.json {
        println!("{}", serde_json::to_string(&Report { rows })?);
    } else {
        print_table(&rows);
    }
    Ok(if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

/// The built-in module: `FUNCS` functions `f_k(n)`, each a loop that reads
/// and writes its own memory cell, every one not a multiple of 4 also
/// calling `f_{k-1}`; `run(k, n)` calls `f_k` through the table.
fn program() -> String {
    let mut wat = String::from("(module\n  (type $t (func (param i32) (result i32)))\n  (memory 1 1)\n");
    wat += &format!("  (table {FUNCS} funcref)\n  (elem (i32.const 0)");
    for k in 0..FUNCS {
        wat += &format!(" $f{k}");
    }
    wat += ")\n";
    for k in 0..FUNCS {
        let cell = k * 4;
        let tail = match k % 4 {
            0 => "(local.get $acc)".to_string(),
            _ => format!("(i32.add (local.get $acc) (call $f{} (local.get $n)))", k - 1),
        };
        wat += &format!(
            r#"  (func $f{k} (type $t) (param $n i32) (result i32) (local $i i32) (local $acc i32)
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
      (i32.store (i32.const {cell}) (i32.add (i32.load (i32.const {cell})) (local.get $i)))
      (local.set $acc (i32.add (local.get $acc) (i32.load (i32.const {cell}))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next)))
    {tail})
"#
        );
    }
    wat += r#"  (func (export "run") (param $k i32) (param $n i32) (result i32)
    (call_indirect (type $t) (local.get $n) (local.get $k))))"#;
    wat
}

/// What `run(k, n)` returns on a fresh instance: each function in the call
/// chain `f_k, f_{k-1}, ...` (down to a multiple of 4) adds the running sums
/// of `0..n` in its own cell.
fn expected(k: u32, n: i32) -> i32 {
    let one: i32 = (0..n).map(|i| i * (i + 1) / 2).sum();
    one * (k % 4 + 1) as i32
}

/// The function worker `w` debugs: spread over the module, so that many
/// workers break in different functions.
fn target(w: usize) -> u32 {
    (w as u64 * 7 % u64::from(FUNCS)) as u32
}

/// One row of `shared` mode: compile once, `workers` threads each debugging
/// their own instance.
fn shared(wasm: &[u8], workers: usize) -> Result<Row, String> {
    let engine = Engine::new(&Config::new().debug(true)).map_err(|e| e.to_string())?;
    let module = Module::new(&engine, wasm).map_err(|e| format!("compile: {e}"))?;
    let (used, instantiate, results) = std::thread::scope(|s| {
        // The barrier is made once every thread has started: a thread that
        // fails to start must not leave the others waiting for it forever.
        let mut gates = Vec::new();
        let mut threads = Vec::new();
        for w in 0..workers {
            let (send, receive) = mpsc::channel::<Option<Arc<Barrier>>>();
            let module = &module;
            let started = std::thread::Builder::new()
                .name(format!("worker {w}"))
                .spawn_scoped(s, move || match receive.recv() {
                    Ok(Some(barrier)) => worker(module, w, &barrier),
                    _ => Err("not started".into()),
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
        barrier.wait(); // every instance is alive and armed; the workers run
        let instantiate = start.elapsed();
        barrier.wait(); // every worker has run and keeps its instance
        let used = engine.code_memory().used;
        barrier.wait(); // the workers finish
        let results: Vec<Result<u64, String>> =
            threads.into_iter().map(|t| t.join().unwrap_or_else(|_| Err("worker panicked".into()))).collect();
        Ok((used, instantiate, results))
    })?;
    let mut events = 0;
    for (w, result) in results.into_iter().enumerate() {
        events += result.map_err(|e| format!("worker {w}: {e}"))?;
    }
    Ok(Row {
        mode: Mode::Shared,
        workers,
        arena_used_bytes: Some(used),
        arena_cap_bytes: Some(engine.code_memory().reserved),
        code_bytes_per_copy: Some(module.code_size()),
        instantiate_ms: Some(instantiate.as_secs_f64() * 1e3),
        events: Some(events),
        error: None,
    })
}

/// Worker `w`: instantiate and break at the entry of its target function;
/// once every worker is ready, run once; keep the instance until the arena
/// was measured; return the handler calls. Errors wait at the barriers too.
fn worker(module: &Module, w: usize, barrier: &Barrier) -> Result<u64, String> {
    barrier.wait();
    let func = target(w);
    let armed = arm(module, func);
    barrier.wait();
    let ran = armed.and_then(|(instance, events)| run_once(&instance, func).map(|()| (instance, events)));
    barrier.wait();
    barrier.wait();
    ran.map(|(_instance, events)| events.get())
}

/// Call `run(func)` and check its result.
fn run_once(instance: &Instance, func: u32) -> Result<(), String> {
    let run = instance.get_typed_func::<(i32, i32), i32>("run").map_err(|e| e.to_string())?;
    let got = run.call((func as i32, ITERATIONS)).map_err(|e| format!("run({func}): {e}"))?;
    if got != expected(func, ITERATIONS) {
        return Err(format!("run({func}) returned {got}, expected {}", expected(func, ITERATIONS)));
    }
    Ok(())
}

/// A new instance of `module` with a breakpoint at `func`'s entry and a
/// handler counting its calls.
fn arm(module: &Module, func: u32) -> Result<(Instance, Rc<Cell<u64>>), String> {
    let instance = Instance::new(module, &[]).map_err(|e| format!("instantiate: {e}"))?;
    let debug = instance.debug();
    let entry = debug.sites(func).into_iter().find(|s| s.kind == SiteKind::Entry);
    let entry = entry.ok_or_else(|| format!("function {func} has no entry site"))?.wasm_offset;
    debug.set_breakpoint(func, entry).map_err(|e| e.to_string())?;
    let events = Rc::new(Cell::new(0));
    let counter = events.clone();
    debug.set_handler(move |_| {
        counter.set(counter.get() + 1);
        DebugAction::Continue
    });
    Ok((instance, events))
}

fn print_table(rows: &[Row]) {
    let number = |n: Option<usize>| n.map_or("-".to_string(), |n| n.to_string());
    println!(
        "{:<7} {:>7} {:>12} {:>12} {:>10} {:>14} {:>7}  error",
        "mode", "workers", "arena used", "arena cap", "code/copy", "instantiate ms", "events"
    );
    for row in rows {
        println!(
            "{:<7} {:>7} {:>12} {:>12} {:>10} {:>14} {:>7}  {}",
            row.mode.name(),
            row.workers,
            number(row.arena_used_bytes),
            number(row.arena_cap_bytes),
            number(row.code_bytes_per_copy),
            row.instantiate_ms.map_or("-".to_string(), |ms| format!("{ms:.1}")),
            number(row.events.map(|e| e as usize)),
            row.error.as_deref().unwrap_or(""),
        );
    }
}
