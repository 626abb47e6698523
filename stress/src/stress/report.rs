//! What `onecopy stress` reports: one row per (mode, workers), the module
//! and its compiles, as one JSON object or a table.

use onecopy_runtime::Module;
use serde::Serialize;

use super::workers::{Measured, WorkerError};
use super::Mode;

/// One (mode, worker count) measurement. Numbers are `None` when they were
/// not measured (the module did not compile, no thread could start); a row
/// can carry both numbers and an `error` (legacy mode out of arena: the
/// numbers are those with every worker that got a clone alive).
#[derive(Debug, Serialize)]
pub struct Row {
    pub mode: Mode,
    pub workers: usize,
    /// `engine.code_memory().used` while every worker's instance is alive,
    /// after all have set (or failed to set) their breakpoint and run.
    pub arena_used_bytes: Option<usize>,
    /// The arena's reserved size (the cap, page-rounded).
    pub arena_cap_bytes: Option<usize>,
    /// Process RSS (VmRSS) at that moment.
    pub rss_bytes: Option<u64>,
    /// Machine code of one compiled copy of the module in this mode.
    pub code_bytes_per_copy: Option<usize>,
    /// Wall time from starting the workers until all have instantiated and
    /// set their breakpoint.
    pub instantiate_ms: Option<f64>,
    /// Handler calls over all workers (each debugged worker hits its
    /// breakpoint once).
    pub events: Option<u64>,
    /// Workers whose breakpoint was set (in legacy mode: that got a clone).
    pub debugged_workers: Option<usize>,
    /// Every debugged worker calls the functions at the addresses of the
    /// module's one shared copy (`instance.func_address`, compared across
    /// all workers).
    pub same_code_addresses: Option<bool>,
    pub error: Option<String>,
    /// The error is the arena running out (expected in legacy mode).
    #[serde(skip)]
    pub exhausted: bool,
}

impl Row {
    /// A row that could not be measured.
    pub fn failed(mode: Mode, workers: usize, error: String) -> Row {
        Row {
            mode,
            workers,
            arena_used_bytes: None,
            arena_cap_bytes: None,
            rss_bytes: None,
            code_bytes_per_copy: None,
            instantiate_ms: None,
            events: None,
            debugged_workers: None,
            same_code_addresses: None,
            error: Some(error),
            exhausted: false,
        }
    }

    /// A measured row: the numbers, and the workers' errors summed up.
    pub fn measured(mode: Mode, module: &Module, workers: usize, measured: Measured, baseline: usize) -> Row {
        let memory = module.engine().code_memory();
        let exhausted: Vec<_> = measured
            .errors
            .iter()
            .filter_map(|(_, e)| match e {
                WorkerError::Exhausted(x) => Some(*x),
                WorkerError::Other(_) => None,
            })
            .collect();
        let others: Vec<_> = measured.errors.iter().filter(|(_, e)| matches!(e, WorkerError::Other(_))).collect();
        let mut errors = Vec::new();
        if let Some(first) = exhausted.first() {
            errors.push(format!(
                "CodeArenaExhausted: {} of {workers} workers got no room for their code ({} did; first refusal: {} bytes \
                 requested with {} of {} bytes in use)",
                exhausted.len(),
                measured.debugged,
                first.requested,
                first.used,
                first.cap
            ));
        }
        if let Some((w, e)) = others.first() {
            errors.push(format!("{} workers failed; worker {w}: {e}", others.len()));
        }
        if memory.used != baseline {
            errors.push(format!("the arena holds {} bytes after the row, {baseline} before", memory.used));
        }
        Row {
            mode,
            workers,
            arena_used_bytes: Some(measured.arena_used),
            arena_cap_bytes: Some(memory.reserved),
            rss_bytes: measured.rss,
            code_bytes_per_copy: Some(module.code_size()),
            instantiate_ms: Some(measured.instantiate.as_secs_f64() * 1e3),
            events: Some(measured.events),
            debugged_workers: Some(measured.debugged),
            same_code_addresses: Some(measured.same_code_addresses),
            exhausted: !exhausted.is_empty() && others.is_empty(),
            error: (!errors.is_empty()).then(|| errors.join("; ")),
        }
    }
}

/// One mode's compile of the module, and the arena right after it.
#[derive(Debug, Serialize)]
pub struct Compile {
    pub mode: Mode,
    pub code_bytes_per_copy: Option<usize>,
    pub compile_ms: Option<f64>,
    /// Arena bytes with the module compiled and no worker: its code plus
    /// the call stubs.
    pub arena_used_bytes: Option<usize>,
    /// Of which call stubs.
    pub stub_bytes: Option<usize>,
    /// Page-rounded bytes the arena has handed out at that point.
    pub arena_committed_bytes: Option<usize>,
    /// Legacy mode: how many debugged workers can get a clone, as
    /// `floor((cap - committed) / page_round(code_bytes_per_copy))`: the
    /// arena allocates whole pages, first fit.
    pub predicted_max_debugged: Option<usize>,
    /// After the last row: dropping the module freed it, so no worker's
    /// instance outlived its thread (instances that import a table are
    /// kept alive by it, and leak).
    pub module_freed: Option<bool>,
    pub error: Option<String>,
}

