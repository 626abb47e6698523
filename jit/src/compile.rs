//! Translating and compiling the module's functions (in parallel), each to
//! its machine code and the tables that map that code back to wasm.

use cranelift_codegen::binemit::Reloc;
use cranelift_codegen::control::ControlPlane;
use cranelift_codegen::ir::{self, types, GlobalValueData, MemFlagsData, UserFuncName};
use cranelift_codegen::{Context, FinalizedRelocTarget};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use rayon::prelude::*;
use wasmparser::FunctionBody;

use std::collections::HashMap;
use std::hash::{Hash, Hasher};

use crate::debug_info::Recording;
use crate::env::{mem_flags, wasm_signature, ModuleEnv};
use crate::guard_code::GuardCode;
use crate::legacy::PatchableCalls;
use crate::translate::{FuncTranslator, LocalSite};
use crate::vmctx::{header, LIMITS_STACK_LIMIT};
use crate::CompileError;

/// One function's machine code before linking.
pub(crate) struct FunctionCode {
    /// The bytes.
    pub bytes: Vec<u8>,
    /// Calls to other functions of the module: (code offset, callee index, addend).
    pub calls: Vec<(u32, Reloc, u32, i64)>,
    /// Trap sites: (code offset, trap code, wasm offset).
    pub traps: Vec<(u32, ir::TrapCode, u32)>,
    /// Code ranges and the wasm offsets they came from.
    pub srclocs: Vec<(u32, u32, u32)>,
    /// Breakable points (debug code only).
    pub sites: Vec<SiteRecord>,
    /// The operand-stack types its sites name.
    pub stacks: Vec<Box<[crate::types::ValType]>>,
    /// Types of the wasm locals, parameters first.
    pub locals: Vec<crate::types::ValType>,
    /// Where legacy debug code's sites are.
    pub patches: PatchableCalls,
    /// Guarded debug code: each site's guard, in site order.
    pub guards: Vec<GuardCode>,
    /// Guarded debug code: where the vmctx is at each exit guard's branch,
    /// by the site's index in the function.
    pub vmctx_locs: Vec<(u32, crate::debug_info::Location)>,
    /// Guarded debug code: offset of the exit guard's cold block (where an
    /// inverted exit guard falls through).
    pub keep: Option<u32>,
    /// A hash of `bytes`, to check that a recompile for `debug_info`
    /// produced this very code.
    pub hash: u64,
}

/// A breakable point as the module's tables need it (what only the
/// function's compile needs of it, its guard's displacement and pointer,
/// is dropped: big modules keep a million of these until linking).
pub(crate) struct SiteRecord {
    /// Byte offset in the module binary.
    pub wasm_offset: u32,
    /// Entry, instruction or exit.
    pub kind: crate::translate::SiteKind,
    /// Its operand-stack types: an index in the function's `stacks`.
    pub stack: u32,
    /// The site (index in the function) whose table entry arms this one's
    /// guard: the first of its guard group.
    pub group: u32,
}

/// The function's sites as records, with their operand-stack types
/// interned: most sites share a few stacks (the empty one above all), and
/// a heap allocation per site would cost a large module tens of MB.
fn site_records(sites: Vec<LocalSite>) -> (Vec<SiteRecord>, Vec<Box<[crate::types::ValType]>>) {
    let mut ids: HashMap<Vec<crate::types::ValType>, u32> = HashMap::new();
    let mut stacks = Vec::new();
    // Collected into a fresh vector: an in-place collect would keep the
    // larger `LocalSite` allocation.
    let mut records = Vec::with_capacity(sites.len());
    // Most sites (every statement's) have the empty stack: no hashing for it.
    let mut empty = None;
    for site in sites {
        let next = stacks.len() as u32;
        let stack = match site.stack.is_empty() {
            true => *empty.get_or_insert_with(|| {
                stacks.push(Box::default());
                next
            }),
            false => *ids.entry(site.stack).or_insert_with_key(|types| {
                stacks.push(types.clone().into_boxed_slice());
                next
            }),
        };
        records.push(SiteRecord { wasm_offset: site.wasm_offset, kind: site.kind, stack, group: site.group });
    }
    (records, stacks)
}

