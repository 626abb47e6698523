//! `--stub-imports`: stand-ins for a foreign module's imports, made by each
//! worker in its own store (host functions, memories, tables and globals
//! belong to one store, like instances).

use onecopy_runtime::{Extern, ExternType, Func, Global, Memory, Module, Store, Table, Trap, TrapKind, Val};

/// One value per import, in the module's import order: functions that trap
/// when called (naming the import), and fresh memories, tables (of nulls)
/// and globals (of zeros) of the declared types.
pub fn stubs<T: 'static>(store: &mut Store<T>, module: &Module) -> Result<Vec<Extern>, String> {
    module
        .imports()
        .into_iter()
        .map(|import| {
            let what = format!("{}.{}", import.module, import.name);
            let made = match import.ty {
                ExternType::Func(ty) => {
                    let name = what.clone();
                    Func::new(&mut *store, ty, move |_, _, _| {
                        let mut trap = Trap::new(TrapKind::Host);
                        trap.detail = Some(format!("imported function {name} is a stub (`onecopy stress --stub-imports`)"));
                        Err(trap.into())
                    })
                    .map(Extern::Func)
                }
                ExternType::Memory(ty) => Memory::new(&mut *store, ty).map(Extern::Memory),
                ExternType::Table(ty) => Table::new(&mut *store, ty, Val::default_for(ty.element)).map(Extern::Table),
                ExternType::Global(ty) => Global::new(&mut *store, ty, Val::default_for(ty.content)).map(Extern::Global),
            };
            made.map_err(|e| format!("stub for import {what}: {e}"))
        })
        .collect()
}
