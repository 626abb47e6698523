//! `onecopy run --workers N`: the program on N workers of one pool, each
//! with its own store and WASI context, all running one copy of the code.

use std::process::ExitCode;

use anyhow::{bail, Result};
use onecopy_runtime::Module;
use onecopy_wasi::{WasiCtx, WasiCtxBuilder};
use onecopy_workers::{CallError, PoolConfig, Target, WorkerPool};

use super::prefix::{PrefixedLines, Sink};
use super::RunArgs;

/// What one worker's run ended with: its exit status, or the results of
/// the `--invoke` call as text.
enum Outcome {
    Status(i32),
    Results(Vec<String>),
}

/// Run on `workers` workers; the exit code is the programs' common status
/// (1 if they differ or any failed).
pub fn main(args: &RunArgs, module: &Module, workers: usize) -> Result<ExitCode> {
    if workers == 0 {
        bail!("--workers needs at least one worker");
    }
    // Each worker's context opens the preopened directories itself.
    super::context(args, WasiCtxBuilder::new())?;
    let owned = args.clone();
    let config = PoolConfig::with_data(workers, move |worker| {
        let prefix = format!("[worker {worker}] ");
        let mut builder = WasiCtxBuilder::new().stderr(PrefixedLines::new(prefix.clone(), Sink::Stderr));
        if !owned.quiet {
            builder = builder.stdout(PrefixedLines::new(prefix, Sink::Stdout));
        }
        super::context(&owned, builder).map_err(|e| onecopy_runtime::Error::NotFound(format!("{e:#}")))
    })
    .name("onecopy-run")
    .linker(|_, module| super::linker(module.engine(), module).map_err(|e| onecopy_runtime::Error::Link(format!("{e:#}"))));
    let pool: WorkerPool<WasiCtx> = WorkerPool::new(module, config)?;
    let handles: Vec<_> = (0..workers)
        .map(|w| {
            let (invoke, call_args) = (args.invoke.clone(), args.args.clone());
            pool.run(Target::Worker(w), move |_, store, instance| -> Result<Outcome, CallError> {
                let failed = |e: anyhow::Error| CallError::Wasm(format!("{e:#}"));
                match &invoke {
                    None => {
                        let start = instance.get_typed_func::<(), ()>(&*store, "_start")?;
                        Ok(Outcome::Status(super::status(start.call(&mut *store, ())).map_err(failed)?))
                    }
                    Some(name) => {
                        let func = instance.get_func(&*store, name).ok_or_else(|| CallError::Wasm(format!("no export `{name}`")))?;
                        let results = super::invoke(store, func, name, &call_args).map_err(failed)?;
                        Ok(Outcome::Results(results.iter().map(crate::values::show).collect()))
                    }
                }
            })
        })
        .collect();
    let mut statuses = Vec::new();
    let mut failures = 0;
    for (w, handle) in handles.into_iter().enumerate() {
        match handle.wait() {
            Ok(Outcome::Status(status)) => statuses.push(status),
            Ok(Outcome::Results(results)) => {
                for result in results {
                    println!("[worker {w}] {result}");
                }
                statuses.push(0);
            }
            Err(e) => {
                eprintln!("[worker {w}] error: {e}");
                failures += 1;
            }
        }
    }
    // Workers drop their stores (and flush their last lines) as they end.
    let report = pool.shutdown(onecopy_workers::DROP_TIMEOUT);
    let memory = module.engine().code_memory();
    eprintln!(
        "{workers} workers ran {} from one copy of code: code arena {} bytes used ({} of module code, {} of stubs), {} module(s)",
        args.file.display(),
        memory.used,
        module.code_size(),
        memory.stub_bytes,
        memory.modules
    );
    if !report.is_clean() {
        eprintln!("workers that did not end cleanly: {report:?}");
    }
    let first = statuses.first().copied().unwrap_or(1);
    if failures > 0 || statuses.iter().any(|s| *s != first) {
        eprintln!("exit statuses: {statuses:?}, {failures} failed");
        return Ok(ExitCode::FAILURE);
    }
    Ok(super::exit_code(first))
}
