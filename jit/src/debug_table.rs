//! The layout of an instance's debug table, shared by the code that reads
//! it and the runtime that arms it.
//!
//! After a header (the owning vmctx, so a stop finds its instance from the
//! table pointer), one 4-byte entry per breakable point, in one region per
//! defined function. A function's region is sized by its body (a body of
//! `n` bytes has at most `n + 1` breakable points), so regions are known
//! before any function is translated and functions compile in parallel.
//! Entries of unused region tails are never touched: the runtime maps the
//! table from zeroed pages, which cost no memory until armed.
//!
//! An armed entry holds `A`, a power of two no smaller than the table's
//! alignment or a page, and the runtime reserves `2 * A` bytes from a base
//! aligned to `A`: the table, readable, then PROT_NONE. A fault guard loads
//! from `pointer + entry`; every pointer the code forms lies in the table,
//! so a zero entry reads the table and an armed one faults. `A` must fit an
//! entry, so tables are at most 2 GiB.

use crate::module_info::ModuleInfo;

/// Bytes before the first entry: the owner's vmctx, then padding.
pub const HEADER: u32 = 64;

/// Bytes per entry (a 4-byte load folds into the guard's `mov`).
pub const ENTRY_BYTES: u32 = 4;

/// Offset from the table's base of entry `entry`: the `K` that debug code
/// `or`s into the base for a pointer biased at `entry`.
pub fn table_offset(entry: u32) -> u32 {
    HEADER + ENTRY_BYTES * entry
}

/// Where each function's entries are, and how big and aligned the table is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DebugTableLayout {
    /// First entry of each defined function's region.
    pub regions: Vec<u32>,
    /// Bytes of the table, header included (biased pointers stay inside).
    pub bytes: usize,
    /// Alignment of the table's base: a power of two above every offset
    /// the code `or`s into it.
    pub align: usize,
    /// Bytes before the first entry.
    pub header: usize,
}

impl DebugTableLayout {
    /// The value of an armed entry on a host with `page`-byte pages: `A` in
    /// the module docs. An instance's table lies at `base`, aligned to it,
    /// and a fault guard of an armed site faults at `base + A + k` with
    /// `k < bytes <= A`, so the faulting address gives the table's base.
    pub fn armed_entry(&self, page: usize) -> usize {
        self.align.max(page).next_power_of_two()
    }

    /// The base of the table whose armed fault guard faulted at `addr`
    /// (see [`Self::armed_entry`]).
    pub fn base_of_fault(&self, addr: usize, page: usize) -> Option<usize> {
        let armed = self.armed_entry(page);
        (addr & !(armed - 1)).checked_sub(armed)
    }

    /// The layout for `info`'s function bodies.
    pub fn new(info: &ModuleInfo) -> DebugTableLayout {
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
        // Room for a pointer biased past the last entry (see translate/guard.rs).
        let bytes = table_offset(next.saturating_add(2 * 128 / ENTRY_BYTES)) as usize;
        DebugTableLayout { regions, bytes, align: bytes.next_power_of_two(), header: HEADER as usize }
    }
}