/// The workload.
#[derive(Debug, Serialize)]
pub struct ModuleReport {
    pub name: String,
    pub wasm_bytes: usize,
    pub functions: Option<usize>,
    /// Of the shared-mode compile if there was one, else the first.
    pub code_bytes_per_copy: Option<usize>,
    pub compile_ms: Option<f64>,
    /// The function every worker breaks in and the export it calls
    /// (`--module` only; the built-in module spreads workers over its
    /// entry points and calls them through `run`).
    pub break_in: Option<String>,
    /// The arena's page size.
    pub page_bytes: usize,
    pub compiles: Vec<Compile>,
}

/// The JSON report.
#[derive(Debug, Serialize)]
pub struct Report {
    pub module: ModuleReport,
    pub rows: Vec<Row>,
}

fn mib(bytes: Option<usize>) -> String {
    bytes.map_or("-".into(), |b| format!("{:.1}", b as f64 / (1 << 20) as f64))
}

/// The human-readable report.
pub fn print_table(report: &Report) {
    let m = &report.module;
    let functions = m.functions.map_or(String::new(), |n| format!(", {n} functions"));
    println!("module {}: {} wasm bytes{functions}", m.name, m.wasm_bytes);
    if let Some(b) = &m.break_in {
        println!("  every worker breaks in {b}");
    }
    for c in &m.compiles {
        match &c.error {
            Some(e) => println!("  {:<6} compile failed: {e}", c.mode.name()),
            None => println!(
                "  {:<6} {:.1} MiB of code per copy, compiled in {:.0} ms; arena {} MiB with stubs{}",
                c.mode.name(),
                c.code_bytes_per_copy.unwrap_or(0) as f64 / (1 << 20) as f64,
                c.compile_ms.unwrap_or(0.0),
                mib(c.arena_used_bytes),
                c.predicted_max_debugged.map_or(String::new(), |k| format!("; room for {k} clones (predicted)")),
            ),
        }
    }
    println!();
    println!(
        "{:<6} {:>7} {:>10} {:>9} {:>9} {:>9} {:>10} {:>7} {:>8} {:>9}  error",
        "mode", "workers", "arena MiB", "cap MiB", "RSS MiB", "code MiB", "inst. ms", "events", "debugged", "same code"
    );
    for row in &report.rows {
        println!(
            "{:<6} {:>7} {:>10} {:>9} {:>9} {:>9} {:>10} {:>7} {:>8} {:>9}  {}",
            row.mode.name(),
            row.workers,
            mib(row.arena_used_bytes),
            mib(row.arena_cap_bytes),
            mib(row.rss_bytes.map(|b| b as usize)),
            mib(row.code_bytes_per_copy),
            row.instantiate_ms.map_or("-".into(), |ms| format!("{ms:.1}")),
            row.events.map_or("-".into(), |e| e.to_string()),
            row.debugged_workers.map_or("-".into(), |d| d.to_string()),
            row.same_code_addresses.map_or("-".into(), |s| if s { "yes" } else { "no" }.to_string()),
            row.error.as_deref().unwrap_or(""),
        );
    }
    for c in report.module.compiles.iter().filter(|c| c.module_freed == Some(false)) {
        println!("{}: the workers' instances were not freed with their threads (leaked)", c.mode.name());
    }
    println!();
    for line in summary(report) {
        println!("{line}");
    }
}

/// One line per mode: what the rows show.
pub fn summary(report: &Report) -> Vec<String> {
    let mut lines = Vec::new();
    for c in &report.module.compiles {
        let rows: Vec<&Row> = report.rows.iter().filter(|r| r.mode == c.mode).collect();
        let ok: Vec<&&Row> = rows.iter().filter(|r| r.error.is_none()).collect();
        let used: Vec<usize> = ok.iter().filter_map(|r| r.arena_used_bytes).collect();
        let range = match (ok.first(), ok.last()) {
            (Some(a), Some(b)) => format!("{}..{} workers", a.workers, b.workers),
            _ => "no row".into(),
        };
        let line = match c.mode {
            Mode::Shared if !used.is_empty() && used.iter().all(|&u| u == used[0]) => {
                format!("shared: {range}: the arena holds {} bytes whatever the number of debugged workers", used[0])
            }
            Mode::Shared => format!("shared: {range}: arena bytes {used:?}"),
            Mode::Legacy => {
                let first = rows.iter().find(|r| r.exhausted);
                let prediction = c.predicted_max_debugged.map_or(String::new(), |k| format!(" (predicted: {k})"));
                match first {
                    Some(r) => format!(
                        "legacy: {range} fit; ran out of the {} MiB arena at {} workers: {} got a clone{prediction}",
                        mib(r.arena_cap_bytes),
                        r.workers,
                        r.debugged_workers.unwrap_or(0),
                    ),
                    None => format!("legacy: {range}: never ran out{prediction}"),
                }
            }
        };
        lines.push(line);
    }
    lines
}
