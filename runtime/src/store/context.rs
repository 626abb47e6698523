//! Borrowed views of a store ([`StoreContext`], [`StoreContextMut`]) and
//! the traits that let every API take a [`Store`], a [`crate::Caller`], a
//! [`crate::DebugFrame`] or a context alike ([`AsContext`],
//! [`AsContextMut`]), as in Wasmtime.

use std::marker::PhantomData;
use std::ptr::NonNull;

use super::{Store, StoreInner, StoreOpaque};

/// A shared borrow of a store: enough to read memories, globals and tables.
pub struct StoreContext<'a, T> {
    pub(crate) inner: &'a StoreInner<T>,
}

/// An exclusive borrow of a store: enough to call wasm, which may change
/// anything in it.
///
/// Holds the store's raw pointer rather than a `&mut`, so compiled code,
/// host functions and the debug handler can reach the same store while a
/// call made through this context is running (see the store's aliasing
/// rule).
pub struct StoreContextMut<'a, T> {
    inner: NonNull<StoreInner<T>>,
    _borrow: PhantomData<&'a mut StoreInner<T>>,
}

impl<'a, T> StoreContext<'a, T> {
    /// The user data.
    pub fn data(&self) -> &'a T {
        &self.inner.data
    }

    /// The engine the store was made for.
    pub fn engine(&self) -> &'a crate::Engine {
        &self.inner.opaque.engine
    }

    pub(crate) fn opaque(&self) -> &'a StoreOpaque {
        &self.inner.opaque
    }
}

impl<'a, T> StoreContextMut<'a, T> {
    /// A context for the store at `inner`.
    ///
    /// # Safety
    /// `inner` must point at a live store that nothing else borrows for `'a`
    /// except through raw pointers (the aliasing rule in `store/mod.rs`).
    pub(crate) unsafe fn from_raw(inner: *mut StoreInner<T>) -> StoreContextMut<'a, T> {
        // SAFETY: the caller hands over a live store pointer, never null.
        StoreContextMut { inner: unsafe { NonNull::new_unchecked(inner) }, _borrow: PhantomData }
    }

    /// The user data.
    pub fn data(&self) -> &T {
        // SAFETY: the store is live for 'a; the borrow is tied to `&self`.
        unsafe { &(*self.inner.as_ptr()).data }
    }

    /// The user data, to change it.
    pub fn data_mut(&mut self) -> &mut T {
        // SAFETY: as in `data`; `&mut self` makes the borrow exclusive.
        unsafe { &mut (*self.inner.as_ptr()).data }
    }

    /// The engine the store was made for.
    pub fn engine(&self) -> &crate::Engine {
        &self.opaque().engine
    }

    pub(crate) fn opaque(&self) -> &StoreOpaque {
        // SAFETY: as in `data`.
        unsafe { &(*self.inner.as_ptr()).opaque }
    }

    pub(crate) fn opaque_mut(&mut self) -> &mut StoreOpaque {
        // SAFETY: as in `data_mut`.
        unsafe { &mut (*self.inner.as_ptr()).opaque }
    }

    /// The store's raw pointer, for compiled code and callbacks.
    pub(crate) fn raw(&self) -> *mut StoreInner<T> {
        self.inner.as_ptr()
    }

    /// The same context for a shorter borrow.
    pub(crate) fn reborrow(&mut self) -> StoreContextMut<'_, T> {
        StoreContextMut { inner: self.inner, _borrow: PhantomData }
    }

    /// The data and the store's opaque part at once (disjoint fields),
    /// for all of the context's borrow (so it takes the context).
    pub(crate) fn data_and_opaque(self) -> (&'a mut T, &'a mut StoreOpaque) {
        // SAFETY: two disjoint fields of the live store, borrowed for 'a,
        // which this context held exclusively and gives up here.
        unsafe {
            let inner = &mut *self.inner.as_ptr();
            (&mut inner.data, &mut inner.opaque)
        }
    }
}

/// Something that can lend a shared view of a store.
pub trait AsContext {
    /// The store's user data type.
    type Data;
    /// The shared view.
    fn as_context(&self) -> StoreContext<'_, Self::Data>;
}

/// Something that can lend an exclusive view of a store.
pub trait AsContextMut: AsContext {
    /// The exclusive view.
    fn as_context_mut(&mut self) -> StoreContextMut<'_, Self::Data>;
}

impl<T> AsContext for Store<T> {
    type Data = T;
    fn as_context(&self) -> StoreContext<'_, T> {
        // SAFETY: the store is live while `self` is; see the aliasing rule.
        StoreContext { inner: unsafe { &*self.inner.as_ptr() } }
    }
}

impl<T> AsContextMut for Store<T> {
    fn as_context_mut(&mut self) -> StoreContextMut<'_, T> {
        StoreContextMut { inner: self.inner, _borrow: PhantomData }
    }
}

