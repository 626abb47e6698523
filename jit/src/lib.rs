//! onecopy's baseline tier: validates wasm, translates it to Cranelift IR in
//! one pass over the operators (with breakpoint guards in debug code),
//! compiles functions in parallel and places each module's code once in a
//! capped, W^X [`CodeArena`].
//!
//! This crate knows wasm and Cranelift, nothing about threads or instances:
//! its output is a [`CompiledModule`] whose code never changes.

#![deny(missing_docs)]

pub mod arena;
mod compile;
pub mod debug_info;
pub mod debug_table;
mod describe;
mod env;
pub mod guard_code;
pub mod legacy;
pub mod lines;
mod link;
pub mod memory_guard;
pub mod module_info;
pub mod stubs;
mod translate;
pub mod trap;
pub mod type_registry;
pub mod types;
pub mod vmctx;

use std::sync::Arc;

use cranelift_codegen::isa::{OwnedTargetIsa, TargetIsa};
use cranelift_codegen::settings::{self, Configurable};
use wasmparser::{Validator, WasmFeatures};

pub use arena::{ArenaStats, CodeAllocation, CodeArena, CodeArenaExhausted};
pub use debug_table::DebugTableLayout;
pub use describe::DebugCode;
pub use module_info::ModuleInfo;
pub use translate::{Interrupts, SiteKind};
pub use trap::TrapKind;
pub use type_registry::TypeRegistry;
pub use types::{FuncType, GlobalType, MemoryType, TableType, ValType};
pub use vmctx::VmctxLayout;

/// Cranelift's optimization level for compiled wasm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptLevel {
    /// Fastest compilation (the baseline tier's default).
    None,
    /// Better code, slower compilation.
    Speed,
}

/// Cranelift's register allocator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Regalloc {
    /// Backtracking allocator: slower to compile, faster code.
    Backtracking,
    /// Single-pass allocator: quick compilation, slower and larger code
    /// (sql.js: 1.9x faster to compile, 1.74x the bytes). Normal code only:
    /// it does not report where values are, which debug code's stops need.
    SinglePass,
}

/// Which instruction boundaries of debug code are breakable points.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Breakable {
    /// Boundaries where the current block's operand stack is empty: the
    /// start of each statement, as a source debugger steps (default). Fewer
    /// guards, so idle debug code runs closer to full speed.
    Statements,
    /// Every instruction boundary (except `block`, `loop`, `else`, `end`).
    Instructions,
    /// Where the module's DWARF line table marks a statement (`is_stmt`
    /// rows: where a source debugger puts line breakpoints and stops when
    /// it steps), and each loop's first instruction (so a running loop can
    /// still be stopped). Far fewer sites than wasm statements in code
    /// compiled from C or Rust. A module without a line table gets
    /// [`Breakable::Statements`].
    Lines,
}

/// How to compile a module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompileConfig {
    /// Compile breakpoint guards into every breakable point.
    pub debug: bool,
    /// Optimization level.
    pub opt_level: OptLevel,
    /// Register allocator.
    pub regalloc: Regalloc,
    /// Compile functions on all cores.
    pub parallel: bool,
    /// Which boundaries get a guard in debug code (entry and exit always do).
    pub breakable: Breakable,
    /// With `debug`: build the legacy clone-and-patch debug code (patchable
    /// calls at breakable points, cloned per debugged instance) instead of
    /// breakpoint guards. For comparison only.
    pub legacy: bool,
    /// Which interrupt check function entries and loop headers get, if any.
    pub interrupts: Interrupts,
    /// Leave out-of-bounds accesses to the MMU: the runtime reserves
    /// [`memory_guard::RESERVATION_BYTES`] per memory, and only accesses
    /// whose static offset passes the guard are checked explicitly. Off:
    /// every access is checked against the current length.
    pub memory_guard: bool,
}

impl Default for CompileConfig {
    fn default() -> Self {
        CompileConfig {
            debug: false,
            opt_level: OptLevel::None,
            regalloc: Regalloc::Backtracking,
            parallel: true,
            breakable: Breakable::Statements,
            legacy: false,
            interrupts: Interrupts::default(),
            memory_guard: false,
        }
    }
}

