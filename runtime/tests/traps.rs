//! Traps come back as typed errors with kind, function and offset, and the
//! instance stays usable afterwards.

use onecopy_runtime::{Caller, Config, Engine, Error, Func, Instance, Module, Store, TrapKind, Val};

const PROGRAM: &str = r#"(module
  (memory 1)
  (table 2 funcref)
  (func $div (export "div") (param i32 i32) (result i32) local.get 0 local.get 1 i32.div_s)
  (func (export "unreachable") unreachable)
  (func (export "load") (param i32) (result i32) local.get 0 i32.load)
  (func $rec (export "recurse") (param i32) (result i32) local.get 0 i32.const 1 i32.add call $rec)
  (func (export "indirect") (param i32) local.get 0 call_indirect (type $v))
  (func (export "trunc") (param f32) (result i32) local.get 0 i32.trunc_f32_s)
  (func (export "grow") (param i32) (result i32) local.get 0 memory.grow)
  (type $v (func)))"#;

fn instance(debug: bool) -> (Store<()>, Instance) {
    let engine = Engine::new(&Config::new().debug(debug)).unwrap();
    let module = Module::new(&engine, wat::parse_str(PROGRAM).unwrap()).unwrap();
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    (store, instance)
}

fn trap_kind<T>(result: Result<T, Error>) -> TrapKind {
    result.err().expect("should trap").trap().expect("a trap").kind
}

#[test]
fn each_trap_kind_is_reported_and_the_instance_survives() {
    for debug in [false, true] {
        let (mut store, i) = instance(debug);
        let mut call = |name: &str, args: &[Val]| {
            let func = i.get_func(&store, name).unwrap();
            let mut results = vec![Val::I32(0); func.ty(&store).unwrap().results.len()];
            func.call(&mut store, args, &mut results)
        };
        assert_eq!(trap_kind(call("div", &[Val::I32(1), Val::I32(0)])), TrapKind::IntegerDivisionByZero);
        assert_eq!(trap_kind(call("div", &[Val::I32(i32::MIN), Val::I32(-1)])), TrapKind::IntegerOverflow);
        assert_eq!(trap_kind(call("unreachable", &[])), TrapKind::Unreachable);
        assert_eq!(trap_kind(call("load", &[Val::I32(65535)])), TrapKind::MemoryOutOfBounds);
        assert_eq!(trap_kind(call("recurse", &[Val::I32(0)])), TrapKind::StackOverflow);
        assert_eq!(trap_kind(call("indirect", &[Val::I32(0)])), TrapKind::IndirectCallToNull);
        assert_eq!(trap_kind(call("indirect", &[Val::I32(7)])), TrapKind::UndefinedElement);
        assert_eq!(trap_kind(call("trunc", &[Val::F32(f32::NAN.to_bits())])), TrapKind::BadConversionToInteger);
        // Still usable after all that.
        let div = i.get_typed_func::<(i32, i32), i32>(&store, "div").unwrap();
        assert_eq!(div.call(&mut store, (7, 2)).unwrap(), 3);
        let grow = i.get_typed_func::<(i32,), i32>(&store, "grow").unwrap();
        assert_eq!(grow.call(&mut store, (1,)).unwrap(), 1);
        assert_eq!(grow.call(&mut store, (70000,)).unwrap(), -1);
    }
}

#[test]
fn traps_carry_function_and_offset() {
    let (mut store, i) = instance(false);
    let err = i.get_func(&store, "unreachable").unwrap().call(&mut store, &[], &mut []).unwrap_err();
    let trap = err.trap().unwrap();
    assert_eq!(trap.func, Some(1));
    assert!(trap.wasm_offset.is_some_and(|o| o > 0), "{trap:?}");
    assert!(err.to_string().contains("unreachable"), "{err}");
}

#[test]
fn host_errors_and_panics_become_traps() {
    let engine = Engine::default();
    let module = Module::new(
        &engine,
        wat::parse_str(r#"(module (import "h" "f" (func $f (param i32))) (func (export "run") (param i32) local.get 0 call $f))"#).unwrap(),
    )
    .unwrap();
    let mut store = Store::new(&engine, ());
    let host = Func::wrap(&mut store, |x: i32| match x {
        0 => Ok(()),
        1 => Err(Error::NotFound("host says no".into())),
        _ => panic!("host function panicked on purpose"),
    })
    .unwrap();
    let i = Instance::new(&mut store, &module, &[host.into()]).unwrap();
    let run = i.get_typed_func::<(i32,), ()>(&store, "run").unwrap();
    run.call(&mut store, (0,)).unwrap();
    assert!(run.call(&mut store, (1,)).unwrap_err().to_string().contains("host says no"));
    let err = run.call(&mut store, (2,)).unwrap_err();
    assert_eq!(err.trap().unwrap().kind, TrapKind::Host);
    assert!(err.to_string().contains("on purpose"), "{err}");
    run.call(&mut store, (0,)).unwrap();
    // Called from the host, the host function's outcome is the same.
    let typed = host.typed::<i32, ()>(&store).unwrap();
    assert!(matches!(typed.call(&mut store, 1), Err(Error::NotFound(_))));
    assert_eq!(trap_kind(typed.call(&mut store, 2)), TrapKind::Host);
    typed.call(&mut store, 0).unwrap();
}

#[test]
fn a_host_error_of_its_own_type_comes_back_whole() {
    #[derive(Debug, PartialEq)]
    struct Exit(i32);
    impl std::fmt::Display for Exit {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "exit {}", self.0)
        }
    }
    impl std::error::Error for Exit {}
    let engine = Engine::default();
    let module = Module::new(
        &engine,
        wat::parse_str(r#"(module (import "h" "exit" (func $exit (param i32))) (func (export "run") i32.const 3 call $exit unreachable))"#)
            .unwrap(),
    )
    .unwrap();
    let mut store = Store::new(&engine, ());
    let exit = Func::wrap(&mut store, |_: Caller<'_, ()>, code: i32| -> Result<(), Error> { Err(Error::host(Exit(code))) }).unwrap();
    let i = Instance::new(&mut store, &module, &[exit.into()]).unwrap();
    let err = i.get_typed_func::<(), ()>(&store, "run").unwrap().call(&mut store, ()).unwrap_err();
    assert_eq!(err.downcast_ref::<Exit>(), Some(&Exit(3)), "{err}");
}

#[test]
fn a_table_reaches_the_function_of_the_instance_that_exported_it() {
    let engine = Engine::default();
    let exporter = Module::new(
        &engine,
        wat::parse_str(
            r#"(module (table (export "t") 1 funcref) (elem (i32.const 0) $f)
            (func $f (result i32) i32.const 42))"#,
        )
        .unwrap(),
    )
    .unwrap();
    let importer = Module::new(
        &engine,
        wat::parse_str(
            r#"(module (import "x" "t" (table 1 funcref)) (type $r (func (result i32)))
            (func (export "call") (result i32) i32.const 0 call_indirect (type $r)))"#,
        )
        .unwrap(),
    )
    .unwrap();
    let mut store = Store::new(&engine, ());
    let x = Instance::new(&mut store, &exporter, &[]).unwrap();
    let table = x.get_export(&store, "t").unwrap();
    // Only the table is kept: the exporting instance lives with the store.
    let z = Instance::new(&mut store, &importer, &[table]).unwrap();
    assert_eq!(z.get_typed_func::<(), i32>(&store, "call").unwrap().call(&mut store, ()).unwrap(), 42);
}
