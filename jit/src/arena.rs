//! The capped code arena: one per Engine, holding every piece of machine code it emits.
//!
//! The whole cap is reserved up front so the engine's executable footprint is bounded and
//! known to signal handlers; pages are committed only as modules arrive. Code pages are
//! writable only while being filled and are read+execute from then on (W^X). Running out of
//! space is an ordinary error value so a busy engine can reject a module instead of dying.

use parking_lot::Mutex;
use std::io;
use std::sync::Arc;

/// Handle to an engine's code arena; cloning is cheap and shares the same reservation.
#[derive(Debug, Clone)]
pub struct CodeArena {
    inner: Arc<ArenaInner>,
}

#[derive(Debug)]
struct ArenaInner {
    base: usize,
    cap: usize,
    page: usize,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// Page-aligned `(offset, len)` ranges, sorted by offset and always coalesced, so a
    /// first-fit scan sees the largest holes fragmentation allows.
    free: Vec<(usize, usize)>,
    committed: usize,
    /// Page-rounded trap tails (reserved, never committed).
    tails: usize,
    used: usize,
    allocations: usize,
}

impl State {
    fn release(&mut self, offset: usize, len: usize) {
        let i = self.free.partition_point(|&(o, _)| o < offset);
        let prev = i > 0 && self.free[i - 1].0 + self.free[i - 1].1 == offset;
        let next = i < self.free.len() && self.free[i].0 == offset + len;
        match (prev, next) {
            (true, true) => {
                self.free[i - 1].1 += len + self.free[i].1;
                self.free.remove(i);
            }
            (true, false) => self.free[i - 1].1 += len,
            (false, true) => self.free[i] = (offset, len + self.free[i].1),
            (false, false) => self.free.insert(i, (offset, len)),
        }
    }
}

impl Drop for ArenaInner {
    fn drop(&mut self) {
        // SAFETY: every CodeAllocation holds this Arc, so no code in the mapping is reachable.
        if unsafe { libc::munmap(self.base as *mut libc::c_void, self.cap) } != 0 {
            tracing::warn!(error = %io::Error::last_os_error(), "code arena: munmap failed");
        }
    }
}

/// Accounting snapshot of a [`CodeArena`], for admission decisions and leak checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ArenaStats {
    /// Address space reserved: the cap, rounded up to the page size.
    pub reserved: usize,
    /// Sum of the page-rounded sizes of live allocations.
    pub committed: usize,
    /// Sum of the exact code lengths of live allocations.
    pub used: usize,
    /// Number of live allocations (zero-length ones included).
    pub allocations: usize,
    /// Address space of debug code's trap tails (PROT_NONE, never committed).
    pub trap_tails: usize,
}

/// Returned when code cannot be placed: the cap is reached, fragmentation leaves no hole big
/// enough, or the kernel refused to change page protection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("code arena exhausted: requested {requested} bytes, {used} of {cap} bytes in use")]
pub struct CodeArenaExhausted {
    /// Exact code length that was asked for.
    pub requested: usize,
    /// Code bytes live in the arena when the request failed.
    pub used: usize,
    /// The arena's page-rounded capacity.
    pub cap: usize,
}

/// Executable, read-only code placed in a [`CodeArena`]; dropping it returns the pages.
pub struct CodeAllocation {
    inner: Arc<ArenaInner>,
    offset: usize,
    len: usize,
    /// Page-rounded bytes owned; zero for empty code, which owns no pages.
    pages: usize,
    /// Page-rounded PROT_NONE trap tail after the code (debug code only).
    tail_pages: usize,
}

