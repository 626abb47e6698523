//! Functions: exported wasm functions and host functions from Rust closures,
//! called dynamically (`&[Val]`) or typed ([`TypedFunc`]).

use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;
use std::sync::Arc;

use onecopy_jit::{FuncType, TrapKind};

use crate::engine::{Engine, Stubs};
use crate::error::{Error, Result, Trap};
use crate::instance::InstanceInner;
use crate::values::Val;
use crate::vm::VMFuncRef;

type HostClosure = dyn Fn(&[Val]) -> Result<Vec<Val>>;

/// A host function record. `callback` must stay the first field: the host
/// adapter stub calls through offset 0 of its vmctx, which points here.
#[repr(C)]
pub(crate) struct HostFuncInner {
    callback: unsafe extern "C" fn(*const HostFuncInner, *mut u8, *mut u64) -> u32,
    funcref: VMFuncRef,
    ty: FuncType,
    closure: Box<HostClosure>,
    _stubs: Arc<Stubs>,
    engine: Engine,
}

#[derive(Clone)]
enum Kind {
    Wasm { instance: Rc<InstanceInner>, index: u32 },
    Host(Rc<HostFuncInner>),
}

/// A function: exported from an instance or defined by the host. Cloning
/// shares it.
#[derive(Clone)]
pub struct Func {
    kind: Kind,
}

impl fmt::Debug for Func {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Wasm { index, .. } => write!(f, "Func(wasm {index})"),
            Kind::Host(_) => write!(f, "Func(host)"),
        }
    }
}

impl Func {
    /// A host function of type `ty` that wasm can import and call.
    ///
    /// ```
    /// use onecopy_runtime::{Engine, Func, FuncType, Val, ValType};
    /// let engine = Engine::default();
    /// let double = Func::new(&engine, FuncType::new([ValType::I32], [ValType::I32]), |args| {
    ///     let Val::I32(x) = args[0] else { unreachable!() };
    ///     Ok(vec![Val::I32(2 * x)])
    /// })?;
    /// assert!(matches!(double.call(&[Val::I32(21)])?[0], Val::I32(42)));
    /// # Ok::<(), onecopy_runtime::Error>(())
    /// ```
    pub fn new(
        engine: &Engine,
        ty: FuncType,
        closure: impl Fn(&[Val]) -> Result<Vec<Val>> + 'static,
    ) -> Result<Func> {
        let type_id = engine.type_id(&ty);
        let stubs = engine.stubs(type_id)?;
        let inner = Rc::new_cyclic(|weak| {
            let record: *const HostFuncInner = weak.as_ptr();
            HostFuncInner {
                callback: host_callback,
                funcref: VMFuncRef {
                    code: stubs.host_adapter,
                    vmctx: record as *mut u8,
                    type_id,
                    index: u32::MAX,
                    owner: record.cast(),
                },
                ty,
                closure: Box::new(closure),
                _stubs: stubs.clone(),
                engine: engine.clone(),
            }
        });
        Ok(Func { kind: Kind::Host(inner) })
    }

    pub(crate) fn wasm(instance: Rc<InstanceInner>, index: u32) -> Func {
        Func { kind: Kind::Wasm { instance, index } }
    }

    /// The function's signature.
    pub fn ty(&self) -> FuncType {
        self.ty_ref().clone()
    }

    fn ty_ref(&self) -> &FuncType {
        match &self.kind {
            Kind::Wasm { instance, index } => instance.module.info().func_type(*index),
            Kind::Host(h) => &h.ty,
        }
    }

    fn engine(&self) -> &Engine {
        match &self.kind {
            Kind::Wasm { instance, .. } => instance.module.engine(),
            Kind::Host(h) => &h.engine,
        }
    }

    /// The `VMFuncRef` compiled code uses for this function.
    pub(crate) fn raw(&self) -> *const VMFuncRef {
        match &self.kind {
            Kind::Wasm { instance, index } => instance.funcref(*index),
            Kind::Host(h) => &h.funcref,
        }
    }

