//! Module-wide facts every function translation reads, and the wasm calling
//! convention.

use std::sync::Arc;

use cranelift_codegen::ir::{self, types, AbiParam, ArgumentPurpose, MemFlags, MemFlagsData};
use cranelift_codegen::isa::TargetIsa;

use crate::debug_table::DebugTableLayout;
use crate::module_info::ModuleInfo;
use crate::translate::ir_type;
use crate::type_registry::TypeRegistry;
use crate::types::FuncType;
use crate::vmctx::VmctxLayout;
use crate::CompileConfig;

/// What a function translator may consult about its module.
pub(crate) struct ModuleEnv<'a> {
    /// Declarations of the module.
    pub info: &'a ModuleInfo,
    /// Where things live in the vmctx.
    pub layout: VmctxLayout,
    /// Engine-wide signature id of each module type.
    pub type_ids: Vec<u32>,
    /// The target.
    pub isa: &'a dyn TargetIsa,
    /// Compiler settings (debug guards on or off).
    pub config: &'a CompileConfig,
    /// Guarded debug code: where each function's debug-table entries are.
    pub table: Option<DebugTableLayout>,
    /// Debug code with [`crate::Breakable::Lines`]: the module's line-table
    /// statements (module offsets, ascending); `None`: sites at statements.
    pub lines: Option<Arc<[u32]>>,
}

impl<'a> ModuleEnv<'a> {
    /// The facts about `info`; its types get engine-wide ids in `registry`.
    pub fn new(info: &'a ModuleInfo, registry: &TypeRegistry, isa: &'a dyn TargetIsa, config: &'a CompileConfig) -> Self {
        let type_ids = info.types.iter().map(|t| registry.intern(t)).collect();
        Self::from_parts(info, VmctxLayout::new(info), type_ids, isa, config)
    }

    /// The facts, from ids already interned (to compile a function again).
    pub fn from_parts(
        info: &'a ModuleInfo,
        layout: VmctxLayout,
        type_ids: Vec<u32>,
        isa: &'a dyn TargetIsa,
        config: &'a CompileConfig,
    ) -> Self {
        let table = (config.debug && !config.legacy).then(|| DebugTableLayout::new(info, layout.size));
        ModuleEnv { info, layout, type_ids, isa, config, table, lines: None }
    }
}

/// With [`crate::Breakable::Lines`] debug code: the offsets of `wasm`'s
/// line-table statements, where its sites go. `None` (sites at wasm
/// statements, as [`crate::Breakable::Statements`]) for other settings, and
/// for a module without a line table or with one that does not parse.
pub fn line_statements(wasm: &[u8], config: &CompileConfig) -> Option<Arc<[u32]>> {
    if !config.debug || config.breakable != crate::Breakable::Lines {
        return None;
    }
    match crate::lines::LineTable::statements_of(wasm) {
        Ok(statements) if !statements.is_empty() => Some(statements.into()),
        Ok(_) => {
            tracing::info!("no DWARF line table (or no statement rows in it): breakable points at statements");
            None
        }
        Err(error) => {
            tracing::warn!(%error, "the DWARF line table does not parse: breakable points at statements");
            None
        }
    }
}

/// Intern memory-operation flags in `func` (flags are per-function indices).
pub fn mem_flags(func: &mut ir::Function, data: MemFlagsData) -> MemFlags {
    func.dfg.mem_flags.insert_unchecked(data)
}

/// The native signature of a wasm function: `(callee vmctx, caller vmctx,
/// params...) -> results`, in the platform's C convention (multiple results
/// go through an implicit return area).
pub fn wasm_signature(isa: &dyn TargetIsa, ty: &FuncType) -> ir::Signature {
    let mut sig = ir::Signature::new(isa.default_call_conv());
    sig.params.push(AbiParam::special(types::I64, ArgumentPurpose::VMContext));
    sig.params.push(AbiParam::new(types::I64));
    sig.params.extend(ty.params.iter().map(|t| AbiParam::new(ir_type(*t))));
    sig.returns.extend(ty.results.iter().map(|t| AbiParam::new(ir_type(*t))));
    sig
}
