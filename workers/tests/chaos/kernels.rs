//! The kernels the workers run (the Rust twins of `data/chaos.wat`'s
//! functions, for the expected results), random calls of them, and the
//! driver that sends rounds of calls and checks every result.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use onecopy_workers::{CallHandle, Target, Value, WorkerPool};

use crate::common::Rng;
use crate::{Progress, FUNCS, WAIT, WORKERS};

/// One kernel call and the result it must give.
#[derive(Debug, Clone)]
pub struct Call {
    pub export: &'static str,
    pub args: Vec<Value>,
    pub expected: i32,
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
pub fn random_call(rng: &mut Rng) -> Call {
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
pub fn check(call: &Call, target: Target, handle: CallHandle) -> Result<(), String> {
    match handle.wait_timeout(WAIT) {
        Ok(Ok(results)) if results == [Value::I32(call.expected)] => Ok(()),
        Ok(Ok(results)) => Err(format!("{call:?} on {target:?} returned {results:?}")),
        Ok(Err(e)) => Err(format!("{call:?} on {target:?} failed: {e}")),
        Err(_) => Err(format!("{call:?} on {target:?} did not return within {WAIT:?}: deadlock?")),
    }
}

/// The driver: rounds of one call per worker plus a few to whichever is
/// idle, every result checked, until the chaos time is up.
pub fn drive(pool: &WorkerPool, seed: u64, chaos: Duration, progress: &Progress) -> Result<usize, String> {
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