/// Why a module could not be compiled.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CompileError {
    /// The bytes are not a valid wasm module (malformed or invalid).
    #[error("invalid module at byte {offset:#x}: {message}")]
    Invalid {
        /// Byte offset in the module binary.
        offset: usize,
        /// What is wrong.
        message: String,
    },
    /// The module uses a feature onecopy does not support.
    #[error("unsupported at byte {offset:#x}: {message}")]
    Unsupported {
        /// Byte offset in the module binary.
        offset: usize,
        /// Which feature.
        message: String,
    },
    /// Cranelift rejected the generated IR (a compiler bug).
    #[error("code generation failed in function {func}: {message}")]
    Codegen {
        /// Function index.
        func: u32,
        /// Cranelift's error.
        message: String,
    },
    /// The code arena has no room for the module.
    #[error(transparent)]
    Arena(#[from] CodeArenaExhausted),
}

impl From<wasmparser::BinaryReaderError> for CompileError {
    fn from(e: wasmparser::BinaryReaderError) -> Self {
        CompileError::Invalid { offset: e.offset() as usize, message: e.message().to_string() }
    }
}

/// A breakable point of debug code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Site {
    /// Module-wide site id.
    pub id: u32,
    /// Function index (wasm function index space).
    pub func: u32,
    /// Byte offset in the module binary.
    pub wasm_offset: u32,
    /// Offset of the guard in the module's code.
    pub code_offset: u32,
    /// Entry, instruction or exit.
    pub kind: SiteKind,
    /// Its operand-stack types, an index in the module's interned stacks
    /// (see [`CompiledModule::site_stack`]).
    pub stack: u32,
}

/// A trap site in a module's code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrapSite {
    /// Offset in the module's code.
    pub code_offset: u32,
    /// What kind of trap.
    pub kind: TrapKind,
    /// Byte offset in the module binary of the instruction that trapped.
    pub wasm_offset: u32,
}

/// A compiled module: declarations, code placed once in the arena, and the
/// tables that map code back to wasm.
pub struct CompiledModule {
    /// Declarations.
    pub info: ModuleInfo,
    /// The vmctx layout the code was compiled against.
    pub layout: VmctxLayout,
    /// Engine-wide signature id of each module type.
    pub type_ids: Vec<u32>,
    /// The code, in the arena.
    pub code: CodeAllocation,
    /// Start offset of each defined function in `code`.
    pub func_offsets: Vec<u32>,
    /// Trap sites sorted by code offset.
    pub traps: Vec<TrapSite>,
    /// (code start, code end, wasm offset) ranges sorted by code start.
    pub srclocs: Vec<(u32, u32, u32)>,
    /// Breakable points (empty unless compiled with debug guards).
    pub sites: Vec<Site>,
    /// First site id of each defined function (index - imported functions).
    pub site_base: Vec<u32>,
    /// The distinct operand stacks of the sites (see [`Self::site_stack`]).
    pub stacks: Vec<Box<[ValType]>>,
    /// Types of each defined function's wasm locals, parameters first.
    pub func_locals: Vec<Vec<ValType>>,
    /// Whether the code carries breakpoint guards (or legacy sites).
    pub debug: bool,
    /// Legacy debug code: what clones are made from (`code` has every site
    /// NOPed out).
    pub legacy: Option<legacy::LegacyCode>,
    /// Guarded debug code: where guards resume and what they read (see
    /// [`DebugCode`]).
    pub debug_code: Option<DebugCode>,
}

impl CompiledModule {
    /// Address of defined or imported function `index`'s code, if defined here.
    pub fn func_address(&self, index: u32) -> Option<*const u8> {
        let i = index.checked_sub(self.info.imported_funcs)?;
        let offset = *self.func_offsets.get(i as usize)?;
        Some(self.code.as_ptr().wrapping_add(offset as usize))
    }

    /// The trap site at `code_offset`, if any.
    pub fn trap_at(&self, code_offset: u32) -> Option<TrapSite> {
        let i = self.traps.binary_search_by_key(&code_offset, |t| t.code_offset).ok()?;
        Some(self.traps[i])
    }

    /// The wasm byte offset of the instruction at `code_offset` (0 if unknown).
    pub fn wasm_offset_at(&self, code_offset: u32) -> u32 {
        compile::wasm_offset_at(&self.srclocs, code_offset)
    }

