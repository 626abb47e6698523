//! Imports by name: a [`Linker`] resolves a module's imports from what was
//! defined under (module, name) pairs: items of a store, or host functions,
//! which it places in each store it instantiates into.

use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::Arc;

use onecopy_jit::FuncType;

use crate::caller::Caller;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::func::{HostFunc, IntoFunc};
use crate::module::{ExternType, Module};
use crate::store::{AsContext, AsContextMut, StoreOpaque};
use crate::values::Val;
use crate::{Func, Global, Instance, Memory, Table};

/// Something an instance can import or export.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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

macro_rules! handle_debug {
    ($($ty:ident),*) => {$(
        impl std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(stringify!($ty))
            }
        }
    )*};
}
handle_debug!(Memory, Table, Global);

impl Extern {
    /// The item's type, as `store` (which must own it) has it now.
    pub fn ty(&self, store: impl AsContext) -> Result<ExternType> {
        let store = store.as_context();
        Ok(match self {
            Extern::Func(f) => ExternType::Func(f.ty(&store)?),
            Extern::Memory(m) => ExternType::Memory(m.ty(&store)?),
            Extern::Table(t) => ExternType::Table(t.ty(&store)?),
            Extern::Global(g) => ExternType::Global(g.ty(&store)?),
        })
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
/// subtyping: larger minimums and smaller maximums are fine); an error if
/// `store` does not own it.
pub(crate) fn matches(store: &StoreOpaque, value: &Extern, expected: &ExternType) -> Result<bool> {
    Ok(match (value, expected) {
        (Extern::Func(f), ExternType::Func(ty)) => f.ty_in(store)? == ty,
        (Extern::Memory(m), ExternType::Memory(ty)) => {
            let actual = m.data_in(store)?.ty();
            limits_match((actual.min, actual.max), (ty.min, ty.max))
        }
        (Extern::Table(t), ExternType::Table(ty)) => {
            let actual = t.data_in(store)?.ty();
            actual.element == ty.element
                && limits_match((actual.min as u64, actual.max.map(u64::from)), (ty.min as u64, ty.max.map(u64::from)))
        }
        (Extern::Global(g), ExternType::Global(ty)) => g.data_in(store)?.ty() == *ty,
        _ => false,
    })
}

/// What a name is defined as.
enum Definition {
    /// An item of a store (usable in that store only).
    Extern(Extern),
    /// A host function, placed in each store that needs it.
    Host(Arc<HostFunc>),
}

/// Resolves imports by (module, name) for stores of user data `T`. Host
/// functions defined here belong to no store: each instantiation places
/// them in its store (once per store).
pub struct Linker<T> {
    engine: Engine,
    defs: HashMap<(String, String), Definition>,
    _data: PhantomData<fn(&mut T)>,
}

impl<T: 'static> Linker<T> {
    /// An empty linker.
    pub fn new(engine: &Engine) -> Linker<T> {
        Linker { engine: engine.clone(), defs: HashMap::new(), _data: PhantomData }
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    fn insert(&mut self, module: &str, name: &str, def: Definition) -> &mut Linker<T> {
        self.defs.insert((module.to_string(), name.to_string()), def);
        self
    }

    /// Define `module::name` as an item of a store (replacing an earlier
    /// definition); only instantiations into that store can use it.
    pub fn define(&mut self, module: &str, name: &str, item: impl Into<Extern>) -> Result<&mut Linker<T>> {
        Ok(self.insert(module, name, Definition::Extern(item.into())))
    }

    /// Define `module::name` as a host function from a typed closure (see
    /// [`Func::wrap`]).
    pub fn func_wrap<Params, Results>(
        &mut self,
        module: &str,
        name: &str,
        func: impl IntoFunc<T, Params, Results>,
    ) -> Result<&mut Linker<T>> {
        let host = func.into_host_func(&self.engine)?;
        Ok(self.insert(module, name, Definition::Host(Arc::new(host))))
    }

    /// Define `module::name` as a host function of type `ty` over
    /// dynamically typed values (see [`Func::new`]).
    pub fn func_new(
        &mut self,
        module: &str,
        name: &str,
        ty: FuncType,
        func: impl Fn(Caller<'_, T>, &[Val], &mut [Val]) -> Result<()> + Send + Sync + 'static,
    ) -> Result<&mut Linker<T>> {
        let host = HostFunc::dynamic(&self.engine, ty, func)?;
        Ok(self.insert(module, name, Definition::Host(Arc::new(host))))
    }

    /// Define every export of `instance` (of `store`) under `module`.
    pub fn instance(&mut self, store: impl AsContext, module: &str, instance: Instance) -> Result<&mut Linker<T>> {
        for (name, item) in instance.exports(store) {
            self.define(module, &name, item)?;
        }
        Ok(self)
    }

    /// What `module::name` is defined as, in `store` (a host function is
    /// placed in the store by this).
    pub fn get(&self, mut store: impl AsContextMut<Data = T>, module: &str, name: &str) -> Option<Extern> {
        match self.defs.get(&(module.to_string(), name.to_string()))? {
            Definition::Extern(item) => Some(*item),
            Definition::Host(host) => Func::from_host(&mut store.as_context_mut(), host).ok().map(Extern::Func),
        }
    }

    /// Whether `module::name` is defined.
    pub fn is_defined(&self, module: &str, name: &str) -> bool {
        self.defs.contains_key(&(module.to_string(), name.to_string()))
    }

    /// Instantiate `module` in `store`, resolving its imports from the definitions.
    pub fn instantiate(&self, mut store: impl AsContextMut<Data = T>, module: &Module) -> Result<Instance> {
        let mut store = store.as_context_mut();
        let imports = module
            .imports()
            .into_iter()
            .map(|i| {
                let def = self.defs.get(&(i.module.clone(), i.name.clone()));
                let def = def.ok_or_else(|| Error::Link(format!("unknown import: {}::{}", i.module, i.name)))?;
                match def {
                    Definition::Extern(item) => Ok(*item),
                    Definition::Host(host) => Ok(Extern::Func(Func::from_host(&mut store, host)?)),
                }
            })
            .collect::<Result<Vec<_>>>()?;
        Instance::new(store, module, &imports)
    }
}
