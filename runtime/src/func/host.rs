//! Host functions: a definition independent of any store ([`HostFunc`]:
//! type, stubs, callback and closure, shared by a linker's instantiations),
//! and its record in one store ([`HostFuncRecord`]), which compiled code
//! calls through the signature's host adapter stub.

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use onecopy_jit::{FuncType, TrapKind};

use crate::caller::Caller;
use crate::engine::{Engine, Stubs};
use crate::error::{Error, Result, Trap};
use crate::instance::{Instance, InstanceData};
use crate::store::{StoreContextMut, StoreInner, StoreOpaque};
use crate::values::Val;
use crate::vm::VMFuncRef;
use crate::vm_box::VmBox;

/// `(record, caller_vmctx, cells) -> status`: what the host adapter stub
/// calls, with the arguments in `cells` (results go back there); non-zero
/// makes the call trap with the error left by [`finish`].
pub(crate) type HostCallback = unsafe extern "C" fn(*const VMHostFunc, *mut u8, *mut u64) -> u32;

/// A host function's definition: what every store it is placed in shares.
#[doc(hidden)]
pub struct HostFunc {
    ty: FuncType,
    type_id: u32,
    stubs: Arc<Stubs>,
    callback: HostCallback,
    /// The Rust closure, of the type `callback` was made for.
    closure: Box<dyn Any + Send + Sync>,
}

/// A dynamically typed host closure, as [`crate::Func::new`] takes it.
type DynamicClosure<T> = Box<dyn Fn(Caller<'_, T>, &[Val], &mut [Val]) -> Result<()> + Send + Sync>;

impl HostFunc {
    /// A definition of type `ty` whose `callback` knows `closure`'s type.
    pub(crate) fn new(engine: &Engine, ty: FuncType, callback: HostCallback, closure: Box<dyn Any + Send + Sync>) -> Result<HostFunc> {
        let type_id = engine.type_id(&ty);
        let stubs = engine.stubs(type_id)?;
        Ok(HostFunc { ty, type_id, stubs, callback, closure })
    }

    /// A definition from a closure over dynamically typed values.
    pub(crate) fn dynamic<T: 'static>(
        engine: &Engine,
        ty: FuncType,
        func: impl Fn(Caller<'_, T>, &[Val], &mut [Val]) -> Result<()> + Send + Sync + 'static,
    ) -> Result<HostFunc> {
        let closure: DynamicClosure<T> = Box::new(func);
        HostFunc::new(engine, ty, dynamic_callback::<T>, Box::new(closure))
    }

    /// The closure, as the type its callback was made for.
    pub(crate) fn closure<F: 'static>(&self) -> Option<&F> {
        self.closure.downcast_ref::<F>()
    }
}

/// A host function placed in a store: what its funcref's vmctx points at.
/// `callback` stays the first field: the host adapter stub calls through
/// offset 0 of its vmctx.
#[repr(C)]
pub(crate) struct VMHostFunc {
    callback: HostCallback,
    funcref: VMFuncRef,
    /// The store the record lives in (its user data type is the one the
    /// definition's callback was made for).
    store: *mut StoreOpaque,
    func: Arc<HostFunc>,
}

/// A store's record of one host function.
pub(crate) struct HostFuncRecord {
    vm: VmBox<VMHostFunc>,
}

impl HostFuncRecord {
    /// The funcref compiled code calls.
    pub(crate) fn funcref(&self) -> *const VMFuncRef {
        &self.vm.funcref
    }

    pub(crate) fn ptr(&self) -> *const VMHostFunc {
        self.vm.as_ptr()
    }

    pub(crate) fn callback(&self) -> HostCallback {
        self.vm.callback
    }

    pub(crate) fn ty(&self) -> &FuncType {
        &self.vm.func.ty
    }
}

