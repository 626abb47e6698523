//! The engine: compiler settings, the code arena and per-signature stubs,
//! shared by every module and thread.

use std::collections::HashMap;
use std::sync::Arc;

use onecopy_jit::stubs;
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
    /// `None`: guard pages where the host can have them (see [`Config::memory_guard`]).
    pub(crate) memory_guard: Option<bool>,
}

impl Default for Config {
    fn default() -> Self {
        Config { compile: CompileConfig::default(), arena_cap: 2 << 30, max_wasm_stack: 512 << 10, memory_guard: None }
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

    /// Cranelift register allocator (debug code needs the default,
    /// backtracking one: an engine with debug code and the single-pass
    /// one is an error).
    pub fn regalloc(mut self, regalloc: onecopy_jit::Regalloc) -> Config {
        self.compile.regalloc = regalloc;
        self
    }

    /// Compile a module's functions on all cores (default) or on one.
    pub fn parallel_compilation(mut self, on: bool) -> Config {
        self.compile.parallel = on;
        self
    }

    /// With `debug(true)`: build legacy clone-and-patch debug code instead of
    /// breakpoint guards (each debugged instance gets its own copy of the
    /// code). For comparison only.
    pub fn legacy(mut self, on: bool) -> Config {
        self.compile.legacy = on;
        self
    }

    /// Which instruction boundaries of debug code are breakable points.
    pub fn breakable(mut self, breakable: onecopy_jit::Breakable) -> Config {
        self.compile.breakable = breakable;
        self
    }

    /// Compile an interrupt check into every function entry and loop
    /// header (default: on), so that [`crate::InterruptHandle::interrupt`]
    /// and [`crate::Store::set_deadline`] can stop a call that runs too
    /// long. Off: loops carry no check and cost nothing for it, and an
    /// interrupt only stops a call at the entry of a function that calls
    /// (its prologue's stack check is there anyway).
    pub fn interruptible(mut self, on: bool) -> Config {
        self.compile.interrupts = if on { crate::Interrupts::default() } else { crate::Interrupts::Off };
        self
    }

    /// Which interrupt check [`Config::interruptible`] compiles in (the
    /// alternatives are there to measure them against each other).
    pub fn interrupt_check(mut self, check: crate::Interrupts) -> Config {
        self.compile.interrupts = check;
        self
    }

    /// Guard-page memories (`true`) or explicit bounds checks (`false`).
    ///
    /// With guard pages every memory reserves
    /// [`RESERVATION_BYTES`](onecopy_jit::memory_guard::RESERVATION_BYTES)
    /// (6 GiB: the 4 GiB index space and a 2 GiB `PROT_NONE` guard) of
    /// address space, whatever its maximum, commits only its current pages,
    /// and compiled accesses carry no bounds check: the MMU catches an
    /// out-of-bounds access and the signal handler reports it as
    /// `MemoryOutOfBounds`. 256 workers with one memory each reserve
    /// 1.5 TiB of the 128 TiB user address space. With explicit checks a
    /// memory reserves only its maximum and every access compares its end
    /// with the current length.
    ///
    /// Unset (the default), [`Engine::new`] picks guard pages on 64-bit
    /// x86-64 Linux if it can reserve one memory's worth of address space
    /// there and then, after its code arena (a low `ulimit -v` cannot),
    /// explicit checks otherwise. One memory's worth is all it probes: an
    /// embedder that runs many instances under an address-space limit
    /// should choose explicitly.
    /// Set, the choice is the caller's; guard pages on a host without them
    /// make `Engine::new` fail. The choice is per engine: its modules'
    /// code assumes it, so a memory that cannot get its reservation later
    /// (address space exhausted) fails to be created with
    /// [`Error::Resource`] rather than falling back. memory64 is not
    /// supported at all (rejected at validation).
    pub fn memory_guard(mut self, on: bool) -> Config {
        self.memory_guard = Some(on);
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
    /// Address space of debug code's trap tails (PROT_NONE pages after
    /// each module's code, reserved but never committed: no memory).
    pub trap_tails: usize,
}

/// Stubs placed together in one arena allocation.
struct StubBlock {
    code: CodeAllocation,
    _registration: Registration,
}

/// Per-signature glue code, in the arena.
pub(crate) struct Stubs {
    pub trampoline: *const u8,
    pub host_adapter: *const u8,
    _block: Arc<StubBlock>,
}

// SAFETY: the pointers point into the block the struct keeps alive, whose
// code is never written again (read+execute), so any thread may use them.
unsafe impl Send for Stubs {}
// SAFETY: as above.
unsafe impl Sync for Stubs {}

/// Every signature's stubs, and their code bytes.
#[derive(Default)]
struct StubCache {
    by_type: HashMap<u32, Arc<Stubs>>,
    bytes: usize,
}

pub(crate) struct EngineInner {
    pub config: Config,
    pub compiler: Compiler,
    pub arena: CodeArena,
    pub types: TypeRegistry,
    stubs: Mutex<StubCache>,
    pub modules: std::sync::atomic::AtomicUsize,
    /// Interrupts calls whose deadline passes.
    pub timer: Arc<crate::deadline::Timer>,
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
        let arena = CodeArena::new(config.arena_cap).map_err(|e| Error::Resource(format!("code arena: {e}")))?;
        let (start, end) = arena.range();
        let range = crate::signals::register_code_range(start, end)
            .ok_or_else(|| Error::Resource("too many engines: no trap range slot left".into()))?;
        // After the arena, so the probe sees the address space that is left.
        let mut config = config.clone();
        config.compile.memory_guard = crate::memory::guard_pages(config.memory_guard)?;
        let compiler = Compiler::new(config.compile.clone())?;
        Ok(Engine {
            inner: Arc::new(EngineInner {
                config,
                compiler,
                arena,
                types: TypeRegistry::default(),
                stubs: Mutex::new(StubCache::default()),
                modules: Default::default(),
                timer: Default::default(),
                _arena_range: range,
            }),
        })
    }

    /// Whether modules are compiled with breakpoint guards.
    pub fn is_debug(&self) -> bool {
        self.inner.config.compile.debug
    }

    /// Whether memories of this engine's stores are guard-page memories
    /// (see [`Config::memory_guard`]).
    pub fn memory_guard(&self) -> bool {
        self.inner.config.compile.memory_guard
    }

    /// The code arena's accounting.
    pub fn code_memory(&self) -> CodeMemory {
        // Stubs are placed under this lock, so the two numbers agree.
        let stubs = self.inner.stubs.lock();
        let stats = self.inner.arena.stats();
        CodeMemory {
            reserved: stats.reserved,
            committed: stats.committed,
            used: stats.used,
            modules: self.inner.modules.load(std::sync::atomic::Ordering::Relaxed),
            stub_bytes: stubs.bytes,
            trap_tails: stats.trap_tails,
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

    /// Whether two handles are the same engine.
    pub fn same(a: &Engine, b: &Engine) -> bool {
        Arc::ptr_eq(&a.inner, &b.inner)
    }

    /// The stubs for signature `id`, compiled on first use.
    pub(crate) fn stubs(&self, id: u32) -> Result<Arc<Stubs>> {
        Ok(self.ensure_stubs(&[id])?.remove(0))
    }

    /// The stubs of each of `ids`, in order, compiling the missing ones into
    /// one allocation. Modules call this when compiled and keep what it
    /// returns, so calls find their stubs without this lock, and a full
    /// arena fails `Module::new` rather than a later call.
    pub(crate) fn ensure_stubs(&self, ids: &[u32]) -> Result<Vec<Arc<Stubs>>> {
        let mut cache = self.inner.stubs.lock();
        let mut missing: Vec<u32> = ids.iter().copied().filter(|id| !cache.by_type.contains_key(id)).collect();
        missing.sort_unstable();
        missing.dedup();
        if !missing.is_empty() {
            self.compile_stubs(&mut cache, &missing)?;
        }
        Ok(ids.iter().map(|id| cache.by_type[id].clone()).collect())
    }

    /// Compile the stubs of `missing` signatures into one arena allocation.
    fn compile_stubs(&self, cache: &mut StubCache, missing: &[u32]) -> Result<()> {
        let isa = self.inner.compiler.isa();
        let mut bytes = Vec::new();
        let mut traps = Vec::new();
        let mut starts = Vec::new();
        for id in missing {
            let ty = self.inner.types.get(*id).ok_or_else(|| Error::NotFound(format!("signature {id}")))?;
            for stub in [stubs::trampoline(isa, &ty)?, stubs::host_adapter(isa, &ty)?] {
                bytes.resize(bytes.len().next_multiple_of(16), 0);
                let start = bytes.len() as u32;
                traps.extend(stub.traps.iter().map(|(offset, kind)| (start + offset, *kind)));
                starts.push(start as usize);
                bytes.extend_from_slice(&stub.bytes);
            }
        }
        let code = self.inner.arena.allocate(&bytes).map_err(onecopy_jit::CompileError::from)?;
        let registration = code_registry::register(code.range(), CodeKind::Stub(traps));
        cache.bytes += code.len();
        let block = Arc::new(StubBlock { code, _registration: registration });
        let base = block.code.as_ptr();
        for (id, pair) in missing.iter().zip(starts.chunks(2)) {
            let stubs = Stubs { trampoline: base.wrapping_add(pair[0]), host_adapter: base.wrapping_add(pair[1]), _block: block.clone() };
            cache.by_type.insert(*id, Arc::new(stubs));
        }
        Ok(())
    }
}

impl Default for Engine {
    /// An engine with the default [`Config`]; panics only if the code arena
    /// cannot be reserved at all.
    fn default() -> Engine {
        Engine::new(&Config::default()).expect("reserve the default code arena")
    }
}
