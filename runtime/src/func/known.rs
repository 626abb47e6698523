//! Which addresses are funcrefs of a store, so that the debugger decodes a
//! funcref it read from a stopped frame only if it really is one.
//!
//! A debugger reads registers and frame slots where the jit's location
//! tables say a value lives; compiled code, not the runtime, put the bits
//! there. Following a stray pointer as a `VMFuncRef` would crash the host
//! (or invent a function), so a read funcref is first looked up among the
//! store's own: the defined functions' arrays of every instance, and every
//! host function's record. Anything else is shown as unavailable.

use std::collections::HashSet;
use std::mem::size_of;

use super::Func;
use crate::store::{StoreId, StoreOpaque};
use crate::vm::VMFuncRef;

/// The funcref addresses of one store at one moment (a stop: nothing can
/// create or drop functions of the stopped frames while it lasts).
#[derive(Clone)]
pub(crate) struct KnownFuncrefs {
    store: StoreId,
    /// `[start, end)` of each instance's array of defined funcrefs.
    arrays: Vec<(usize, usize)>,
    hosts: HashSet<usize>,
}

impl KnownFuncrefs {
    /// Every funcref of `store` now.
    pub(crate) fn of(store: &StoreOpaque) -> KnownFuncrefs {
        let arrays = store.instances.iter().map(|i| i.funcref_span()).collect();
        let hosts = store.host_funcs.iter().map(|h| h.funcref() as usize).collect();
        KnownFuncrefs { store: store.id, arrays, hosts }
    }

    /// Whether `addr` is the address of one of the store's funcrefs.
    fn contains(&self, addr: usize) -> bool {
        self.hosts.contains(&addr)
            || self.arrays.iter().any(|&(start, end)| (start..end).contains(&addr) && (addr - start).is_multiple_of(size_of::<VMFuncRef>()))
    }

    /// The funcref value held in the raw cell `raw`: `Some(None)` for null,
    /// `None` if the bits are no funcref of this store.
    pub(crate) fn decode(&self, raw: u64) -> Option<Option<Func>> {
        let addr = usize::try_from(raw).ok()?;
        if addr == 0 {
            return Some(None);
        }
        if !self.contains(addr) {
            tracing::warn!(addr = format_args!("{addr:#x}"), "a stopped frame's funcref is no funcref of its store; shown as unavailable");
            return None;
        }
        // SAFETY: `addr` is one of the store's live VMFuncRefs (checked above).
        Some(unsafe { Func::from_raw(addr as *const VMFuncRef, self.store) })
    }
}

#[cfg(test)]
mod tests {
    use crate::store::AsContext;
    use crate::{Engine, Func, Instance, Module, Store};

    #[test]
    fn only_the_stores_own_funcrefs_decode() {
        let engine = Engine::default();
        let wasm = wat::parse_str(r#"(module (func (export "f")) (func (export "g")))"#).expect("valid text");
        let module = Module::new(&engine, wasm).expect("compiles");
        let mut store = Store::new(&engine, ());
        let instance = Instance::new(&mut store, &module, &[]).expect("instantiates");
        let host = Func::wrap(&mut store, || {}).expect("a host function");
        let g = instance.get_func(&store, "g").expect("g");
        let opaque = store.as_context().opaque();
        let known = super::KnownFuncrefs::of(opaque);
        for f in [g, host] {
            let raw = f.raw(opaque).expect("of this store") as u64;
            assert!(matches!(known.decode(raw), Some(Some(_))), "a funcref of the store decodes");
            // Inside a VMFuncRef, or just past the array: no funcref.
            assert!(known.decode(raw + 8).is_none());
        }
        assert!(matches!(known.decode(0), Some(None)), "null is null");
        assert!(known.decode(0x4000).is_none(), "a stray pointer is refused, not followed");
    }
}
