//! An instance's debug table and breakpoints, shared with other threads: a
//! debugger on another thread sets breakpoints and requests pauses through a
//! [`DebugRemote`] while the instance runs, without a lock the running
//! thread needs (compiled code only reads the table's entries).
//!
//! The table has a 4-byte entry per breakable point, in one region per
//! function (see `onecopy_jit::DebugCode`); the sites of a guard group
//! share their first site's entry. A guard faults when its group's entry
//! is non-zero, and its site stops if it has a breakpoint, the instance
//! steps into everything, a step over or out watches the site's function,
//! or a pause is pending (`debug::on_stop` decides; a fault of another
//! site of the group goes on at once). An entry is armed while any of its
//! sites would stop; otherwise zero.
//! The table's reservation starts with the instance's vmctx (after a
//! scratch cache line and the index cell), which debug
//! code reaches every entry from at a fixed offset (see
//! `onecopy_jit::debug_table`), and a fault guard's faulting address gives
//! the vmctx back.

use std::cell::UnsafeCell;
use std::collections::BTreeSet;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::error::{Error, Result};
use crate::vmctx_cells::VmCells;
use crate::Module;

/// What besides breakpoints arms entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Watch {
    /// Only breakpoints.
    Nothing,
    /// Every site (step into).
    Everything,
    /// Every site of these defined functions (step over and out).
    Functions(BTreeSet<u32>),
}

struct Arming {
    breakpoints: BTreeSet<u32>,
    watch: Watch,
}

/// The table compiled code reads, the breakpoints and watches that arm it,
/// and a pending pause request.
pub(crate) struct DebugTable {
    module: Module,
    memory: TableMemory,
    arming: Mutex<Arming>,
    pause: AtomicBool,
    /// The thread running the instance is interrupted: every entry armed
    /// until its call ends (see `interrupt.rs`).
    interrupted: AtomicBool,
}

impl DebugTable {
    pub(crate) fn new(module: &Module) -> Result<Arc<DebugTable>> {
        let memory = match &module.compiled().debug_code {
            Some(code) => TableMemory::new(code.table.bytes, code.table.armed_entry(page_size()))?,
            None => TableMemory::empty(),
        };
        Ok(Arc::new(DebugTable {
            module: module.clone(),
            memory,
            arming: Mutex::new(Arming { breakpoints: BTreeSet::new(), watch: Watch::Nothing }),
            pause: AtomicBool::new(false),
            interrupted: AtomicBool::new(false),
        }))
    }

    /// The `len` cells (index cell, then vmctx) near the start of the
    /// reservation, after its scratch line, where guarded debug code needs
    /// them; `None` without guards. One instance's: the table belongs to
    /// one instance.
    pub(crate) fn vmctx_cells(&self, len: usize) -> Option<VmCells> {
        let code = self.module.compiled().debug_code.as_ref()?;
        let index_cell = code.table.header - 8;
        assert!(index_cell + len * 8 <= code.table.header + code.table.entries as usize, "the vmctx overlaps its debug table");
        let ptr = NonNull::new((self.memory.base + index_cell) as *mut UnsafeCell<u64>)?;
        Some(VmCells::InTable { ptr, len })
    }

    /// Bytes of address space the table holds (untouched pages cost no memory).
    pub(crate) fn len(&self) -> usize {
        self.memory.len
    }

    fn entry(&self, site: u32) -> Option<&AtomicU32> {
        let code = self.module.compiled().debug_code.as_ref()?;
        let offset = code.table.offset(*code.entries.get(site as usize)?);
        (offset + 4 <= self.memory.len).then(|| {
            // SAFETY: in bounds of our zeroed, 4-aligned allocation; entries are only
            // accessed atomically from Rust and by plain aligned loads from code.
            unsafe { &*((self.memory.base + offset) as *const AtomicU32) }
        })
    }

    fn store(&self, site: u32, armed: bool) {
        if let Some(e) = self.entry(site) {
            e.store(if armed { self.memory.armed } else { 0 }, Ordering::Relaxed);
        }
    }

    /// The entry index that arms site `id`'s guard (its guard group's).
    fn group(&self, id: u32) -> Option<u32> {
        self.module.compiled().debug_code.as_ref()?.entries.get(id as usize).copied()
    }

    /// The defined function site `id` belongs to (in the wasm function space).
    fn func_of(&self, id: u32) -> Option<u32> {
        self.module.compiled().sites.get(id as usize).map(|s| s.func)
    }

    /// Whether site `id` stops when its guard runs: its group's entry is
    /// armed, and the site itself has a breakpoint, is watched or paused.
    pub(crate) fn is_armed(&self, id: u32) -> bool {
        let armed = self.entry(id).is_some_and(|e| e.load(Ordering::Relaxed) != 0);
        armed && {
            let arming = self.arming.lock();
            arming.breakpoints.contains(&id) || self.everything() || self.func_of(id).is_some_and(|f| self.watches(&arming.watch, f))
        }
    }