impl<T> AsContext for StoreContext<'_, T> {
    type Data = T;
    fn as_context(&self) -> StoreContext<'_, T> {
        StoreContext { inner: self.inner }
    }
}

impl<T> AsContext for StoreContextMut<'_, T> {
    type Data = T;
    fn as_context(&self) -> StoreContext<'_, T> {
        // SAFETY: a shared borrow tied to `&self`, of the live store.
        StoreContext { inner: unsafe { &*self.inner.as_ptr() } }
    }
}

impl<T> AsContextMut for StoreContextMut<'_, T> {
    fn as_context_mut(&mut self) -> StoreContextMut<'_, T> {
        self.reborrow()
    }
}

impl<C: AsContext + ?Sized> AsContext for &C {
    type Data = C::Data;
    fn as_context(&self) -> StoreContext<'_, C::Data> {
        (**self).as_context()
    }
}

impl<C: AsContext + ?Sized> AsContext for &mut C {
    type Data = C::Data;
    fn as_context(&self) -> StoreContext<'_, C::Data> {
        (**self).as_context()
    }
}

impl<C: AsContextMut + ?Sized> AsContextMut for &mut C {
    fn as_context_mut(&mut self) -> StoreContextMut<'_, C::Data> {
        (**self).as_context_mut()
    }
}

impl<'a, T> From<&'a Store<T>> for StoreContext<'a, T> {
    fn from(store: &'a Store<T>) -> StoreContext<'a, T> {
        store.as_context()
    }
}

impl<'a, T> From<&'a mut Store<T>> for StoreContext<'a, T> {
    fn from(store: &'a mut Store<T>) -> StoreContext<'a, T> {
        let store: &'a Store<T> = store;
        store.as_context()
    }
}

impl<'a, T> From<&'a StoreContextMut<'_, T>> for StoreContext<'a, T> {
    fn from(store: &'a StoreContextMut<'_, T>) -> StoreContext<'a, T> {
        store.as_context()
    }
}

impl<'a, T> From<&'a mut StoreContextMut<'_, T>> for StoreContext<'a, T> {
    fn from(store: &'a mut StoreContextMut<'_, T>) -> StoreContext<'a, T> {
        let store: &'a StoreContextMut<'_, T> = store;
        store.as_context()
    }
}

impl<'a, T> From<&'a StoreContext<'_, T>> for StoreContext<'a, T> {
    fn from(store: &'a StoreContext<'_, T>) -> StoreContext<'a, T> {
        StoreContext { inner: store.inner }
    }
}

impl<'a, T> From<&'a mut Store<T>> for StoreContextMut<'a, T> {
    fn from(store: &'a mut Store<T>) -> StoreContextMut<'a, T> {
        store.as_context_mut()
    }
}

impl<'a, T> From<&'a mut StoreContextMut<'_, T>> for StoreContextMut<'a, T> {
    fn from(store: &'a mut StoreContextMut<'_, T>) -> StoreContextMut<'a, T> {
        store.reborrow()
    }
}

/// [`AsContext`], [`AsContextMut`] and the `From` conversions for a type
/// that lends the store it holds in field `$field` (a `StoreContextMut`):
/// [`crate::Caller`] and [`crate::DebugFrame`].
macro_rules! lends_store {
    ($ty:ident, $field:ident) => {
        impl<T> $crate::store::AsContext for $ty<'_, T> {
            type Data = T;
            fn as_context(&self) -> $crate::store::StoreContext<'_, T> {
                $crate::store::AsContext::as_context(&self.$field)
            }
        }

        impl<T> $crate::store::AsContextMut for $ty<'_, T> {
            fn as_context_mut(&mut self) -> $crate::store::StoreContextMut<'_, T> {
                self.$field.reborrow()
            }
        }

        impl<'a, T> From<&'a $ty<'_, T>> for $crate::store::StoreContext<'a, T> {
            fn from(lender: &'a $ty<'_, T>) -> $crate::store::StoreContext<'a, T> {
                $crate::store::AsContext::as_context(&lender.$field)
            }
        }

        impl<'a, T> From<&'a mut $ty<'_, T>> for $crate::store::StoreContext<'a, T> {
            fn from(lender: &'a mut $ty<'_, T>) -> $crate::store::StoreContext<'a, T> {
                let lender: &'a $ty<'_, T> = lender;
                $crate::store::AsContext::as_context(&lender.$field)
            }
        }

        impl<'a, T> From<&'a mut $ty<'_, T>> for $crate::store::StoreContextMut<'a, T> {
            fn from(lender: &'a mut $ty<'_, T>) -> $crate::store::StoreContextMut<'a, T> {
                lender.$field.reborrow()
            }
        }
    };
}
pub(crate) use lends_store;