    /// The function a raw funcref cell refers to.
    ///
    /// # Safety
    /// `raw` must be null or point at a live `VMFuncRef` made by this crate.
    pub(crate) unsafe fn from_raw(raw: *const VMFuncRef) -> Option<Func> {
        let funcref = unsafe { raw.as_ref()? };
        // SAFETY: `owner` is the `Rc` allocation that holds the funcref.
        unsafe {
            if funcref.index == u32::MAX {
                let owner = funcref.owner as *const HostFuncInner;
                Rc::increment_strong_count(owner);
                Some(Func { kind: Kind::Host(Rc::from_raw(owner)) })
            } else {
                let owner = funcref.owner as *const InstanceInner;
                Rc::increment_strong_count(owner);
                Some(Func::wasm(Rc::from_raw(owner), funcref.index))
            }
        }
    }

    /// Call with dynamically typed arguments.
    pub fn call(&self, args: &[Val]) -> Result<Vec<Val>> {
        let ty = self.ty_ref();
        check_values("argument", &ty.params, args)?;
        if let Kind::Host(h) = &self.kind {
            return (h.closure)(args);
        }
        // SAFETY: `raw` is live while `self` is.
        let funcref = unsafe { &*self.raw() };
        let engine = self.engine();
        // The funcref carries its signature id: no re-interning per call.
        let stubs = engine.stubs(funcref.type_id)?;
        let mut cells: Vec<u64> = args.iter().map(Val::to_raw).collect();
        cells.resize(ty.params.len().max(ty.results.len()).max(1), 0);
        let trampoline: unsafe extern "C" fn(*mut u8, *mut u8, *const u8, *mut u64) =
            unsafe { std::mem::transmute(stubs.trampoline) };
        let cells_ptr = cells.as_mut_ptr();
        crate::call::enter_wasm(engine.inner.config.max_wasm_stack, || unsafe {
            trampoline(funcref.vmctx, funcref.vmctx, funcref.code, cells_ptr)
        })?;
        // SAFETY: the trampoline wrote results of these types.
        Ok(ty.results.iter().zip(cells).map(|(t, raw)| unsafe { Val::from_raw(raw, *t) }).collect())
    }

    /// A typed view of the function, checked against its signature.
    pub fn typed<P: WasmParams, R: WasmResults>(&self) -> Result<TypedFunc<P, R>> {
        let ty = self.ty_ref();
        if ty.params != P::types() || ty.results != R::types() {
            return Err(Error::Type(format!("function is {ty}, not the requested signature")));
        }
        Ok(TypedFunc { func: self.clone(), _marker: std::marker::PhantomData })
    }
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

/// Called by the host adapter stub with the arguments in `cells`.
unsafe extern "C" fn host_callback(record: *const HostFuncInner, _caller: *mut u8, cells: *mut u64) -> u32 {
    // SAFETY: the adapter passes its vmctx, which is this record, and cells
    // sized for the larger of params and results.
    let record = unsafe { &*record };
    let ty = &record.ty;
    let cells = unsafe { std::slice::from_raw_parts_mut(cells, ty.params.len().max(ty.results.len()).max(1)) };
    let args: Vec<Val> = ty.params.iter().zip(cells.iter()).map(|(t, raw)| unsafe { Val::from_raw(*raw, *t) }).collect();
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let results = (record.closure)(&args)?;
        check_values("host result", &ty.results, &results)?;
        Ok(results)
    }));
    let error = match outcome {
        Ok(Ok(results)) => {
            for (cell, v) in cells.iter_mut().zip(&results) {
                *cell = v.to_raw();
            }
            return 0;
        }
        Ok(Err(error)) => error,
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            Error::Trap(Trap { detail: Some(format!("host function panicked: {message}")), ..Trap::new(TrapKind::Host) })
        }
    };
    crate::call::set_host_error(error);
    1
}