    /// Whether a guard at `wasm_offset` currently stops (sites are module-wide
    /// in offset order; the entry and the first statement may share one).
    pub(crate) fn is_armed_at(&self, wasm_offset: u32) -> bool {
        let sites = self.module.sites();
        let first = sites.partition_point(|s| s.wasm_offset < wasm_offset);
        sites[first..].iter().take_while(|s| s.wasm_offset == wasm_offset).any(|s| self.is_armed(s.id))
    }

    /// The site ids with breakpoints.
    pub(crate) fn breakpoint_ids(&self) -> BTreeSet<u32> {
        self.arming.lock().breakpoints.clone()
    }

    /// Whether a breakpoint (not only a watch or a pause) is set at site `id`.
    pub(crate) fn has_breakpoint(&self, id: u32) -> bool {
        self.arming.lock().breakpoints.contains(&id)
    }

    /// The site of `func` at `wasm_offset` (the first, if the entry and
    /// the first statement share it), or an error naming the nearest ones.
    pub(crate) fn site_at(&self, func: u32, wasm_offset: u32) -> Result<u32> {
        if !self.module.compiled().debug {
            return Err(Error::Type("module was compiled without debug guards (Config::debug)".into()));
        }
        let sites = self.module.function_sites(func);
        if let Some(site) = sites.iter().find(|s| s.wasm_offset == wasm_offset) {
            return Ok(site.id);
        }
        let mut near: Vec<u32> = sites.iter().map(|s| s.wasm_offset).collect();
        near.sort_by_key(|o| o.abs_diff(wasm_offset));
        near.dedup();
        near.truncate(5);
        Err(Error::NotFound(format!(
            "no breakable point at offset {wasm_offset:#x} in function {func}; nearest: {}",
            near.iter().map(|o| format!("{o:#x}")).collect::<Vec<_>>().join(", ")
        )))
    }

    pub(crate) fn set_breakpoint(&self, func: u32, wasm_offset: u32) -> Result<u32> {
        let id = self.site_at(func, wasm_offset)?;
        self.arming.lock().breakpoints.insert(id);
        self.store(id, true);
        Ok(id)
    }

    pub(crate) fn clear_breakpoint(&self, func: u32, wasm_offset: u32) {
        let Ok(id) = self.site_at(func, wasm_offset) else { return };
        let mut arming = self.arming.lock();
        arming.breakpoints.remove(&id);
        let watched = self.watches(&arming.watch, func);
        // The entry stays armed for any other breakpoint of the site's group.
        let group = self.group(id);
        let shared = arming.breakpoints.iter().any(|b| self.group(*b) == group);
        self.store(id, watched || shared || self.everything());
    }

    pub(crate) fn clear_all(&self) {
        let mut arming = self.arming.lock();
        arming.breakpoints.clear();
        arming.watch = Watch::Nothing;
        self.pause.store(false, Ordering::Relaxed);
        self.restore(&arming);
    }

    /// Arm what `watch` names besides the breakpoints (see [`Watch`]).
    pub(crate) fn set_watch(&self, watch: Watch) {
        let mut arming = self.arming.lock();
        if arming.watch == watch {
            return;
        }
        arming.watch = watch;
        self.restore(&arming);
    }

    fn watches(&self, watch: &Watch, func: u32) -> bool {
        match watch {
            Watch::Nothing => false,
            Watch::Everything => true,
            Watch::Functions(funcs) => funcs.contains(&func),
        }
    }

    /// Ask the running code to stop at its next breakable point: every entry
    /// armed until the stop is taken (see [`Self::take_pause`]).
    pub(crate) fn request_pause(&self) {
        // Flag and entries change under the lock, so a stop taking a pause
        // meanwhile cannot restore the entries between the two and leave
        // every entry armed with no pause to explain the stops.
        let _arming = self.arming.lock();
        self.pause.store(true, Ordering::Release);
        self.fill(|_| true);
    }

    /// Consume a pause request, restoring the entries.
    pub(crate) fn take_pause(&self) -> bool {
        let arming = self.arming.lock();
        let paused = self.pause.swap(false, Ordering::Acquire);
        if paused {
            self.restore(&arming);
        }
        paused
    }

    /// Entries = breakpoints and watches, or every entry while a pause is
    /// pending: a pause asked of a stopped instance must survive the watch
    /// change its resume makes (the end of a step disarms what it watched).
    fn restore(&self, arming: &Arming) {
        let everything = self.everything();
        self.fill(|func| everything || self.watches(&arming.watch, func));
        for id in &arming.breakpoints {
            self.store(*id, true);
        }
    }

