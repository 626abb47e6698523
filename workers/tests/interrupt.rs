//! Stopping runaway workers (issue 12): `WorkerPool::interrupt` and per-call
//! deadlines, in normal code and in debug code with a debugger attached, on
//! calls that never end by themselves: a loop with no call, a loop that
//! calls (no recursion), and recursion with no loop. After each interrupt
//! the worker serves its next call. No timing is asserted; every wait is
//! bounded only so that a hang fails the test instead of stalling it.

use std::time::{Duration, Instant};

use onecopy_workers::runtime::{Config, Engine, Module, TrapKind};
use onecopy_workers::{CallError, CallHandle, DebugSession, PoolConfig, Target, Value, WorkerPool};

const PROGRAM: &str = r#"(module
  (global $ticks (export "ticks") (mut i32) (i32.const 0))
  (func (export "spin") (loop br 0))
  (func $tick (param i32) (result i32)
    (global.set $ticks (i32.add (global.get $ticks) (i32.const 1)))
    (i32.add (local.get 0) (i32.const 1)))
  (func (export "chain") (local i32)
    (loop (local.set 0 (call $tick (local.get 0))) (br 0)))
  (func $fib (export "fib") (param i32) (result i32)
    (if (result i32) (i32.lt_u (local.get 0) (i32.const 2))
      (then (local.get 0))
      (else (i32.add (call $fib (i32.sub (local.get 0) (i32.const 1)))
                     (call $fib (i32.sub (local.get 0) (i32.const 2)))))))
  (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1))))"#;

/// Bound on any wait: far beyond what a working interrupt needs.
const HANG: Duration = Duration::from_secs(30);

/// fib's argument: runs for minutes, so only an interrupt ends it.
const LONG_FIB: i32 = 60;

/// A pool of two workers in normal code, or in debug code with a debug
/// session attached (so faults in compiled code go through its stop path).
fn pool(debug: bool) -> (WorkerPool, Option<DebugSession>) {
    let engine = Engine::new(&Config::new().debug(debug)).unwrap();
    let module = Module::new(&engine, wat::parse_str(PROGRAM).unwrap()).unwrap();
    if !debug {
        return (WorkerPool::new(&module, PoolConfig::new(2)).unwrap(), None);
    }
    let session = DebugSession::new();
    let config = PoolConfig::new(2).on_instance(session.hook()).on_trap(session.trap_hook());
    (WorkerPool::new(&module, config).unwrap(), Some(session))
}

/// Interrupt `worker` until its call (started before) is caught running.
fn interrupt_when_running(pool: &WorkerPool, worker: usize) {
    let start = Instant::now();
    while !pool.interrupt(worker).unwrap() {
        assert!(start.elapsed() < HANG, "worker {worker} never ran its call");
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn assert_interrupted(call: CallHandle, what: &str) {
    match call.wait_timeout(HANG) {
        Ok(Err(CallError::Trap(trap))) => assert_eq!(trap.kind, TrapKind::Interrupt, "{what}: {trap:?}"),
        Ok(other) => panic!("{what}: expected an interrupt, got {other:?}"),
        Err(_) => panic!("{what}: still running after the interrupt"),
    }
}

fn assert_serves_next_call(pool: &WorkerPool, worker: usize) {
    let sum = pool.call(Target::Worker(worker), "add", vec![Value::I32(2), Value::I32(3)]).wait_timeout(HANG);
    assert_eq!(sum.ok().map(|r| r.unwrap()), Some(vec![Value::I32(5)]), "worker {worker} after an interrupt");
}

fn interrupts_each_kind_of_runaway(debug: bool) {
    let (pool, _session) = pool(debug);
    let runaways = [("spin", vec![]), ("chain", vec![]), ("fib", vec![Value::I32(LONG_FIB)])];
    for (export, args) in runaways {
        let call = pool.call(Target::Worker(0), export, args);
        interrupt_when_running(&pool, 0);
        assert_interrupted(call, export);
        assert_serves_next_call(&pool, 0);
    }
}

#[test]
fn interrupt_stops_runaway_normal_code() {
    interrupts_each_kind_of_runaway(false);
}

#[test]
fn interrupt_stops_runaway_debug_code() {
    interrupts_each_kind_of_runaway(true);
}

fn deadlines_stop_each_kind_of_runaway(debug: bool) {
    let (pool, _session) = pool(debug);
    let deadline = Duration::from_millis(20);
    let runaways = [("spin", vec![]), ("chain", vec![]), ("fib", vec![Value::I32(LONG_FIB)])];
    for (export, args) in runaways {
        assert_interrupted(pool.call_with_deadline(Target::Worker(1), export, args, deadline), export);
        assert_serves_next_call(&pool, 1);
    }
    // A call that ends in time is not affected, nor is the next one.
    let quick = pool.call_with_deadline(Target::Worker(1), "fib", vec![Value::I32(10)], HANG).wait_timeout(HANG);
    assert_eq!(quick.ok().map(|r| r.unwrap()), Some(vec![Value::I32(55)]));
    assert_serves_next_call(&pool, 1);
}

#[test]
fn deadline_stops_runaway_normal_code() {
    deadlines_stop_each_kind_of_runaway(false);
}

#[test]
fn deadline_stops_runaway_debug_code() {
    deadlines_stop_each_kind_of_runaway(true);
}

#[test]
fn interrupting_an_idle_worker_is_a_no_op() {
    let (pool, _) = pool(false);
    assert!(!pool.interrupt(0).unwrap());
    assert!(!pool.interrupt(1).unwrap());
    // Nothing was kept for the next call.
    assert_serves_next_call(&pool, 0);
    let fib = pool.call(Target::Worker(0), "fib", vec![Value::I32(20)]).wait_timeout(HANG);
    assert_eq!(fib.ok().map(|r| r.unwrap()), Some(vec![Value::I32(6765)]));
    assert!(matches!(pool.interrupt(2), Err(CallError::NoSuchWorker { worker: 2, workers: 2 })));
}

#[test]
fn interrupting_one_worker_leaves_the_other_running() {
    let (pool, _) = pool(false);
    let first = pool.call(Target::Worker(0), "spin", vec![]);
    let second = pool.call(Target::Worker(1), "spin", vec![]);
    interrupt_when_running(&pool, 0);
    assert_interrupted(first, "worker 0's spin");
    let second = second.wait_timeout(Duration::from_millis(50)).expect_err("worker 1 was not interrupted");
    interrupt_when_running(&pool, 1);
    assert_interrupted(second, "worker 1's spin");
}
