//! The contract between compiled code and the runtime's memory reservation
//! when out-of-bounds accesses are left to the MMU ("guard-page memories").
//!
//! Code compiled with [`CompileConfig::memory_guard`](crate::CompileConfig)
//! omits the bounds check of an access `base + zext(index) + offset` of
//! `size` bytes whenever `offset + size <= GUARD_BYTES`: the index is below
//! 4 GiB, so the access ends below `base + INDEX_SPACE_BYTES + GUARD_BYTES`,
//! inside the reservation, where every page past the memory's current length
//! is `PROT_NONE` and faults. The fault's PC is the access's own trap site
//! (a load or store with the heap-out-of-bounds trap code), which the
//! runtime reports as `MemoryOutOfBounds`. Accesses with a larger static
//! offset keep the explicit check.
//!
//! The price is address space, not memory: each guarded memory reserves
//! [`RESERVATION_BYTES`] (6 GiB) whatever its maximum, so 256 workers with
//! one memory each reserve 1.5 TiB of x86-64's 128 TiB user address space
//! (and count against `ulimit -v`, which is why the runtime can fall back
//! to explicit checks).

/// The wasm32 index space: every `i32` index, zero-extended, is below it.
pub const INDEX_SPACE_BYTES: u64 = 1 << 32;

/// `PROT_NONE` bytes after the index space. As in Wasmtime on 64-bit hosts:
/// 2 GiB, so every static offset below 2^31 folds into the address.
pub const GUARD_BYTES: u64 = 2 << 30;

/// Address space a guarded memory reserves: the index space and its guard.
pub const RESERVATION_BYTES: u64 = INDEX_SPACE_BYTES + GUARD_BYTES;

/// Whether an access of `size` bytes at static `offset` cannot reach past
/// the reservation, so the MMU alone catches it when out of bounds.
pub fn covers(offset: u64, size: u64) -> bool {
    offset.checked_add(size).is_some_and(|end| end <= GUARD_BYTES)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_up_to_the_guard_are_covered_and_larger_ones_are_not() {
        assert!(covers(0, 8));
        assert!(covers(GUARD_BYTES - 8, 8));
        assert!(!covers(GUARD_BYTES - 7, 8));
        assert!(!covers(u32::MAX as u64, 1));
        assert!(!covers(u64::MAX, 1));
    }
}