    /// Whether every entry is armed: a pause is pending or the thread is interrupted.
    fn everything(&self) -> bool {
        self.pause.load(Ordering::Acquire) || self.interrupted.load(Ordering::Acquire)
    }

    /// The running thread was interrupted (every entry armed, so the next
    /// guard stops and `debug::guard_stop` ends the call), or its call
    /// ended (entries restored).
    pub(crate) fn set_interrupted(&self, on: bool) {
        let arming = self.arming.lock();
        self.interrupted.store(on, Ordering::Release);
        self.restore(&arming);
    }

    /// Arm or clear every function's region, by function.
    fn fill(&self, armed: impl Fn(u32) -> bool) {
        let compiled = self.module.compiled();
        let first = compiled.info.imported_funcs;
        for (i, range) in compiled.site_ranges().enumerate() {
            let value = if armed(first + i as u32) { self.memory.armed } else { 0 };
            for id in range {
                if let Some(e) = self.entry(id) {
                    e.store(value, Ordering::Relaxed);
                }
            }
        }
    }
}

/// The host's page size.
pub(crate) fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions; -1 (unknown) falls back to the smallest page.
    unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(4096) as usize
}

/// The table's memory: zeroed pages from a base aligned to `armed` (a power
/// of two, at least the table's alignment and a page), readable and writable
/// for the table's length, then PROT_NONE up to `base + 2 * armed`, where a
/// fault guard whose entry holds `armed` stores (see `onecopy_jit::debug_table`).
/// Untouched pages cost no memory.
struct TableMemory {
    base: usize,
    len: usize,
    /// The value of an armed entry.
    armed: u32,
    /// Start and length of the reservation (zero for no table).
    map: (usize, usize),
}

impl TableMemory {
    fn empty() -> TableMemory {
        TableMemory { base: 0, len: 0, armed: 1, map: (0, 0) }
    }

    /// A table of `len` bytes whose armed entries hold `armed` (a power of
    /// two, at least `len` and a page: `DebugTableLayout::armed_entry`).
    fn new(len: usize, armed: usize) -> Result<TableMemory> {
        let page = page_size();
        let armed32 = u32::try_from(armed).map_err(|_| Error::Resource(format!("a {len}-byte debug table is too large")))?;
        // Reserve enough to align the base, then keep [base, base + 2 * armed).
        let reserve = 3 * armed;
        // SAFETY: a fresh private anonymous reservation; nothing else refers to it.
        let map = unsafe {
            libc::mmap(std::ptr::null_mut(), reserve, libc::PROT_NONE, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE, -1, 0)
        };
        if map == libc::MAP_FAILED {
            return Err(Error::Resource(format!("cannot reserve a {len}-byte debug table: {}", std::io::Error::last_os_error())));
        }
        let map = map as usize;
        let base = (map + armed - 1) & !(armed - 1);
        let end = base + 2 * armed;
        let readable = len.next_multiple_of(page);
        // SAFETY: all three ranges lie inside our reservation: the slack before
        // the aligned base and after its 2 * armed bytes goes back; the
        // table's pages become readable and writable (still zero).
        let ok = unsafe {
            (base == map || libc::munmap(map as *mut libc::c_void, base - map) == 0)
                && (end == map + reserve || libc::munmap(end as *mut libc::c_void, map + reserve - end) == 0)
                && libc::mprotect(base as *mut libc::c_void, readable, libc::PROT_READ | libc::PROT_WRITE) == 0
        };
        let memory = TableMemory { base, len, armed: armed32, map: (base, 2 * armed) };
        if !ok {
            return Err(Error::Resource(format!("cannot map a {len}-byte debug table: {}", std::io::Error::last_os_error())));
        }
        Ok(memory)
    }
}

impl Drop for TableMemory {
    fn drop(&mut self) {
        if self.map.1 != 0 {
            // SAFETY: our reservation; no code runs against it once the instance is gone.
            unsafe { libc::munmap(self.map.0 as *mut libc::c_void, self.map.1) };
        }
    }
}

// SAFETY: the memory is owned by the table; entries are only accessed through
// atomics, and the vmctx cells at its start by their one instance's thread.
unsafe impl Send for TableMemory {}
// SAFETY: see above.
unsafe impl Sync for TableMemory {}

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

    /// Withdraw a pause not yet delivered (one asked of an instance that
    /// stopped for another reason meanwhile); true if there was one.
    pub fn cancel_pause(&self) -> bool {
        self.table.take_pause()
    }

    /// Whether the guard at `wasm_offset` currently stops the instance.
    pub fn is_armed(&self, wasm_offset: u32) -> bool {
        self.table.is_armed_at(wasm_offset)
    }
}
