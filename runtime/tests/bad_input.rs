//! Bad input gets a typed error with a readable message, never a panic.

use onecopy_runtime::{Engine, Error, Func, FuncType, Instance, Linker, Module, Val, ValType};

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
    assert!(matches!(Instance::new(&module, &[]), Err(Error::Link(_))));
    let wrong = Func::new(&engine, FuncType::new([ValType::I64], []), |_| Ok(vec![])).unwrap();
    let err = Instance::new(&module, &[wrong.into()]).err().unwrap();
    assert!(matches!(err, Error::Link(_)) && err.to_string().contains("env::f"), "{err}");
    let err = Linker::new(&engine).instantiate(&module).err().unwrap();
    assert!(err.to_string().contains("unknown import"), "{err}");
}

#[test]
fn wrong_arguments_are_type_errors() {
    let engine = Engine::default();
    let module = Module::new(&engine, wasm(ADD)).unwrap();
    let instance = Instance::new(&module, &[]).unwrap();
    let add = instance.get_func("add").unwrap();
    assert!(matches!(add.call(&[Val::I32(1)]), Err(Error::Type(_))));
    assert!(matches!(add.call(&[Val::I32(1), Val::I64(2)]), Err(Error::Type(_))));
    assert!(matches!(instance.get_typed_func::<(i64,), i32>("add"), Err(Error::Type(_))));
    assert!(matches!(instance.get_typed_func::<(), ()>("missing"), Err(Error::NotFound(_))));
}
