//! Worker pools as an embedder uses them: one compiled module, many
//! threads, calls by target, traps and errors per call, shutdown with a
//! deadline.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use onecopy_workers::runtime::{Engine, Error, Linker, Module, TrapKind};
use onecopy_workers::{CallError, PoolConfig, PoolError, Target, Value, WorkerPool};

/// Pure wasm: a recursive fib (function 0), a loop, traps, floats.
const MATH: &str = r#"(module
  (func $fib (export "fib") (param i32) (result i32)
    (if (result i32) (i32.lt_u (local.get 0) (i32.const 2))
      (then (local.get 0))
      (else (i32.add (call $fib (i32.sub (local.get 0) (i32.const 1)))
                     (call $fib (i32.sub (local.get 0) (i32.const 2)))))))
  (func (export "sum_squares") (param $n i64) (result i64) (local $i i64) (local $sum i64)
    (block $done
      (loop $next
        (br_if $done (i64.ge_u (local.get $i) (local.get $n)))
        (local.set $sum (i64.add (local.get $sum) (i64.mul (local.get $i) (local.get $i))))
        (local.set $i (i64.add (local.get $i) (i64.const 1)))
        (br $next)))
    (local.get $sum))
  (func (export "div") (param i32 i32) (result i32)
    (i32.div_s (local.get 0) (local.get 1)))
  (func (export "crash") (unreachable))
  (func (export "scale") (param f64 f64) (result f64)
    (f64.mul (local.get 0) (local.get 1)))
  (func (export "fib_ref") (result funcref) (ref.func $fib))
  (elem declare func $fib)
  (memory (export "mem") 1))"#;

/// Needs imports: a clock for a finite busy loop, and a host function that panics.
const HOST: &str = r#"(module
  (import "host" "now_ms" (func $now (result i64)))
  (import "host" "boom" (func $boom))
  (func (export "busy_ms") (param $ms i64) (result i64) (local $end i64) (local $n i64)
    (local.set $end (i64.add (call $now) (local.get $ms)))
    (loop $spin
      (local.set $n (i64.add (local.get $n) (i64.const 1)))
      (br_if $spin (i64.lt_s (call $now) (local.get $end))))
    (local.get $n))
  (func (export "boom") (call $boom))
  (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1))))"#;

fn compile(engine: &Engine, wat: &str) -> Module {
    Module::new(engine, wat::parse_str(wat).unwrap()).unwrap()
}

fn fib(n: i32) -> i32 {
    if n < 2 {
        n
    } else {
        fib(n - 1) + fib(n - 2)
    }
}

fn sum_squares(n: i64) -> i64 {
    (0..n).fold(0i64, |sum, i| sum.wrapping_add(i.wrapping_mul(i)))
}

/// The linker each worker of a HOST pool builds on its own thread.
fn host_linker(_worker: usize, module: &Module) -> Result<Linker<()>, Error> {
    let start = Instant::now();
    let mut linker = Linker::new(module.engine());
    linker.func_wrap("host", "now_ms", move || start.elapsed().as_millis() as i64)?;
    linker.func_wrap("host", "boom", || -> () { panic!("the host function went boom") })?;
    Ok(linker)
}

#[test]
fn thirty_two_workers_share_one_copy_of_code() {
    let engine = Engine::default();
    let module = compile(&engine, MATH);
    let addresses = Arc::new(Mutex::new(Vec::new()));
    let seen = addresses.clone();
    let config = PoolConfig::new(32).on_instance(move |worker, store, instance| {
        seen.lock().unwrap().push((worker, instance.func_address(&*store, 0).unwrap() as usize));
    });
    let pool = WorkerPool::new(&module, config).unwrap();
    assert_eq!(pool.workers(), 32);
    assert!(Module::same(pool.module(), &module));

    // The same long call on every worker at once.
    for (i, handle) in pool.call_all("fib", vec![Value::I32(20)]).into_iter().enumerate() {
        assert_eq!(handle.wait_with_worker(), (Some(i), Ok(vec![Value::I32(6765)])));
    }
    let loops = pool.call_all("sum_squares", vec![Value::I64(1_000_000)]);
    for handle in loops {
        assert_eq!(handle.wait().unwrap(), [Value::I64(sum_squares(1_000_000))]);
    }

    // Whoever is idle: 100 calls, all answered correctly.
    let handles: Vec<_> = (0..100).map(|i| (i % 25, pool.call(Target::Any, "fib", vec![Value::I32(i % 25)]))).collect();
    let mut served = std::collections::BTreeSet::new();
    for (n, handle) in handles {
        let (worker, result) = handle.wait_with_worker();
        assert_eq!(result.unwrap(), [Value::I32(fib(n))]);
        served.insert(worker.expect("a worker ran it"));
    }
    assert!(served.iter().all(|&w| w < 32), "{served:?}");

    // Each worker its own argument.
    let handles: Vec<_> = (0..32).map(|i| pool.call(Target::Worker(i), "fib", vec![Value::I32(i as i32)])).collect();
    for (i, handle) in handles.into_iter().enumerate() {
        assert_eq!(handle.wait().unwrap(), [Value::I32(fib(i as i32))], "worker {i}");
    }

    // One copy of code: every instance calls fib at the module's address,
    // and the arena holds the module's code once (plus the shared stubs).
    let mut addresses = addresses.lock().unwrap().clone();
    addresses.sort();
    let fib_address = module.func_address(0).unwrap() as usize;
    assert_eq!(addresses, (0..32).map(|w| (w, fib_address)).collect::<Vec<_>>());
    let code = engine.code_memory();
    assert_eq!(code.modules, 1);
    assert_eq!(code.used, module.code_size() + code.stub_bytes, "{code:?}");

    let report = pool.shutdown(Duration::from_secs(10));
    assert!(report.is_clean(), "{report:?}");
    assert_eq!(report.joined, (0..32).collect::<Vec<_>>());
}

