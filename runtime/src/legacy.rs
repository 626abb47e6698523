//! Legacy "clone and patch" debugging, kept for comparison: an instance
//! being debugged runs its own clone of the module's code, with the
//! patchable calls of its breakpoint sites (all sites while stepping)
//! patched in; the clone is rebuilt whenever that set changes. Every clone
//! is counted in the engine's arena like any other code.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::sync::Arc;

use onecopy_jit::CodeAllocation;

use crate::code_registry::{self, CodeKind, Registration};
use crate::error::Result;
use crate::instance::InstanceData;

/// Which sites a clone has patched in.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Patched {
    All,
    Sites(BTreeSet<u32>),
}

struct CodeClone {
    code: CodeAllocation,
    patched: Patched,
    _registration: Registration,
}

/// An instance's private code clone, and clones retired while code may
/// still run in them.
#[derive(Default)]
pub(crate) struct LegacyClones {
    current: RefCell<Option<CodeClone>>,
    retired: RefCell<Vec<CodeClone>>,
}

impl LegacyClones {
    /// Code bytes of this instance's clone (0 while it runs shared code).
    pub(crate) fn clone_bytes(&self) -> usize {
        self.current.borrow().as_ref().map_or(0, |c| c.code.len())
    }
}

/// Make `inner` run code matching its breakpoints and stepping: the shared
/// code when there are none, else a clone with those sites patched in.
pub(crate) fn sync(inner: &InstanceData) -> Result<()> {
    let compiled = inner.module.compiled();
    let Some(legacy) = compiled.legacy.as_ref() else { return Ok(()) };
    let clones = &inner.legacy;
    let wanted = if inner.debug.is_stepping() { Patched::All } else { Patched::Sites(inner.debug.table.breakpoint_ids()) };
    let current = clones.current.borrow().as_ref().map(|c| c.patched.clone());
    if current.as_ref() == Some(&wanted) || (current.is_none() && wanted == Patched::Sites(BTreeSet::new())) {
        return Ok(());
    }
    let clone = match &wanted {
        Patched::Sites(sites) if sites.is_empty() => None,
        _ => {
            let bytes = legacy.patched(|site| match &wanted {
                Patched::All => true,
                Patched::Sites(sites) => sites.contains(&site),
            });
            let code = inner.module.engine().inner.arena.allocate(&bytes).map_err(onecopy_jit::CompileError::from)?;
            let registration = code_registry::register(code.range(), CodeKind::Module(Arc::downgrade(&inner.module.inner.compiled)));
            tracing::debug!(bytes = code.len(), "legacy: cloned the module's code for one instance");
            Some(CodeClone { code, patched: wanted, _registration: registration })
        }
    };
    inner.set_code_base(clone.as_ref().map_or(compiled.code.as_ptr(), |c| c.code.as_ptr()));
    let old = std::mem::replace(&mut *clones.current.borrow_mut(), clone);
    let mut retired = clones.retired.borrow_mut();
    retired.extend(old);
    // Frames may still be running in an old clone until wasm returns to the host.
    // SAFETY: the limits live as long as this thread.
    if unsafe { (*crate::vm::thread_limits()).depth.load(std::sync::atomic::Ordering::Relaxed) } == 0 {
        retired.clear();
    }
    Ok(())
}
