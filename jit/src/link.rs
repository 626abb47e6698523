//! Linking: the module's functions laid out in one piece with the calls
//! between them resolved, and the maps from that code back to wasm (trap
//! sites, source locations, breakable points).

use std::collections::HashMap;

use cranelift_codegen::binemit::Reloc;

use crate::compile::FunctionCode;
use crate::guard_code::GuardCode;
use crate::stubs::StubCode;
use crate::trap::TrapKind;
use crate::{CompileError, Site, TrapSite};

/// The module's code in one piece.
pub(crate) struct LinkedCode {
    /// The bytes.
    pub bytes: Vec<u8>,
    /// Start offset of each function.
    pub starts: Vec<u32>,
    /// Trap sites of the stub linked after the functions, if any.
    pub stub_traps: Vec<TrapSite>,
}

/// Lay functions out 16-byte aligned, then `stub` (code that is no wasm
/// function, called by the index given with it), and resolve the calls.
pub(crate) fn link(funcs: &[FunctionCode], imported: u32, stub: Option<(u32, &StubCode)>) -> Result<LinkedCode, CompileError> {
    // Sized up front: the biggest allocation of a compile, never regrown.
    let size = funcs.iter().map(|f| f.bytes.len().next_multiple_of(16)).sum::<usize>() + stub.map_or(0, |(_, s)| s.bytes.len());
    let mut bytes = Vec::with_capacity(size);
    let mut place = |code: &[u8]| {
        bytes.resize(bytes.len().next_multiple_of(16), 0);
        let start = bytes.len() as u32;
        bytes.extend_from_slice(code);
        start
    };
    let starts: Vec<u32> = funcs.iter().map(|f| place(&f.bytes)).collect();
    let mut by_index: HashMap<u32, u32> = starts.iter().enumerate().map(|(i, s)| (imported + i as u32, *s)).collect();
    let mut stub_traps = Vec::new();
    if let Some((index, stub)) = stub {
        let start = place(&stub.bytes);
        by_index.insert(index, start);
        // The stub is no wasm function, but its traps are trap sites.
        stub_traps.extend(stub.traps.iter().map(|(offset, kind)| TrapSite { code_offset: start + offset, kind: *kind, wasm_offset: 0 }));
    }
    for (f, start) in funcs.iter().zip(&starts) {
        for (offset, kind, callee, addend) in &f.calls {
            let at = (start + offset) as usize;
            let target = by_index[callee] as i64;
            let pc = at as i64;
            match kind {
                Reloc::X86CallPCRel4 | Reloc::X86CallPLTRel4 | Reloc::X86PCRel4 => {
                    let rel = (target + addend - pc) as i32;
                    bytes[at..at + 4].copy_from_slice(&rel.to_le_bytes());
                }
                Reloc::Arm64Call => {
                    let rel = ((target + addend - pc) >> 2) as u32 & 0x03ff_ffff;
                    let old = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
                    bytes[at..at + 4].copy_from_slice(&(old | rel).to_le_bytes());
                }
                other => return Err(CompileError::Codegen { func: *callee, message: format!("unsupported relocation {other:?}") }),
            }
        }
    }
    Ok(LinkedCode { bytes, starts, stub_traps })
}

/// Guarded debug code, as linked: where each site stops and resumes, where
/// its vmctx is (exit guards), and its guard's hot bytes.
pub(crate) struct LinkedGuards {
    /// Code offset where site k's guard resumes, by module-wide site id.
    pub resume: Vec<u32>,
    /// (code offset of a fault guard's faulting store, site id), sorted.
    pub stops: Vec<(u32, u32)>,
    /// (exit site id, where the vmctx is at its branch), by id.
    pub vmctx_loc: Vec<(u32, crate::debug_info::Location)>,
    /// Code offset where site k's guard starts (its load), by site id.
    pub loads: Vec<u32>,
    /// The next point of site k's guard group after k, by site id
    /// (`u32::MAX`: none): where a stop at k single-steps to.
    pub next_point: Vec<u32>,
    /// Bytes of every guard's hot path.
    pub hot_bytes: u64,
}

/// Point every branch guard's `jne` at its byte of the trap tail, which
/// follows the code at offset `tail` (site k branches to `tail + k`), and
/// list where every guard stops, resumes, starts and has its vmctx
/// (the functions' guard lists are moved out: this is all that is kept).
pub(crate) fn link_guards(funcs: &mut [FunctionCode], linked: &mut LinkedCode, tail: u32) -> LinkedGuards {
    let sites = funcs.iter().map(|f| f.guards.len()).sum();
    let mut out = LinkedGuards {
        resume: Vec::with_capacity(sites),
        stops: Vec::with_capacity(sites),
        vmctx_loc: Vec::new(),
        loads: Vec::with_capacity(sites),
        next_point: vec![u32::MAX; sites],
        hot_bytes: 0,
    };
    for (f, start) in funcs.iter_mut().zip(&linked.starts) {
        let first = out.resume.len() as u32;
        chain_points(&f.guards, &f.sites, first, &mut out.next_point[first as usize..]);
        for g in std::mem::take(&mut f.guards) {
            let site = out.resume.len() as u32;
            if !g.is_present() {
                // Never runs: no stop, resume or load to record.
                out.resume.push(u32::MAX);
                out.loads.push(u32::MAX);
                continue;
            }
            match &g.branch {
                Some(branch) => crate::guard_code::link(&mut linked.bytes, branch, *start, tail + site, f.keep.map(|k| start + k)),
                // A point is reached by stepping, never by a fault.
                None if g.point => {}
                None => out.stops.push((start + g.stop, site)),
            }
            out.resume.push(start + g.resume);
            out.loads.push(start + g.load);
            out.hot_bytes += u64::from(g.hot_bytes());
        }
        out.vmctx_loc.extend(f.vmctx_locs.iter().map(|(k, loc)| (first + k, *loc)));
    }
    out.stops.sort_unstable();
    out
}