#[test]
fn a_trap_comes_back_typed_and_the_worker_keeps_serving() {
    let engine = Engine::default();
    let pool = WorkerPool::new(&compile(&engine, MATH), PoolConfig::new(4)).unwrap();

    let error = pool.call(Target::Worker(3), "crash", vec![]).wait().unwrap_err();
    let CallError::Trap(trap) = &error else { panic!("expected a trap, got {error}") };
    assert_eq!(trap.kind, TrapKind::Unreachable);
    assert_eq!(trap.func, Some(3), "{trap}");
    assert!(trap.wasm_offset.is_some(), "{trap}");

    let error = pool.call(Target::Worker(3), "div", vec![Value::I32(1), Value::I32(0)]).wait().unwrap_err();
    assert_eq!(error.trap().map(|t| t.kind), Some(TrapKind::IntegerDivisionByZero), "{error}");
    let error = pool.call(Target::Worker(3), "div", vec![Value::I32(i32::MIN), Value::I32(-1)]).wait().unwrap_err();
    assert_eq!(error.trap().map(|t| t.kind), Some(TrapKind::IntegerOverflow), "{error}");

    // Worker 3 is fine.
    let (worker, result) = pool.call(Target::Worker(3), "fib", vec![Value::I32(10)]).wait_with_worker();
    assert_eq!((worker, result), (Some(3), Ok(vec![Value::I32(55)])));
    let product = pool.call(Target::Worker(3), "scale", vec![Value::from(1.5f64), Value::from(4.0f64)]).wait().unwrap();
    assert_eq!(product[0].f64(), Some(6.0));
}

#[test]
fn a_panicking_host_function_is_a_host_trap() {
    let engine = Engine::default();
    let module = compile(&engine, HOST);
    let pool = WorkerPool::new(&module, PoolConfig::new(2).linker(host_linker)).unwrap();

    let error = pool.call(Target::Any, "boom", vec![]).wait().unwrap_err();
    let trap = error.trap().unwrap_or_else(|| panic!("expected a trap, got {error}"));
    assert_eq!(trap.kind, TrapKind::Host);
    assert!(trap.detail.as_deref().unwrap_or("").contains("the host function went boom"), "{trap}");

    for handle in pool.call_all("add", vec![Value::I32(40), Value::I32(2)]) {
        assert_eq!(handle.wait().unwrap(), [Value::I32(42)]);
    }
    assert!(pool.shutdown(Duration::from_secs(5)).is_clean());
}

#[test]
fn a_panic_on_the_worker_is_reported_and_the_worker_keeps_serving() {
    let engine = Engine::default();
    let pool = WorkerPool::new(&compile(&engine, MATH), PoolConfig::new(2)).unwrap();

    let error = pool.run(Target::Worker(1), |_, _, _| -> Result<(), CallError> { panic!("oops") }).wait().unwrap_err();
    assert_eq!(error, CallError::Panicked { worker: 1, message: "oops".into() });

    // `run` reaches the worker's instance for anything else.
    let pages = pool.run(Target::Worker(1), |worker, store, instance| {
        Ok((worker, instance.get_memory(&*store, "mem").unwrap().size(&*store).map_err(CallError::from)?))
    });
    assert_eq!(pages.wait().unwrap(), (1, 1));
    assert_eq!(pool.call(Target::Worker(1), "fib", vec![Value::I32(12)]).wait().unwrap(), [Value::I32(144)]);
}

#[test]
fn shutdown_leaves_a_stuck_worker_detached_and_returns_promptly() {
    let engine = Engine::default();
    let pool = WorkerPool::new(&compile(&engine, HOST), PoolConfig::new(4).linker(host_linker)).unwrap();
    let busy = pool.call(Target::Worker(1), "busy_ms", vec![Value::I64(2000)]);
    std::thread::sleep(Duration::from_millis(50));

    // Shutdown returns while worker 1 is still busy (no timing asserted:
    // that worker is reported as timed out, not joined).
    let report = pool.shutdown(Duration::from_millis(200));
    assert_eq!(report.timed_out, [1]);
    assert_eq!(report.joined, [0, 2, 3]);
    assert!(report.panicked.is_empty());

    // The detached worker still finishes its call.
    let spins = busy.wait().unwrap()[0].i64().unwrap();
    assert!(spins > 0);
}

