//! Breakable points by offset, for breakpoints that name an offset of the
//! binary (LLDB's addresses, the DWARF line table's rows) rather than a
//! site: the site there, or else the next one in the same function.

use onecopy_runtime::Module;

/// Every breakable point of a module as (offset in the binary, function),
/// sorted by offset.
#[derive(Debug, Clone)]
pub struct Sites(Vec<(u32, u32)>);

impl Sites {
    /// The breakable points of `module`.
    pub fn new(module: &Module) -> Sites {
        let mut sites: Vec<(u32, u32)> = module.sites().iter().map(|s| (s.wasm_offset, s.func)).collect();
        sites.sort_unstable();
        sites.dedup();
        Sites(sites)
    }

    /// The breakable point a breakpoint at `offset` arms: the one at
    /// `offset`, or else the next one in the same function (an offset can
    /// name an instruction that has no guard of its own, such as an `end`,
    /// or one inside a statement). Returns (function, site offset).
    pub fn at_or_after(&self, offset: u32) -> Option<(u32, u32)> {
        let at = self.0.partition_point(|(o, _)| *o < offset);
        let (site_offset, func) = *self.0.get(at)?;
        let same_function = site_offset == offset || at > 0 && self.0[at - 1].1 == func;
        same_function.then_some((func, site_offset))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_between_sites_go_to_the_next_in_their_function() {
        let sites = Sites(vec![(10, 0), (14, 0), (30, 1), (33, 1)]);
        assert_eq!(sites.at_or_after(10), Some((0, 10)));
        assert_eq!(sites.at_or_after(12), Some((0, 14)));
        assert_eq!(sites.at_or_after(20), None, "past function 0's last site, before function 1's first");
        assert_eq!(sites.at_or_after(30), Some((1, 30)));
        assert_eq!(sites.at_or_after(5), None);
        assert_eq!(sites.at_or_after(40), None);
    }
}
