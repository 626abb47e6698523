//! The default command: one module compiled once, run by one instance per
//! core, each on its own thread, with the code shared rather than copied.

use std::time::{Duration, Instant};

use anyhow::{anyhow, ensure, Result};
use onecopy_runtime::{Config, Engine, Linker, Module, Store};

/// The demo program: a call-heavy recursion, a memory-heavy sieve and a tight
/// loop, so one run touches calls, loads/stores and arithmetic.
const PROGRAM: &str = r#"
(module
  (memory (export "memory") 1)

  (func $fib (export "fib") (param $n i32) (result i32)
    (if (result i32) (i32.lt_u (local.get $n) (i32.const 2))
      (then (local.get $n))
      (else (i32.add
        (call $fib (i32.sub (local.get $n) (i32.const 1)))
        (call $fib (i32.sub (local.get $n) (i32.const 2)))))))

  ;; Sieve of Eratosthenes, one byte per number: how many primes are below
  ;; $n (at most 65536, one page).
  (func (export "sieve") (param $n i32) (result i32)
    (local $i i32) (local $j i32) (local $count i32)
    (memory.fill (i32.const 0) (i32.const 0) (local.get $n))
    (local.set $i (i32.const 2))
    (block $done
      (loop $next_i
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (if (i32.eqz (i32.load8_u (local.get $i)))
          (then
            (local.set $count (i32.add (local.get $count) (i32.const 1)))
            (local.set $j (i32.mul (local.get $i) (local.get $i)))
            (block $marked
              (loop $next_j
                (br_if $marked (i32.ge_u (local.get $j) (local.get $n)))
                (i32.store8 (local.get $j) (i32.const 1))
                (local.set $j (i32.add (local.get $j) (local.get $i)))
                (br $next_j)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next_i)))
    (local.get $count))

  ;; 1 + 2 + ... + $n, one iteration per term.
  (func (export "sum") (param $n i64) (result i64)
    (local $acc i64)
    (block $done
      (loop $next
        (br_if $done (i64.eqz (local.get $n)))
        (local.set $acc (i64.add (local.get $acc) (local.get $n)))
        (local.set $n (i64.sub (local.get $n) (i64.const 1)))
        (br $next)))
    (local.get $acc)))
"#;

const FIB_N: i32 = 27;
const SIEVE_N: i32 = 65536;
const SUM_N: i64 = 10_000_000;

/// Options of the demo (`onecopy demo`, or `onecopy` alone with the defaults).
#[derive(Debug, Default, clap::Args)]
pub struct DemoArgs {
    /// Worker threads (default: one per core).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Compile with breakpoint guards (debug code).
    #[arg(long)]
    pub debug: bool,
}

/// What one thread computed, and how long its calls took.
struct Outcome {
    fib: i32,
    sieve: i32,
    sum: i64,
    elapsed: Duration,
}

/// Compile once, run everywhere, check every result, print the code memory.
pub fn main(args: &DemoArgs) -> Result<()> {
    let threads = match args.threads {
        Some(n) => n,
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let engine = Engine::new(&Config::default().debug(args.debug))?;
    let module = Module::new(&engine, &wat::parse_str(PROGRAM)?)?;
    println!("onecopy demo: one module ({} code bytes), {threads} threads, debug guards {}", module.code_size(), args.debug);

    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let (engine, module) = (engine.clone(), module.clone());
            // The store and instance are made on the thread that runs them
            // (a store stays on its thread).
            std::thread::spawn(move || run_instance(&engine, &module))
        })
        .collect();
    let expected = (reference_fib(FIB_N), reference_sieve(SIEVE_N), SUM_N * (SUM_N + 1) / 2);
    for (i, handle) in handles.into_iter().enumerate() {
        let outcome = handle.join().map_err(|_| anyhow!("thread {i} panicked"))??;
        println!(
            "thread {i}: fib({FIB_N}) = {}, sieve({SIEVE_N}) = {}, sum({SUM_N}) = {} in {:.1} ms",
            outcome.fib,
            outcome.sieve,
            outcome.sum,
            outcome.elapsed.as_secs_f64() * 1e3
        );
        ensure!((outcome.fib, outcome.sieve, outcome.sum) == expected, "thread {i} computed wrong results");
    }

    let arena = engine.code_memory();
    println!(
        "code arena: {} bytes used by {} module(s) (stubs {}), {} committed, {} reserved",
        arena.used, arena.modules, arena.stub_bytes, arena.committed, arena.reserved
    );
    Ok(())
}

/// One thread's work: its own instance of the shared module.
fn run_instance(engine: &Engine, module: &Module) -> Result<Outcome> {
    let mut store = Store::new(engine, ());
    let instance = Linker::new(engine).instantiate(&mut store, module)?;
    let fib = instance.get_typed_func::<(i32,), i32>(&store, "fib")?;
    let sieve = instance.get_typed_func::<(i32,), i32>(&store, "sieve")?;
    let sum = instance.get_typed_func::<(i64,), i64>(&store, "sum")?;
    let start = Instant::now();
    Ok(Outcome {
        fib: fib.call(&mut store, (FIB_N,))?,
        sieve: sieve.call(&mut store, (SIEVE_N,))?,
        sum: sum.call(&mut store, (SUM_N,))?,
        elapsed: start.elapsed(),
    })
}

/// Fibonacci computed natively, to check the wasm result.
fn reference_fib(n: i32) -> i32 {
    (0..n).fold((0, 1), |(a, b), _| (b, a + b)).0
}

/// The number of primes below `n`, computed natively by trial division.
fn reference_sieve(n: i32) -> i32 {
    let is_prime = |k: i32| k >= 2 && (2..).take_while(|d| d * d <= k).all(|d| k % d != 0);
    (0..n).filter(|&k| is_prime(k)).count() as i32
}
