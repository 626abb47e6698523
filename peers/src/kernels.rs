//! The kernels of `onecopy bench guard`, read from the stress crate's own
//! `kernels.wat` so both benchmarks always run the same code.

use anyhow::{anyhow, Result};
use clap::ValueEnum;
use serde::Serialize;

/// The kernels' module, as text (shared with `onecopy bench guard`).
pub const KERNELS_WAT: &str = include_str!("../../stress/src/bench_guard/kernels.wat");

/// The export that is never called: the debug rows set their breakpoint there.
pub const UNRELATED: &str = "unrelated";

/// One kernel: an export taking its size as its one argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
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

    /// Its export name and its name in reports and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Kernel::Fib => "fib",
            Kernel::Loop => "loop",
            Kernel::Memsum => "memsum",
            Kernel::Indirect => "indirect",
        }
    }
}

/// The assembled kernels module and where the unrelated breakpoint goes.
pub struct Kernels {
    /// The binary.
    pub wasm: Vec<u8>,
    /// Function index of [`UNRELATED`].
    pub unrelated_func: u32,
    /// Module-relative byte offset of its first instruction (both onecopy
    /// and Wasmtime's guest debugging name breakpoints by this offset).
    pub unrelated_offset: u32,
}

impl Kernels {
    /// Assemble `kernels.wat` and find the unrelated function's first instruction.
    pub fn load() -> Result<Kernels> {
        let wasm = wat::parse_str(KERNELS_WAT)?;
        let unrelated_func = export_func(&wasm, UNRELATED)?;
        let unrelated_offset = first_instruction(&wasm, unrelated_func)?;
        Ok(Kernels { wasm, unrelated_func, unrelated_offset })
    }
}

/// The function index of export `name` (the module imports no functions).
pub fn export_func(wasm: &[u8], name: &str) -> Result<u32> {
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
    Err(anyhow!("the module exports no function `{name}`"))
}

/// Module-relative offset of the first operator of defined function `func`.
fn first_instruction(wasm: &[u8], func: u32) -> Result<u32> {
    let mut index = 0;
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        if let wasmparser::Payload::CodeSectionEntry(body) = payload? {
            if index == func {
                return Ok(body.get_operators_reader()?.original_position() as u32);
            }
            index += 1;
        }
    }
    Err(anyhow!("function {func} has no body"))
}
