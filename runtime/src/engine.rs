//! The engine: compiler settings, the code arena and per-signature stubs,
//! shared by every module and thread.

use std::collections::HashMap;
use std::sync::Arc;

use onecopy_jit::stubs::{self, StubCode};
use onecopy_jit::{CodeAllocation, CodeArena, CompileConfig, Compiler, FuncType, TypeRegistry};
use parking_lot::Mutex;

use crate::code_registry::{self, CodeKind, Registration};
use crate::error::{Error, Result};

/// Engine settings, builder style.
#[derive(Debug, Clone)]
pub struct Config {
    pub(crate) compile: CompileConfig,
    pub(crate) arena_cap: usize,
    pub(crate) max_wasm_stack: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config { compile: CompileConfig::default(), arena_cap: 2 << 30, max_wasm_stack: 512 << 10 }
    }
}

impl Config {
    /// Start from the defaults: no debug guards, 2 GiB arena, 512 KiB wasm stack.
    pub fn new() -> Config {
        Config::default()
    }

    /// Compile breakpoint guards into all code (needed to debug instances).
    pub fn debug(mut self, on: bool) -> Config {
        self.compile.debug = on;
        self
    }

    /// Cap on the code arena's address space, in bytes.
    pub fn arena_cap(mut self, bytes: usize) -> Config {
        self.arena_cap = bytes;
        self
    }

    /// Cranelift optimization level.
    pub fn opt_level(mut self, level: onecopy_jit::OptLevel) -> Config {
        self.compile.opt_level = level;
        self
    }

    /// Cranelift register allocator.
    pub fn regalloc(mut self, regalloc: onecopy_jit::Regalloc) -> Config {
        self.compile.regalloc = regalloc;
        self
    }

    /// Compile a module's functions on all cores (default) or on one.
    pub fn parallel_compilation(mut self, on: bool) -> Config {
        self.compile.parallel = on;
        self
    }

    /// Which instruction boundaries of debug code are breakable points.
    pub fn breakable(mut self, breakable: onecopy_jit::Breakable) -> Config {
        self.compile.breakable = breakable;
        self
    }

    /// See [`onecopy_jit::CompileConfig::guard_cold_path`] (for measuring only).
    pub fn guard_cold_path(mut self, on: bool) -> Config {
        self.compile.guard_cold_path = on;
        self
    }

    /// How much native stack wasm may use below the host's entry point.
    pub fn max_wasm_stack(mut self, bytes: usize) -> Config {
        self.max_wasm_stack = bytes;
        self
    }
}

/// The code arena's accounting, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CodeMemory {
    /// Address space reserved (the cap).
    pub reserved: usize,
    /// Pages holding live code.
    pub committed: usize,
    /// Exact code bytes of live modules and stubs.
    pub used: usize,
    /// Live modules.
    pub modules: usize,
    /// Code bytes of per-signature stubs (included in `used`).
    pub stub_bytes: usize,
}

/// Per-signature glue code, in the arena.
pub(crate) struct Stubs {
    pub trampoline: *const u8,
    pub host_adapter: *const u8,
    _code: [(CodeAllocation, Registration); 2],
}

// The pointers point into the allocations the struct owns.
unsafe impl Send for Stubs {}
unsafe impl Sync for Stubs {}

pub(crate) struct EngineInner {
    pub config: Config,
    pub compiler: Compiler,
    pub arena: CodeArena,
    pub types: TypeRegistry,
    stubs: Mutex<HashMap<u32, Arc<Stubs>>>,
    pub modules: std::sync::atomic::AtomicUsize,
    _arena_range: crate::signals::CodeRangeRegistration,
}

/// Compiles modules and owns the code arena they share. Cheap to clone;
/// `Send + Sync`.
#[derive(Clone)]
pub struct Engine {
    pub(crate) inner: Arc<EngineInner>,
}

impl Engine {
    /// Build an engine (reserves the code arena's address space).
    pub fn new(config: &Config) -> Result<Engine> {
        let compiler = Compiler::new(config.compile.clone())?;
        let arena = CodeArena::new(config.arena_cap).map_err(|e| Error::Resource(format!("code arena: {e}")))?;
        let (start, end) = arena.range();
        let range = crate::signals::register_code_range(start, end)
            .ok_or_else(|| Error::Resource("too many engines: no trap range slot left".into()))?;
        Ok(Engine {
            inner: Arc::new(EngineInner {
                config: config.clone(),
                compiler,
                arena,
                types: TypeRegistry::default(),
                stubs: Mutex::new(HashMap::new()),
                modules: Default::default(),
                _arena_range: range,
            }),
        })
    }

    /// Whether modules are compiled with breakpoint guards.
    pub fn is_debug(&self) -> bool {
        self.inner.config.compile.debug
    }

    /// The code arena's accounting.
    pub fn code_memory(&self) -> CodeMemory {
        let stats = self.inner.arena.stats();
        let stub_bytes = self
            .inner
            .stubs
            .lock()
            .values()
            .map(|s| s._code.iter().map(|(c, _)| c.len()).sum::<usize>())
            .sum();
        CodeMemory {
            reserved: stats.reserved,
            committed: stats.committed,
            used: stats.used,
            modules: self.inner.modules.load(std::sync::atomic::Ordering::Relaxed),
            stub_bytes,
        }
    }

    /// `[start, end)` of the code arena's reservation (every module's code
    /// and every stub lies inside).
    pub fn code_range(&self) -> (usize, usize) {
        self.inner.arena.range()
    }

    /// The engine-wide id of a signature.
    pub(crate) fn type_id(&self, ty: &FuncType) -> u32 {
        self.inner.types.intern(ty)
    }

    /// The stubs for signature `id`, compiled on first use.
    pub(crate) fn stubs(&self, id: u32) -> Result<Arc<Stubs>> {
        if let Some(s) = self.inner.stubs.lock().get(&id) {
            return Ok(s.clone());
        }
        let ty = self.inner.types.get(id).expect("interned type");
        let isa = self.inner.compiler.isa();
        let place = |code: StubCode| -> Result<(CodeAllocation, Registration)> {
            let alloc = self.inner.arena.allocate(&code.bytes).map_err(onecopy_jit::CompileError::from)?;
            let reg = code_registry::register(alloc.range(), CodeKind::Stub(code.traps));
            Ok((alloc, reg))
        };
        let trampoline = place(stubs::trampoline(isa, &ty)?)?;
        let adapter = place(stubs::host_adapter(isa, &ty)?)?;
        let stubs = Arc::new(Stubs {
            trampoline: trampoline.0.as_ptr(),
            host_adapter: adapter.0.as_ptr(),
            _code: [trampoline, adapter],
        });
        Ok(self.inner.stubs.lock().entry(id).or_insert(stubs).clone())
    }
}

impl Default for Engine {
    /// An engine with the default [`Config`]; panics only if the code arena
    /// cannot be reserved at all.
    fn default() -> Engine {
        Engine::new(&Config::default()).expect("reserve the default code arena")
    }
}
