//! Bad input gets a typed error with a readable message, never a panic.

use onecopy_runtime::{Engine, Error, Func, FuncType, Instance, Linker, Module, Store, Val, ValType};

fn wasm(text: &str) -> Vec<u8> {
    wat::parse_str(text).expect("test module parses")
}

const ADD: &str = r#"(module (func (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add))"#;

#[test]
fn truncated_and_corrupted_modules_are_compile_errors() {
    let engine = Engine::default();
    let bytes = wasm(ADD);
    for cut in [1, 4, 7, bytes.len() / 2, bytes.len() - 1] {
        let err = Module::new(&engine, &bytes[..cut]).err().expect("truncated module rejected");
        assert!(matches!(err, Error::Compile(_)), "{err}");
        assert!(err.to_string().contains("invalid module"), "{err}");
    }
    let mut corrupt = bytes.clone();
    let last = corrupt.len() - 3;
    corrupt[last] = 0xff;
    assert!(matches!(Module::new(&engine, &corrupt), Err(Error::Compile(_))));
    assert!(matches!(Module::new(&engine, b"not wasm at all"), Err(Error::Compile(_))));
}

#[test]
fn debug_code_with_the_single_pass_allocator_is_refused_by_name() {
    use onecopy_runtime::{Config, Regalloc};
    let err = Engine::new(&Config::new().debug(true).regalloc(Regalloc::SinglePass)).err().expect("refused");
    assert!(matches!(err, Error::Compile(_)), "{err}");
    assert!(err.to_string().contains("backtracking register allocator"), "{err}");
    let normal = Engine::new(&Config::new().regalloc(Regalloc::SinglePass)).unwrap();
    assert!(Module::new(&normal, wasm(ADD)).is_ok(), "normal code compiles with it");
}

#[test]
fn unsupported_features_are_named() {
    let engine = Engine::default();
    let simd = wasm(r#"(module (func (result v128) v128.const i64x2 0 0))"#);
    let err = Module::new(&engine, &simd).err().expect("SIMD rejected");
    assert!(err.to_string().to_lowercase().contains("simd"), "{err}");
}

#[test]
fn wrong_imports_are_link_errors() {
    let engine = Engine::default();
    let module = Module::new(&engine, wasm(r#"(module (import "env" "f" (func (param i32))))"#)).unwrap();
    let mut store = Store::new(&engine, ());
    assert!(matches!(Instance::new(&mut store, &module, &[]), Err(Error::Link(_))));
    let wrong = Func::new(&mut store, FuncType::new([ValType::I64], []), |_, _, _| Ok(())).unwrap();
    let err = Instance::new(&mut store, &module, &[wrong.into()]).err().unwrap();
    assert!(matches!(err, Error::Link(_)) && err.to_string().contains("env::f"), "{err}");
    let err = Linker::new(&engine).instantiate(&mut store, &module).err().unwrap();
    assert!(err.to_string().contains("unknown import"), "{err}");
}

#[test]
fn wrong_arguments_are_type_errors() {
    let engine = Engine::default();
    let module = Module::new(&engine, wasm(ADD)).unwrap();
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let add = instance.get_func(&store, "add").unwrap();
    let mut result = [Val::I32(0)];
    assert!(matches!(add.call(&mut store, &[Val::I32(1)], &mut result), Err(Error::Type(_))));
    assert!(matches!(add.call(&mut store, &[Val::I32(1), Val::I64(2)], &mut result), Err(Error::Type(_))));
    assert!(matches!(add.call(&mut store, &[Val::I32(1), Val::I32(2)], &mut []), Err(Error::Type(_))));
    assert!(matches!(instance.get_typed_func::<(i64,), i32>(&store, "add"), Err(Error::Type(_))));
    assert!(matches!(instance.get_typed_func::<(), ()>(&store, "missing"), Err(Error::NotFound(_))));
}

#[test]
fn handles_used_with_another_store_are_errors() {
    let engine = Engine::default();
    let module = Module::new(
        &engine,
        wasm(
            r#"(module (memory (export "m") 1) (global (export "g") (mut i32) (i32.const 1))
        (table (export "t") 1 funcref) (func (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add))"#,
        ),
    )
    .unwrap();
    let (mut mine, mut other) = (Store::new(&engine, ()), Store::new(&engine, ()));
    let instance = Instance::new(&mut mine, &module, &[]).unwrap();
    Instance::new(&mut other, &module, &[]).unwrap();
    let wrong = |e: Error| assert!(matches!(e, Error::WrongStore(_)), "{e}");
    let add = instance.get_typed_func::<(i32, i32), i32>(&mine, "add").unwrap();
    wrong(add.call(&mut other, (1, 2)).unwrap_err());
    wrong(instance.get_memory(&mine, "m").unwrap().data(&other).unwrap_err());
    wrong(instance.get_global(&mine, "g").unwrap().set(&mut other, Val::I32(2)).unwrap_err());
    assert!(instance.get_table(&mine, "t").unwrap().get(&other, 0).is_none());
    assert!(instance.get_export(&other, "m").is_none());
    wrong(instance.debug(&mut other).err().unwrap());
    // A table of one store cannot hold another store's function.
    let table = instance.get_table(&mine, "t").unwrap();
    let foreign = Func::wrap(&mut other, || 7i32).unwrap();
    wrong(table.set(&mut mine, 0, Val::FuncRef(Some(foreign))).unwrap_err());
    assert_eq!(add.call(&mut mine, (1, 2)).unwrap(), 3);
}
