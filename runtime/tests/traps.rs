//! Traps come back as typed errors with kind, function and offset, and the
//! instance stays usable afterwards.

use onecopy_runtime::{Config, Engine, Error, Func, FuncType, Instance, Module, TrapKind, Val, ValType};

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

fn instance(debug: bool) -> Instance {
    let engine = Engine::new(&Config::new().debug(debug)).unwrap();
    let module = Module::new(&engine, wat::parse_str(PROGRAM).unwrap()).unwrap();
    Instance::new(&module, &[]).unwrap()
}

fn trap_kind(result: Result<Vec<Val>, Error>) -> TrapKind {
    result.expect_err("should trap").trap().expect("a trap").kind
}

#[test]
fn each_trap_kind_is_reported_and_the_instance_survives() {
    for debug in [false, true] {
        let i = instance(debug);
        let call = |name: &str, args: &[Val]| i.get_func(name).unwrap().call(args);
        assert_eq!(trap_kind(call("div", &[Val::I32(1), Val::I32(0)])), TrapKind::IntegerDivisionByZero);
        assert_eq!(trap_kind(call("div", &[Val::I32(i32::MIN), Val::I32(-1)])), TrapKind::IntegerOverflow);
        assert_eq!(trap_kind(call("unreachable", &[])), TrapKind::Unreachable);
        assert_eq!(trap_kind(call("load", &[Val::I32(65535)])), TrapKind::MemoryOutOfBounds);
        assert_eq!(trap_kind(call("recurse", &[Val::I32(0)])), TrapKind::StackOverflow);
        assert_eq!(trap_kind(call("indirect", &[Val::I32(0)])), TrapKind::IndirectCallToNull);
        assert_eq!(trap_kind(call("indirect", &[Val::I32(7)])), TrapKind::UndefinedElement);
        assert_eq!(trap_kind(call("trunc", &[Val::F32(f32::NAN.to_bits())])), TrapKind::BadConversionToInteger);
        // Still usable after all that.
        let div = i.get_typed_func::<(i32, i32), i32>("div").unwrap();
        assert_eq!(div.call((7, 2)).unwrap(), 3);
        let grow = i.get_typed_func::<(i32,), i32>("grow").unwrap();
        assert_eq!(grow.call((1,)).unwrap(), 1);
        assert_eq!(grow.call((70000,)).unwrap(), -1);
    }
}

#[test]
fn traps_carry_function_and_offset() {
    let i = instance(false);
    let err = i.get_func("unreachable").unwrap().call(&[]).unwrap_err();
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
        wat::parse_str(r#"(module (import "h" "f" (func $f (param i32))) (func (export "run") (param i32) local.get 0 call $f))"#)
            .unwrap(),
    )
    .unwrap();
    let host = Func::new(&engine, FuncType::new([ValType::I32], []), |args| match args[0] {
        Val::I32(0) => Ok(vec![]),
        Val::I32(1) => Err(Error::NotFound("host says no".into())),
        _ => panic!("host function panicked on purpose"),
    })
    .unwrap();
    let i = Instance::new(&module, &[host.into()]).unwrap();
    let run = i.get_typed_func::<(i32,), ()>("run").unwrap();
    run.call((0,)).unwrap();
    assert!(run.call((1,)).unwrap_err().to_string().contains("host says no"));
    let err = run.call((2,)).unwrap_err();
    assert_eq!(err.trap().unwrap().kind, TrapKind::Host);
    assert!(err.to_string().contains("on purpose"), "{err}");
    run.call((0,)).unwrap();
}

#[test]
fn a_table_outlives_the_instance_that_exported_it() {
    let engine = Engine::default();
    let exporter = Module::new(
        &engine,
        wat::parse_str(r#"(module (table (export "t") 1 funcref) (elem (i32.const 0) $f)
            (func $f (result i32) i32.const 42))"#)
        .unwrap(),
    )
    .unwrap();
    let importer = Module::new(
        &engine,
        wat::parse_str(r#"(module (import "x" "t" (table 1 funcref)) (type $r (func (result i32)))
            (func (export "call") (result i32) i32.const 0 call_indirect (type $r)))"#)
        .unwrap(),
    )
    .unwrap();
    let x = Instance::new(&exporter, &[]).unwrap();
    let table = x.get_export("t").unwrap();
    drop(x);
    let z = Instance::new(&importer, &[table]).unwrap();
    // The exporter's function is still there to be called through its table.
    assert_eq!(z.get_typed_func::<(), i32>("call").unwrap().call(()).unwrap(), 42);
}
