//! Host functions as an embedder writes them: typed closures that reach
//! the store's data and the calling instance's memory through a `Caller`,
//! call back into wasm, and fail with errors; dynamic ones over `Val`s.

use onecopy_runtime::{Caller, Engine, Error, Extern, Func, FuncType, Instance, Linker, Module, Store, TrapKind, Val, ValType};

const GUEST: &str = r#"(module
  (import "host" "upper" (func $upper (param i32 i32)))
  (import "host" "sum" (func $sum (param i32 i64 f32 f64 i32) (result f64)))
  (import "host" "twice" (func $twice (param i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 100) "hello, store")
  (func (export "shout") (call $upper (i32.const 100) (i32.const 12)))
  (func (export "add_all") (result f64)
    (call $sum (i32.const 1) (i64.const 2) (f32.const 3.5) (f64.const 4.25) (i32.const -1)))
  (func (export "inc") (param i32) (result i32) (i32.add (local.get 0) (i32.const 1)))
  (func (export "inc_twice") (param i32) (result i32) (call $twice (local.get 0))))"#;

/// What the host keeps per store.
#[derive(Default)]
struct Host {
    calls: u32,
    seen: Vec<String>,
}

fn linker(engine: &Engine) -> Linker<Host> {
    let mut linker = Linker::new(engine);
    // Reads and rewrites the caller's memory while counting in the store's data.
    linker
        .func_wrap("host", "upper", |mut caller: Caller<'_, Host>, ptr: u32, len: u32| -> Result<(), Error> {
            let memory = caller.get_export("memory").and_then(Extern::into_memory).ok_or_else(|| Error::NotFound("memory".into()))?;
            let (bytes, host) = memory.data_and_store_mut(&mut caller)?;
            let text = bytes.get_mut(ptr as usize..(ptr + len) as usize).ok_or_else(|| Error::NotFound("the string".into()))?;
            host.seen.push(String::from_utf8_lossy(text).into_owned());
            text.make_ascii_uppercase();
            host.calls += 1;
            Ok(())
        })
        .unwrap();
    linker.func_wrap("host", "sum", |a: i32, b: i64, c: f32, d: f64, e: u32| a as f64 + b as f64 + c as f64 + d + e as f64).unwrap();
    // Calls back into the calling instance.
    linker
        .func_wrap("host", "twice", |mut caller: Caller<'_, Host>, x: i32| -> Result<i32, Error> {
            let inc = caller.get_export("inc").and_then(Extern::into_func).ok_or_else(|| Error::NotFound("inc".into()))?;
            let inc = inc.typed::<i32, i32>(&caller)?;
            let once = inc.call(&mut caller, x)?;
            inc.call(&mut caller, once)
        })
        .unwrap();
    linker
}

#[test]
fn a_host_function_reads_and_writes_the_callers_memory_and_the_stores_data() {
    let engine = Engine::default();
    let module = Module::new(&engine, wat::parse_str(GUEST).unwrap()).unwrap();
    let mut store = Store::new(&engine, Host::default());
    let instance = linker(&engine).instantiate(&mut store, &module).unwrap();
    instance.get_typed_func::<(), ()>(&store, "shout").unwrap().call(&mut store, ()).unwrap();
    let memory = instance.get_memory(&store, "memory").unwrap();
    assert_eq!(&memory.data(&store).unwrap()[100..112], b"HELLO, STORE");
    assert_eq!((store.data().calls, store.data().seen.clone()), (1, vec!["hello, store".to_string()]));
    let sum = instance.get_typed_func::<(), f64>(&store, "add_all").unwrap().call(&mut store, ()).unwrap();
    assert_eq!(sum, 1.0 + 2.0 + 3.5 + 4.25 + u32::MAX as f64);
    assert_eq!(instance.get_typed_func::<i32, i32>(&store, "inc_twice").unwrap().call(&mut store, 40).unwrap(), 42);
}