/// A function with a signature known at compile time.
pub struct TypedFunc<P, R> {
    func: Func,
    _marker: std::marker::PhantomData<fn(P) -> R>,
}

impl<P: WasmParams, R: WasmResults> TypedFunc<P, R> {
    /// Call with typed arguments.
    pub fn call(&self, params: P) -> Result<R> {
        let results = self.func.call(&params.into_vals())?;
        R::from_vals(&results)
    }

    /// The untyped function.
    pub fn func(&self) -> &Func {
        &self.func
    }
}

/// A Rust type that maps to a wasm number type.
pub trait WasmTy: Sized {
    /// Its wasm type.
    fn ty() -> onecopy_jit::ValType;
    /// Into a value.
    fn into_val(self) -> Val;
    /// From a value of its type.
    fn from_val(v: &Val) -> Option<Self>;
}

macro_rules! wasm_ty {
    ($($t:ty => $vt:ident, $pat:pat => $out:expr, $into:expr);* $(;)?) => {$(
        impl WasmTy for $t {
            fn ty() -> onecopy_jit::ValType { onecopy_jit::ValType::$vt }
            fn into_val(self) -> Val { let f: fn($t) -> Val = $into; f(self) }
            fn from_val(v: &Val) -> Option<Self> { match *v { $pat => Some($out), _ => None } }
        }
    )*};
}
wasm_ty! {
    i32 => I32, Val::I32(x) => x, Val::I32;
    i64 => I64, Val::I64(x) => x, Val::I64;
    f32 => F32, Val::F32(x) => f32::from_bits(x), |x| Val::F32(x.to_bits());
    f64 => F64, Val::F64(x) => f64::from_bits(x), |x| Val::F64(x.to_bits());
}

/// Parameter lists of typed calls: tuples of [`WasmTy`].
pub trait WasmParams {
    /// The parameter types.
    fn types() -> Vec<onecopy_jit::ValType>;
    /// Into values.
    fn into_vals(self) -> Vec<Val>;
}

/// Result lists of typed calls: `()`, a [`WasmTy`], or tuples of them.
pub trait WasmResults: Sized {
    /// The result types.
    fn types() -> Vec<onecopy_jit::ValType>;
    /// From values.
    fn from_vals(vals: &[Val]) -> Result<Self>;
}

impl<T: WasmTy> WasmResults for T {
    fn types() -> Vec<onecopy_jit::ValType> {
        vec![T::ty()]
    }
    fn from_vals(vals: &[Val]) -> Result<Self> {
        vals.first().and_then(T::from_val).ok_or_else(|| Error::Type("unexpected result".into()))
    }
}

macro_rules! tuples {
    ($(($($t:ident),*)),*) => {$(
        #[allow(non_snake_case, unused_variables, unused_mut, clippy::unused_unit)]
        impl<$($t: WasmTy),*> WasmParams for ($($t,)*) {
            fn types() -> Vec<onecopy_jit::ValType> { vec![$($t::ty()),*] }
            fn into_vals(self) -> Vec<Val> { let ($($t,)*) = self; vec![$($t.into_val()),*] }
        }
        #[allow(non_snake_case, unused_variables, unused_mut, clippy::unused_unit)]
        impl<$($t: WasmTy),*> WasmResults for ($($t,)*) {
            fn types() -> Vec<onecopy_jit::ValType> { vec![$($t::ty()),*] }
            fn from_vals(vals: &[Val]) -> Result<Self> {
                let mut it = vals.iter();
                Ok(($($t::from_val(it.next().ok_or_else(|| Error::Type("missing result".into()))?)
                    .ok_or_else(|| Error::Type("unexpected result type".into()))?,)*))
            }
        }
    )*};
}
tuples!((), (A), (A, B), (A, B, C), (A, B, C, D), (A, B, C, D, E), (A, B, C, D, E, F));
