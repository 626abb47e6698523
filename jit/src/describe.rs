//! Guarded debug code's module-wide tables, and describing one function's
//! frame on demand by compiling it again (see [`crate::debug_info`]).

use std::collections::HashMap;
use std::sync::Arc;

use cranelift_codegen::isa::OwnedTargetIsa;
use cranelift_codegen::Context;
use cranelift_frontend::FunctionBuilderContext;
use parking_lot::Mutex;

use crate::compile::{compile_function, FunctionCode};
use crate::debug_info::FunctionDebugInfo;
use crate::debug_table::DebugTableLayout;
use crate::env::ModuleEnv;
use crate::link::LinkedGuards;
use crate::{CompileConfig, CompileError, CompiledModule, Compiler};

/// Functions whose descriptions are kept; a debugger stops in few at a time.
const CACHED_FUNCTIONS: usize = 64;

/// What the runtime needs to stop at guards and show the frame there.
pub struct DebugCode {
    /// Code offset where each site's guard resumes, by module-wide site id.
    pub resume: Vec<u32>,
    /// (code offset of a fault guard's faulting store, site id), sorted by
    /// offset: how a stop at a faulting store finds its site (an exit guard's
    /// stop is found by its trap-tail byte instead).
    pub stops: Vec<(u32, u32)>,
    /// (exit site id, where the vmctx is at its branch),
    /// sorted by id: how an exit guard's stop finds its instance (a fault
    /// guard's stop finds it from the faulting address).
    pub vmctx_loc: Vec<(u32, crate::debug_info::Location)>,
    /// The debug-table entry that arms each site's guard: its guard
    /// group's (several sites share one; see the jit's `translate/guard.rs`).
    pub entries: Vec<u32>,
    /// Where the entries are, and how the table is sized and aligned.
    pub table: DebugTableLayout,
    /// Bytes of all guards' hot paths (load, test, branch), for reports.
    pub guard_bytes: u64,
    /// The next point of each site's guard group, by module-wide site id
    /// (`u32::MAX`: none). A point has no code: a stop in a group whose
    /// later points may stop single-steps to them (the runtime's
    /// `debug.rs`).
    pub next_point: Vec<u32>,
    describer: Describer,
}

/// Compiles one function again, the same way, to describe its frame.
struct Describer {
    wasm: Arc<[u8]>,
    isa: OwnedTargetIsa,
    config: CompileConfig,
    /// Hash of each function's code, to check the recompile matches it.
    hashes: Vec<u64>,
    /// The line-table statements the first compile put sites at, if any.
    lines: Option<Arc<[u32]>>,
    cache: Mutex<HashMap<u32, Arc<FunctionDebugInfo>>>,
}

impl DebugCode {
    pub(crate) fn new(
        guards: LinkedGuards,
        table: DebugTableLayout,
        funcs: &[FunctionCode],
        wasm: &[u8],
        lines: Option<Arc<[u32]>>,
        compiler: &Compiler,
    ) -> Result<DebugCode, CompileError> {
        let entries = funcs.iter().zip(&table.regions).flat_map(|(f, region)| f.sites.iter().map(move |s| region + s.group)).collect();
        Ok(DebugCode {
            resume: guards.resume,
            stops: guards.stops,
            vmctx_loc: guards.vmctx_loc,
            entries,
            table,
            guard_bytes: guards.hot_bytes,
            next_point: guards.next_point,
            describer: Describer {
                wasm: wasm.into(),
                isa: crate::host_isa(compiler.config(), true)?,
                config: compiler.config().clone(),
                hashes: funcs.iter().map(|f| f.hash).collect(),
                lines,
                cache: Mutex::new(HashMap::new()),
            },
        })
    }

    /// Where exit site `id`'s vmctx is at its branch.
    pub fn exit_vmctx(&self, id: u32) -> Option<crate::debug_info::Location> {
        let i = self.vmctx_loc.binary_search_by_key(&id, |t| t.0).ok()?;
        Some(self.vmctx_loc[i].1)
    }

    /// The later points of site `id`'s guard group, in the order the code
    /// runs them, as (code offset, site id).
    pub fn points_after(&self, id: u32) -> Vec<(u32, u32)> {
        let mut points = Vec::new();
        let mut k = self.next_point.get(id as usize).copied().unwrap_or(u32::MAX);
        while k != u32::MAX {
            points.push((self.resume[k as usize], k));
            k = self.next_point[k as usize];
        }
        points
    }

    /// The site whose fault guard's store is at code offset `offset`.
    pub fn stop_site(&self, offset: u32) -> Option<u32> {
        let i = self.stops.binary_search_by_key(&offset, |s| s.0).ok()?;
        Some(self.stops[i].1)
    }

    /// The description of `module`'s function `func` (cached).
    pub(crate) fn describe(&self, module: &CompiledModule, func: u32) -> Result<Arc<FunctionDebugInfo>, CompileError> {
        if let Some(info) = self.describer.cache.lock().get(&func) {
            return Ok(info.clone());
        }
        let info = Arc::new(self.describer.compile(module, func)?);
        let mut cache = self.describer.cache.lock();
        if cache.len() >= CACHED_FUNCTIONS {
            cache.clear();
        }
        cache.insert(func, info.clone());
        Ok(info)
    }
}

impl Describer {
    fn compile(&self, module: &CompiledModule, func: u32) -> Result<FunctionDebugInfo, CompileError> {
        let defined = func
            .checked_sub(module.info.imported_funcs)
            .map(|i| i as usize)
            .filter(|i| *i < self.hashes.len())
            .ok_or_else(|| CompileError::Unsupported { offset: 0, message: format!("function {func} is not defined here") })?;
        let mut env = ModuleEnv::from_parts(&module.info, module.layout.clone(), module.type_ids.clone(), &*self.isa, &self.config);
        env.lines = self.lines.clone();
        let range = module.info.bodies[defined].clone();
        let body = wasmparser::FunctionBody::new(wasmparser::BinaryReader::new(&self.wasm[range.clone()], range.start as u64));
        let (code, described) = compile_function(&env, &mut Context::new(), &mut FunctionBuilderContext::new(), func, &body, true)?;
        if code.hash != self.hashes[defined] {
            return Err(CompileError::Codegen {
                func,
                message: "compiling the function again for its debug description gave different code".into(),
            });
        }
        let described = described.expect("asked to describe");
        let site_pcs = code.guards.iter().map(|g| g.stop).collect();
        Ok(FunctionDebugInfo::new(described, site_pcs, code.bytes))
    }
}
