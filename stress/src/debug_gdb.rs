//! `onecopy debug --gdb ADDR FILE [--workers N] [-- ARGS...]`: serve LLDB's
//! wasm plug-in. The WASI program's `_start` runs on N workers from one
//! copy of code; every worker is held at its first breakable point until
//! LLDB has connected and resumes it. When LLDB goes away the workers run
//! to the end, and the exit status is the program's.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::thread;

use anyhow::{bail, Context, Result};
use onecopy_gdb::{Program, Threads, WasmTarget};
use onecopy_runtime::{Breakable, Config, Engine, Error, Module};
use onecopy_wasi::{WasiCtx, WasiCtxBuilder};
use onecopy_workers::{CallError, DebugSession, PoolConfig, Target, Who, WorkerPool};

use crate::debug_cli::DebugArgs;
use crate::run::prefix::{PrefixedLines, Sink};
use crate::run::{self, RunArgs};

/// Run the program under LLDB's control, listening on `addr`.
pub fn main(args: &DebugArgs, addr: SocketAddr) -> Result<ExitCode> {
    if args.workers == 0 {
        bail!("--workers needs at least one worker");
    }
    let bytes = run::load(&args.file)?;
    // Every instruction boundary is breakable, so every address of the
    // DWARF line table is a place LLDB can stop and step to.
    let engine = Engine::new(&Config::new().debug(true).breakable(Breakable::Instructions))?;
    let module = Module::new(&engine, &bytes).with_context(|| format!("cannot compile {}", args.file.display()))?;
    if !run::has_start(&module) {
        bail!("the module exports no `_start`: `onecopy debug --gdb` runs WASI commands");
    }
    run::linker(&engine, &module)?;
    let run_args = RunArgs {
        file: args.file.clone(),
        invoke: None,
        args: args.args.clone(),
        dirs: args.dirs.clone(),
        envs: args.envs.clone(),
        debug: true,
        speed: false,
        workers: Some(args.workers),
        quiet: false,
    };
    run::context(&run_args, WasiCtxBuilder::new())?;
    let listener = onecopy_gdb::listen(addr, args.gdb_any_host)?;

    let session = DebugSession::new();
    let workers = args.workers;
    let owned = run_args.clone();
    let config = PoolConfig::with_data(workers, move |worker| {
        let builder = if workers == 1 {
            WasiCtxBuilder::new().inherit_stdio()
        } else {
            let prefix = format!("[worker {worker}] ");
            WasiCtxBuilder::new().stdout(PrefixedLines::new(prefix.clone(), Sink::Stdout)).stderr(PrefixedLines::new(prefix, Sink::Stderr))
        };
        run::context(&owned, builder).map_err(|e| Error::NotFound(format!("{e:#}")))
    })
    .name("onecopy-gdb")
    .linker(|_, module| run::linker(module.engine(), module).map_err(|e| Error::Link(format!("{e:#}"))))
    .on_instance(session.hook());
    let pool: WorkerPool<WasiCtx> = WorkerPool::new(&module, config).context("cannot start the workers")?;

    // Held at their first breakable point until LLDB resumes them.
    session.pause(Who::All)?;
    let (finished_tx, finished) = crossbeam_channel::unbounded();
    let waiters: Vec<_> = (0..workers)
        .map(|w| {
            let handle = pool.run(Target::Worker(w), |_, store, instance| -> Result<i32, CallError> {
                let start = instance.get_typed_func::<(), ()>(&*store, "_start")?;
                run::status(start.call(&mut *store, ())).map_err(|e| CallError::Wasm(format!("{e:#}")))
            });
            let finished_tx = finished_tx.clone();
            thread::spawn(move || {
                let status = match handle.wait() {
                    Ok(status) => Some(status),
                    Err(error) => {
                        eprintln!("[worker {w}] error: {error}");
                        None
                    }
                };
                // The server may have ended already; the status is also returned below.
                let _ = finished_tx.send((w, status));
                status
            })
        })
        .collect();
    let mut threads = Threads::new(session, workers, finished);
    threads.stop_all();

    let local = listener.local_addr()?;
    eprintln!("onecopy: {workers} worker(s) wait for LLDB on {local}: (lldb) process connect --plugin wasm connect://{local}");
    let (conn, peer) = listener.accept().context("cannot accept LLDB's connection")?;
    drop(listener);
    tracing::info!(%peer, "LLDB connected");
    let name = args.file.file_name().map_or_else(|| "module.wasm".into(), |n| n.to_string_lossy().into_owned());
    let program = Program { name, bytes: Arc::from(bytes), module: module.clone() };
    let mut target = WasmTarget::new(program, threads);
    let ending = onecopy_gdb::serve(conn, &mut target)?;
    // Dropping the target drops the session, which lets every worker go.
    drop(target);

    let statuses: Vec<Option<i32>> = waiters.into_iter().map(|w| w.join().ok().flatten()).collect();
    let report = pool.shutdown(onecopy_workers::DROP_TIMEOUT);
    if !report.is_clean() {
        eprintln!("workers that did not end cleanly: {report:?}");
    }
    let memory = module.engine().code_memory();
    eprintln!(
        "onecopy: LLDB session ended ({ending:?}); {workers} worker(s) ran from one copy of code: code arena {} bytes used, {} module(s)",
        memory.used, memory.modules
    );
    match statuses.first().copied().flatten() {
        Some(first) if statuses.iter().all(|s| *s == Some(first)) => Ok(run::exit_code(first)),
        _ => {
            eprintln!("exit statuses: {statuses:?}");
            Ok(ExitCode::FAILURE)
        }
    }
}
