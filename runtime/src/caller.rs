//! [`Caller`]: what a host function sees of the wasm that called it: the
//! store (its user data, memories, everything) and the calling instance's
//! exports.

use crate::instance::Instance;
use crate::store::{StoreContextMut, StoreId, StoreOpaque};
use crate::Extern;

/// The calling side of a host function call, as in Wasmtime: the store the
/// function runs in and, when wasm made the call, the calling instance.
///
/// ```
/// use onecopy_runtime::{Caller, Engine, Linker, Module, Store};
/// let engine = Engine::default();
/// let module = Module::new(&engine, wat::parse_str(r#"(module
///   (import "host" "log" (func $log (param i32 i32)))
///   (memory (export "memory") 1)
///   (data (i32.const 8) "hello")
///   (func (export "run") (call $log (i32.const 8) (i32.const 5))))"#).unwrap())?;
/// let mut linker = Linker::new(&engine);
/// linker.func_wrap("host", "log", |mut caller: Caller<'_, Vec<String>>, ptr: u32, len: u32| {
///     let memory = caller.get_export("memory").and_then(|e| e.into_memory()).unwrap();
///     let mut bytes = vec![0; len as usize];
///     memory.read(&caller, ptr as usize, &mut bytes)?;
///     caller.data_mut().push(String::from_utf8_lossy(&bytes).into_owned());
///     Ok(())
/// })?;
/// let mut store = Store::new(&engine, Vec::new());
/// let instance = linker.instantiate(&mut store, &module)?;
/// instance.get_typed_func::<(), ()>(&store, "run")?.call(&mut store, ())?;
/// assert_eq!(store.data(), &["hello"]);
/// # Ok::<(), onecopy_runtime::Error>(())
/// ```
pub struct Caller<'a, T> {
    store: StoreContextMut<'a, T>,
    instance: Option<Instance>,
}

impl<'a, T> Caller<'a, T> {
    pub(crate) fn new(store: StoreContextMut<'a, T>, instance: Option<Instance>) -> Caller<'a, T> {
        Caller { store, instance }
    }

    /// The store's user data.
    pub fn data(&self) -> &T {
        self.store.data()
    }

    /// The store's user data, to change it.
    pub fn data_mut(&mut self) -> &mut T {
        self.store.data_mut()
    }

    /// The engine.
    pub fn engine(&self) -> &crate::Engine {
        self.store.engine()
    }

    /// The calling instance (`None` when the host called the function).
    pub fn instance(&self) -> Option<Instance> {
        self.instance
    }

    /// An export of the calling instance: how a host function finds the
    /// caller's memory. `None` if there is no such export, or no calling
    /// instance.
    pub fn get_export(&self, name: &str) -> Option<Extern> {
        self.instance?.get_export(self, name)
    }

    pub(crate) fn store_id(&self) -> StoreId {
        self.store.opaque().id
    }

    pub(crate) fn opaque(&self) -> &StoreOpaque {
        self.store.opaque()
    }

    /// The same caller for a shorter borrow.
    pub(crate) fn reborrow(&mut self) -> Caller<'_, T> {
        Caller { store: self.store.reborrow(), instance: self.instance }
    }
}

crate::store::lends_store!(Caller, store);
