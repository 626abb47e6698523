//! Imports by name: a [`Linker`] resolves a module's imports from what was
//! defined under (module, name) pairs.

use std::collections::HashMap;

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::module::{ExternType, Module};
use crate::{Func, Global, Instance, Memory, Table};

/// Something an instance can import or export.
#[derive(Clone, Debug)]
pub enum Extern {
    /// A function.
    Func(Func),
    /// A linear memory.
    Memory(Memory),
    /// A table.
    Table(Table),
    /// A global.
    Global(Global),
}

macro_rules! extern_conversions {
    ($($variant:ident, $ty:ty, $into:ident);*) => {
        impl Extern {$(
            #[doc = concat!("The ", stringify!($variant), ", if this is one.")]
            pub fn $into(self) -> Option<$ty> {
                match self {
                    Extern::$variant(x) => Some(x),
                    _ => None,
                }
            }
        )*}
        $(impl From<$ty> for Extern {
            fn from(x: $ty) -> Extern {
                Extern::$variant(x)
            }
        })*
    };
}
extern_conversions!(Func, Func, into_func; Memory, Memory, into_memory; Table, Table, into_table; Global, Global, into_global);

impl std::fmt::Debug for Memory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Memory({} pages)", self.size())
    }
}

impl std::fmt::Debug for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Table({} elements)", self.size())
    }
}

impl std::fmt::Debug for Global {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Global({:?})", self.get())
    }
}

/// Limits `(min, max)` of an import satisfy the declared ones.
fn limits_match(actual: (u64, Option<u64>), wanted: (u64, Option<u64>)) -> bool {
    actual.0 >= wanted.0
        && match (actual.1, wanted.1) {
            (_, None) => true,
            (Some(a), Some(w)) => a <= w,
            (None, Some(_)) => false,
        }
}

/// Whether `value` can satisfy an import of type `expected` (wasm's import
/// subtyping: larger minimums and smaller maximums are fine).
pub(crate) fn matches(_engine: &Engine, value: &Extern, expected: &ExternType) -> bool {
    match (value, expected) {
        (Extern::Func(f), ExternType::Func(ty)) => f.ty() == *ty,
        (Extern::Memory(m), ExternType::Memory(ty)) => {
            let actual = m.ty();
            limits_match((actual.min, actual.max), (ty.min, ty.max))
        }
        (Extern::Table(t), ExternType::Table(ty)) => {
            let actual = t.ty();
            actual.element == ty.element
                && limits_match(
                    (actual.min as u64, actual.max.map(u64::from)),
                    (ty.min as u64, ty.max.map(u64::from)),
                )
        }
        (Extern::Global(g), ExternType::Global(ty)) => g.ty() == *ty,
        _ => false,
    }
}

/// Resolves imports by (module, name).
pub struct Linker {
    engine: Engine,
    defs: HashMap<(String, String), Extern>,
}

impl Linker {
    /// An empty linker.
    pub fn new(engine: &Engine) -> Linker {
        Linker { engine: engine.clone(), defs: HashMap::new() }
    }

    /// Define `module::name` (replacing an earlier definition).
    pub fn define(&mut self, module: &str, name: &str, value: impl Into<Extern>) -> Result<&mut Linker> {
        self.defs.insert((module.to_string(), name.to_string()), value.into());
        Ok(self)
    }

    /// Define every export of `instance` under `module`.
    pub fn define_instance(&mut self, module: &str, instance: &Instance) -> Result<&mut Linker> {
        for (name, value) in instance.exports() {
            self.define(module, &name, value)?;
        }
        Ok(self)
    }

    /// A definition, if any.
    pub fn get(&self, module: &str, name: &str) -> Option<&Extern> {
        self.defs.get(&(module.to_string(), name.to_string()))
    }

    /// Instantiate `module`, resolving its imports from the definitions.
    pub fn instantiate(&self, module: &Module) -> Result<Instance> {
        let imports = module
            .imports()
            .into_iter()
            .map(|i| {
                self.get(&i.module, &i.name)
                    .cloned()
                    .ok_or_else(|| Error::Link(format!("unknown import: {}::{}", i.module, i.name)))
            })
            .collect::<Result<Vec<_>>>()?;
        let _ = &self.engine;
        Instance::new(module, &imports)
    }
}