/// What a recompile for `debug_info` gives besides the code.
pub(crate) struct Described {
    /// The IR as compiled (after Cranelift's own passes).
    pub ir: ir::Function,
    /// What each alias of the IR as built resolved to: compiling resolves
    /// and deletes them, but recorded definitions may name them.
    pub aliases: HashMap<ir::Value, ir::Value>,
    /// What the translator recorded.
    pub recording: Recording,
    /// Where each labelled value lives, by code range.
    pub labels: cranelift_codegen::ValueLabelsRanges,
    /// The prologue's unwind records.
    pub unwind: Vec<(u32, cranelift_codegen::isa::unwind::UnwindInst)>,
    /// Wasm offset of each call -> code offset of its return address.
    pub call_returns: HashMap<u32, u32>,
    /// Where each machine block starts.
    pub block_starts: Vec<u32>,
}

/// Label every value for a description, and return what each alias
/// resolves to. Cranelift's first passes (which may turn block parameters
/// into aliases) run first, so the labels are on the values that survive
/// and the aliases are all seen before compiling deletes them; compiling
/// runs those passes again, finding nothing more to do, and so produces the
/// same code as an ordinary compile (which the description checks).
fn label_all_values(
    ctx: &mut Context,
    isa: &dyn cranelift_codegen::isa::TargetIsa,
    func: u32,
) -> Result<HashMap<ir::Value, ir::Value>, CompileError> {
    let codegen = |e: cranelift_codegen::CodegenError| CompileError::Codegen { func, message: format!("{e:?}") };
    ctx.compute_cfg();
    ctx.compute_domtree();
    ctx.eliminate_unreachable_code(isa).map_err(codegen)?;
    ctx.remove_constant_phis(isa).map_err(codegen)?;
    let dfg = &ctx.func.dfg;
    let aliases = dfg.values().map(|v| (v, dfg.resolve_aliases(v))).filter(|(v, r)| v != r).collect();
    let real: Vec<ir::Value> = dfg.values().filter(|v| dfg.value_is_real(*v)).collect();
    label_values(&mut ctx.func, real);
    Ok(aliases)
}

/// What each site's guard should look like: its entry's displacement and,
/// for the exit guard, its tag; for a fault guard, its faulting store, the
/// trap record at the site's wasm offset (sites sharing an offset, as the
/// entry and the first statement may, take theirs in code order), decoded
/// from the start of the code of that offset (where the guard is the first
/// thing the operator emitted).
fn expected_guards(
    tags: &[u32],
    sites: &[LocalSite],
    present: &[bool],
    faults: &[(u32, ir::TrapCode, u32)],
    srclocs: &[(u32, u32, u32)],
) -> Result<Vec<crate::guard_code::Expected>, String> {
    // (wasm offset, code offset) of each fault guard's store, and whether a site took it.
    let mut loads: Vec<(u32, u32, bool)> = faults.iter().map(|t| (t.2, t.0, false)).collect();
    loads.sort_unstable();
    let expected = tags
        .iter()
        .zip(sites)
        .enumerate()
        .map(|(k, (&tag, site))| {
            let leads = site.group == k as u32;
            let present = present[k];
            let exit = site.kind == crate::translate::SiteKind::Exit;
            if exit || !present || !leads {
                let point = !exit && present;
                if point && tag == u32::MAX {
                    return Err(format!("no tag for the point at wasm offset {:#x}", site.wasm_offset));
                }
                return Ok(crate::guard_code::Expected { tag, disp: site.disp, fault: None, leads, point, present });
            }
            let first = loads.partition_point(|l| l.0 < site.wasm_offset);
            let load = loads[first..].iter_mut().take_while(|l| l.0 == site.wasm_offset).find(|l| !l.2).map(|l| {
                l.2 = true;
                l.1
            });
            let load = load.ok_or_else(|| format!("no guard load for the site at wasm offset {:#x}", site.wasm_offset))?;
            let i = srclocs.partition_point(|(start, _, _)| *start <= load);
            let from = i.checked_sub(1).map(|i| srclocs[i]).filter(|r| load < r.1).map_or(load, |r| r.0);
            Ok(crate::guard_code::Expected { tag: from, disp: site.disp, fault: Some(load), leads, point: false, present })
        })
        .collect::<Result<Vec<_>, String>>()?;
    match loads.iter().find(|l| !l.2) {
        Some((wasm, code, _)) => Err(format!("a guard load at {code:#x} (wasm offset {wasm:#x}) belongs to no site")),
        None => Ok(expected),
    }
}

