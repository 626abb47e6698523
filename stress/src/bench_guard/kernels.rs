//! The kernels `onecopy bench guard` runs (`kernels.wat`) and where in the
//! module each one is.

use std::cell::Cell;
use std::rc::Rc;

use anyhow::{anyhow, Context, Result};
use clap::ValueEnum;
use onecopy_runtime::{DebugAction, Debugger};

/// The kernels' module, as text.
const KERNELS_WAT: &str = include_str!("kernels.wat");

/// The export configuration (c) sets its breakpoint in: never called.
const UNRELATED: &str = "unrelated";

/// One kernel: an export of `kernels.wat` taking its size as its argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Kernel {
    /// Recursive fib(n): calls and returns.
    Fib,
    /// n iterations of an integer loop with a load and a store.
    Loop,
    /// n rounds of writing and checksumming 16 MiB of linear memory.
    Memsum,
    /// n `call_indirect`s through a table of four small functions.
    Indirect,
}

impl Kernel {
    /// Every kernel, in report order.
    pub const ALL: [Kernel; 4] = [Kernel::Fib, Kernel::Loop, Kernel::Memsum, Kernel::Indirect];

    /// Its name in reports, on the command line and as the module's export.
    pub fn name(self) -> &'static str {
        match self {
            Kernel::Fib => "fib",
            Kernel::Loop => "loop",
            Kernel::Memsum => "memsum",
            Kernel::Indirect => "indirect",
        }
    }
}

/// The breakpoint a debug configuration sets before its kernel runs; the
/// kernel never reaches it, so what it costs is what arming costs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum Breakpoint {
    /// (b) none: idle debug code.
    #[default]
    None,
    /// (c) at the entry of a function that never runs.
    Unrelated,
    /// (d) at an `unreachable` of the running kernel.
    NeverHit,
}

impl Breakpoint {
    /// Its name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Breakpoint::None => "none",
            Breakpoint::Unrelated => "unrelated",
            Breakpoint::NeverHit => "never-hit",
        }
    }

    /// Set it in the instance `debug` debugs, for a run of `kernel`, with a
    /// handler that counts the stops and continues: the count it returns
    /// must stay 0, since no configuration's breakpoint is ever reached.
    pub fn set<T: 'static>(self, kernels: &Kernels, kernel: Kernel, debug: &Debugger<'_, T>) -> Result<Rc<Cell<u32>>> {
        match self {
            Breakpoint::None => {}
            Breakpoint::Unrelated => {
                let entry = debug.sites(kernels.unrelated).first().context("`unrelated` has no breakable point")?.wasm_offset;
                debug.set_breakpoint(kernels.unrelated, entry)?;
            }
            Breakpoint::NeverHit => {
                debug.set_breakpoint(kernels.func(kernel), kernels.never_hit(kernel))?;
            }
        }
        let stops = Rc::new(Cell::new(0));
        let count = stops.clone();
        debug.set_handler(move |_| {
            count.set(count.get() + 1);
            DebugAction::Continue
        });
        Ok(stops)
    }
}

/// The kernels' module and the functions the configurations need.
pub struct Kernels {
    /// The binary.
    pub wasm: Vec<u8>,
    /// Function index of the never-called export.
    pub unrelated: u32,
    /// Per kernel (in [`Kernel::ALL`] order): its function index and the
    /// offset of its never-reached `unreachable`.
    places: Vec<(u32, u32)>,
}

impl Kernels {
    /// Assemble the module and find each kernel in it.
    pub fn load() -> Result<Kernels> {
        let wasm = wat::parse_str(KERNELS_WAT).context("kernels.wat does not assemble")?;
        let unrelated = export_func(&wasm, UNRELATED)?;
        let places = Kernel::ALL
            .iter()
            .map(|k| {
                let func = export_func(&wasm, k.name())?;
                Ok((func, unreachable_offset(&wasm, func)?))
            })
            .collect::<Result<_>>()?;
        Ok(Kernels { wasm, unrelated, places })
    }

    /// `kernel`'s function index.
    pub fn func(&self, kernel: Kernel) -> u32 {
        self.places[kernel as usize].0
    }

    /// Where configuration (d) sets its breakpoint in `kernel`: the wasm
    /// offset of an `unreachable` the kernel never reaches.
    pub fn never_hit(&self, kernel: Kernel) -> u32 {
        self.places[kernel as usize].1
    }
}

/// The function index of export `name` (the module imports no functions).
fn export_func(wasm: &[u8], name: &str) -> Result<u32> {
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        if let wasmparser::Payload::ExportSection(exports) = payload? {
            for export in exports {
                let export = export?;
                if export.name == name && export.kind == wasmparser::ExternalKind::Func {
                    return Ok(export.index);
                }
            }
        }
    }
    Err(anyhow!("the kernels module exports no function `{name}`"))
}

/// Byte offset of the first `unreachable` in function `func`'s body.
fn unreachable_offset(wasm: &[u8], func: u32) -> Result<u32> {
    let mut index = 0;
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        if let wasmparser::Payload::CodeSectionEntry(body) = payload? {
            if index == func {
                let mut ops = body.get_operators_reader()?;
                while !ops.eof() {
                    let at = ops.original_position() as u32;
                    if let wasmparser::Operator::Unreachable = ops.read()? {
                        return Ok(at);
                    }
                }
            }
            index += 1;
        }
    }
    Err(anyhow!("function {func} has no `unreachable`"))
}
