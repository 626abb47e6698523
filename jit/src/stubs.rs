//! Per-signature glue between the host and compiled wasm, compiled once per
//! engine and signature:
//! - the *trampoline* lets Rust call any wasm function of a signature with
//!   arguments and results in an array of 8-byte cells;
//! - the *host adapter* gives a Rust host function the wasm calling
//!   convention, so wasm calls it like any other function.

use cranelift_codegen::control::ControlPlane;
use cranelift_codegen::ir::{self, types, AbiParam, InstBuilder, MemFlagsData, StackSlotData, StackSlotKind, UserFuncName};
use cranelift_codegen::isa::TargetIsa;
use cranelift_codegen::Context;
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};

use crate::env::wasm_signature;
use crate::translate::ir_type;
use crate::trap::TrapKind;
use crate::types::FuncType;
use crate::CompileError;

/// Machine code of one stub and its trap sites (code offset, kind).
#[derive(Debug, Clone)]
pub struct StubCode {
    /// The bytes.
    pub bytes: Vec<u8>,
    /// Trap sites.
    pub traps: Vec<(u32, TrapKind)>,
}

fn c_signature(isa: &dyn TargetIsa, params: usize, result: Option<ir::Type>) -> ir::Signature {
    let mut sig = ir::Signature::new(isa.default_call_conv());
    sig.params.extend((0..params).map(|_| AbiParam::new(types::I64)));
    sig.returns.extend(result.map(AbiParam::new));
    sig
}

fn finish(isa: &dyn TargetIsa, mut ctx: Context) -> Result<StubCode, CompileError> {
    let code = ctx
        .compile(isa, &mut ControlPlane::default())
        .map_err(|e| CompileError::Codegen { func: u32::MAX, message: format!("stub: {:?}", e.inner) })?;
    let traps = code.buffer.traps().iter().map(|t| (t.offset, TrapKind::from_code(t.code))).collect();
    Ok(StubCode { bytes: code.buffer.data().to_vec(), traps })
}

/// `extern "C" fn(callee_vmctx, caller_vmctx, code, cells: *mut u64)`: reads
/// the arguments from `cells`, calls `code`, writes the results to `cells`.
pub fn trampoline(isa: &dyn TargetIsa, ty: &FuncType) -> Result<StubCode, CompileError> {
    build(isa, c_signature(isa, 4, None), 0, |b, params| {
        let [callee, caller, code, cells] = params.try_into().expect("four params");
        let flags = MemFlagsData::trusted();
        let mut args = vec![callee, caller];
        for (i, t) in ty.params.iter().enumerate() {
            args.push(b.ins().load(ir_type(*t), flags, cells, 8 * i as i32));
        }
        let sig = b.import_signature(wasm_signature(isa, ty));
        let call = b.ins().call_indirect(sig, code, &args);
        let results = b.inst_results(call).to_vec();
        for (i, v) in results.into_iter().enumerate() {
            b.ins().store(flags, v, cells, 8 * i as i32);
        }
        b.ins().return_(&[]);
    })
}

/// A function with the wasm signature of `ty` whose callee vmctx is a host
/// function record: it spills the arguments to cells, calls the record's
/// first field `extern "C" fn(record, caller_vmctx, cells) -> u32`, traps
/// with [`TrapKind::Host`] on a non-zero status, and returns the results the
/// callback left in the cells.
pub fn host_adapter(isa: &dyn TargetIsa, ty: &FuncType) -> Result<StubCode, CompileError> {
    build(isa, wasm_signature(isa, ty), 1, |b, params| {
        let cells = ty.params.len().max(ty.results.len()).max(1) as u32;
        let slot = b.create_sized_stack_slot(StackSlotData::new(StackSlotKind::ExplicitSlot, 8 * cells, 3));
        for (i, v) in params[2..].iter().enumerate() {
            b.ins().stack_store(types::I64, *v, slot, 8 * i as i32);
        }
        let record = params[0];
        let callback = b.ins().load(types::I64, MemFlagsData::trusted(), record, 0);
        let cells_ptr = b.ins().stack_addr(types::I64, slot, 0);
        let sig = b.import_signature(c_signature(isa, 3, Some(types::I32)));
        let call = b.ins().call_indirect(sig, callback, &[record, params[1], cells_ptr]);
        let status = b.inst_results(call)[0];
        b.ins().trapnz(status, TrapKind::Host.code());
        let results: Vec<_> =
            ty.results.iter().enumerate().map(|(i, t)| b.ins().stack_load(types::I64, ir_type(*t), slot, 8 * i as i32)).collect();
        b.ins().return_(&results);
    })
}

/// Build a stub of signature `sig`: `body` fills the entry block, given its params.
pub(crate) fn build(
    isa: &dyn TargetIsa,
    sig: ir::Signature,
    name: u32,
    body: impl FnOnce(&mut FunctionBuilder<'_>, &[ir::Value]),
) -> Result<StubCode, CompileError> {
    let mut ctx = Context::new();
    ctx.func.signature = sig;
    ctx.func.name = UserFuncName::user(1, name);
    let mut fctx = FunctionBuilderContext::new();
    let mut b = FunctionBuilder::new(&mut ctx.func, &mut fctx);
    let entry = b.create_block();
    b.append_block_params_for_function_params(entry);
    b.switch_to_block(entry);
    b.seal_block(entry);
    let params = b.block_params(entry).to_vec();
    body(&mut b, &params);
    b.finalize(isa.frontend_config());
    finish(isa, ctx)
}