/// The index of `func`'s record in `store`, placing it there first if it
/// is new to the store.
pub(crate) fn record_in<T>(store: &mut StoreContextMut<'_, T>, func: &Arc<HostFunc>) -> Result<u32> {
    let raw = store.raw().cast::<StoreOpaque>();
    let opaque = store.opaque_mut();
    let key = Arc::as_ptr(func) as usize;
    if let Some(index) = opaque.host_func_records.get(&key) {
        return Ok(*index);
    }
    let index = u32::try_from(opaque.host_funcs.len()).map_err(|_| Error::Resource("too many host functions in one store".into()))?;
    let vm = VmBox::new(VMHostFunc {
        callback: func.callback,
        funcref: VMFuncRef {
            code: func.stubs.host_adapter,
            vmctx: std::ptr::null_mut(),
            type_id: func.type_id,
            index: u32::MAX,
            owner: index as usize,
        },
        store: raw,
        func: func.clone(),
    });
    // SAFETY: nothing else refers to the new record yet.
    unsafe { (*vm.as_ptr()).funcref.vmctx = vm.as_ptr().cast() };
    opaque.host_funcs.push(HostFuncRecord { vm });
    opaque.host_func_records.insert(key, index);
    Ok(index)
}

/// The start of every callback: the definition and a [`Caller`] for the
/// store the record lives in, naming the calling instance when wasm made
/// the call (`caller_vmctx` is the record itself when the host called).
///
/// # Safety
/// `record` must be a live record of a `Store<T>`, `caller_vmctx` the
/// record or the vmctx of a live instance of that store, and no reference
/// into the store may be alive (the store's aliasing rule).
pub(crate) unsafe fn enter<'a, T>(record: *const VMHostFunc, caller_vmctx: *mut u8) -> (&'a HostFunc, Caller<'a, T>) {
    // SAFETY: the caller's contract; the record outlives the call (records
    // live until their store is dropped).
    let record = unsafe { &*record };
    // SAFETY: a plain read of the live store's id.
    let id = unsafe { (*record.store).id };
    let instance = (caller_vmctx != record as *const VMHostFunc as *mut u8 && !caller_vmctx.is_null()).then(|| {
        // SAFETY: the vmctx of a live instance of this store (contract).
        let (_, index) = unsafe { InstanceData::from_vmctx(caller_vmctx) };
        Instance::from_index(id, index)
    });
    // SAFETY: the store is a `Store<T>` (contract), whose opaque part its
    // pointer points at; nothing else borrows it.
    let store = unsafe { StoreContextMut::from_raw(record.store.cast::<StoreInner<T>>()) };
    (&record.func, Caller::new(store, instance))
}

/// The end of every callback: 0 on success, else the error (or the panic,
/// as a trap) kept for the caller and 1.
pub(crate) fn finish(outcome: std::thread::Result<Result<()>>) -> u32 {
    let error = match outcome {
        Ok(Ok(())) => return 0,
        Ok(Err(error)) => error,
        Err(panic) => {
            let message =
                panic.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| panic.downcast_ref::<String>().cloned()).unwrap_or_default();
            Error::Trap(Trap { detail: Some(format!("host function panicked: {message}")), ..Trap::new(TrapKind::Host) })
        }
    };
    crate::call::set_host_error(error);
    1
}

/// The error of a callback whose record holds a closure of another type
/// (it cannot happen: the two are made together).
pub(crate) fn wrong_closure() -> u32 {
    finish(Ok(Err(Error::Type("host function record holds a closure of another type".into()))))
}

/// The callback of [`crate::Func::new`]'s closures.
unsafe extern "C" fn dynamic_callback<T: 'static>(record: *const VMHostFunc, caller_vmctx: *mut u8, cells: *mut u64) -> u32 {
    // SAFETY: the adapter (or `Func::call_cells`) passes a live record of a
    // `Store<T>` (the definition was made for the store's data type).
    let (func, mut caller) = unsafe { enter::<T>(record, caller_vmctx) };
    let Some(closure) = func.closure::<DynamicClosure<T>>() else { return wrong_closure() };
    let ty = &func.ty;
    // SAFETY: the cells are sized for the larger of params and results.
    let cells = unsafe { std::slice::from_raw_parts_mut(cells, super::cells_for(ty)) };
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let id = caller.store_id();
        // SAFETY: the cells hold arguments of these types; funcrefs of this store.
        let params: Vec<Val> = ty.params.iter().zip(cells.iter()).map(|(t, raw)| unsafe { Val::from_raw(*raw, *t, id) }).collect();
        let mut results: Vec<Val> = ty.results.iter().map(|t| Val::default_for(*t)).collect();
        closure(caller.reborrow(), &params, &mut results)?;
        super::check_values("host result", &ty.results, &results)?;
        for (cell, value) in cells.iter_mut().zip(&results) {
            *cell = value.to_raw(caller.opaque())?;
        }
        Ok(())
    }));
    finish(outcome)
}
