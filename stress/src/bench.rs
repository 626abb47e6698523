//! `onecopy bench guard`: what the breakpoint guard costs, measured side by
//! side in one run (these machines are noisy): each kernel in
//! (a) non-debug code, (b) debug code with no breakpoint, (c) debug code with
//! a breakpoint in an unrelated function, (d) debug code with a breakpoint
//! in the running function that is never hit; plus the guard's code bytes.

use std::time::Instant;

use anyhow::{anyhow, Context, Result};
use clap::{Args, Subcommand};
use onecopy_runtime::{Config, Engine, Instance, Module, SiteKind, Store};
use serde::Serialize;

/// `onecopy bench ...`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Which benchmark.
    #[command(subcommand)]
    pub what: BenchWhat,
}

/// The benchmarks.
#[derive(Debug, Subcommand)]
pub enum BenchWhat {
    /// Guard overhead of debug code (fib and a loop kernel).
    Guard(GuardArgs),
    /// Debugger round trips: breakpoint hit -> event at the coordinator -> resume.
    Debug(crate::bench_debug::DebugBenchArgs),
    /// What compiling a module costs in each mode: code bytes per breakable
    /// point, compile time, peak memory (one child process per mode).
    Compile(crate::bench_compile::CompileArgs),
    /// Calls per second of a trivial export from one thread and from two.
    Calls(crate::bench_calls::CallsArgs),
    /// One mode of `bench compile`, measured in this process (its children run this).
    #[command(hide = true)]
    CompileOne(crate::bench_compile::CompileOneArgs),
}

/// Options of `onecopy bench guard`.
#[derive(Debug, Args)]
pub struct GuardArgs {
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Timed runs per configuration (the median is reported).
    #[arg(long, default_value_t = 5)]
    pub rounds: u32,
    /// Argument of fib.
    #[arg(long, default_value_t = 35)]
    pub fib: i32,
    /// Iterations of the loop kernel.
    #[arg(long, default_value_t = 100_000_000)]
    pub iterations: i32,
}

/// The kernels. Each starts with a branch that is never taken, holding an
/// `unreachable`: configuration (d) sets its breakpoint there.
const KERNELS: &str = r#"(module
  (memory 1)
  (func $unrelated (export "unrelated") (param i32) (result i32)
    local.get 0 i32.const 1 i32.add)
  (func $fib (export "fib") (param i32) (result i32)
    (if (i32.lt_s (local.get 0) (i32.const 0)) (then unreachable))
    (if (result i32) (i32.lt_u (local.get 0) (i32.const 2))
      (then (local.get 0))
      (else (i32.add (call $fib (i32.sub (local.get 0) (i32.const 1)))
                     (call $fib (i32.sub (local.get 0) (i32.const 2)))))))
  (func $loop (export "loop") (param i32) (result i32) (local i32 i32)
    (if (i32.lt_s (local.get 0) (i32.const 0)) (then unreachable))
    (loop $l
      (local.set 2 (i32.shl (i32.and (local.get 0) (i32.const 1023)) (i32.const 2)))
      (i32.store (local.get 2) (i32.add (i32.load (local.get 2)) (local.get 0)))
      (local.set 1 (i32.xor (local.get 1) (i32.load (local.get 2))))
      (br_if $l (local.tee 0 (i32.sub (local.get 0) (i32.const 1)))))
    (local.get 1)))"#;

/// One kernel's timings.
#[derive(Debug, Serialize)]
struct KernelRow {
    name: String,
    nodebug_ms: f64,
    idle_ratio: f64,
    unrelated_ratio: f64,
    same_function_ratio: f64,
}

/// The whole report.
#[derive(Debug, Serialize)]
struct GuardReport {
    kernels: Vec<KernelRow>,
    sites: usize,
    hot_bytes_per_site: f64,
    cold_bytes_per_site: f64,
    debug_code_size_ratio: f64,
    nodebug_code_bytes: usize,
    debug_code_bytes: usize,
    command: String,
}

/// The four configurations, in the order they are timed each round.
#[derive(Debug, Clone, Copy)]
enum Setup {
    NoDebug,
    Idle,
    Unrelated,
    SameFunction,
}

/// Byte offset of the first `unreachable` in function `func`'s body.
fn unreachable_offset(wasm: &[u8], func: u32) -> Result<u32> {
    let mut index = 0;
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        if let wasmparser::Payload::CodeSectionEntry(body) = payload? {
            if index == func {
                let mut ops = body.get_operators_reader()?;
                while !ops.eof() {
                    let at = ops.original_position() as u32;
                    if let wasmparser::Operator::Unreachable = ops.read()? {
                        return Ok(at);
                    }
                }
            }
            index += 1;
        }
    }
    Err(anyhow!("function {func} has no `unreachable`"))
}

