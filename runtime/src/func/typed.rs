//! Calls with a signature known at compile time: [`TypedFunc`], and the
//! Rust types that stand for wasm values in its parameters and results
//! (and in the typed host functions of [`crate::Func::wrap`]).

use std::marker::PhantomData;

use onecopy_jit::ValType;

use super::Func;
use crate::error::Result;
use crate::store::AsContextMut;

/// Most cells a typed call passes (tuples go up to 10 values).
const MAX_CELLS: usize = 16;

/// A Rust type that maps to a wasm number type.
pub trait WasmTy: Copy + Send + Sync + 'static {
    /// Its wasm type.
    fn ty() -> ValType;
    /// Encode as an 8-byte cell, as compiled code stores it.
    #[doc(hidden)]
    fn to_cell(self) -> u64;
    /// Decode from a cell holding a value of [`WasmTy::ty`].
    #[doc(hidden)]
    fn from_cell(cell: u64) -> Self;
}

macro_rules! wasm_ty {
    ($($t:ty => $vt:ident, $to:expr, $from:expr);* $(;)?) => {$(
        impl WasmTy for $t {
            fn ty() -> ValType { ValType::$vt }
            fn to_cell(self) -> u64 { let f: fn($t) -> u64 = $to; f(self) }
            fn from_cell(cell: u64) -> $t { let f: fn(u64) -> $t = $from; f(cell) }
        }
    )*};
}
wasm_ty! {
    i32 => I32, |x| x as u32 as u64, |c| c as u32 as i32;
    u32 => I32, |x| x as u64, |c| c as u32;
    i64 => I64, |x| x as u64, |c| c as i64;
    u64 => I64, |x| x, |c| c;
    f32 => F32, |x| x.to_bits() as u64, |c| f32::from_bits(c as u32);
    f64 => F64, |x| x.to_bits(), |c| f64::from_bits(c);
}

/// Parameter lists of typed calls: a [`WasmTy`], or a tuple of up to ten.
pub trait WasmParams: Sized + 'static {
    /// How many values.
    #[doc(hidden)]
    const COUNT: usize;
    /// The types, in order.
    fn types() -> Vec<ValType>;
    /// Encode into the first `COUNT` cells.
    #[doc(hidden)]
    fn to_cells(self, cells: &mut [u64]);
    /// Decode from the first `COUNT` cells.
    #[doc(hidden)]
    fn from_cells(cells: &[u64]) -> Self;
}

/// Result lists of typed calls: `()`, a [`WasmTy`], or a tuple (the same
/// lists as [`WasmParams`]).
pub trait WasmResults: WasmParams {}

impl<L: WasmParams> WasmResults for L {}

impl<T: WasmTy> WasmParams for T {
    const COUNT: usize = 1;
    fn types() -> Vec<ValType> {
        vec![T::ty()]
    }
    fn to_cells(self, cells: &mut [u64]) {
        cells[0] = self.to_cell();
    }
    fn from_cells(cells: &[u64]) -> T {
        T::from_cell(cells[0])
    }
}

macro_rules! tuples {
    ($(($($t:ident $i:tt),*)),*) => {$(
        #[allow(non_snake_case, unused_variables, clippy::unused_unit)]
        impl<$($t: WasmTy),*> WasmParams for ($($t,)*) {
            const COUNT: usize = 0 $(+ { let _ = $i; 1 })*;
            fn types() -> Vec<ValType> { vec![$($t::ty()),*] }
            fn to_cells(self, cells: &mut [u64]) { $(cells[$i] = self.$i.to_cell();)* }
            fn from_cells(cells: &[u64]) -> Self { ($($t::from_cell(cells[$i]),)*) }
        }
    )*};
}
tuples!(
    (),
    (A 0),
    (A 0, B 1),
    (A 0, B 1, C 2),
    (A 0, B 1, C 2, D 3),
    (A 0, B 1, C 2, D 3, E 4),
    (A 0, B 1, C 2, D 3, E 4, F 5),
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6),
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7),
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8),
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9)
);

/// A function with a signature known at compile time (checked once, by
/// [`Func::typed`]). Calls allocate nothing and take no lock.
pub struct TypedFunc<P, R> {
    func: Func,
    _marker: PhantomData<fn(P) -> R>,
}

impl<P, R> Clone for TypedFunc<P, R> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<P, R> Copy for TypedFunc<P, R> {}

impl<P: WasmParams, R: WasmResults> TypedFunc<P, R> {
    pub(crate) fn new(func: Func) -> TypedFunc<P, R> {
        TypedFunc { func, _marker: PhantomData }
    }

    /// Call with typed arguments.
    pub fn call(&self, mut store: impl AsContextMut, params: P) -> Result<R> {
        const { assert!(P::COUNT <= MAX_CELLS && R::COUNT <= MAX_CELLS) };
        let mut cells = [0u64; MAX_CELLS];
        params.to_cells(&mut cells);
        let used = P::COUNT.max(R::COUNT).max(1);
        self.func.call_cells(&mut store.as_context_mut(), &mut cells[..used])?;
        Ok(R::from_cells(&cells))
    }

    /// The untyped function.
    pub fn func(&self) -> &Func {
        &self.func
    }
}
