//! Linking: the module's functions laid out in one piece with the calls
//! between them resolved, and the maps from that code back to wasm (trap
//! sites, source locations, breakable points).

use std::collections::HashMap;

use cranelift_codegen::binemit::Reloc;

use crate::compile::FunctionCode;
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
    let mut bytes = Vec::new();
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
                other => {
                    return Err(CompileError::Codegen { func: *callee, message: format!("unsupported relocation {other:?}") })
                }
            }
        }
    }
    Ok(LinkedCode { bytes, starts, stub_traps })
}

/// Guarded debug code, as linked: where each site stops and resumes, where
/// its table pointer is, and its guard's hot bytes.
pub(crate) struct LinkedGuards {
    /// Code offset where site k's guard resumes, by module-wide site id.
    pub resume: Vec<u32>,
    /// (code offset of a fault guard's faulting load, site id), sorted.
    pub stops: Vec<(u32, u32)>,
    /// (exit site id, where its table pointer is at its branch), by id.
    pub table_loc: Vec<(u32, crate::debug_info::Location)>,
    /// Bytes of every guard's hot path.
    pub hot_bytes: u64,
}

/// Point every branch guard's `jne` at its byte of the trap tail, which
/// follows the code at offset `tail` (site k branches to `tail + k`), and
/// list where every guard stops, resumes and has its table pointer.
pub(crate) fn link_guards(funcs: &[FunctionCode], linked: &mut LinkedCode, tail: u32) -> LinkedGuards {
    let mut out = LinkedGuards { resume: Vec::new(), stops: Vec::new(), table_loc: Vec::new(), hot_bytes: 0 };
    for (f, start) in funcs.iter().zip(&linked.starts) {
        let first = out.resume.len() as u32;
        for g in &f.guards {
            let site = out.resume.len() as u32;
            match &g.branch {
                Some(branch) => crate::guard_code::link(&mut linked.bytes, branch, *start, tail + site, f.keep.map(|k| start + k)),
                None => out.stops.push((start + g.stop, site)),
            }
            out.resume.push(start + g.resume);
            out.hot_bytes += u64::from(g.hot_bytes());
        }
        out.table_loc.extend(f.table_locs.iter().map(|(k, loc)| (first + k, *loc)));
    }
    out.stops.sort_unstable();
    out
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
}

impl CodeMaps {
    /// The maps of `funcs` (the first being function `imported`) as linked in `linked`.
    pub(crate) fn new(imported: u32, funcs: &[FunctionCode], linked: &LinkedCode) -> CodeMaps {
        let mut traps = linked.stub_traps.clone();
        let mut srclocs = Vec::new();
        let mut sites = Vec::new();
        let mut site_base = Vec::with_capacity(funcs.len());
        for (i, (f, start)) in funcs.iter().zip(&linked.starts).enumerate() {
            let func = imported + i as u32;
            traps.extend(f.traps.iter().map(|(offset, code, wasm_offset)| TrapSite {
                code_offset: start + offset,
                kind: TrapKind::from_code(*code),
                wasm_offset: *wasm_offset,
            }));
            srclocs.extend(f.srclocs.iter().map(|(s, e, loc)| (start + s, start + e, *loc)));
            site_base.push(sites.len() as u32);
            // First code of each wasm offset, so each site's lookup is O(1),
            // not a scan of the function's code ranges.
            let mut first_code = HashMap::new();
            for (s, _, loc) in &f.srclocs {
                first_code.entry(*loc).or_insert(*s);
            }
            for (k, site) in f.sites.iter().enumerate() {
                // A guard starts at its load; legacy sites at their first code.
                let code_offset = match f.guards.get(k) {
                    Some(g) => start + g.load,
                    None => first_code.get(&site.wasm_offset).map_or(*start, |s| start + s),
                };
                sites.push(Site {
                    id: sites.len() as u32,
                    func,
                    wasm_offset: site.wasm_offset,
                    code_offset,
                    kind: site.kind,
                    stack: site.stack.clone(),
                });
            }
        }
        traps.sort_by_key(|t| t.code_offset);
        CodeMaps { traps, srclocs, sites, site_base }
    }
}
