//! The WASI C programs of `wasi/tests/programs/` (clang-19, wasi-libc) run
//! on both sides: onecopy's normal code with `onecopy_wasi`, Wasmtime's
//! Cranelift with `wasmtime-wasi`'s preview1. Each run is the one the
//! programs' own test makes (arguments, stdin, environment, a fresh scratch
//! directory preopened as `data`), timed from instantiation to the end of
//! `_start`, and its stdout and exit status checked against the program's
//! `.expected` transcript. `clocks` is left out: it sleeps 30 ms by design,
//! which would make its ratio say nothing.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use indicatif::ProgressBar;

use crate::report::{Better, Row};
use crate::timing::median;

/// One run: the name of its `.expected`, the program, stdin, environment, arguments.
struct Run {
    name: &'static str,
    program: &'static str,
    stdin: &'static str,
    env: &'static [(&'static str, &'static str)],
    args: &'static [&'static str],
}

/// The runs of `wasi/tests/programs.rs`, less `clocks`.
const RUNS: &[Run] = &[
    Run { name: "stdio", program: "stdio", stdin: "hello\nworld\n", env: &[], args: &[] },
    Run { name: "files", program: "files", stdin: "", env: &[], args: &[] },
    Run {
        name: "args_env",
        program: "args_env",
        stdin: "",
        env: &[("GREETING", "hi there"), ("ONECOPY_TEST_B", "2"), ("ONECOPY_TEST_A", "1")],
        args: &["one", "two words", "--three"],
    },
    Run { name: "exit_7", program: "exit_code", stdin: "", env: &[], args: &["7"] },
    Run { name: "sandbox", program: "sandbox", stdin: "", env: &[], args: &[] },
];

/// Timed runs: two sides per program per round.
pub fn runs(rounds: u32) -> u64 {
    u64::from(rounds) * RUNS.len() as u64 * 2
}

fn programs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../wasi/tests/programs")
}