impl CodeArena {
    /// Reserve `cap` bytes of address space (rounded up to the page size), PROT_NONE and
    /// MAP_NORESERVE so the reservation costs neither RSS nor commit charge until used.
    pub fn new(cap: usize) -> io::Result<CodeArena> {
        // SAFETY: sysconf has no preconditions; -1 (unknown) falls back to the smallest page.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(4096) as usize;
        let cap = cap
            .checked_add(page - 1)
            .map(|c| c & !(page - 1))
            .filter(|&c| c != 0)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "invalid code arena cap"))?;
        let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE;
        // SAFETY: a fresh anonymous mapping at a kernel-chosen address aliases nothing.
        let p = unsafe { libc::mmap(std::ptr::null_mut(), cap, libc::PROT_NONE, flags, -1, 0) };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        tracing::debug!(base = p as usize, cap, "code arena: reserved");
        let free = vec![(0, cap)];
        let state = Mutex::new(State { free, ..State::default() });
        let inner = Arc::new(ArenaInner { base: p as usize, cap, page, state });
        Ok(CodeArena { inner })
    }

    /// The arena's page size: code and trap tails start on page boundaries.
    pub fn page_size(&self) -> usize {
        self.inner.page
    }

    /// Copy `code` into fresh pages (first fit), writable only while copying, then
    /// read+execute for the allocation's lifetime. Fails instead of growing past the cap.
    pub fn allocate(&self, code: &[u8]) -> Result<CodeAllocation, CodeArenaExhausted> {
        self.allocate_with_tail(code, 0)
    }

    /// Like [`Self::allocate`], followed by `tail` bytes (page-rounded) of address space
    /// that stays PROT_NONE: debug code's trap tail, whose bytes breakpoint guards branch
    /// to (the fault is the stop). The tail costs address space, no memory.
    pub fn allocate_with_tail(&self, code: &[u8], tail: usize) -> Result<CodeAllocation, CodeArenaExhausted> {
        let (inner, len) = (&self.inner, code.len());
        let round = |n: usize| (n.min(inner.cap) + inner.page - 1) & !(inner.page - 1);
        let (pages, tail_pages) = (round(len), round(tail));
        let span = pages + tail_pages;
        let mut st = inner.state.lock();
        let offset = if span == 0 {
            0
        } else {
            let fit = st.free.iter().position(|&(_, l)| l >= span);
            let Some(i) = fit.filter(|_| len.saturating_add(tail) <= inner.cap) else {
                // The tail costs its whole pages of address space.
                return Err(self.exhausted(len + tail_pages, st.used));
            };
            let (offset, hole) = st.free[i];
            if hole == span {
                st.free.remove(i);
            } else {
                st.free[i] = (offset + span, hole - span);
            }
            offset
        };
        st.committed += pages;
        st.tails += tail_pages;
        st.used += len;
        st.allocations += 1;
        drop(st);
        // From here the range is accounted to `alloc`; its Drop is the one undo path.
        let alloc = CodeAllocation { inner: inner.clone(), offset, len, pages, tail_pages };
        if pages == 0 {
            return Ok(alloc);
        }
        let addr = inner.base + offset;
        if let Err(e) = protect(addr, pages, libc::PROT_READ | libc::PROT_WRITE) {
            return Err(self.refuse(alloc, e, "PROT_READ|PROT_WRITE"));
        }
        // SAFETY: [addr, addr+pages) lies in our mapping, is exclusively ours and now RW.
        unsafe { std::ptr::copy_nonoverlapping(code.as_ptr(), addr as *mut u8, len) };
        flush_icache(addr, len);
        if let Err(e) = protect(addr, pages, libc::PROT_READ | libc::PROT_EXEC) {
            return Err(self.refuse(alloc, e, "PROT_READ|PROT_EXEC"));
        }
        tracing::trace!(addr, len, pages, "code arena: allocate");
        Ok(alloc)
    }

    /// Undo a half-made allocation after the kernel refused a protection change (typically
    /// ENOMEM from hitting vm.max_map_count) and report it as exhaustion.
    fn refuse(&self, alloc: CodeAllocation, e: io::Error, prot: &str) -> CodeArenaExhausted {
        let (addr, requested) = (alloc.as_ptr() as usize, alloc.len);
        tracing::warn!(error = %e, addr, prot, "code arena: mprotect failed");
        drop(alloc);
        let used = self.inner.state.lock().used;
        self.exhausted(requested, used)
    }

    fn exhausted(&self, requested: usize, used: usize) -> CodeArenaExhausted {
        let cap = self.inner.cap;
        tracing::debug!(requested, used, cap, "code arena: exhausted");
        CodeArenaExhausted { requested, used, cap }
    }

    /// Accounting snapshot; see [`ArenaStats`].
    pub fn stats(&self) -> ArenaStats {
        let st = self.inner.state.lock();
        ArenaStats { reserved: self.inner.cap, committed: st.committed, used: st.used, allocations: st.allocations, trap_tails: st.tails }
    }

    /// `[start, end)` of the whole reservation, so a signal handler can tell a fault in JIT
    /// code from one anywhere else.
    pub fn range(&self) -> (usize, usize) {
        (self.inner.base, self.inner.base + self.inner.cap)
    }
}

