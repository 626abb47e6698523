//! Helpers shared by the integration tests: a generated module with many
//! small looping functions and the values they must return.

// Each test binary uses only some of these helpers.
#![allow(dead_code)]

use onecopy_runtime::{Instance, Module, SiteKind, Store};

/// Text of a module with `count` functions `f0..f{count-1}` of type
/// `(i32) -> i32`, each a short loop `f_k(n) = sum of (i + k) for i in 1..=n`,
/// plus `run(k, n)`, which reaches `f_k` through `call_indirect` (a dispatch
/// through a table, the way real programs reach most functions).
pub fn loops_wat(count: u32) -> String {
    let mut wat = String::from("(module\n  (type $t (func (param i32) (result i32)))\n");
    wat += &format!("  (table {count} funcref)\n  (elem (i32.const 0)");
    for k in 0..count {
        wat += &format!(" $f{k}");
    }
    wat += ")\n";
    for k in 0..count {
        wat += &format!(
            r#"  (func $f{k} (export "f{k}") (type $t) (param $n i32) (result i32) (local $acc i32)
    (block $done (loop $next
      (br_if $done (i32.eqz (local.get $n)))
      (local.set $acc (i32.add (local.get $acc) (i32.add (local.get $n) (i32.const {k}))))
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br $next)))
    (local.get $acc))
"#
        );
    }
    wat += r#"  (func (export "run") (param $k i32) (param $n i32) (result i32)
    (call_indirect (type $t) (local.get $n) (local.get $k))))"#;
    wat
}

/// The binary of [`loops_wat`].
pub fn loops_module(count: u32) -> Vec<u8> {
    wat::parse_str(loops_wat(count)).expect("generated module parses")
}

/// What `f_k(n)` returns (wasm i32 arithmetic wraps).
pub fn expected(k: u32, n: i32) -> i32 {
    (1..=n).fold(0i32, |acc, i| acc.wrapping_add(i.wrapping_add(k as i32)))
}

/// Call `run(k, n)` on `instance` and check the result, as an error message
/// rather than a panic so that threads waiting at barriers are not stranded.
pub fn check_run<T>(store: &mut Store<T>, instance: Instance, k: u32, n: i32) -> Result<(), String> {
    let run = instance.get_typed_func::<(i32, i32), i32>(&*store, "run").map_err(|e| e.to_string())?;
    match run.call(store, (k as i32, n)) {
        Ok(got) if got == expected(k, n) => Ok(()),
        Ok(got) => Err(format!("run({k}, {n}) returned {got}, expected {}", expected(k, n))),
        Err(e) => Err(format!("run({k}, {n}) failed: {e}")),
    }
}

/// Create the engine's per-signature stubs for `run` with one throwaway
/// instance and call, so code-memory snapshots taken afterwards only see
/// module code come and go.
pub fn create_stubs(module: &Module) {
    let mut store = Store::new(module.engine(), ());
    let instance = Instance::new(&mut store, module, &[]).expect("instantiate");
    check_run(&mut store, instance, 0, 1).expect("first call");
}

/// Wasm offset of function `func`'s entry site.
pub fn entry_offset(module: &Module, func: u32) -> u32 {
    let entry = module.sites().iter().find(|s| s.func == func && s.kind == SiteKind::Entry);
    entry.unwrap_or_else(|| panic!("function {func} has no entry site")).wasm_offset
}
