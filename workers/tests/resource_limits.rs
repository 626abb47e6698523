//! Exhaustion on workers: unbounded recursion on worker threads whose
//! stacks are smaller than the engine's wasm stack limit traps as a stack
//! overflow (the worker lives on and serves the next call), and growing a
//! memory or table past its maximum, or past the pool's per-worker store
//! limits, gives -1 and changes nothing.

use onecopy_workers::runtime::{Config, Engine, Error, Limit, LimitExceeded, Module, StoreLimitsBuilder, TrapKind, PAGE_SIZE};
use onecopy_workers::{CallError, PoolConfig, PoolError, Target, Value, WorkerPool};

const PROGRAM: &str = r#"(module
  (func $down (export "down") (param i32) (result i32)
    (i32.add (call $down (i32.add (local.get 0) (i32.const 1))) (i32.const 1)))
  (func (export "answer") (result i32) (i32.const 42))
  (memory 1 3)
  (table 2 5 funcref)
  (func (export "grow_memory") (param i32) (result i32) (memory.grow (local.get 0)))
  (func (export "memory_pages") (result i32) (memory.size))
  (func (export "grow_table") (param i32) (result i32) (table.grow (ref.null func) (local.get 0)))
  (func (export "table_size") (result i32) (table.size)))"#;

fn module(engine: &Engine) -> Module {
    Module::new(engine, wat::parse_str(PROGRAM).expect("valid text")).expect("compiles")
}

fn pool(stack: usize, engine: &Engine) -> WorkerPool {
    WorkerPool::new(&module(engine), PoolConfig::new(2).stack_size(stack)).expect("pool starts")
}

fn call(pool: &WorkerPool, export: &str, args: Vec<Value>) -> Result<Vec<Value>, CallError> {
    pool.call(Target::Worker(0), export, args).wait()
}

#[test]
fn recursion_traps_on_small_stack_workers_in_normal_and_debug_code() {
    for debug in [false, true] {
        // The default wasm stack limit (512 KiB) is larger than these
        // threads' stacks: the limit must follow the thread, not the config.
        for stack in [128 << 10, 256 << 10, 8 << 20] {
            let engine = Engine::new(&Config::new().debug(debug)).expect("engine");
            let pool = pool(stack, &engine);
            for _ in 0..3 {
                match call(&pool, "down", vec![Value::I32(0)]) {
                    Err(CallError::Trap(trap)) => assert_eq!(trap.kind, TrapKind::StackOverflow, "stack {stack}, debug {debug}"),
                    other => panic!("stack {stack}, debug {debug}: expected a stack overflow, got {other:?}"),
                }
                assert_eq!(call(&pool, "answer", vec![]).expect("the worker lives on"), vec![Value::I32(42)]);
            }
        }
    }
}

#[test]
fn growing_past_the_maximum_gives_minus_one() {
    let engine = Engine::new(&Config::new()).expect("engine");
    let pool = pool(1 << 20, &engine);
    let i32s = |v: i32| vec![Value::I32(v)];
    assert_eq!(call(&pool, "grow_memory", i32s(3)).unwrap(), i32s(-1), "1 + 3 pages is over the maximum of 3");
    assert_eq!(call(&pool, "grow_memory", i32s(2)).unwrap(), i32s(1));
    assert_eq!(call(&pool, "grow_memory", i32s(1)).unwrap(), i32s(-1));
    assert_eq!(call(&pool, "grow_memory", i32s(-1)).unwrap(), i32s(-1), "65535 pages and more never fit");
    assert_eq!(call(&pool, "memory_pages", vec![]).unwrap(), i32s(3));
    assert_eq!(call(&pool, "grow_table", i32s(4)).unwrap(), i32s(-1));
    assert_eq!(call(&pool, "grow_table", i32s(3)).unwrap(), i32s(2));
    assert_eq!(call(&pool, "grow_table", i32s(-1)).unwrap(), i32s(-1));
    assert_eq!(call(&pool, "table_size", vec![]).unwrap(), i32s(5));
}

#[test]
fn each_worker_grows_only_within_the_pools_store_limits() {
    let engine = Engine::default();
    let limits = StoreLimitsBuilder::new().memory_size(2 * PAGE_SIZE as usize).table_elements(3).build();
    let pool = WorkerPool::new(&module(&engine), PoolConfig::new(2).limits(limits)).expect("pool starts");
    let i32s = |v: i32| vec![Value::I32(v)];
    for worker in [0, 1] {
        let call = |export: &str, args| pool.call(Target::Worker(worker), export, args).wait().unwrap();
        assert_eq!(call("grow_memory", i32s(2)), i32s(-1), "worker {worker}: 3 pages is over the limit of 2");
        assert_eq!(call("grow_memory", i32s(1)), i32s(1));
        assert_eq!(call("grow_memory", i32s(1)), i32s(-1));
        assert_eq!(call("memory_pages", vec![]), i32s(2));
        assert_eq!(call("grow_table", i32s(2)), i32s(-1));
        assert_eq!(call("grow_table", i32s(1)), i32s(2));
        assert_eq!(call("table_size", vec![]), i32s(3));
    }
}

#[test]
fn a_memory_starting_over_the_limit_fails_to_start_the_pool() {
    let engine = Engine::default();
    let config = PoolConfig::new(2).limits(StoreLimitsBuilder::new().memory_size(PAGE_SIZE as usize / 2).build());
    match WorkerPool::new(&module(&engine), config) {
        Err(PoolError::Instantiate { worker: 0, source: Error::LimitExceeded(e) }) => {
            assert_eq!(e, LimitExceeded { limit: Limit::MemorySize, requested: PAGE_SIZE as usize, allowed: PAGE_SIZE as usize / 2 })
        }
        other => panic!("expected worker 0 to fail on the memory limit, got {other:?}"),
    }
}
