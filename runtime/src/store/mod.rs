//! [`Store`]: what one thread's instances own. A store holds its user data
//! (`T`, reached by host functions through [`crate::Caller`]) and every
//! instance, memory, table, global and host function created in it;
//! [`crate::Instance`], [`crate::Func`], [`crate::Memory`], [`crate::Table`]
//! and [`crate::Global`] are small `Copy` handles into it. Nothing in a
//! store refers to anything outside it but shared, immutable things (the
//! engine, modules and their code), so there are no reference cycles:
//! dropping the store frees everything it holds.
//!
//! A store stays on the thread that created it (it is not `Send`): compiled
//! code reaches the thread's stack limit through each instance's vmctx. One
//! store per worker thread, all running the same shared [`crate::Module`]s.
//!
//! # Aliasing
//! The store's contents live in one heap allocation owned through a raw
//! pointer ([`Store`] never holds a `Box` or a reference to it). Compiled
//! code reaches the store through the same pointer (the vmctx's
//! `header::INSTANCE` field), and so do builtins, host functions
//! ([`crate::Caller`]) and the debug handler while wasm is suspended. The
//! rule that keeps this sound: no Rust reference into the store lives
//! across a call into compiled code. Every accessor derives a short-lived
//! reference from the raw pointer, and the call paths read what they need
//! (code and vmctx pointers) into locals before entering wasm.

mod context;
mod data;

use std::marker::PhantomData;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};

pub(crate) use context::lends_store;
pub use context::{AsContext, AsContextMut, StoreContext, StoreContextMut};
pub(crate) use data::{handle, push, StoreOpaque};

use crate::engine::Engine;
use crate::error::{Error, Result};

/// Which store a handle belongs to: unique for the life of the process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct StoreId(u64);

impl StoreId {
    fn next() -> StoreId {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        StoreId(NEXT.fetch_add(1, Ordering::Relaxed))
    }

    /// `Ok` if a handle of this store is used with store `other`.
    pub(crate) fn check(self, other: StoreId, what: &str) -> Result<()> {
        if self == other {
            Ok(())
        } else {
            Err(Error::WrongStore(what.to_string()))
        }
    }
}

/// The store's one allocation: the part compiled code and builtins see
/// (first, so a pointer to this is a pointer to it), then the user data.
#[repr(C)]
pub(crate) struct StoreInner<T> {
    pub opaque: StoreOpaque,
    pub data: T,
}

/// Owns instances and everything they use, plus user data `T` that host
/// functions reach through [`crate::Caller`]. Create one per thread.
///
/// ```
/// use onecopy_runtime::{Engine, Instance, Module, Store};
/// let engine = Engine::default();
/// let module = Module::new(&engine, wat::parse_str(r#"(module (global (export "g") i32 (i32.const 7)))"#).unwrap())?;
/// let mut store = Store::new(&engine, "user data");
/// let instance = Instance::new(&mut store, &module, &[])?;
/// let g = instance.get_global(&store, "g").unwrap();
/// assert_eq!(g.get(&store)?.i32(), Some(7));
/// assert_eq!(*store.data(), "user data");
/// # Ok::<(), onecopy_runtime::Error>(())
/// ```
pub struct Store<T> {
    inner: NonNull<StoreInner<T>>,
    /// Owns a `StoreInner<T>`; not `Send` or `Sync` (see the module docs).
    _marker: PhantomData<(StoreInner<T>, *mut ())>,
}

impl<T> Store<T> {
    /// An empty store for modules of `engine`, holding `data`.
    pub fn new(engine: &Engine, data: T) -> Store<T> {
        let inner = Box::new(StoreInner { opaque: StoreOpaque::new(StoreId::next(), engine.clone()), data });
        Store { inner: NonNull::from(Box::leak(inner)), _marker: PhantomData }
    }

    /// The user data.
    pub fn data(&self) -> &T {
        // SAFETY: `inner` is live while `self` is; see the module docs on aliasing.
        unsafe { &(*self.inner.as_ptr()).data }
    }

    /// The user data, to change it.
    pub fn data_mut(&mut self) -> &mut T {
        // SAFETY: as in `data`; `&mut self` makes the borrow exclusive.
        unsafe { &mut (*self.inner.as_ptr()).data }
    }

    /// The engine the store was made for.
    pub fn engine(&self) -> &Engine {
        // SAFETY: as in `data`.
        unsafe { &(*self.inner.as_ptr()).opaque.engine }
    }

    /// Limit what this store may hold and grow to, as Wasmtime's
    /// `Store::limiter` with its `StoreLimits` does (here the limits live
    /// in the store itself, not in its data). Applies to later
    /// instantiations and growth; what exists already stays.
    pub fn limiter(&mut self, limits: crate::StoreLimits) {
        // SAFETY: as in `data_mut`.
        unsafe { (*self.inner.as_ptr()).opaque.limits = limits };
    }

    /// The store's limits (see [`Self::limiter`]).
    pub fn limits(&self) -> crate::StoreLimits {
        // SAFETY: as in `data`.
        unsafe { (*self.inner.as_ptr()).opaque.limits }
    }

    /// Give each call from the host into this store's wasm at most
    /// `deadline` to run (`None`, the default: no limit). A call still
    /// running then returns [`crate::TrapKind::Interrupt`] at its next
    /// function entry or loop header (see [`crate::Config::interruptible`]
    /// for code compiled without loop checks); the store stays usable. The time counts from the call's entry, while
    /// stopped in a debugger too; a call that wasm makes back into the host
    /// and from there into wasm runs under its outer call's deadline.
    pub fn set_deadline(&mut self, deadline: Option<std::time::Duration>) {
        // SAFETY: as in `data_mut`.
        unsafe { (*self.inner.as_ptr()).opaque.deadline = deadline };
    }

    /// The deadline [`Store::set_deadline`] set.
    pub fn deadline(&self) -> Option<std::time::Duration> {
        // SAFETY: as in `data`.
        unsafe { (*self.inner.as_ptr()).opaque.deadline }
    }

    /// A handle that interrupts the call this store's thread is running
    /// (stores stay on their thread, so that is this store's call, or one
    /// of another store on the same thread).
    pub fn interrupt_handle(&self) -> crate::InterruptHandle {
        crate::InterruptHandle::current()
    }

    /// Drop everything the store holds and give back the user data.
    pub fn into_data(self) -> T {
        let inner = self.inner;
        std::mem::forget(self);
        // SAFETY: `inner` came from `Box::leak` in `new`; `forget` keeps
        // `Drop` from freeing it a second time.
        let inner = unsafe { Box::from_raw(inner.as_ptr()) };
        inner.data
    }
}

impl<T> Drop for Store<T> {
    fn drop(&mut self) {
        // SAFETY: `inner` came from `Box::leak` in `new` and is freed once.
        // No compiled code runs: running it needs `&mut self`.
        drop(unsafe { Box::from_raw(self.inner.as_ptr()) });
    }
}

impl<T: Default> Default for Store<T> {
    /// A store for the default engine (see [`Engine::default`]).
    fn default() -> Store<T> {
        Store::new(&Engine::default(), T::default())
    }
}

impl<T> std::fmt::Debug for Store<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // SAFETY: as in `data`.
        let opaque = unsafe { &(*self.inner.as_ptr()).opaque };
        f.debug_struct("Store").field("instances", &opaque.instances.len()).finish_non_exhaustive()
    }
}