fn protect(addr: usize, len: usize, prot: libc::c_int) -> io::Result<()> {
    // SAFETY: callers pass a page-aligned range inside the arena that they exclusively own.
    match unsafe { libc::mprotect(addr as *mut libc::c_void, len, prot) } {
        0 => Ok(()),
        _ => Err(io::Error::last_os_error()),
    }
}

/// AArch64 instruction fetch is not coherent with data writes, and a range may be reused
/// from freed code, so written bytes must be cleaned to PoU and stale I-lines invalidated
/// (the sequence compiler-rt's `__clear_cache` uses). x86 is coherent: nothing to do.
#[cfg(target_arch = "aarch64")]
fn flush_icache(start: usize, len: usize) {
    use std::arch::asm;
    let end = start + len;
    let ctr: u64;
    // SAFETY: CTR_EL0 is readable from EL0 on Linux; cache ops target memory we own (RW now).
    unsafe {
        asm!("mrs {0}, ctr_el0", out(reg) ctr, options(nomem, nostack, preserves_flags));
        if (ctr >> 28) & 1 == 0 {
            let line = 4usize << ((ctr >> 16) & 15);
            let mut a = start & !(line - 1);
            while a < end {
                asm!("dc cvau, {0}", in(reg) a, options(nostack, preserves_flags));
                a += line;
            }
        }
        asm!("dsb ish", options(nostack, preserves_flags));
        if (ctr >> 29) & 1 == 0 {
            let line = 4usize << (ctr & 15);
            let mut a = start & !(line - 1);
            while a < end {
                asm!("ic ivau, {0}", in(reg) a, options(nostack, preserves_flags));
                a += line;
            }
            asm!("dsb ish", options(nostack, preserves_flags));
        }
        asm!("isb sy", options(nostack, preserves_flags));
    }
}

#[cfg(not(target_arch = "aarch64"))]
fn flush_icache(_start: usize, _len: usize) {}

impl CodeAllocation {
    /// Start of the code; for empty code, the arena base (non-null, never to be called).
    pub fn as_ptr(&self) -> *const u8 {
        (self.inner.base + self.offset) as *const u8
    }

    /// Exact number of code bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether this allocation holds no code (and so owns no pages).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// `[start, start+len)` of the code, for mapping a faulting pc back to its module.
    pub fn range(&self) -> (usize, usize) {
        let start = self.as_ptr() as usize;
        (start, start + self.len)
    }

    /// `[start, end)` of the trap tail (empty without one).
    pub fn tail_range(&self) -> (usize, usize) {
        let start = self.as_ptr() as usize + self.pages;
        (start, start + self.tail_pages)
    }
}

impl std::fmt::Debug for CodeAllocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (start, end) = self.range();
        write!(f, "CodeAllocation({start:#x}..{end:#x})")
    }
}

impl Drop for CodeAllocation {
    fn drop(&mut self) {
        let (addr, len, pages) = (self.as_ptr() as usize, self.len, self.pages);
        let sealed = pages == 0 || seal(addr, pages);
        let mut st = self.inner.state.lock();
        st.committed -= pages;
        st.tails -= self.tail_pages;
        st.used -= len;
        st.allocations -= 1;
        // A range we could not seal may still be executable; never hand it out again.
        // The tail was never accessible, so it goes back with the code.
        if sealed && pages + self.tail_pages != 0 {
            st.release(self.offset, pages + self.tail_pages);
        }
        tracing::trace!(addr, len, pages, "code arena: free");
    }
}