    /// The defined function containing `code_offset`.
    pub fn func_at(&self, code_offset: u32) -> Option<u32> {
        let i = self.func_offsets.partition_point(|start| *start <= code_offset).checked_sub(1)?;
        Some(self.info.imported_funcs + i as u32)
    }

    /// The machine-code size of the module in bytes.
    pub fn code_size(&self) -> usize {
        self.code.len()
    }

    /// The breakable points of function `func` (empty if imported).
    pub fn function_sites(&self, func: u32) -> &[Site] {
        let Some(i) = func.checked_sub(self.info.imported_funcs).map(|i| i as usize) else { return &[] };
        let Some(&start) = self.site_base.get(i) else { return &[] };
        let end = self.site_base.get(i + 1).map_or(self.sites.len() as u32, |e| *e);
        &self.sites[start as usize..end as usize]
    }

    /// The types of the operand-stack values visible at `site`.
    pub fn site_stack(&self, site: &Site) -> &[ValType] {
        self.stacks.get(site.stack as usize).map_or(&[], |s| s)
    }

    /// The site ids of each defined function, in order.
    pub fn site_ranges(&self) -> impl Iterator<Item = std::ops::Range<u32>> + '_ {
        let end = self.sites.len() as u32;
        self.site_base.iter().enumerate().map(move |(i, &start)| start..self.site_base.get(i + 1).map_or(end, |e| *e))
    }

    /// Where function `func`'s locals and operands are at its breakable
    /// points and calls: computed on first request by compiling the one
    /// function again with its values labelled (see [`debug_info`]), then
    /// cached. Guarded debug code only.
    pub fn function_debug_info(&self, func: u32) -> Result<Arc<debug_info::FunctionDebugInfo>, CompileError> {
        match &self.debug_code {
            Some(code) => code.describe(self, func),
            None => Err(CompileError::Unsupported { offset: 0, message: "the module has no guarded debug code".into() }),
        }
    }
}

/// The wasm features onecopy accepts: Wasm 2.0 without SIMD.
pub fn features() -> WasmFeatures {
    WasmFeatures::WASM2 & !WasmFeatures::SIMD
}

/// A configured Cranelift backend for the host.
pub struct Compiler {
    isa: OwnedTargetIsa,
    config: CompileConfig,
}

impl Compiler {
    /// Build a backend for the host machine with `config`'s settings.
    pub fn new(config: CompileConfig) -> Result<Compiler, CompileError> {
        let isa = host_isa(&config, false)?;
        Ok(Compiler { isa, config })
    }

    /// The settings this backend compiles with.
    pub fn config(&self) -> &CompileConfig {
        &self.config
    }

    /// The target.
    pub fn isa(&self) -> &dyn TargetIsa {
        &*self.isa
    }

    /// Validate, translate and compile `wasm`, then place its code once in `arena`.
    pub fn compile(&self, wasm: &[u8], registry: &TypeRegistry, arena: &CodeArena) -> Result<Arc<CompiledModule>, CompileError> {
        validate(wasm)?;
        let info = module_info::parse(wasm)?;
        let mut env = env::ModuleEnv::new(&info, registry, self.isa(), &self.config);
        env.lines = env::line_statements(wasm, &self.config);
        if env.table.as_ref().is_some_and(|t| t.align > 1 << 31) {
            // An armed entry holds the alignment in 32 bits (see debug_table.rs).
            return Err(CompileError::Unsupported {
                offset: 0,
                message: "debug code supports function bodies of up to 512 MiB in all".into(),
            });
        }
        let mut funcs = compile::compile_all(&env, wasm)?;
        let (mut linked, legacy) = link_module(&env, &funcs)?;
        // From here on only the functions' tables are needed: each is moved
        // into the module's as it is read, so the two are never all alive
        // at once (a large part of a big module's peak compile memory).
        funcs.iter_mut().for_each(compile::FunctionCode::release_bytes);
        let mut guard_loads = Vec::new();
        let debug_code = env.table.clone().map(|table| {
            // The trap tail starts on the page after the code.
            let tail = linked.bytes.len().next_multiple_of(arena.page_size()) as u32;
            let mut guards = link::link_guards(&mut funcs, &mut linked, tail);
            guard_loads = std::mem::take(&mut guards.loads);
            DebugCode::new(guards, table, &funcs, wasm, env.lines.clone(), self)
        });
        let debug_code = debug_code.transpose()?;
        let tail = debug_code.as_ref().map_or(0, |d| d.resume.len());
        let code = arena.allocate_with_tail(&linked.bytes, tail)?;
        let maps = link::CodeMaps::new(info.imported_funcs, &mut funcs, &linked, &guard_loads);
        drop(guard_loads);
        tracing::debug!(
            bytes = code.len(),
            funcs = funcs.len(),
            sites = maps.sites.len(),
            traps = maps.traps.len(),
            srclocs = maps.srclocs.len(),
            "compiled module"
        );
        let env::ModuleEnv { layout, type_ids, .. } = env;
        Ok(Arc::new(CompiledModule {
            info,
            layout,
            type_ids,
            code,
            func_offsets: linked.starts,
            traps: maps.traps,
            srclocs: maps.srclocs,
            sites: maps.sites,
            site_base: maps.site_base,
            stacks: maps.stacks,
            func_locals: funcs.into_iter().map(|f| f.locals).collect(),
            debug: self.config.debug,
            legacy,
            debug_code,
        }))
    }
}

