//! The layout of an instance's debug table, shared by the code that reads
//! it and the runtime that arms it.
//!
//! The table lives in one reservation with its instance's vmctx, right
//! after it, so debug code reaches every entry from the vmctx it already
//! holds (`[vmctx + disp32]`): no table pointer takes a register across
//! the function, is saved around calls or is rebased. From the
//! reservation's base ([`HEADER`] bytes before the vmctx): a scratch cache
//! line, the instance's index cell (the word before the vmctx), the vmctx,
//! then one 4-byte entry per breakable point, in one region per defined
//! function. A function's region is sized by its body (a body of `n` bytes
//! has at most `n + 1` breakable points), so regions are known before any
//! function is translated and functions compile in parallel. Entries of
//! unused region tails are never touched: the runtime maps the table from
//! zeroed pages, which cost no memory until armed.
//!
//! An armed entry holds `A`, a power of two no smaller than the table or a
//! page, and the runtime reserves `2 * A` bytes from a base aligned to `A`:
//! the vmctx and table, readable and writable, then PROT_NONE. A fault
//! guard stores its entry to `vmctx + entry + STORE_DISP`: a zero entry
//! writes the scratch line, an armed one `base + SCRATCH_WORD + A`, which
//! faults and whose address gives the base (and so the vmctx). `A` must
//! fit an entry, so tables are at most 2 GiB.
//!
//! The scratch line is a cache line of its own: with the store on the
//! vmctx's first line, code that then loads vmctx fields (a
//! `call_indirect`'s table, a callee's limits) ran 3.4x slower on this
//! machine's AMD EPYC, for the same instructions (`bench guard`'s indirect
//! kernel, 4.4x its normal code's time at 1.18x its instructions).

use crate::module_info::ModuleInfo;

/// Bytes of the reservation's first cache line, which only disarmed fault
/// guards write.
pub const SCRATCH: u32 = 64;

/// Where in the scratch line a disarmed fault guard writes.
pub const SCRATCH_WORD: u32 = 8;

/// Bytes before the vmctx: the scratch line, then the cell holding the
/// instance's index in its store (the runtime's `InstanceData::from_vmctx`
/// reads it there).
pub const HEADER: u32 = SCRATCH + 8;

/// The fault guard's store displacement: `vmctx + STORE_DISP` is the
/// scratch word (a one-byte displacement).
pub const STORE_DISP: i32 = SCRATCH_WORD as i32 - HEADER as i32;

/// Bytes per entry (a 4-byte load folds into the guard's `mov`).
pub const ENTRY_BYTES: u32 = 4;

/// Where each function's entries are, and how big and aligned the table is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DebugTableLayout {
    /// First entry of each defined function's region.
    pub regions: Vec<u32>,
    /// Bytes from the reservation's base to the end of the last entry.
    pub bytes: usize,
    /// Alignment of the reservation's base: a power of two, at least `bytes`.
    pub align: usize,
    /// Bytes before the vmctx ([`HEADER`]).
    pub header: usize,
    /// Offset of the first entry from the vmctx (the vmctx's size).
    pub entries: u32,
}

impl DebugTableLayout {
    /// The value of an armed entry on a host with `page`-byte pages: `A` in
    /// the module docs. A fault guard of an armed site faults at
    /// `base + HEADER + A`, inside `[base + A, base + 2 * A)`, so the
    /// faulting address gives the base.
    pub fn armed_entry(&self, page: usize) -> usize {
        self.align.max(page).next_power_of_two()
    }

    /// The vmctx of the instance whose armed fault guard faulted at `addr`
    /// (see [`Self::armed_entry`]).
    pub fn vmctx_of_fault(&self, addr: usize, page: usize) -> Option<usize> {
        let armed = self.armed_entry(page);
        (addr & !(armed - 1)).checked_sub(armed).map(|base| base + self.header)
    }

    /// The displacement from the vmctx of entry `entry` (a guard's `disp32`).
    pub fn disp(&self, entry: u32) -> i32 {
        (self.entries + ENTRY_BYTES * entry) as i32
    }

    /// The offset from the reservation's base of entry `entry` (where the
    /// runtime arms it).
    pub fn offset(&self, entry: u32) -> usize {
        self.header + self.disp(entry) as usize
    }

    /// The layout for `info`'s function bodies, after a vmctx of
    /// `vmctx_bytes`.
    pub fn new(info: &ModuleInfo, vmctx_bytes: u32) -> DebugTableLayout {
        let mut next = 0u32;
        let regions = info
            .bodies
            .iter()
            .map(|body| {
                let start = next;
                next = next.saturating_add(body.len() as u32 + 1);
                start
            })
            .collect();
        let entries = vmctx_bytes.next_multiple_of(8);
        let bytes = HEADER as usize + entries as usize + ENTRY_BYTES as usize * next as usize;
        DebugTableLayout { regions, bytes, align: bytes.next_power_of_two(), header: HEADER as usize, entries }
    }
}