/// Translate and compile one defined function; with `describe`, also
/// record what `debug_info` needs (every value labelled).
pub(crate) fn compile_function(
    env: &ModuleEnv<'_>,
    ctx: &mut Context,
    fctx: &mut FunctionBuilderContext,
    func_index: u32,
    body: &FunctionBody<'_>,
    describe: bool,
) -> Result<(FunctionCode, Option<Described>), CompileError> {
    ctx.clear();
    declare_function(env, &mut ctx.func, func_index);
    let (sites, local_types, recording, vmctx) = {
        let mut tx = FuncTranslator::new(env, FunctionBuilder::new(&mut ctx.func, fctx), func_index, describe);
        tx.declare_locals(body)?;
        let ty = env.info.func_type(func_index);
        tx.open_function_frame(ty.results.clone());
        if env.config.debug {
            let reader = body.get_operators_reader()?;
            tx.offset = reader.original_position() as usize;
            // The entry guard maps to the first operator's offset.
            tx.b.set_srcloc(ir::SourceLoc::new(tx.offset as u32));
            tx.guard(crate::translate::SiteKind::Entry);
        }
        tx.translate_body(body)?;
        let sites = std::mem::take(&mut tx.sites);
        let local_types = tx.locals.iter().map(|(_, t)| *t).collect::<Vec<_>>();
        let recording = tx.record.take();
        let vmctx = tx.vmctx;
        tx.b.finalize(env.isa.frontend_config());
        (sites, local_types, recording, vmctx)
    };
    // With an exit guard the vmctx is labelled, so Cranelift reports where
    // it is at the guard's branch (how its stop finds its instance).
    let exits = env.table.is_some() && sites.iter().any(|s| s.kind == crate::translate::SiteKind::Exit);
    let vmctx = exits.then_some(vmctx);
    label_values(&mut ctx.func, vmctx);
    let aliases = if recording.is_some() { label_all_values(ctx, env.isa, func_index)? } else { HashMap::new() };

    let names = ctx.func.params.user_named_funcs().clone();
    ctx.compile(env.isa, &mut ControlPlane::default())
        .map_err(|e| CompileError::Codegen { func: func_index, message: format!("{:?}", e.inner) })?;
    // At `opt_level` speed a constant branch may make a site's block
    // unreachable, and Cranelift removes it with the site's guard.
    let present: Vec<bool> = sites.iter().map(|s| s.load.is_none_or(|inst| ctx.func.layout.inst_block(inst).is_some())).collect();
    let code = ctx.compiled_code().expect("just compiled");
    let buffer = &code.buffer;
    let mut calls = Vec::new();
    for reloc in buffer.relocs() {
        match &reloc.target {
            FinalizedRelocTarget::ExternalName(ir::ExternalName::User(name)) => {
                calls.push((reloc.offset, reloc.kind, names[*name].index, reloc.addend));
            }
            other => return Err(CompileError::Codegen { func: func_index, message: format!("unexpected relocation to {other:?}") }),
        }
    }
    let srclocs: Vec<(u32, u32, u32)> =
        buffer.get_srclocs_sorted().iter().filter(|l| !l.loc.is_default()).map(|l| (l.start, l.end, l.loc.bits())).collect();
    let traps: Vec<(u32, ir::TrapCode, u32)> =
        buffer.traps().iter().map(|t| (t.offset, t.code, wasm_offset_at(&srclocs, t.offset))).collect();
    let bytes = buffer.data().to_vec();
    let mut tags = vec![u32::MAX; sites.len()];
    let mut keep = None;
    for t in buffer.debug_tags() {
        match t.tags {
            [ir::DebugTag::User(crate::translate::KEEP_TAG)] => keep = Some(t.offset),
            [ir::DebugTag::User(site)] => {
                if let Some(slot) = tags.get_mut(*site as usize) {
                    *slot = t.offset;
                }
            }
            _ => {}
        }
    }
    let guarded = env.config.debug && !env.config.legacy;
    let stop = crate::TrapKind::DebugStop.code();
    // A fault guard's store is found by its trap record, not a tag; the
    // runtime finds its stop from `DebugCode::stops`, so it is no trap site.
    let (faults, traps): (Vec<_>, Vec<_>) = traps.into_iter().partition(|t| t.1 == stop);
    let guards = if guarded {
        let expected = expected_guards(&tags, &sites, &present, &faults, &srclocs)
            .map_err(|message| CompileError::Codegen { func: func_index, message })?;
        crate::guard_code::locate(&bytes, &expected, keep).map_err(|message| CompileError::Codegen { func: func_index, message })?
    } else {
        vec![]
    };
    // Where the vmctx is at each exit guard's branch (a fault guard's stop
    // finds it from the faulting address instead): Cranelift's value
    // locations first, else where the bytes say the entry load's base is.
    let vmctx_locs = guards
        .iter()
        .enumerate()
        .filter(|(_, g)| g.branch.is_some())
        .map(|(k, guard)| {
            let labels = &code.value_labels_ranges;
            let at = vmctx.and_then(|v| crate::debug_info::location_at(labels, v, guard.stop));
            let loc = at.or(guard.branch.and_then(|b| b.vmctx)).ok_or_else(|| CompileError::Codegen {
                func: func_index,
                message: format!("no location of the vmctx at the guard at {:#x}", guard.stop),
            })?;
            Ok((k as u32, loc))
        })
        .collect::<Result<Vec<_>, CompileError>>()?;
    // What a description needs of the code, taken while `code` is borrowed;
    // the IR is taken after.
    let described = recording.map(|recording| {
        let call_returns = buffer.call_sites().map(|c| (wasm_offset_at(&srclocs, c.ret_addr - 1), c.ret_addr)).collect();
        (recording, code.value_labels_ranges.clone(), buffer.unwind_info.to_vec(), call_returns, code.bb_starts.clone(), aliases)
    });
    let hash = {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        bytes.hash(&mut h);
        h.finish()
    };
    let patches = PatchableCalls::of(buffer);
    // The IR as compiled: Cranelift's own passes replace block parameters
    // that receive one constant (at every opt level).
    let described = described.map(|(recording, labels, unwind, call_returns, block_starts, aliases)| Described {
        ir: ctx.func.clone(),
        aliases,
        recording,
        labels,
        unwind,
        call_returns,
        block_starts,
    });
    let (sites, stacks) = site_records(sites);
    let code = FunctionCode { bytes, calls, traps, srclocs, sites, stacks, locals: local_types, patches, guards, vmctx_locs, keep, hash };
    Ok((code.shrunk(), described))
}

