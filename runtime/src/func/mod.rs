//! Functions: exported wasm functions and host functions, called
//! dynamically (`&[Val]`) or typed ([`TypedFunc`]). A [`Func`] is a handle
//! into the store that owns it.

mod host;
pub(crate) mod known;
mod typed;
mod wrap;

use std::fmt;
use std::sync::Arc;

use onecopy_jit::FuncType;

pub(crate) use host::{HostFunc, HostFuncRecord};
pub use typed::{TypedFunc, WasmParams, WasmResults, WasmTy};
pub use wrap::{IntoFunc, WasmRet};

use crate::caller::Caller;
use crate::error::{Error, Result, Trap};
use crate::store::{AsContext, AsContextMut, StoreContextMut, StoreId, StoreOpaque};
use crate::values::Val;
use crate::vm::VMFuncRef;
use onecopy_jit::TrapKind;

/// A function: exported from an instance or defined by the host, as a
/// handle into its store.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Func {
    store: StoreId,
    kind: FuncKind,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum FuncKind {
    /// Function `index` defined by instance `instance` of the store.
    Wasm { instance: u32, index: u32 },
    /// Host function record `0` of the store.
    Host(u32),
}

impl fmt::Debug for Func {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            FuncKind::Wasm { index, .. } => write!(f, "Func(wasm {index})"),
            FuncKind::Host(_) => write!(f, "Func(host)"),
        }
    }
}

/// What entering a function takes, read out of the store before the call.
enum Entry {
    Wasm { vmctx: *mut u8, code: *const u8, trampoline: *const u8, max_stack: usize, deadline: Option<crate::call::Deadline> },
    Host { record: *const host::VMHostFunc, callback: host::HostCallback },
}

impl Func {
    /// A host function of type `ty` from a closure over dynamically typed
    /// values (Wasmtime's `Func::new`): `results` arrives sized for the
    /// results, holding zeros.
    ///
    /// ```
    /// use onecopy_runtime::{Engine, Func, FuncType, Store, Val, ValType};
    /// let mut store = Store::new(&Engine::default(), ());
    /// let double = Func::new(&mut store, FuncType::new([ValType::I32], [ValType::I32]), |_caller, args, results| {
    ///     results[0] = Val::I32(2 * args[0].i32().unwrap());
    ///     Ok(())
    /// })?;
    /// let mut results = [Val::I32(0)];
    /// double.call(&mut store, &[Val::I32(21)], &mut results)?;
    /// assert_eq!(results[0].i32(), Some(42));
    /// # Ok::<(), onecopy_runtime::Error>(())
    /// ```
    pub fn new<T: 'static>(
        mut store: impl AsContextMut<Data = T>,
        ty: FuncType,
        func: impl Fn(Caller<'_, T>, &[Val], &mut [Val]) -> Result<()> + Send + Sync + 'static,
    ) -> Result<Func> {
        let mut store = store.as_context_mut();
        let host = HostFunc::dynamic(store.engine(), ty, func)?;
        Func::from_host(&mut store, &Arc::new(host))
    }

