//! Executable code mapped for N debugged instances of one module: Wasmtime
//! 48's guest debugging gives every `Store` a private, patchable copy of the
//! module's code; onecopy's debugged workers all run the one shared copy.
//!
//! Counted two ways: the growth of this process's executable mappings in
//! `/proc/self/smaps` (what the kernel has mapped, whoever's API says so),
//! and each runtime's own accounting (Wasmtime: copies x `Module::text`;
//! onecopy: the engine's committed arena pages).

use std::time::Duration;

use anyhow::{Context, Result};
use indicatif::ProgressBar;
use onecopy_workers::{DebugSession, PoolConfig, Who, WorkerPool};

use crate::report::{Better, Row};
use crate::runtimes::{self, Peer};

/// Bytes of executable mappings in this process: (virtual size, resident).
pub fn exec_mapped() -> Result<(u64, u64)> {
    let smaps = std::fs::read_to_string("/proc/self/smaps").context("reading /proc/self/smaps")?;
    let (mut size, mut rss) = (0u64, 0u64);
    let mut executable = false;
    for line in smaps.lines() {
        let mut fields = line.split_whitespace();
        let first = fields.next().unwrap_or("");
        if first.contains('-') && !first.ends_with(':') {
            // A mapping's header: `start-end perms offset dev inode [path]`.
            executable = fields.next().is_some_and(|perms| perms.contains('x'));
        } else if executable {
            let kb = || fields.clone().next().and_then(|v| v.parse::<u64>().ok()).unwrap_or(0) * 1024;
            match first {
                "Size:" => size += kb(),
                "Rss:" => rss += kb(),
                _ => {}
            }
        }
    }
    Ok((size, rss))
}

/// Where each debugged instance gets its breakpoint: the first instruction
/// of a function (defined function 0 when the module imports none).
pub struct Target {
    /// Function index.
    pub func: u32,
    /// Module-relative offset of its first instruction.
    pub offset: u32,
}

impl Target {
    /// Defined function 0 of `wasm`, which must import no functions.
    pub fn first_function(wasm: &[u8]) -> Result<Target> {
        for payload in wasmparser::Parser::new(0).parse_all(wasm) {
            match payload? {
                wasmparser::Payload::ImportSection(imports) if imports.count() > 0 => {
                    anyhow::bail!("the module imports; code bytes need a module that imports nothing")
                }
                wasmparser::Payload::CodeSectionEntry(body) => {
                    return Ok(Target { func: 0, offset: body.get_operators_reader()?.original_position() as u32 });
                }
                _ => {}
            }
        }
        anyhow::bail!("the module defines no function")
    }
}

/// Growth of executable mappings (virtual size) across `make`, and what it kept alive.
fn growth<K>(make: impl FnOnce() -> Result<K>) -> Result<(u64, u64, K)> {
    let (size0, rss0) = exec_mapped()?;
    let kept = make()?;
    let (size1, rss1) = exec_mapped()?;
    Ok((size1.saturating_sub(size0), rss1.saturating_sub(rss0), kept))
}

/// Wasmtime with guest debugging: one module, `stores` stores each with an
/// instance and a breakpoint set. Returns (mapped growth, Wasmtime's own
/// count: one copy of `text` for the engine plus one per store).
fn wasmtime_stores(wasm: &[u8], target: &Target, stores: usize) -> Result<(u64, u64)> {
    let engine = wasmtime::Engine::new(&runtimes::wasmtime_config(Peer::WasmtimeDebug))?;
    let (mapped, _, (module, kept)) = growth(|| {
        let module = wasmtime::Module::new(&engine, wasm)?;
        let mut kept = Vec::with_capacity(stores);
        for _ in 0..stores {
            let mut store = wasmtime::Store::new(&engine, ());
            let instance = wasmtime::Instance::new(&mut store, &module, &[])?;
            store.edit_breakpoints().context("guest debugging is off")?.add_breakpoint(&module, wasmtime::ModulePC::new(target.offset))?;
            kept.push((store, instance));
        }
        Ok((module, kept))
    })?;
    let counted = module.text().len() as u64 * (stores as u64 + 1);
    drop(kept);
    Ok((mapped, counted))
}

/// onecopy debug code: one module, a pool of `workers` workers in one debug
/// session, a breakpoint set in every worker's instance. Returns (mapped
/// growth, the engine's committed code pages).
fn onecopy_workers(wasm: &[u8], target: &Target, workers: usize) -> Result<(u64, u64)> {
    let engine = onecopy_runtime::Engine::new(&runtimes::onecopy_config(Peer::OnecopyDebug))?;
    let (mapped, _, pool) = growth(|| {
        let module = onecopy_runtime::Module::new(&engine, wasm)?;
        let session = DebugSession::new();
        let pool = WorkerPool::new(&module, PoolConfig::new(workers).on_instance(session.hook()))?;
        anyhow::ensure!(session.workers().len() == workers, "only {} of {workers} workers joined the session", session.workers().len());
        session.set_breakpoint(Who::All, target.func, target.offset)?;
        Ok((pool, session))
    })?;
    let counted = engine.code_memory().committed as u64;
    let report = pool.0.shutdown(Duration::from_secs(10));
    anyhow::ensure!(report.is_clean(), "the pool did not shut down cleanly");
    Ok((mapped, counted))
}

/// Rows for each count in `counts`: onecopy's N debugged workers against
/// Wasmtime's N debugged stores, by mapped growth and by the runtimes' own
/// accounting.
pub fn measure(wasm: &[u8], name: &str, target: &Target, counts: &[usize], command: &str, progress: &ProgressBar) -> Result<Vec<Row>> {
    let mut rows = Vec::new();
    for &n in counts {
        progress.set_message(format!("{name}: {n} debugged stores / workers"));
        let (theirs_mapped, theirs_counted) = wasmtime_stores(wasm, target, n)?;
        progress.inc(1);
        let (ours_mapped, ours_counted) = onecopy_workers(wasm, target, n)?;
        progress.inc(1);
        let ours = format!("onecopy {n} workers");
        let theirs = format!("wasmtime-debug {n} stores");
        rows.push(Row::new(
            "code-bytes",
            format!("{name} smaps r-x growth"),
            &ours,
            &theirs,
            "bytes",
            ours_mapped as f64,
            theirs_mapped as f64,
            Better::Lower,
            command.into(),
        ));
        rows.push(Row::new(
            "code-bytes",
            format!("{name} runtime's own count"),
            &ours,
            &theirs,
            "bytes",
            ours_counted as f64,
            theirs_counted as f64,
            Better::Lower,
            command.into(),
        ));
    }
    Ok(rows)
}

/// Timed steps of [`measure`]: two per count.
pub fn runs(counts: &[usize]) -> u64 {
    2 * counts.len() as u64
}
