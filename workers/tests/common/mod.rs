//! Helpers shared by the workers' integration tests: a seeded random
//! number generator and the breakable points of a function.

// Each test binary uses only some of these helpers.
#![allow(dead_code)]

use onecopy_workers::runtime::Module;

/// Wasm offsets of the breakable points of `func`, in order (the first is
/// its entry).
pub fn sites(module: &Module, func: u32) -> Vec<u32> {
    module.function_sites(func).iter().map(|s| s.wasm_offset).collect()
}

/// xorshift64*: small, seedable and good enough to pick test actions;
/// the seed is printed so a failing run can be repeated.
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed` (0 is replaced: xorshift never leaves 0).
    pub fn new(seed: u64) -> Rng {
        Rng(if seed == 0 { 0x9e37_79b9_7f4a_7c15 } else { seed })
    }

    /// The seed from environment variable `var`, else one from the clock.
    pub fn seed_from_env(var: &str) -> u64 {
        std::env::var(var).ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
            now.as_nanos() as u64
        })
    }

    /// The next 64 random bits.
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// A number in `range`.
    pub fn range(&mut self, range: std::ops::RangeInclusive<i32>) -> i32 {
        let span = (*range.end() as i64 - *range.start() as i64 + 1) as u64;
        (*range.start() as i64 + self.below(span) as i64) as i32
    }

    /// True with probability `percent` / 100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// A random element of a non-empty slice.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}
