//! The legacy "clone and patch" debug code, kept for comparison only: the
//! design onecopy replaces (Firefox before bug 1756951, Wasmtime 48).
//!
//! Every breakable point is a patchable call to the module's break stub.
//! The module's shared code has all of them NOPed out; an instance being
//! debugged gets its own clone of the whole module's code in the arena,
//! with the calls of its breakpoint sites patched back in. Code is
//! position-independent (direct calls are PC-relative; everything else goes
//! through the vmctx), so a clone is a byte copy plus patches.
//!
//! The rest of the crate reaches legacy code through three calls: the
//! guard's `legacy_site_call` for a site, `link` as the compile step that
//! adds the break stub and records where the sites' calls are, and
//! `PatchableCalls::of`, what a compiled function keeps of its calls.

use std::collections::HashMap;

use cranelift_codegen::ir::{self, types, AbiParam, ArgumentPurpose, InstBuilder};
use cranelift_codegen::{Final, MachBufferFinalized};

use crate::compile::{wasm_offset_at, FunctionCode};
use crate::env::ModuleEnv;
use crate::link::LinkedCode;
use crate::stubs::StubCode;
use crate::translate::FuncTranslator;
use crate::trap::TrapKind;
use crate::vmctx::{builtin, header};
use crate::{CompileConfig, CompileError};

/// The break stub's index in calls between the module's functions.
pub(crate) const BREAK_STUB: u32 = u32::MAX;

/// `(vmctx, caller vmctx, func, site)`, no results (patchable calls return nothing).
fn stub_signature(env: &ModuleEnv<'_>) -> ir::Signature {
    let mut sig = ir::Signature::new(env.isa.default_call_conv());
    sig.params.push(AbiParam::special(types::I64, ArgumentPurpose::VMContext));
    sig.params.push(AbiParam::new(types::I64));
    sig.params.push(AbiParam::new(types::I32));
    sig.params.push(AbiParam::new(types::I32));
    sig
}

impl FuncTranslator<'_, '_> {
    /// A breakable point as a patchable call to the break stub.
    pub(crate) fn legacy_site_call(&mut self, site: i64) {
        let sig = self.b.import_signature(stub_signature(self.env));
        let callee = ir::ExtFuncData { patchable: true, ..self.colocated_callee(BREAK_STUB, sig) };
        let callee = self.b.import_function(callee);
        let func = self.b.ins().iconst(types::I32, self.func_index as i64);
        let site = self.b.ins().iconst(types::I32, site);
        self.b.ins().call(callee, &[self.vmctx, self.vmctx, func, site]);
    }
}

/// Whether `config` asks for legacy debug code.
pub(crate) fn enabled(config: &CompileConfig) -> bool {
    config.debug && config.legacy
}

/// The link step of legacy debug code: the functions and then the break
/// stub in one piece, with every site's call NOPed out (the shared code),
/// and the [`LegacyCode`] that clones are made from.
pub(crate) fn link(env: &ModuleEnv<'_>, funcs: &[FunctionCode]) -> Result<(LinkedCode, LegacyCode), CompileError> {
    let stub = break_stub(env)?;
    let mut linked = crate::link::link(funcs, env.info.imported_funcs, Some((BREAK_STUB, &stub)))?;
    let legacy = legacy_code(funcs, &linked.starts, std::mem::take(&mut linked.bytes));
    linked.bytes = legacy.patched(|_| false);
    Ok((linked, legacy))
}

/// One compiled function's patchable calls, and the target's NOPs.
pub(crate) struct PatchableCalls {
    /// (code offset, length) of each call.
    calls: Vec<(u32, u32)>,
    /// The target's NOP encodings, shortest first.
    nops: Vec<Vec<u8>>,
}

impl PatchableCalls {
    /// What `buffer`, a function's machine code, has of them (no calls
    /// unless it is legacy debug code).
    pub(crate) fn of(buffer: &MachBufferFinalized<Final>) -> PatchableCalls {
        let calls = buffer.patchable_call_sites().map(|p| (p.ret_addr - p.len, p.len)).collect();
        PatchableCalls { calls, nops: buffer.nop_units.clone() }
    }
}

