//! Translating and compiling the module's functions (in parallel), each to
//! its machine code and the tables that map that code back to wasm.

use cranelift_codegen::binemit::Reloc;
use cranelift_codegen::control::ControlPlane;
use cranelift_codegen::ir::{self, types, GlobalValueData, InstBuilder, MemFlagsData, UserFuncName};
use cranelift_codegen::{Context, FinalizedRelocTarget};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use rayon::prelude::*;
use wasmparser::FunctionBody;

use crate::env::{mem_flags, wasm_signature, ModuleEnv};
use crate::legacy::PatchableCalls;
use crate::translate::{ir_type, FuncTranslator, LocalSite};
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
    pub sites: Vec<LocalSite>,
    /// Types of the wasm locals, parameters first.
    pub locals: Vec<crate::types::ValType>,
    /// Where legacy debug code's sites are.
    pub patches: PatchableCalls,
}

/// Translate and compile one defined function.
pub(crate) fn compile_function(
    env: &ModuleEnv<'_>,
    ctx: &mut Context,
    fctx: &mut FunctionBuilderContext,
    func_index: u32,
    body: &FunctionBody<'_>,
) -> Result<FunctionCode, CompileError> {
    let ty = env.info.func_type(func_index);
    ctx.clear();
    ctx.func.signature = wasm_signature(env.isa, ty);
    ctx.func.name = UserFuncName::user(0, func_index);
    let vmctx_gv = ctx.func.create_global_value(GlobalValueData::VMContext);
    let flags = mem_flags(&mut ctx.func, MemFlagsData::trusted().with_readonly());
    let trusted = mem_flags(&mut ctx.func, MemFlagsData::trusted());
    let limits = ctx.func.create_global_value(GlobalValueData::Load {
        base: vmctx_gv,
        offset: header::LIMITS.into(),
        global_type: types::I64,
        flags,
    });
    let stack_limit = ctx.func.create_global_value(GlobalValueData::Load {
        base: limits,
        offset: LIMITS_STACK_LIMIT.into(),
        global_type: types::I64,
        flags: trusted,
    });
    ctx.func.stack_limit = Some(stack_limit);

    let (sites, local_types) = {
        let mut b = FunctionBuilder::new(&mut ctx.func, fctx);
        let entry = b.create_block();
        b.append_block_params_for_function_params(entry);
        b.switch_to_block(entry);
        b.seal_block(entry);
        let params = b.block_params(entry).to_vec();
        let mut locals = Vec::new();
        for (value, ty) in params[2..].iter().zip(&ty.params) {
            let var = b.declare_var(ir_type(*ty));
            b.def_var(var, *value);
            locals.push((var, *ty));
        }
        let mut reader = body.get_locals_reader()?;
        for _ in 0..reader.get_count() {
            let (count, wty) = reader.read()?;
            let vty = crate::types::ValType::from_wasmparser(wty)
                .map_err(|message| CompileError::Unsupported { offset: reader.original_position() as usize, message })?;
            for _ in 0..count {
                let var = b.declare_var(ir_type(vty));
                let zero = zero_value(&mut b, ir_type(vty));
                b.def_var(var, zero);
                locals.push((var, vty));
            }
        }
        let mut tx = FuncTranslator {
            b,
            env,
            func_index,
            vmctx: params[0],
            stack: Vec::new(),
            stack_types: Vec::new(),
            control: Vec::new(),
            locals,
            reachable: true,
            unreachable_depth: 0,
            offset: body.range().start as usize,
            sites: Vec::new(),
            frame_view: None,
            locals_in_frame: false,
            debug_table: None,
            break_block: None,
            break_conts: Vec::new(),
        };
        tx.locals_in_frame = env.config.debug && tx.locals.len() > crate::translate::MAX_SSA_DEBUG_LOCALS;
        tx.open_function_frame(ty.results.clone());
        if tx.locals_in_frame {
            let n = tx.locals.len() as u32;
            tx.frame_slot(n);
            for i in 0..n {
                let v = tx.b.use_var(tx.locals[i as usize].0);
                tx.write_local(i, v);
            }
        }
        if env.config.debug {
            let var = tx.b.declare_var(types::I64);
            tx.debug_table = Some(var);
            tx.reload_debug_table();
            tx.offset = reader.original_position() as usize;
            tx.guard(crate::translate::SiteKind::Entry);
        }
        tx.translate_body(body)?;
        tx.finish_break_block();
        let sites = std::mem::take(&mut tx.sites);
        let local_types = tx.locals.iter().map(|(_, t)| *t).collect::<Vec<_>>();
        tx.b.finalize(env.isa.frontend_config());
        (sites, local_types)
    };

    let names = ctx.func.params.user_named_funcs().clone();
    let code = ctx
        .compile(env.isa, &mut ControlPlane::default())
        .map_err(|e| CompileError::Codegen { func: func_index, message: format!("{:?}", e.inner) })?;
    let buffer = &code.buffer;
    let mut calls = Vec::new();
    for reloc in buffer.relocs() {
        match &reloc.target {
            FinalizedRelocTarget::ExternalName(ir::ExternalName::User(name)) => {
                calls.push((reloc.offset, reloc.kind, names[*name].index, reloc.addend));
            }
            other => {
                return Err(CompileError::Codegen {
                    func: func_index,
                    message: format!("unexpected relocation to {other:?}"),
                })
            }
        }
    }
    let srclocs: Vec<(u32, u32, u32)> = buffer
        .get_srclocs_sorted()
        .iter()
        .filter(|l| !l.loc.is_default())
        .map(|l| (l.start, l.end, l.loc.bits()))
        .collect();
    let traps = buffer
        .traps()
        .iter()
        .map(|t| (t.offset, t.code, wasm_offset_at(&srclocs, t.offset)))
        .collect();
    Ok(FunctionCode {
        bytes: buffer.data().to_vec(),
        calls,
        traps,
        srclocs,
        sites,
        locals: local_types,
        patches: PatchableCalls::of(buffer),
    })
}

/// The wasm offset of the instruction covering `code_offset` (0 if none).
pub(crate) fn wasm_offset_at(srclocs: &[(u32, u32, u32)], code_offset: u32) -> u32 {
    let i = srclocs.partition_point(|(start, _, _)| *start <= code_offset);
    match i.checked_sub(1).map(|i| srclocs[i]) {
        Some((_, end, loc)) if code_offset < end => loc,
        _ => 0,
    }
}

fn zero_value(b: &mut FunctionBuilder<'_>, ty: ir::Type) -> ir::Value {
    match ty {
        types::F32 => b.ins().f32const(0.0),
        types::F64 => b.ins().f64const(0.0),
        _ => b.ins().iconst(ty, 0),
    }
}

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
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            compile_function(env, &mut state.0, &mut state.1, func, body)
        }))
        .unwrap_or_else(|panic| {
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