/// Make freed code inaccessible and hand its RSS back; private anonymous pages read back as
/// zeroes after MADV_DONTNEED. Returns whether the range is safe to reuse.
fn seal(addr: usize, pages: usize) -> bool {
    if let Err(e) = protect(addr, pages, libc::PROT_NONE) {
        tracing::warn!(error = %e, addr, "code arena: cannot seal freed code; leaking it");
        return false;
    }
    // SAFETY: the range is inside the arena, owned by the dying allocation and unreferenced.
    if unsafe { libc::madvise(addr as *mut libc::c_void, pages, libc::MADV_DONTNEED) } != 0 {
        let e = io::Error::last_os_error();
        tracing::warn!(error = %e, addr, "code arena: madvise failed");
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page() -> usize {
        unsafe { libc::sysconf(libc::_SC_PAGESIZE) as usize }
    }

    fn bytes(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 7 + 1) as u8).collect()
    }

    fn read(a: &CodeAllocation) -> &[u8] {
        unsafe { std::slice::from_raw_parts(a.as_ptr(), a.len()) }
    }

    #[test]
    fn allocate_and_read_back() {
        let arena = CodeArena::new(1 << 20).unwrap();
        let code = bytes(5000);
        let a = arena.allocate(&code).unwrap();
        assert_eq!((read(&a), a.len(), a.is_empty()), (&code[..], 5000, false));
        let ((s, e), (as_, ae)) = (arena.range(), a.range());
        assert!(s <= as_ && ae <= e && ae - as_ == 5000);
        let empty = arena.allocate(&[]).unwrap();
        assert!(empty.is_empty() && !empty.as_ptr().is_null());
    }

    #[test]
    fn a_trap_tail_is_inaccessible_address_space_after_the_code() {
        let p = page();
        let arena = CodeArena::new(8 * p).unwrap();
        let a = arena.allocate_with_tail(&bytes(10), p + 1).unwrap();
        let (code_start, _) = a.range();
        let (tail_start, tail_end) = a.tail_range();
        assert_eq!((tail_start - code_start, tail_end - tail_start), (p, 2 * p));
        let st = arena.stats();
        assert_eq!((st.committed, st.trap_tails, st.used), (p, 2 * p, 10));
        // The tail is not readable: mincore-free check through mprotect's view is not
        // portable, so read /proc/self/maps for the tail's protection.
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
        let line = maps
            .lines()
            .find(|l| {
                let range = l.split_whitespace().next().unwrap();
                let (lo, hi) = range.split_once('-').unwrap();
                let (lo, hi) = (usize::from_str_radix(lo, 16).unwrap(), usize::from_str_radix(hi, 16).unwrap());
                lo <= tail_start && tail_end <= hi
            })
            .expect("tail mapped");
        assert!(line.split_whitespace().nth(1).unwrap().starts_with("---"), "{line}");
        drop(a);
        assert_eq!(arena.stats().trap_tails, 0);
        // Code and tail went back together: the whole arena fits again.
        drop(arena.allocate(&bytes(8 * p)).unwrap());
    }

    #[test]
    fn stats_are_exact() {
        let p = page();
        let arena = CodeArena::new(64 * p).unwrap();
        let stats = |committed, used, allocations| ArenaStats { reserved: 64 * p, committed, used, allocations, trap_tails: 0 };
        assert_eq!(arena.stats(), stats(0, 0, 0));
        let a = arena.allocate(&bytes(p + 1)).unwrap();
        let b = arena.allocate(&bytes(10)).unwrap();
        let e = arena.allocate(&[]).unwrap();
        assert_eq!(arena.stats(), stats(3 * p, p + 11, 3));
        drop(a);
        assert_eq!(arena.stats(), stats(p, 10, 2));
        drop((b, e));
        assert_eq!(arena.stats(), stats(0, 0, 0));
        assert_eq!(arena.inner.state.lock().free, vec![(0, 64 * p)]);
    }

    #[test]
    fn exhaustion_is_an_error_and_keeps_live_code() {
        let p = page();
        let arena = CodeArena::new(4 * p - 100).unwrap();
        let (ca, cb) = (bytes(2 * p), bytes(p - 3));
        let a = arena.allocate(&ca).unwrap();
        let b = arena.allocate(&cb).unwrap();
        let (used, cap) = (3 * p - 3, 4 * p);
        let err = arena.allocate(&bytes(p + 1)).unwrap_err();
        assert_eq!(err, CodeArenaExhausted { requested: p + 1, used, cap });
        let err = arena.allocate(&bytes(5 * p)).unwrap_err();
        assert_eq!(err, CodeArenaExhausted { requested: 5 * p, used, cap });
        assert!(err.to_string().contains("code arena exhausted"));
        assert_eq!((read(&a), read(&b)), (&ca[..], &cb[..]));
        assert_eq!(arena.stats().allocations, 2);
        drop(b);
        assert!(arena.allocate(&bytes(2 * p)).is_ok());
    }

    /// Keeps up to four 200 KiB allocations live while cycling 10 MiB through a 1 MiB arena.
    #[test]
    fn churn_ten_times_the_cap() {
        let arena = CodeArena::new(1 << 20).unwrap();
        let code = bytes(200 << 10);
        let mut live = std::collections::VecDeque::new();
        for i in 0..50 {
            let a = arena.allocate(&code).unwrap_or_else(|e| panic!("round {i}: {e}"));
            assert_eq!(read(&a), &code[..]);
            live.push_back(a);
            if live.len() > 3 {
                live.pop_front();
            }
        }
        drop(live);
        assert_eq!((arena.stats().committed, arena.stats().allocations), (0, 0));
        assert_eq!(arena.inner.state.lock().free, vec![(0, 1 << 20)]);
    }

    #[test]
    fn freed_neighbours_coalesce() {
        let p = page();
        let arena = CodeArena::new(8 * p).unwrap();
        let a = arena.allocate(&bytes(2 * p)).unwrap();
        let b = arena.allocate(&bytes(3 * p)).unwrap();
        let _c = arena.allocate(&bytes(3 * p)).unwrap();
        assert!(arena.allocate(&[1]).is_err());
        drop((b, a));
        let ab = arena.allocate(&bytes(5 * p)).unwrap();
        assert_eq!(ab.range().0, arena.range().0);
    }

    #[test]
    fn concurrent_allocate_and_drop() {
        let arena = CodeArena::new(64 * page()).unwrap();
        std::thread::scope(|s| {
            for t in 0..4 {
                let arena = arena.clone();
                s.spawn(move || {
                    for i in 0..200 {
                        let code = bytes(100 + t * 1000 + i);
                        if let Ok(a) = arena.allocate(&code) {
                            assert_eq!(read(&a), &code[..]);
                        }
                    }
                });
            }
        });
        assert_eq!(arena.stats().committed, 0);
    }

    /// Permissions of every /proc/self/maps line overlapping [start, end).
    fn perms(start: usize, end: usize) -> Vec<String> {
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
        maps.lines()
            .filter_map(|l| {
                let (range, rest) = l.split_once(' ')?;
                let (s, e) = range.split_once('-')?;
                let (s, e) = (usize::from_str_radix(s, 16).ok()?, usize::from_str_radix(e, 16).ok()?);
                (s < end && start < e).then(|| rest[..4].to_string())
            })
            .collect()
    }

    #[test]
    fn live_code_is_read_execute_only() {
        let p = page();
        let arena = CodeArena::new(16 * p).unwrap();
        let (s, e) = arena.range();
        assert!(perms(s, e).iter().all(|x| x == "---p"));
        let a = arena.allocate(&bytes(2 * p + 5)).unwrap();
        let (as_, ae) = a.range();
        assert!(s <= as_ && ae <= e);
        let live = perms(as_, as_ + 3 * p);
        assert!(!live.is_empty() && live.iter().all(|x| x == "r-xp"), "{live:?}");
        drop(a);
        assert!(perms(s, e).iter().all(|x| x == "---p"));
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn executes_code() {
        let arena = CodeArena::new(1 << 16).unwrap();
        let a = arena.allocate(&[0xB8, 42, 0, 0, 0, 0xC3]).unwrap(); // mov eax, 42; ret
        let f: extern "C" fn() -> i32 = unsafe { std::mem::transmute(a.as_ptr()) };
        assert_eq!(f(), 42);
    }
}
