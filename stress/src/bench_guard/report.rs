//! What `onecopy bench guard` reports, as one JSON object or as a table.

use serde::Serialize;

use super::instructions::Counted;
use super::timing::Timed;

/// One kernel's line.
#[derive(Debug, Serialize)]
pub struct KernelRow {
    /// The kernel.
    pub name: &'static str,
    /// Its argument in the timed runs.
    pub arg: i32,
    /// (a) median time of one call in normal code.
    pub nodebug_ms: f64,
    /// (e) median time of one call in normal code with explicit bounds checks.
    pub explicit_ms: f64,
    /// (a) over (e): what guard pages (when the engine has them) leave of
    /// the explicitly checked time.
    pub guard_ratio: f64,
    /// (b) idle debug code over (a).
    pub idle_ratio: f64,
    /// (c) debug code with a breakpoint in a function that never runs, over (a).
    pub unrelated_ratio: f64,
    /// (d) debug code with a never-hit breakpoint in the kernel, over (a).
    pub same_function_ratio: f64,
    /// Instructions executed by idle debug code over normal code; `null`
    /// when not counted (see the report's `instructions`).
    pub idle_instructions_ratio: Option<f64>,
    /// Instructions of (c) over (a)'s; `null` when not counted.
    pub unrelated_instructions_ratio: Option<f64>,
    /// Instructions of (d) over (a)'s; `null` when not counted.
    pub same_function_instructions_ratio: Option<f64>,
    /// Instructions of normal code over explicitly checked normal code's.
    pub guard_instructions_ratio: Option<f64>,
    /// The counts behind those ratios.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instructions: Option<Counted>,
}

impl KernelRow {
    /// The row of `name`, timed at `arg`, counted if `counted`.
    pub fn new(name: &'static str, arg: i32, timed: Timed, counted: Option<Counted>) -> KernelRow {
        let ratio = |ms: f64| ms / timed.nodebug_ms;
        KernelRow {
            name,
            arg,
            nodebug_ms: timed.nodebug_ms,
            explicit_ms: timed.explicit_ms,
            guard_ratio: timed.nodebug_ms / timed.explicit_ms,
            idle_ratio: ratio(timed.idle_ms),
            unrelated_ratio: ratio(timed.unrelated_ms),
            same_function_ratio: ratio(timed.same_function_ms),
            idle_instructions_ratio: counted.as_ref().map(Counted::ratio),
            unrelated_instructions_ratio: counted.as_ref().map(Counted::unrelated_ratio),
            same_function_instructions_ratio: counted.as_ref().map(Counted::never_hit_ratio),
            guard_instructions_ratio: counted.as_ref().map(Counted::guard_ratio),
            instructions: counted,
        }
    }
}

/// What debug code costs in bytes, on the kernels' module.
#[derive(Debug, Clone, Copy)]
pub struct CodeBytes {
    /// Normal code.
    pub nodebug: usize,
    /// Debug code.
    pub debug: usize,
    /// Breakable points of debug code.
    pub sites: usize,
    /// All guards' hot paths (`DebugCode::guard_bytes`).
    pub guard: u64,
}

/// The whole report.
#[derive(Debug, Serialize)]
pub struct Report {
    /// One row per kernel.
    pub kernels: Vec<KernelRow>,
    /// `"measured"`, or why instructions were not counted.
    pub instructions: String,
    /// (debug code bytes - normal code bytes) / sites: all debug code
    /// costs per breakable point (hot path, cold path, per-function code).
    pub bytes_per_site: f64,
    /// The guards' hot paths alone, per breakable point.
    pub hot_bytes_per_site: f64,
    /// Breakable points of the kernels' module.
    pub sites: usize,
    /// Debug code of the kernels' module.
    pub debug_code_bytes: usize,
    /// Normal code of the kernels' module.
    pub nodebug_code_bytes: usize,
    /// Whether (a) normal code used guard-page memories.
    pub memory_guard: bool,
    /// Timed runs per configuration.
    pub rounds: u32,
    /// The command line that reproduces this report.
    pub command: String,
}

impl Report {
    /// Assemble; `instructions` says whether (or why not) rows are counted,
    /// `memory_guard` whether normal code had guard-page memories.
    pub fn new(kernels: Vec<KernelRow>, instructions: String, code: CodeBytes, memory_guard: bool, rounds: u32, command: String) -> Report {
        let sites = code.sites.max(1) as f64;
        Report {
            kernels,
            instructions,
            bytes_per_site: (code.debug as f64 - code.nodebug as f64) / sites,
            hot_bytes_per_site: code.guard as f64 / sites,
            sites: code.sites,
            debug_code_bytes: code.debug,
            nodebug_code_bytes: code.nodebug,
            memory_guard,
            rounds,
            command,
        }
    }

    /// The report as a table, ending with the command that reproduces it.
    pub fn print_table(&self) {
        println!(
            "{:<9} {:>10} {:>11} {:>9} {:>17} {:>17} {:>9} {:>9} {:>9} {:>12} {:>10} {:>17}",
            "kernel",
            "arg",
            "nodebug ms",
            "(b) idle",
            "(c) unrelated bp",
            "(d) same-func bp",
            "(b) instr",
            "(c) instr",
            "(d) instr",
            "(e) checks ms",
            "(a)/(e)",
            "(a)/(e) instr."
        );
        let ratio = |r: Option<f64>| r.map_or_else(|| "-".to_owned(), |r| format!("{r:.2}x"));
        for k in &self.kernels {
            println!(
                "{:<9} {:>10} {:>11.1} {:>8.2}x {:>16.2}x {:>16.2}x {:>9} {:>9} {:>9} {:>12.1} {:>9.2}x {:>17}",
                k.name,
                k.arg,
                k.nodebug_ms,
                k.idle_ratio,
                k.unrelated_ratio,
                k.same_function_ratio,
                ratio(k.idle_instructions_ratio),
                ratio(k.unrelated_instructions_ratio),
                ratio(k.same_function_instructions_ratio),
                k.explicit_ms,
                k.guard_ratio,
                ratio(k.guard_instructions_ratio)
            );
        }
        let guard = if self.memory_guard { "guard-page memories" } else { "explicit checks (no guard pages here)" };
        println!("(a) normal code: {guard}; (e) normal code with explicit bounds checks");
        println!("times: medians of {} rounds, the five configurations alternating in each round", self.rounds);
        if self.instructions == "measured" {
            let args: Vec<String> =
                self.kernels.iter().filter_map(|k| k.instructions.map(|c| format!("{} {}..{}", k.name, c.args[0], c.args[1]))).collect();
            println!(
                "instructions: (b), (c), (d) debug / normal code and normal / explicitly checked code, (I(N2) - I(N1)) under callgrind, one child per run, at N1..N2: {}",
                args.join(", ")
            );
        } else {
            println!("instructions: {}", self.instructions);
        }
        println!(
            "code: {:.1} bytes per site (debug {} - normal {} bytes, {} sites), of which the guards' hot paths {:.1}",
            self.bytes_per_site, self.debug_code_bytes, self.nodebug_code_bytes, self.sites, self.hot_bytes_per_site
        );
        println!("reproduce: {}", self.command);
    }
}