#[test]
fn one_linker_serves_many_stores_and_places_each_host_function_once_per_store() {
    let engine = Engine::default();
    let module = Module::new(&engine, wat::parse_str(GUEST).unwrap()).unwrap();
    let linker = linker(&engine);
    let mut stores: Vec<Store<Host>> = (0..3).map(|_| Store::new(&engine, Host::default())).collect();
    for store in &mut stores {
        for _ in 0..2 {
            let instance = linker.instantiate(&mut *store, &module).unwrap();
            instance.get_typed_func::<(), ()>(&*store, "shout").unwrap().call(&mut *store, ()).unwrap();
        }
        assert_eq!(store.data().calls, 2, "each store counts its own calls");
        let upper = linker.get(&mut *store, "host", "upper").and_then(Extern::into_func).unwrap();
        assert_eq!(linker.get(&mut *store, "host", "upper").and_then(Extern::into_func), Some(upper), "the same record");
    }
}

#[test]
fn a_host_error_or_a_missing_export_traps_the_caller_with_that_error() {
    let engine = Engine::default();
    let module = Module::new(
        &engine,
        wat::parse_str(
            r#"(module (import "host" "upper" (func $upper (param i32 i32)))
            (func (export "shout") (call $upper (i32.const 0) (i32.const 4))))"#,
        )
        .unwrap(),
    )
    .unwrap();
    let mut store = Store::new(&engine, Host::default());
    // This module exports no memory: the host function's own error comes back.
    let instance = linker(&engine).instantiate(&mut store, &module).unwrap();
    let err = instance.get_typed_func::<(), ()>(&store, "shout").unwrap().call(&mut store, ()).unwrap_err();
    assert!(matches!(&err, Error::NotFound(what) if what == "memory"), "{err}");
}

#[test]
fn dynamic_host_functions_take_and_return_references() {
    let engine = Engine::default();
    let mut store = Store::new(&engine, ());
    let ty = FuncType::new([ValType::FuncRef, ValType::I32], [ValType::FuncRef, ValType::I64]);
    let swap = Func::new(&mut store, ty, |_, params, results| {
        results[0] = params[0];
        results[1] = Val::I64(params[1].i32().unwrap_or_default() as i64 * 2);
        Ok(())
    })
    .unwrap();
    let mut results = [Val::I32(0), Val::I32(0)];
    swap.call(&mut store, &[Val::FuncRef(Some(swap)), Val::I32(21)], &mut results).unwrap();
    assert!(matches!(results, [Val::FuncRef(Some(f)), Val::I64(42)] if f == swap));
    // A result of the wrong type is the host function's error, a trap.
    let bad = Func::new(&mut store, FuncType::new([], [ValType::I32]), |_, _, results| {
        results[0] = Val::I64(1);
        Ok(())
    })
    .unwrap();
    let err = bad.call(&mut store, &[], &mut [Val::I32(0)]).unwrap_err();
    assert!(matches!(err, Error::Type(_)), "{err}");
    // Without a calling instance, a host function's caller has no exports.
    let orphan = Func::wrap(&mut store, |caller: Caller<'_, ()>| caller.get_export("memory").is_none() as i32).unwrap();
    assert_eq!(orphan.typed::<(), i32>(&store).unwrap().call(&mut store, ()).unwrap(), 1);
    let trap = Func::wrap(&mut store, || -> Result<(), Error> { Err(onecopy_runtime::Trap::new(TrapKind::Host).into()) }).unwrap();
    assert_eq!(trap.call(&mut store, &[], &mut []).unwrap_err().trap().map(|t| t.kind), Some(TrapKind::Host));
}

#[test]
fn instances_of_one_store_link_to_each_other() {
    let engine = Engine::default();
    let a = Module::new(&engine, wat::parse_str(r#"(module (func (export "seven") (result i32) i32.const 7))"#).unwrap()).unwrap();
    let b = Module::new(
        &engine,
        wat::parse_str(
            r#"(module (import "a" "seven" (func $seven (result i32)))
            (func (export "fourteen") (result i32) (i32.mul (call $seven) (i32.const 2))))"#,
        )
        .unwrap(),
    )
    .unwrap();
    let mut store = Store::new(&engine, ());
    let mut linker = Linker::new(&engine);
    let first = linker.instantiate(&mut store, &a).unwrap();
    linker.instance(&store, "a", first).unwrap();
    let second = linker.instantiate(&mut store, &b).unwrap();
    assert_eq!(second.get_typed_func::<(), i32>(&store, "fourteen").unwrap().call(&mut store, ()).unwrap(), 14);
    let seven = Instance::get_func(&first, &store, "seven").unwrap();
    assert_eq!(seven.ty(&store).unwrap(), FuncType::new([], [ValType::I32]));
}
