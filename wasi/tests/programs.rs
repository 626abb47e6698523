//! C programs built with clang-19 and Debian's wasi-libc (`programs/`,
//! rebuilt by `programs/build.sh`) print what their native builds print:
//! in normal code, in debug code, and on 64 workers sharing one copy of
//! the code. The runs here (arguments, stdin, environment, scratch
//! directory) are the ones `build.sh` gives the native builds.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

mod common;

use common::linker;
use onecopy_runtime::{Config, Engine, Error, Module, Store};
use onecopy_wasi::{I32Exit, Pipe, WasiCtx};
use onecopy_workers::{CallError, PoolConfig, Target, WorkerPool};

/// One run of a program: its name (of its `.expected` file), the program,
/// stdin, environment and arguments (after the program's name).
struct Run {
    name: &'static str,
    program: &'static str,
    stdin: &'static str,
    env: &'static [(&'static str, &'static str)],
    args: &'static [&'static str],
}

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
    Run { name: "clocks", program: "clocks", stdin: "", env: &[], args: &[] },
    Run { name: "exit_7", program: "exit_code", stdin: "", env: &[], args: &["7"] },
    Run { name: "exit_0", program: "exit_code", stdin: "", env: &[], args: &[] },
    Run { name: "sandbox", program: "sandbox", stdin: "", env: &[], args: &[] },
];

fn programs() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/programs")
}

fn expected(run: &Run) -> String {
    std::fs::read_to_string(programs().join(format!("{}.expected", run.name))).expect("the run's expected output")
}

/// A fresh scratch directory like `build.sh`'s: `data` (preopened) with a
/// file and a subdirectory, a file beside it, and links out of `data`.
fn scratch() -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let dir =
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("wasi-{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed)));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("data/sub")).unwrap();
    std::fs::write(dir.join("data/inside.txt"), "inside\n").unwrap();
    std::fs::write(dir.join("outside.txt"), "outside\n").unwrap();
    std::os::unix::fs::symlink("../outside.txt", dir.join("data/escape")).unwrap();
    std::os::unix::fs::symlink(dir.join("outside.txt"), dir.join("data/escape_absolute")).unwrap();
    dir
}

/// The WASI context of `run` in `dir`, its stdout going to `out`.
fn context(run: &Run, dir: &Path, out: &Pipe) -> WasiCtx {
    let mut builder =
        WasiCtx::builder().arg(run.program).args(run.args.iter().copied()).stdin(Pipe::with_contents(run.stdin)).stdout(out.clone());
    for (k, v) in run.env {
        builder = builder.env(*k, *v);
    }
    builder.preopened_dir(dir.join("data"), "data").expect("preopen the scratch directory").build()
}

/// The exit status of a `_start` call's outcome.
fn status(outcome: Result<(), Error>) -> Result<i32, Error> {
    match outcome {
        Ok(()) => Ok(0),
        Err(e) => e.downcast_ref::<I32Exit>().map(|exit| exit.0).ok_or(e),
    }
}

fn module(engine: &Engine, run: &Run) -> Module {
    let wasm = std::fs::read(programs().join(format!("{}.wasm", run.program))).unwrap();
    Module::new(engine, wasm).unwrap()
}

/// Stdout then `exit: STATUS`, as `build.sh` records the native run.
fn transcript(out: &Pipe, status: i32) -> String {
    format!("{}exit: {status}\n", String::from_utf8_lossy(&out.contents()))
}

fn run_in_one_store(debug: bool) {
    let engine = Engine::new(&Config::new().debug(debug)).unwrap();
    let linker = linker(&engine);
    for run in RUNS {
        let out = Pipe::default();
        let mut store = Store::new(&engine, context(run, &scratch(), &out));
        let instance = linker.instantiate(&mut store, &module(&engine, run)).unwrap();
        let start = instance.get_typed_func::<(), ()>(&store, "_start").unwrap();
        let status = status(start.call(&mut store, ())).unwrap_or_else(|e| panic!("{}: {e}", run.name));
        assert_eq!(transcript(&out, status), expected(run), "{} (debug code: {debug})", run.name);
    }
}

#[test]
fn programs_print_what_their_native_builds_print() {
    run_in_one_store(false);
}

#[test]
fn programs_print_the_same_in_debug_code() {
    run_in_one_store(true);
}

#[test]
fn sixty_four_workers_run_each_program_from_one_copy_of_code() {
    const WORKERS: usize = 64;
    let engine = Engine::new(&Config::new().debug(true)).unwrap();
    for run in RUNS {
        let module = module(&engine, run);
        let outs: Vec<Pipe> = (0..WORKERS).map(|_| Pipe::default()).collect();
        let made = outs.clone();
        let config = PoolConfig::with_data(WORKERS, move |worker| Ok(context(&RUNS[index_of(run.name)], &scratch(), &made[worker])))
            .stack_size(2 << 20)
            .linker(|_, module| Ok(linker(module.engine())));
        let pool = WorkerPool::new(&module, config).unwrap();
        let handles: Vec<_> = (0..WORKERS)
            .map(|w| {
                pool.run(Target::Worker(w), |_, store, instance| {
                    let start = instance.get_typed_func::<(), ()>(&*store, "_start").map_err(CallError::from)?;
                    status(start.call(&mut *store, ())).map_err(CallError::from)
                })
            })
            .collect();
        for (w, handle) in handles.into_iter().enumerate() {
            let status = handle.wait().unwrap_or_else(|e| panic!("{} on worker {w}: {e}", run.name));
            assert_eq!(transcript(&outs[w], status), expected(run), "{} on worker {w}", run.name);
        }
        let memory = engine.code_memory();
        assert_eq!(memory.modules, 1, "one copy of {}'s code", run.program);
        assert_eq!(memory.used, module.code_size() + memory.stub_bytes);
    }
}

/// `RUNS`' index of the run named `name` (a `'static` run for the pool's
/// factory).
fn index_of(name: &str) -> usize {
    RUNS.iter().position(|r| r.name == name).expect("a known run")
}
