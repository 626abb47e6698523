//! The `spectest` host module that the spec test scripts import from: print
//! functions that do nothing, four constant globals, a table and a memory.

use onecopy_runtime::{FuncType, Global, GlobalType, Linker, Memory, MemoryType, Result, Store, Table, TableType, Val, ValType};

/// The print functions and their parameter types.
const PRINTS: [(&str, &[ValType]); 7] = [
    ("print", &[]),
    ("print_i32", &[ValType::I32]),
    ("print_i64", &[ValType::I64]),
    ("print_f32", &[ValType::F32]),
    ("print_f64", &[ValType::F64]),
    ("print_i32_f32", &[ValType::I32, ValType::F32]),
    ("print_f64_f64", &[ValType::F64, ValType::F64]),
];

/// Define every `spectest` item in `linker`, the global, table and memory
/// in `store`.
pub fn define<T: 'static>(store: &mut Store<T>, linker: &mut Linker<T>) -> Result<()> {
    for (name, params) in PRINTS {
        let ty = FuncType::new(params.iter().copied(), []);
        linker.func_new("spectest", name, ty, |_, _, _| Ok(()))?;
    }
    let globals = [
        ("global_i32", Val::I32(666)),
        ("global_i64", Val::I64(666)),
        ("global_f32", Val::from(666.6f32)),
        ("global_f64", Val::from(666.6f64)),
    ];
    for (name, val) in globals {
        let ty = GlobalType { content: val.ty(), mutable: false };
        linker.define("spectest", name, Global::new(&mut *store, ty, val)?)?;
    }
    let table_ty = TableType { element: ValType::FuncRef, min: 10, max: Some(20) };
    linker.define("spectest", "table", Table::new(&mut *store, table_ty, Val::FuncRef(None))?)?;
    linker.define("spectest", "memory", Memory::new(&mut *store, MemoryType { min: 1, max: Some(2) })?)?;
    Ok(())
}