fn instance(module: &Module, setup: Setup, func: u32, never_hit: u32) -> Result<(Store<()>, Instance)> {
    let mut store = Store::new(module.engine(), ());
    let instance = Instance::new(&mut store, module, &[])?;
    let debug = instance.debug(&mut store)?;
    match setup {
        Setup::NoDebug | Setup::Idle => {}
        Setup::Unrelated => {
            let entry = debug.sites(0).first().context("unrelated has sites")?.wasm_offset;
            debug.set_breakpoint(0, entry)?;
        }
        Setup::SameFunction => {
            debug.set_breakpoint(func, never_hit)?;
        }
    }
    debug.set_handler(|_| onecopy_runtime::DebugAction::Continue);
    Ok((store, instance))
}

fn time_call((store, instance): &mut (Store<()>, Instance), name: &str, arg: i32) -> Result<f64> {
    let f = instance.get_typed_func::<(i32,), i32>(&*store, name)?;
    let start = Instant::now();
    std::hint::black_box(f.call(store, (arg,))?);
    Ok(start.elapsed().as_secs_f64() * 1e3)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn code_size(wasm: &[u8], config: Config) -> Result<(usize, usize)> {
    let module = Module::new(&Engine::new(&config)?, wasm)?;
    Ok((module.code_size(), module.sites().len()))
}

/// Run the guard benchmark.
pub fn guard(args: &GuardArgs) -> Result<()> {
    let wasm = wat::parse_str(KERNELS)?;
    let plain = Module::new(&Engine::new(&Config::new())?, &wasm)?;
    let debug = Module::new(&Engine::new(&Config::new().debug(true))?, &wasm)?;
    let mut kernels = Vec::new();
    for (name, func, arg) in [("fib", 1, args.fib), ("loop", 2, args.iterations)] {
        let never_hit = unreachable_offset(&wasm, func)?;
        let setups = [Setup::NoDebug, Setup::Idle, Setup::Unrelated, Setup::SameFunction];
        let mut times = vec![Vec::new(); setups.len()];
        for _ in 0..args.rounds.max(1) {
            for (i, setup) in setups.iter().enumerate() {
                let module = if matches!(setup, Setup::NoDebug) { &plain } else { &debug };
                let mut instance = instance(module, *setup, func, never_hit)?;
                times[i].push(time_call(&mut instance, name, arg)?);
            }
        }
        let m: Vec<f64> = times.into_iter().map(median).collect();
        kernels.push(KernelRow {
            name: name.into(),
            nodebug_ms: m[0],
            idle_ratio: m[1] / m[0],
            unrelated_ratio: m[2] / m[0],
            same_function_ratio: m[3] / m[0],
        });
    }
    let (nodebug_bytes, _) = code_size(&wasm, Config::new())?;
    let (debug_bytes, sites) = code_size(&wasm, Config::new().debug(true))?;
    let sites_f = sites.max(1) as f64;
    let guard_bytes = debug.compiled().debug_code.as_ref().map_or(0, |d| d.guard_bytes) as f64;
    let report = GuardReport {
        kernels,
        sites,
        hot_bytes_per_site: guard_bytes / sites_f,
        cold_bytes_per_site: (debug_bytes as f64 - nodebug_bytes as f64 - guard_bytes) / sites_f,
        debug_code_size_ratio: debug_bytes as f64 / nodebug_bytes as f64,
        nodebug_code_bytes: nodebug_bytes,
        debug_code_bytes: debug_bytes,
        command: format!(
            "cargo run --release --bin onecopy -- bench guard --rounds {} --fib {} --iterations {}",
            args.rounds, args.fib, args.iterations
        ),
    };
    debug_assert!(debug.sites().iter().any(|s| s.kind == SiteKind::Entry));
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print_table(&report);
    }
    Ok(())
}

fn print_table(r: &GuardReport) {
    println!("{:<6} {:>11} {:>12} {:>16} {:>18}", "kernel", "nodebug ms", "(b) idle", "(c) unrelated bp", "(d) same-func bp");
    for k in &r.kernels {
        println!(
            "{:<6} {:>11.1} {:>11.2}x {:>15.2}x {:>17.2}x",
            k.name, k.nodebug_ms, k.idle_ratio, k.unrelated_ratio, k.same_function_ratio
        );
    }
    println!(
        "guard bytes per site: hot {:.1}, cold {:.1} ({} sites); debug/non-debug code size {:.2}x ({} / {} bytes)",
        r.hot_bytes_per_site, r.cold_bytes_per_site, r.sites, r.debug_code_size_ratio, r.debug_code_bytes, r.nodebug_code_bytes
    );
    println!("reproduce: {}", r.command);
}
