//! Dropping a store frees everything in it: instances that import each
//! other's tables and hold each other's functions in them (a reference
//! cycle when instances kept each other alive) go with their store, so
//! linking and dropping many of them keeps the process's resident memory
//! flat. (Its own test binary: other tests would move the RSS meanwhile.)

use onecopy_runtime::{Config, Engine, Linker, Module, Store};

/// Exports a table holding its own function and a memory with data in it.
const A: &str = r#"(module
  (table (export "t") 2 funcref)
  (memory (export "m") 1)
  (data (i32.const 0) "touch a page")
  (func $one (export "one") (result i32) i32.const 1)
  (elem (i32.const 0) $one))"#;

/// Imports A's table and stores its own function there; its own table,
/// which A's instance never sees, holds A's function.
const B: &str = r#"(module
  (import "a" "t" (table 2 funcref))
  (import "a" "one" (func $one (result i32)))
  (table $own 1 funcref)
  (type $r (func (result i32)))
  (func $two (result i32) i32.const 2)
  (elem (table 0) (i32.const 1) func $two)
  (elem (table $own) (i32.const 0) func $one)
  (func (export "via_a") (param i32) (result i32) (call_indirect (type $r) (local.get 0)))
  (func (export "via_own") (result i32) (call_indirect $own (type $r) (i32.const 0))))"#;

fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).expect("VmRSS");
    line.split_whitespace().nth(1).and_then(|kib| kib.parse::<u64>().ok()).expect("a number of KiB") * 1024
}

/// One store: A, then B linked to it, both called through the tables.
fn link_call_drop(engine: &Engine, a: &Module, b: &Module) {
    let mut store = Store::new(engine, ());
    let mut linker = Linker::new(engine);
    let first = linker.instantiate(&mut store, a).unwrap();
    linker.instance(&store, "a", first).unwrap();
    let second = linker.instantiate(&mut store, b).unwrap();
    let via_a = second.get_typed_func::<i32, i32>(&store, "via_a").unwrap();
    assert_eq!((via_a.call(&mut store, 0).unwrap(), via_a.call(&mut store, 1).unwrap()), (1, 2));
    assert_eq!(second.get_typed_func::<(), i32>(&store, "via_own").unwrap().call(&mut store, ()).unwrap(), 1);
}

#[cfg(target_os = "linux")]
#[test]
fn ten_thousand_linked_instances_dropped_with_their_stores_keep_rss_flat() {
    let engine = Engine::new(&Config::new().debug(true)).unwrap();
    let a = Module::new(&engine, wat::parse_str(A).unwrap()).unwrap();
    let b = Module::new(&engine, wat::parse_str(B).unwrap()).unwrap();
    // Warm up: allocator pools, stubs, debug descriptions, thread locals.
    for _ in 0..500 {
        link_call_drop(&engine, &a, &b);
    }
    let before = rss_bytes();
    for _ in 0..10_000 {
        link_call_drop(&engine, &a, &b);
    }
    let grown = rss_bytes().saturating_sub(before);
    // A leak of the instances alone would be over 100 MB here: each pair
    // touches a page of linear memory and holds two vmctxs, funcrefs,
    // tables and debug tables.
    assert!(grown < 8 << 20, "RSS grew by {grown} bytes over 10,000 stores");
    assert_eq!(engine.code_memory().modules, 2);
}