/// A fresh scratch directory like the programs' test makes.
fn scratch() -> Result<PathBuf> {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!("peers-wasi-{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed)));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("data/sub"))?;
    std::fs::write(dir.join("data/inside.txt"), "inside\n")?;
    std::fs::write(dir.join("outside.txt"), "outside\n")?;
    std::os::unix::fs::symlink("../outside.txt", dir.join("data/escape"))?;
    std::os::unix::fs::symlink(dir.join("outside.txt"), dir.join("data/escape_absolute"))?;
    Ok(dir)
}

/// Stdout then `exit: STATUS`, as the `.expected` files record it.
fn transcript(stdout: &[u8], status: i32) -> String {
    format!("{}exit: {status}\n", String::from_utf8_lossy(stdout))
}

/// One run on onecopy: (time from instantiation to exit, transcript).
fn onecopy_run(linker: &onecopy_runtime::Linker<onecopy_wasi::WasiCtx>, module: &onecopy_runtime::Module, run: &Run, dir: &Path) -> Result<(Duration, String)> {
    let out = onecopy_wasi::Pipe::default();
    let mut builder = onecopy_wasi::WasiCtx::builder()
        .arg(run.program)
        .args(run.args.iter().copied())
        .stdin(onecopy_wasi::Pipe::with_contents(run.stdin))
        .stdout(out.clone());
    for (k, v) in run.env {
        builder = builder.env(*k, *v);
    }
    let ctx = builder.preopened_dir(dir.join("data"), "data")?.build();
    let start = Instant::now();
    let mut store = onecopy_runtime::Store::new(module.engine(), ctx);
    let instance = linker.instantiate(&mut store, module)?;
    let entry = instance.get_typed_func::<(), ()>(&store, "_start")?;
    let status = match entry.call(&mut store, ()) {
        Ok(()) => 0,
        Err(e) => match e.downcast_ref::<onecopy_wasi::I32Exit>() {
            Some(exit) => exit.0,
            None => bail!("{}: {e}", run.name),
        },
    };
    let took = start.elapsed();
    Ok((took, transcript(&out.contents(), status)))
}

/// One run on Wasmtime: (time from instantiation to exit, transcript).
fn wasmtime_run(linker: &wasmtime::Linker<wasmtime_wasi::p1::WasiP1Ctx>, module: &wasmtime::Module, run: &Run, dir: &Path) -> Result<(Duration, String)> {
    use wasmtime_wasi::p2::pipe::{MemoryInputPipe, MemoryOutputPipe};
    let out = MemoryOutputPipe::new(1 << 20);
    let mut builder = wasmtime_wasi::WasiCtxBuilder::new();
    builder.arg(run.program).args(run.args).stdin(MemoryInputPipe::new(run.stdin.as_bytes().to_vec())).stdout(out.clone());
    for (k, v) in run.env {
        builder.env(k, v);
    }
    builder.preopened_dir(dir.join("data"), "data", wasmtime_wasi::FsPerms::ReadWrite)?;
    let ctx = builder.build_p1();
    let start = Instant::now();
    let mut store = wasmtime::Store::new(module.engine(), ctx);
    let instance = linker.instantiate(&mut store, module)?;
    let entry = instance.get_typed_func::<(), ()>(&mut store, "_start")?;
    let status = match entry.call(&mut store, ()) {
        Ok(()) => 0,
        Err(e) => match e.downcast_ref::<wasmtime_wasi::I32Exit>() {
            Some(exit) => exit.0,
            None => bail!("{}: {e:?}", run.name),
        },
    };
    let took = start.elapsed();
    Ok((took, transcript(&out.contents(), status)))
}

/// Run every program on both sides, alternating, `rounds` rounds; a row
/// per program with the median times. A side whose transcript differs from
/// the `.expected` one is named in the row's item (onecopy's must match).
pub fn measure(rounds: u32, command: &str, progress: &ProgressBar) -> Result<Vec<Row>> {
    let ours_engine = onecopy_runtime::Engine::new(&onecopy_runtime::Config::new())?;
    let mut ours_linker = onecopy_runtime::Linker::new(&ours_engine);
    onecopy_wasi::add_to_linker(&mut ours_linker, |ctx: &mut onecopy_wasi::WasiCtx| ctx)?;
    let theirs_engine = wasmtime::Engine::new(&crate::runtimes::wasmtime_config(crate::runtimes::Peer::Wasmtime))?;
    let mut theirs_linker = wasmtime::Linker::new(&theirs_engine);
    wasmtime_wasi::p1::add_to_linker_sync(&mut theirs_linker, |ctx| ctx)?;
    let mut rows = Vec::new();
    for run in RUNS {
        progress.set_message(format!("wasi {}", run.name));
        let path = programs().join(format!("{}.wasm", run.program));
        let wasm = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        let expected = std::fs::read_to_string(programs().join(format!("{}.expected", run.name)))?;
        let ours_module = onecopy_runtime::Module::new(&ours_engine, &wasm)?;
        let theirs_module = wasmtime::Module::new(&theirs_engine, &wasm)?;
        let (mut ours, mut theirs) = (Vec::new(), Vec::new());
        let mut theirs_differs = false;
        for round in 0..rounds {
            for side in 0..2 {
                let dir = scratch()?;
                // Alternate who goes first each round.
                if (side + round) % 2 == 0 {
                    let (took, out) = onecopy_run(&ours_linker, &ours_module, run, &dir)?;
                    anyhow::ensure!(out == expected, "{} on onecopy printed\n{out}\nexpected\n{expected}", run.name);
                    ours.push(took);
                } else {
                    let (took, out) = wasmtime_run(&theirs_linker, &theirs_module, run, &dir)?;
                    theirs_differs |= out != expected;
                    theirs.push(took);
                }
                let _ = std::fs::remove_dir_all(&dir);
                progress.inc(1);
            }
        }
        let item = if theirs_differs { format!("{} (wasmtime's output differs)", run.name) } else { run.name.to_string() };
        let ms = |s: &mut Vec<Duration>| median(s).as_secs_f64() * 1e3;
        rows.push(Row::new("wasi", item, "onecopy", "wasmtime", "ms", ms(&mut ours), ms(&mut theirs), Better::Lower, command.into()));
    }
    Ok(rows)
}
