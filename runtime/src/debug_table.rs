//! An instance's debug table and breakpoints, shared with other threads: a
//! debugger on another thread sets breakpoints and requests pauses through a
//! [`DebugRemote`] while the instance runs, without a lock the running
//! thread needs (compiled code only reads the table's bytes).

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::error::{Error, Result};
use crate::Module;

/// The table compiled code reads (one bit per code-section byte), the
/// breakpoints that set its bits, and a pending pause request.
pub(crate) struct DebugTable {
    module: Module,
    bits: Box<[AtomicU8]>,
    breakpoints: Mutex<BTreeSet<u32>>,
    pause: AtomicBool,
}

impl DebugTable {
    pub(crate) fn new(module: &Module) -> Arc<DebugTable> {
        // Code without guards never reads the table: one byte will do.
        let len = if module.compiled().debug { module.info().debug_table_len() } else { 1 };
        // A zeroed allocation (calloc) comes from untouched pages: no memory
        // is used until a breakpoint is set in them.
        let zeroed = vec![0u8; len].into_boxed_slice();
        // SAFETY: AtomicU8 has the size, alignment and bit validity of u8.
        let bits = unsafe { Box::from_raw(Box::into_raw(zeroed) as *mut [AtomicU8]) };
        Arc::new(DebugTable {
            module: module.clone(),
            bits,
            breakpoints: Mutex::new(BTreeSet::new()),
            pause: AtomicBool::new(false),
        })
    }

    pub(crate) fn as_ptr(&self) -> *const u8 {
        self.bits.as_ptr() as *const u8
    }

    pub(crate) fn len(&self) -> usize {
        self.bits.len()
    }

    fn set_bit(&self, wasm_offset: u32, on: bool) {
        let (byte, mask) = self.module.info().debug_bit(wasm_offset);
        if let Some(cell) = self.bits.get(byte) {
            if on {
                cell.fetch_or(mask, Ordering::Relaxed);
            } else {
                cell.fetch_and(!mask, Ordering::Relaxed);
            }
        }
    }

    /// Whether the bit of `wasm_offset` is set (a breakpoint, or a pause).
    pub(crate) fn is_set(&self, wasm_offset: u32) -> bool {
        let (byte, mask) = self.module.info().debug_bit(wasm_offset);
        self.bits.get(byte).is_some_and(|c| c.load(Ordering::Relaxed) & mask != 0)
    }

    /// The site ids with breakpoints.
    pub(crate) fn breakpoint_ids(&self) -> BTreeSet<u32> {
        self.breakpoints.lock().clone()
    }

    /// Whether a breakpoint (not only a pause) is set at site `id`.
    pub(crate) fn has_breakpoint(&self, id: u32) -> bool {
        self.breakpoints.lock().contains(&id)
    }

    pub(crate) fn set_breakpoint(&self, func: u32, wasm_offset: u32) -> Result<u32> {
        if !self.module.compiled().debug {
            return Err(Error::Type("module was compiled without debug guards (Config::debug)".into()));
        }
        let sites: Vec<_> = self.module.sites().iter().filter(|s| s.func == func).collect();
        let Some(site) = sites.iter().find(|s| s.wasm_offset == wasm_offset) else {
            let mut near: Vec<u32> = sites.iter().map(|s| s.wasm_offset).collect();
            near.sort_by_key(|o| o.abs_diff(wasm_offset));
            near.dedup();
            near.truncate(5);
            return Err(Error::NotFound(format!(
                "no breakable point at offset {wasm_offset:#x} in function {func}; nearest: {}",
                near.iter().map(|o| format!("{o:#x}")).collect::<Vec<_>>().join(", ")
            )));
        };
        self.breakpoints.lock().insert(site.id);
        self.set_bit(site.wasm_offset, true);
        Ok(site.id)
    }

    pub(crate) fn clear_breakpoint(&self, func: u32, wasm_offset: u32) {
        let sites = self.module.sites();
        let mut breakpoints = self.breakpoints.lock();
        breakpoints.retain(|id| {
            let s = &sites[*id as usize];
            s.func != func || s.wasm_offset != wasm_offset
        });
        // Two sites (entry and the first statement) can share an offset.
        if !breakpoints.iter().any(|id| sites[*id as usize].wasm_offset == wasm_offset) {
            self.set_bit(wasm_offset, false);
        }
    }

    pub(crate) fn clear_all(&self) {
        self.breakpoints.lock().clear();
        self.pause.store(false, Ordering::Relaxed);
        self.restore();
    }

    /// Ask the running code to stop at its next breakable point: every bit
    /// set until the stop is taken (see [`Self::take_pause`]).
    pub(crate) fn request_pause(&self) {
        self.pause.store(true, Ordering::Release);
        for cell in self.bits.iter() {
            cell.store(0xff, Ordering::Relaxed);
        }
    }

    /// Consume a pause request, restoring the breakpoints' bits.
    pub(crate) fn take_pause(&self) -> bool {
        let paused = self.pause.swap(false, Ordering::Acquire);
        if paused {
            self.restore();
        }
        paused
    }

    /// Bits = breakpoints only.
    fn restore(&self) {
        for cell in self.bits.iter() {
            cell.store(0, Ordering::Relaxed);
        }
        let sites = self.module.sites();
        for id in self.breakpoints.lock().iter() {
            self.set_bit(sites[*id as usize].wasm_offset, true);
        }
    }
}

/// Controls an instance's breakpoints and pauses from any thread (the
/// instance itself stays on its own). `Send + Sync`, cheap to clone.
#[derive(Clone)]
pub struct DebugRemote {
    pub(crate) table: Arc<DebugTable>,
}

impl DebugRemote {
    /// Set a breakpoint at `wasm_offset` in function `func`; returns the site id.
    pub fn set_breakpoint(&self, func: u32, wasm_offset: u32) -> Result<u32> {
        self.table.set_breakpoint(func, wasm_offset)
    }

    /// Clear a breakpoint.
    pub fn clear_breakpoint(&self, func: u32, wasm_offset: u32) {
        self.table.clear_breakpoint(func, wasm_offset)
    }

    /// Clear every breakpoint and any pending pause.
    pub fn clear_all(&self) {
        self.table.clear_all()
    }

    /// Stop the instance at its next breakable point (a spinning loop stops
    /// within one iteration); the handler sees [`crate::StopReason::Pause`].
    pub fn pause(&self) {
        self.table.request_pause()
    }

    /// Whether the guard at `wasm_offset` currently calls the handler.
    pub fn is_armed(&self, wasm_offset: u32) -> bool {
        self.table.is_set(wasm_offset)
    }
}