/// Cranelift for the host with `config`'s settings; with `block_starts`,
/// it also reports where each machine block starts (metadata only: the
/// code is the same, which describing a function relies on and checks).
pub(crate) fn host_isa(config: &CompileConfig, block_starts: bool) -> Result<OwnedTargetIsa, CompileError> {
    let setting_err = |e: settings::SetError| CompileError::Codegen { func: u32::MAX, message: e.to_string() };
    // The guard's stops decode x86-64 code and frames (guard_code.rs, the
    // runtime's signal handler, legacy's patches): other hosts get normal code.
    if config.debug && !cfg!(target_arch = "x86_64") {
        let message = "debug code (breakpoint guards) is supported on x86-64 hosts only".to_string();
        return Err(CompileError::Unsupported { offset: 0, message });
    }
    // Stops find locals, and an exit guard's stop its instance, in the
    // value locations the backtracking allocator reports; the single-pass
    // one reports a value only where one register holds it all its life.
    if config.debug && config.regalloc == Regalloc::SinglePass {
        let message = "debug code needs the backtracking register allocator (Regalloc::Backtracking): the single-pass one does not report where values are".to_string();
        return Err(CompileError::Unsupported { offset: 0, message });
    }
    let mut flags = settings::builder();
    let opt = match config.opt_level {
        OptLevel::None => "none",
        OptLevel::Speed => "speed",
    };
    flags.set("opt_level", opt).map_err(setting_err)?;
    let regalloc = match config.regalloc {
        Regalloc::Backtracking => "backtracking",
        Regalloc::SinglePass => "single_pass",
    };
    flags.set("regalloc_algorithm", regalloc).map_err(setting_err)?;
    flags.set("enable_multi_ret_implicit_sret", "true").map_err(setting_err)?;
    flags.set("preserve_frame_pointers", "true").map_err(setting_err)?;
    flags.set("enable_verifier", if cfg!(debug_assertions) { "true" } else { "false" }).map_err(setting_err)?;
    flags.set("enable_probestack", "true").map_err(setting_err)?;
    flags.set("probestack_strategy", "inline").map_err(setting_err)?;
    flags.set("machine_code_cfg_info", if block_starts { "true" } else { "false" }).map_err(setting_err)?;
    let isa_builder = cranelift_native::builder().map_err(|m| CompileError::Unsupported { offset: 0, message: m.to_string() })?;
    isa_builder.finish(settings::Flags::new(flags)).map_err(|e| CompileError::Codegen { func: u32::MAX, message: e.to_string() })
}

/// Reject malformed and invalid modules, and features onecopy does not support.
fn validate(wasm: &[u8]) -> Result<(), CompileError> {
    Validator::new_with_features(features()).validate_all(wasm)?;
    Ok(())
}

/// The module's code in one piece; legacy debug code also gets its break
/// stub, and what its clones are made from.
fn link_module(
    env: &env::ModuleEnv<'_>,
    funcs: &[compile::FunctionCode],
) -> Result<(link::LinkedCode, Option<legacy::LegacyCode>), CompileError> {
    if legacy::enabled(env.config) {
        let (linked, legacy) = legacy::link(env, funcs)?;
        return Ok((linked, Some(legacy)));
    }
    Ok((link::link(funcs, env.info.imported_funcs, None)?, None))
}
