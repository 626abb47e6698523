//! Which code lives where, so a trapping PC can be mapped back to a module,
//! a function, a trap kind and a wasm offset.

use std::collections::BTreeMap;
use std::sync::Weak;

use onecopy_jit::{CompiledModule, TrapKind};
use parking_lot::RwLock;

/// What a registered code range holds.
pub(crate) enum CodeKind {
    /// A module's functions.
    Module(Weak<CompiledModule>),
    /// A stub and its trap sites (code offset, kind).
    Stub(Vec<(u32, TrapKind)>),
}

struct Entry {
    end: usize,
    kind: CodeKind,
}

static REGISTRY: RwLock<BTreeMap<usize, Entry>> = RwLock::new(BTreeMap::new());

/// Keeps a range registered; unregisters on drop.
pub(crate) struct Registration {
    start: usize,
}

impl Drop for Registration {
    fn drop(&mut self) {
        REGISTRY.write().remove(&self.start);
    }
}

/// Register `[start, end)` as holding `kind`.
pub(crate) fn register((start, end): (usize, usize), kind: CodeKind) -> Registration {
    REGISTRY.write().insert(start, Entry { end, kind });
    Registration { start }
}

/// The module whose code (or trap tail) holds `addr`.
pub(crate) fn module_at(addr: usize) -> Option<std::sync::Arc<CompiledModule>> {
    let registry = REGISTRY.read();
    let (_, entry) = registry.range(..=addr).next_back()?;
    if addr >= entry.end {
        return None;
    }
    let CodeKind::Module(module) = &entry.kind else { return None };
    module.upgrade()
}

/// The module and site that stops at `addr`: a trap-tail byte or a fault guard's store.
pub(crate) fn debug_site(addr: usize) -> Option<(std::sync::Arc<CompiledModule>, u32)> {
    let module = module_at(addr)?;
    let (tail, _) = module.code.tail_range();
    let site = match addr.checked_sub(tail) {
        Some(site) => u32::try_from(site).ok().filter(|s| (*s as usize) < module.sites.len())?,
        None => {
            let offset = u32::try_from(addr.checked_sub(module.code.as_ptr() as usize)?).ok()?;
            module.debug_code.as_ref()?.stop_site(offset)?
        }
    };
    Some((module, site))
}

/// A code location resolved to wasm terms.
#[derive(Clone)]
pub(crate) struct CodeLocation {
    /// The trap at the PC, if it is a trap site.
    pub trap: Option<TrapKind>,
    /// Function index, if in module code.
    pub func: Option<u32>,
    /// Wasm byte offset, if known.
    pub wasm_offset: Option<u32>,
}

/// Resolve a PC (of a trap or a return address).
pub(crate) fn lookup(pc: usize) -> Option<CodeLocation> {
    let registry = REGISTRY.read();
    let (start, entry) = registry.range(..=pc).next_back()?;
    if pc >= entry.end {
        return None;
    }
    let offset = (pc - start) as u32;
    Some(match &entry.kind {
        CodeKind::Stub(traps) => {
            CodeLocation { trap: traps.iter().find(|(o, _)| *o == offset).map(|(_, k)| *k), func: None, wasm_offset: None }
        }
        CodeKind::Module(module) => {
            let module = module.upgrade()?;
            let trap = module.trap_at(offset);
            let func = module.func_at(offset);
            let wasm_offset = trap.map(|t| t.wasm_offset).or_else(|| Some(module.wasm_offset_at(offset)));
            CodeLocation { trap: trap.map(|t| t.kind), func, wasm_offset: wasm_offset.filter(|o| *o != 0) }
        }
    })
}
