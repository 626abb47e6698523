//! The churn thread: compiles modules into the workers' engine until its
//! small arena is full, runs them, drops some, and goes on.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;

use onecopy_workers::runtime::{Config, Engine, Error, Instance, Module, Store};

use crate::common::Rng;
use crate::{Progress, CHURN_FUNCS};

/// Text of the churn thread's module: `count` functions `f{k}(n)` summing
/// `i + k` for `i` in `1..=n`, and `run(k, n)` reaching them through a table.
pub fn churn_wat(count: u32) -> String {
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
pub fn churn(engine: &Engine, wasm: &[u8], seed: u64, progress: &Progress) -> Result<(), String> {
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
pub fn footprint(wasm: &[u8]) -> usize {
    let engine = Engine::new(&Config::new().debug(true)).expect("a measuring engine");
    let stubs = Module::new(&engine, wasm).expect("the module compiles");
    let before = engine.code_memory();
    let module = Module::new(&engine, wasm).expect("the module compiles");
    let after = engine.code_memory();
    drop((module, stubs));
    (after.committed + after.trap_tails) - (before.committed + before.trap_tails)
}