impl FunctionCode {
    /// Without the spare capacity its vectors grew: every function's code
    /// and tables stay alive until the module is linked, so slack summed
    /// over a large module's functions is a large part of its compile's
    /// peak memory (debug code has a site, a guard and their records per
    /// statement).
    fn shrunk(mut self) -> FunctionCode {
        self.bytes.shrink_to_fit();
        self.calls.shrink_to_fit();
        self.traps.shrink_to_fit();
        self.srclocs.shrink_to_fit();
        self.guards.shrink_to_fit();
        self.vmctx_locs.shrink_to_fit();
        self
    }

    /// Drop the code bytes once they are linked (the linked copy is the
    /// one that counts from then on).
    pub(crate) fn release_bytes(&mut self) {
        self.bytes = Vec::new();
    }
}

/// The function's signature, name and stack limit.
fn declare_function(env: &ModuleEnv<'_>, func: &mut ir::Function, func_index: u32) {
    func.signature = wasm_signature(env.isa, env.info.func_type(func_index));
    func.name = UserFuncName::user(0, func_index);
    // Debug code keeps the vmctx alive to every return (Cranelift does so
    // once debug info is collected), and `debug_info`'s recompile labels
    // values: both compiles must make the same choices, so both collect.
    if env.config.debug {
        func.dfg.collect_debug_info();
    }
    let vmctx_gv = func.create_global_value(GlobalValueData::VMContext);
    let flags = mem_flags(func, MemFlagsData::trusted().with_readonly());
    let trusted = mem_flags(func, MemFlagsData::trusted());
    let limits =
        func.create_global_value(GlobalValueData::Load { base: vmctx_gv, offset: header::LIMITS.into(), global_type: types::I64, flags });
    let stack_limit = func.create_global_value(GlobalValueData::Load {
        base: limits,
        offset: LIMITS_STACK_LIMIT.into(),
        global_type: types::I64,
        flags: trusted,
    });
    func.stack_limit = Some(stack_limit);
}