#[test]
fn a_normal_shutdown_finishes_queued_calls_and_joins_everyone() {
    let engine = Engine::default();
    let pool = WorkerPool::new(&compile(&engine, MATH), PoolConfig::new(3).name("fib-pool")).unwrap();
    let names: Vec<_> =
        (0..3).map(|i| pool.run(Target::Worker(i), |_, _, _| Ok(std::thread::current().name().map(str::to_string)))).collect();
    let queued: Vec<_> = (0..30).map(|_| pool.call(Target::Any, "fib", vec![Value::I32(18)])).collect();

    let report = pool.shutdown(Duration::from_secs(10));
    assert_eq!(report.joined, [0, 1, 2]);
    assert!(report.is_clean(), "{report:?}");
    for (i, name) in names.into_iter().enumerate() {
        assert_eq!(name.wait().unwrap(), Some(format!("fib-pool-{i}")));
    }
    for handle in queued {
        assert_eq!(handle.wait().unwrap(), [Value::I32(2584)]);
    }
}

#[test]
fn wrong_exports_and_arguments_are_readable_errors() {
    let engine = Engine::default();
    let pool = WorkerPool::new(&compile(&engine, MATH), PoolConfig::new(2)).unwrap();
    let wasm_error = |export: &str, args: Vec<Value>| match pool.call(Target::Any, export, args).wait() {
        Err(CallError::Wasm(message)) => message,
        other => panic!("expected CallError::Wasm, got {other:?}"),
    };

    let message = wasm_error("fob", vec![Value::I32(1)]);
    assert!(message.contains(r#"export "fob" does not exist"#) && message.contains(r#""fib""#), "{message}");
    let message = wasm_error("mem", vec![]);
    assert!(message.contains(r#"export "mem" is not a function"#), "{message}");
    let message = wasm_error("fib", vec![Value::I64(20)]);
    assert!(message.contains(r#"calling "fib""#) && message.contains("argument 0 is i64, expected i32"), "{message}");
    let message = wasm_error("fib", vec![]);
    assert!(message.contains("expected 1 arguments, got 0"), "{message}");
    let message = wasm_error("fib_ref", vec![]);
    assert!(message.contains("non-null funcref cannot leave its worker"), "{message}");

    let error = pool.call(Target::Worker(7), "fib", vec![Value::I32(1)]).wait().unwrap_err();
    assert_eq!(error, CallError::NoSuchWorker { worker: 7, workers: 2 });
    assert_eq!(error.to_string(), "no worker 7: the pool has 2 workers");
}

#[test]
fn startup_failures_are_reported_by_new() {
    let engine = Engine::default();
    let host = compile(&engine, HOST);

    let error = WorkerPool::new(&host, PoolConfig::new(3)).unwrap_err();
    let PoolError::Instantiate { worker: 0, source } = &error else { panic!("unexpected: {error}") };
    assert!(source.to_string().contains("unknown import: host::now_ms"), "{error}");

    let config = PoolConfig::new(4).linker(host_linker).on_instance(|worker, _, _| assert_ne!(worker, 2, "no worker 2 today"));
    let error = WorkerPool::new(&host, config).unwrap_err();
    let PoolError::Panicked { worker: 2, message } = &error else { panic!("unexpected: {error}") };
    assert!(message.contains("no worker 2 today"), "{message}");

    assert!(matches!(WorkerPool::new(&host, PoolConfig::new(0)), Err(PoolError::NoWorkers)));
}

#[test]
fn wait_timeout_hands_back_a_running_call() {
    let engine = Engine::default();
    let pool = WorkerPool::new(&compile(&engine, HOST), PoolConfig::new(1).linker(host_linker)).unwrap();
    let handle = pool.call(Target::Worker(0), "busy_ms", vec![Value::I64(300)]);
    let handle = handle.wait_timeout(Duration::from_millis(10)).expect_err("still running");
    assert_eq!(handle.target(), Target::Worker(0));
    let result = handle.wait_timeout(Duration::from_secs(10)).expect("done by now");
    assert!(result.unwrap()[0].i64().unwrap() > 0);
}

#[test]
fn calls_come_from_many_threads() {
    let engine = Engine::default();
    let pool = WorkerPool::new(&compile(&engine, MATH), PoolConfig::new(4)).unwrap();
    std::thread::scope(|s| {
        for t in 0..4 {
            let pool = &pool;
            s.spawn(move || {
                for n in 0..20 {
                    let target = if n % 2 == 0 { Target::Any } else { Target::Worker(t) };
                    assert_eq!(pool.call(target, "fib", vec![Value::I32(n)]).wait().unwrap(), [Value::I32(fib(n))]);
                }
            });
        }
    });
}