    /// A host function from a typed Rust closure (Wasmtime's `Func::wrap`):
    /// parameters and results are `i32`, `u32`, `i64`, `u64`, `f32` or
    /// `f64`; the closure may take a [`Caller`] first and may return a
    /// `Result` (an error traps, and the call returns that error).
    ///
    /// ```
    /// use onecopy_runtime::{Engine, Func, Store};
    /// let mut store = Store::new(&Engine::default(), 10);
    /// let add = Func::wrap(&mut store, |caller: onecopy_runtime::Caller<'_, i32>, x: i32| x + *caller.data())?;
    /// assert_eq!(add.typed::<i32, i32>(&store)?.call(&mut store, 5)?, 15);
    /// # Ok::<(), onecopy_runtime::Error>(())
    /// ```
    pub fn wrap<T: 'static, Params, Results>(
        mut store: impl AsContextMut<Data = T>,
        func: impl IntoFunc<T, Params, Results>,
    ) -> Result<Func> {
        let mut store = store.as_context_mut();
        let host = func.into_host_func(store.engine())?;
        Func::from_host(&mut store, &Arc::new(host))
    }

    /// Place `host` in `store` (once per store and definition).
    pub(crate) fn from_host<T>(store: &mut StoreContextMut<'_, T>, host: &Arc<HostFunc>) -> Result<Func> {
        let index = host::record_in(store, host)?;
        Ok(Func { store: store.opaque().id, kind: FuncKind::Host(index) })
    }

    /// The function's signature.
    pub fn ty(&self, store: impl AsContext) -> Result<FuncType> {
        Ok(self.ty_in(store.as_context().opaque())?.clone())
    }

    pub(crate) fn ty_in<'s>(&self, store: &'s StoreOpaque) -> Result<&'s FuncType> {
        self.store.check(store.id, "a function")?;
        Ok(match self.kind {
            FuncKind::Wasm { instance, index } => store.instances[instance as usize].module.info().func_type(index),
            FuncKind::Host(h) => store.host_funcs[h as usize].ty(),
        })
    }

    /// The `VMFuncRef` compiled code uses for this function.
    pub(crate) fn raw(&self, store: &StoreOpaque) -> Result<*const VMFuncRef> {
        self.store.check(store.id, "a function")?;
        Ok(match self.kind {
            FuncKind::Wasm { instance, index } => store.instances[instance as usize].funcref(index),
            FuncKind::Host(h) => store.host_funcs[h as usize].funcref(),
        })
    }

    /// The function a raw funcref cell of store `store` refers to.
    ///
    /// # Safety
    /// `raw` must be null or point at a live `VMFuncRef` of that store.
    pub(crate) unsafe fn from_raw(raw: *const VMFuncRef, store: StoreId) -> Option<Func> {
        // SAFETY: the caller's contract.
        let funcref = unsafe { raw.as_ref()? };
        let kind = if funcref.index == u32::MAX {
            FuncKind::Host(funcref.owner as u32)
        } else {
            FuncKind::Wasm { instance: funcref.owner as u32, index: funcref.index }
        };
        Some(Func { store, kind })
    }

    /// Call with dynamically typed arguments; `results` must have room for
    /// exactly the function's results.
    pub fn call(&self, mut store: impl AsContextMut, params: &[Val], results: &mut [Val]) -> Result<()> {
        let mut store = store.as_context_mut();
        let (mut cells, types) = {
            let opaque = store.opaque();
            let ty = self.ty_in(opaque)?;
            check_values("argument", &ty.params, params)?;
            if results.len() != ty.results.len() {
                return Err(Error::Type(format!("room for {} results, the function has {}", results.len(), ty.results.len())));
            }
            let mut cells = vec![0u64; cells_for(ty)];
            for (cell, value) in cells.iter_mut().zip(params) {
                *cell = value.to_raw(opaque)?;
            }
            (cells, ty.results.clone())
        };
        self.call_cells(&mut store, &mut cells)?;
        let id = store.opaque().id;
        for ((result, ty), raw) in results.iter_mut().zip(types).zip(cells) {
            // SAFETY: the call left results of these types, funcrefs of this store.
            *result = unsafe { Val::from_raw(raw, ty, id) };
        }
        Ok(())
    }

    /// A typed view of the function, checked against its signature.
    pub fn typed<P: WasmParams, R: WasmResults>(&self, store: impl AsContext) -> Result<TypedFunc<P, R>> {
        let ty = self.ty_in(store.as_context().opaque())?;
        if ty.params != P::types() || ty.results != R::types() {
            return Err(Error::Type(format!("function is {ty}, not the requested signature")));
        }
        Ok(TypedFunc::new(*self))
    }

    /// Call with arguments and results in raw cells (at least
    /// [`cells_for`] of them), without allocating or locking: what every
    /// call comes down to.
    pub(crate) fn call_cells<T>(&self, store: &mut StoreContextMut<'_, T>, cells: &mut [u64]) -> Result<()> {
        // Everything the call needs is read now: no reference into the
        // store lives across the call (see the store's aliasing rule).
        let entry = {
            let opaque = store.opaque();
            self.store.check(opaque.id, "a function")?;
            match self.kind {
                FuncKind::Wasm { instance, index } => {
                    let data = &opaque.instances[instance as usize];
                    // SAFETY: the instance's own funcref, live with the store.
                    let funcref = unsafe { &*data.funcref(index) };
                    let trampoline = data.module.trampoline(data.module.info().funcs[index as usize]);
                    let deadline = opaque.deadline.map(|after| (opaque.engine.inner.timer.clone(), after));
                    Entry::Wasm {
                        vmctx: funcref.vmctx,
                        code: funcref.code,
                        trampoline,
                        max_stack: opaque.engine.inner.config.max_wasm_stack,
                        deadline,
                    }
                }
                FuncKind::Host(h) => {
                    let record = &opaque.host_funcs[h as usize];
                    Entry::Host { record: record.ptr(), callback: record.callback() }
                }
            }
        };
        let cells_ptr = cells.as_mut_ptr();
        match entry {
            Entry::Wasm { vmctx, code, trampoline, max_stack, deadline } => {
                // SAFETY: the trampoline of the function's signature, which
                // reads arguments from and writes results to `cells`, sized
                // for them by the caller.
                let trampoline: unsafe extern "C" fn(*mut u8, *mut u8, *const u8, *mut u64) = unsafe { std::mem::transmute(trampoline) };
                // SAFETY: as above; `vmctx` and `code` belong to a live instance.
                crate::call::enter_wasm(max_stack, deadline, || unsafe { trampoline(vmctx, vmctx, code, cells_ptr) })
            }
            Entry::Host { record, callback } => {
                // SAFETY: the record's own callback, with the record as its
                // caller (no calling instance) and cells sized for the type.
                if unsafe { callback(record, record as *mut u8, cells_ptr) } == 0 {
                    Ok(())
                } else {
                    Err(crate::call::take_host_error().unwrap_or_else(|| Error::Trap(Trap::new(TrapKind::Host))))
                }
            }
        }
    }
}

/// Cells a call of type `ty` passes: room for the larger of params and
/// results, at least one (the stubs' convention).
pub(crate) fn cells_for(ty: &FuncType) -> usize {
    ty.params.len().max(ty.results.len()).max(1)
}

/// Check that `values` match `types` in count and type.
pub(crate) fn check_values(what: &str, types: &[onecopy_jit::ValType], values: &[Val]) -> Result<()> {
    if types.len() != values.len() {
        return Err(Error::Type(format!("expected {} {what}s, got {}", types.len(), values.len())));
    }
    for (i, (t, v)) in types.iter().zip(values).enumerate() {
        if *t != v.ty() {
            return Err(Error::Type(format!("{what} {i} is {}, expected {t}", v.ty())));
        }
    }
    Ok(())
}