/// Label each of `values` with its own number, so Cranelift reports where
/// it lives (labels change no code, only what is reported).
fn label_values(func: &mut ir::Function, values: impl IntoIterator<Item = ir::Value>) {
    let Some(labels) = func.dfg.values_labels.as_mut() else { return };
    for v in values {
        let start = ir::ValueLabelStart { from: ir::RelSourceLoc::default(), label: ir::ValueLabel::from_u32(v.as_u32()) };
        labels.insert(v, ir::ValueLabelAssignments::Starts(vec![start]));
    }
}

/// The wasm offset of the instruction covering `code_offset` (0 if none).
pub(crate) fn wasm_offset_at(srclocs: &[(u32, u32, u32)], code_offset: u32) -> u32 {
    let i = srclocs.partition_point(|(start, _, _)| *start <= code_offset);
    match i.checked_sub(1).map(|i| srclocs[i]) {
        Some((_, end, loc)) if code_offset < end => loc,
        _ => 0,
    }
}

/// Wasm body bytes from which a function's compile leaves Cranelift's
/// context to be dropped rather than reused. The context keeps regalloc2's
/// scratch sets, and clearing a hash set costs its capacity, not its length
/// (hashbrown rewrites every control byte): after one large function, every
/// later bundle allocation paid for that function's largest conflict set.
/// On @swc/wasm that was 22% of a debug compile's instructions (a memset in
/// `try_to_allocate_bundle_to_reg`); a fresh context after every function
/// costs more than it saves on modules of small functions (sql.js: +3%).
/// Measured in `docs/PERFORMANCE.md`, "A fresh register allocator context".
const FRESH_CONTEXT_AFTER: u64 = 4096;

/// Compile every function defined in `wasm`, on all cores if configured.
pub(crate) fn compile_all(env: &ModuleEnv<'_>, wasm: &[u8]) -> Result<Vec<FunctionCode>, CompileError> {
    let bodies = env
        .info
        .bodies
        .iter()
        .map(|range| FunctionBody::new(wasmparser::BinaryReader::new(&wasm[range.clone()], range.start as u64)))
        .collect::<Vec<_>>();
    let first = env.info.imported_funcs;
    let one = |state: &mut (Context, FunctionBuilderContext), (i, body): (usize, &FunctionBody<'_>)| {
        let func = first + i as u32;
        // A Cranelift panic (a bug in our IR) must reach the embedder as an
        // error, not abort its thread; the context is cleared before reuse.
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            compile_function(env, &mut state.0, &mut state.1, func, body, false).map(|(code, _)| code)
        }));
        if body.range().end - body.range().start >= FRESH_CONTEXT_AFTER {
            state.0 = Context::new();
        }
        result.unwrap_or_else(|panic| {
            *state = (Context::new(), FunctionBuilderContext::new());
            let message = panic.downcast_ref::<String>().cloned().or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()));
            Err(CompileError::Codegen { func, message: format!("compiler panicked: {}", message.unwrap_or_default()) })
        })
    };
    let init = || (Context::new(), FunctionBuilderContext::new());
    if env.config.parallel {
        bodies.par_iter().enumerate().map_init(init, one).collect()
    } else {
        let mut state = init();
        bodies.iter().enumerate().map(|item| one(&mut state, item)).collect()
    }
}
