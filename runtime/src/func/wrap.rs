//! Typed Rust closures as host functions ([`crate::Func::wrap`],
//! [`crate::Linker::func_wrap`]): each closure type gets its own callback,
//! which reads the arguments straight from the adapter's cells and writes
//! the results back, without allocating.

use std::panic::{catch_unwind, AssertUnwindSafe};

use onecopy_jit::FuncType;

use super::host::{self, HostFunc, VMHostFunc};
use super::typed::{WasmParams, WasmResults, WasmTy};
use crate::caller::Caller;
use crate::engine::Engine;
use crate::error::Result;

/// Closures that can be host functions: `Fn(A1, .., An) -> R` or
/// `Fn(Caller<'_, T>, A1, .., An) -> R` with up to ten [`WasmTy`]
/// arguments and `R` a [`WasmRet`], `Send + Sync + 'static` (a linker's
/// definitions are shared by every store it instantiates into).
pub trait IntoFunc<T, Params, Results>: Send + Sync + 'static {
    /// The definition, with its callback.
    #[doc(hidden)]
    fn into_host_func(self, engine: &Engine) -> Result<HostFunc>;
}

/// What a typed host function may return: results, or a `Result` of them
/// (an error makes the calling wasm trap and the call return that error).
pub trait WasmRet: 'static {
    /// The results.
    #[doc(hidden)]
    type Results: WasmResults;
    /// The results, or the error.
    #[doc(hidden)]
    fn into_results(self) -> Result<Self::Results>;
}

impl<R: WasmResults> WasmRet for R {
    type Results = R;
    fn into_results(self) -> Result<R> {
        Ok(self)
    }
}

impl<R: WasmResults> WasmRet for Result<R> {
    type Results = R;
    fn into_results(self) -> Result<R> {
        self
    }
}

macro_rules! into_func {
    ($($a:ident)*) => {
        #[allow(non_snake_case)]
        impl<T: 'static, F, $($a: WasmTy,)* R: WasmRet> IntoFunc<T, (Caller<'static, T>, $($a,)*), R> for F
        where
            F: Fn(Caller<'_, T>, $($a),*) -> R + Send + Sync + 'static,
        {
            fn into_host_func(self, engine: &Engine) -> Result<HostFunc> {
                let ty = FuncType::new(<($($a,)*) as WasmParams>::types(), R::Results::types());
                HostFunc::new(engine, ty, callback::<T, F, $($a,)* R>, Box::new(self))
            }
        }

        #[allow(non_snake_case)]
        impl<T: 'static, F, $($a: WasmTy,)* R: WasmRet> IntoFunc<T, ($($a,)*), R> for F
        where
            F: Fn($($a),*) -> R + Send + Sync + 'static,
        {
            fn into_host_func(self, engine: &Engine) -> Result<HostFunc> {
                let with_caller = move |_: Caller<'_, T>, $($a: $a),*| self($($a),*);
                IntoFunc::<T, (Caller<'static, T>, $($a,)*), R>::into_host_func(with_caller, engine)
            }
        }

        /// The callback of closures of type `F`.
        #[allow(non_snake_case)]
        unsafe extern "C" fn callback<T: 'static, F, $($a: WasmTy,)* R: WasmRet>(
            record: *const VMHostFunc,
            caller_vmctx: *mut u8,
            cells: *mut u64,
        ) -> u32
        where
            F: Fn(Caller<'_, T>, $($a),*) -> R + Send + Sync + 'static,
        {
            // SAFETY: the adapter (or `Func::call_cells`) passes a live
            // record of a `Store<T>` (its definition came from a linker or
            // store of that data type).
            let (func, caller) = unsafe { host::enter::<T>(record, caller_vmctx) };
            let Some(closure) = func.closure::<F>() else { return host::wrong_closure() };
            let count = <($($a,)*) as WasmParams>::COUNT.max(R::Results::COUNT).max(1);
            // SAFETY: the cells are sized for the larger of params and results.
            let cells = unsafe { std::slice::from_raw_parts_mut(cells, count) };
            let outcome = catch_unwind(AssertUnwindSafe(|| {
                let ($($a,)*) = <($($a,)*) as WasmParams>::from_cells(cells);
                closure(caller, $($a),*).into_results()?.to_cells(cells);
                Ok(())
            }));
            host::finish(outcome)
        }
    };
}

/// One module per arity, so each arity's `callback` has a name of its own.
macro_rules! arities {
    ($($name:ident: ($($a:ident)*);)*) => {$(
        mod $name {
            use super::*;
            into_func!($($a)*);
        }
    )*};
}
arities! {
    arity0: ();
    arity1: (A1);
    arity2: (A1 A2);
    arity3: (A1 A2 A3);
    arity4: (A1 A2 A3 A4);
    arity5: (A1 A2 A3 A4 A5);
    arity6: (A1 A2 A3 A4 A5 A6);
    arity7: (A1 A2 A3 A4 A5 A6 A7);
    arity8: (A1 A2 A3 A4 A5 A6 A7 A8);
    arity9: (A1 A2 A3 A4 A5 A6 A7 A8 A9);
    arity10: (A1 A2 A3 A4 A5 A6 A7 A8 A9 A10);
}