/// Link each fault guard and point of one function to the next point of
/// its group (`next`: the function's slice of `LinkedGuards::next_point`;
/// `first`: the module-wide id of its first site).
fn chain_points(guards: &[GuardCode], sites: &[crate::compile::SiteRecord], first: u32, next: &mut [u32]) {
    // The latest fault guard or point of each group so far, by its leader.
    let mut last = vec![usize::MAX; sites.len()];
    for (k, (g, site)) in guards.iter().zip(sites).enumerate() {
        if !g.is_present() || g.branch.is_some() {
            continue;
        }
        let prev = std::mem::replace(&mut last[site.group as usize], k);
        if g.point && prev != usize::MAX {
            next[prev] = first + k as u32;
        }
    }
}

/// What maps the linked code back to wasm.
pub(crate) struct CodeMaps {
    /// Trap sites sorted by code offset.
    pub traps: Vec<TrapSite>,
    /// (code start, code end, wasm offset) ranges sorted by code start.
    pub srclocs: Vec<(u32, u32, u32)>,
    /// Breakable points, by module-wide id.
    pub sites: Vec<Site>,
    /// First site id of each function.
    pub site_base: Vec<u32>,
    /// The sites' distinct operand stacks, which `Site::stack` indexes.
    pub stacks: Vec<Box<[crate::types::ValType]>>,
}

impl CodeMaps {
    /// The maps of `funcs` (the first being function `imported`) as linked
    /// in `linked`, moving each function's traps, code ranges and sites out
    /// of it (they are freed function by function as the maps fill);
    /// `guard_loads` gives guarded debug code's sites their code offsets.
    pub(crate) fn new(imported: u32, funcs: &mut [FunctionCode], linked: &LinkedCode, guard_loads: &[u32]) -> CodeMaps {
        let mut traps = Vec::with_capacity(linked.stub_traps.len() + funcs.iter().map(|f| f.traps.len()).sum::<usize>());
        traps.extend_from_slice(&linked.stub_traps);
        let mut srclocs = Vec::with_capacity(funcs.iter().map(|f| f.srclocs.len()).sum());
        let mut sites = Vec::with_capacity(funcs.iter().map(|f| f.sites.len()).sum());
        let mut site_base = Vec::with_capacity(funcs.len());
        let mut stack_ids: HashMap<Box<[crate::types::ValType]>, u32> = HashMap::new();
        let mut stacks = Vec::new();
        for (i, (f, start)) in funcs.iter_mut().zip(&linked.starts).enumerate() {
            let func = imported + i as u32;
            traps.extend(std::mem::take(&mut f.traps).into_iter().map(|(offset, code, wasm_offset)| TrapSite {
                code_offset: start + offset,
                kind: TrapKind::from_code(code),
                wasm_offset,
            }));
            site_base.push(sites.len() as u32);
            let f_srclocs = std::mem::take(&mut f.srclocs);
            // First code of each wasm offset, so each site's lookup is O(1),
            // not a scan of the function's code ranges (legacy sites only:
            // a guard starts at its load).
            let first_code: HashMap<u32, u32> =
                if guard_loads.is_empty() { f_srclocs.iter().rev().map(|(s, _, loc)| (*loc, *s)).collect() } else { HashMap::new() };
            srclocs.extend(f_srclocs.into_iter().map(|(s, e, loc)| (start + s, start + e, loc)));
            // The function's stack numbers, as module-wide ones.
            let local_stacks: Vec<u32> = std::mem::take(&mut f.stacks)
                .into_iter()
                .map(|types| {
                    let next = stack_ids.len() as u32;
                    *stack_ids.entry(types).or_insert_with_key(|types| {
                        stacks.push(types.clone());
                        next
                    })
                })
                .collect();
            for site in std::mem::take(&mut f.sites) {
                let code_offset = match guard_loads.get(sites.len()) {
                    Some(load) => *load,
                    None => first_code.get(&site.wasm_offset).map_or(*start, |s| start + s),
                };
                sites.push(Site {
                    id: sites.len() as u32,
                    func,
                    wasm_offset: site.wasm_offset,
                    code_offset,
                    kind: site.kind,
                    stack: local_stacks[site.stack as usize],
                });
            }
        }
        traps.sort_by_key(|t| t.code_offset);
        CodeMaps { traps, srclocs, sites, site_base, stacks }
    }
}