/// Where the sites' patchable calls are in the linked code.
fn legacy_code(funcs: &[FunctionCode], starts: &[u32], original: Vec<u8>) -> LegacyCode {
    let mut sites = Vec::new();
    let mut base = 0u32;
    for (f, start) in funcs.iter().zip(starts) {
        let by_offset: HashMap<u32, u32> = f.sites.iter().enumerate().rev().map(|(i, s)| (s.wasm_offset, i as u32)).collect();
        for (offset, len) in &f.patches.calls {
            let wasm_offset = wasm_offset_at(&f.srclocs, *offset);
            if let Some(local) = by_offset.get(&wasm_offset) {
                sites.push(PatchSite { site: base + local, offset: start + offset, len: *len });
            }
        }
        base += f.sites.len() as u32;
    }
    let nops = funcs.first().map(|f| f.patches.nops.clone()).unwrap_or_default();
    LegacyCode { original, sites, nops }
}

/// The break stub: calls the debug handler (with no frame view: legacy
/// code keeps no spill area) and traps if it asks to abort.
fn break_stub(env: &ModuleEnv<'_>) -> Result<StubCode, CompileError> {
    crate::stubs::build(env.isa, stub_signature(env), 2, |b, params| {
        let [vmctx, _, func, site] = params.try_into().expect("four params");
        let flags = ir::MemFlagsData::trusted().with_readonly();
        let builtins = b.ins().load(types::I64, flags, vmctx, header::BUILTINS);
        let callee = b.ins().load(types::I64, flags, builtins, 8 * builtin::DEBUG_BREAK as i32);
        let mut sig = ir::Signature::new(env.isa.default_call_conv());
        sig.params.extend([types::I64, types::I32, types::I32, types::I64, types::I64].map(AbiParam::new));
        sig.returns.push(AbiParam::new(types::I32));
        let sig = b.import_signature(sig);
        let null = b.ins().iconst(types::I64, 0);
        // The stopped function's frame is the caller's: its frame pointer is
        // the one this frame saved.
        let fp = b.ins().get_frame_pointer(types::I64);
        let caller_fp = b.ins().load(types::I64, ir::MemFlagsData::trusted(), fp, 0);
        let call = b.ins().call_indirect(sig, callee, &[vmctx, func, site, null, caller_fp]);
        let status = b.inst_results(call)[0];
        b.ins().trapnz(status, TrapKind::DebugAbort.code());
        b.ins().return_(&[]);
    })
}

/// A patchable call site in a module's linked code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PatchSite {
    /// Module-wide site id.
    pub site: u32,
    /// Offset of the call in the module's code.
    pub offset: u32,
    /// Length of the call instruction.
    pub len: u32,
}

/// What clones are made from: the linked code with every site's call in
/// place, and where the calls are.
#[derive(Debug, Clone)]
pub struct LegacyCode {
    /// Linked code with every site's call present.
    pub original: Vec<u8>,
    /// The patchable calls, by site.
    pub sites: Vec<PatchSite>,
    /// The target's NOP encodings, shortest first.
    pub nops: Vec<Vec<u8>>,
}

impl LegacyCode {
    /// The code with the calls of the sites `keep` accepts in place and
    /// every other site NOPed out.
    pub fn patched(&self, keep: impl Fn(u32) -> bool) -> Vec<u8> {
        let mut bytes = self.original.clone();
        for s in self.sites.iter().filter(|s| !keep(s.site)) {
            let (start, end) = (s.offset as usize, (s.offset + s.len) as usize);
            fill_nops(&mut bytes[start..end], &self.nops);
        }
        bytes
    }
}

/// Fill `region` with the longest NOPs that fit.
fn fill_nops(mut region: &mut [u8], nops: &[Vec<u8>]) {
    while !region.is_empty() {
        let nop = nops.iter().rev().find(|n| !n.is_empty() && n.len() <= region.len()).expect("a one-byte NOP");
        let (head, rest) = region.split_at_mut(nop.len());
        head.copy_from_slice(nop);
        region = rest;
    }
}
