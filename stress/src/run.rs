//! `onecopy run`: run a WASI command (`_start`) and exit with its status,
//! or call one export (`--invoke`); on one thread, or on N workers sharing
//! one copy of the code (`--workers`).

pub(crate) mod prefix;
mod workers;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context, Result};
use onecopy_runtime::{Config, Engine, Error, ExternType, Linker, Module, OptLevel, Store, Trap, TrapKind, Val};
use onecopy_wasi::{I32Exit, WasiCtx, WasiCtxBuilder};

use crate::values;

/// Arguments of `onecopy run`.
#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    /// A `.wasm` binary or a `.wat` text module.
    pub file: PathBuf,
    /// Call this export instead of running `_start`; ARGS are its arguments
    /// (ints decimal or 0x hex; floats decimal, inf or nan).
    #[arg(long)]
    pub invoke: Option<String>,
    /// The program's arguments (after its name), or with `--invoke` the
    /// call's; put `--` before ones that start with `--`.
    #[arg(allow_hyphen_values = true)]
    pub args: Vec<String>,
    /// Let the program use host directory HOST, under the name GUEST (HOST
    /// itself without `::GUEST`). Repeatable.
    #[arg(long = "dir", value_name = "HOST[::GUEST]")]
    pub dirs: Vec<String>,
    /// Set the program's environment variable K to V. Repeatable.
    #[arg(long = "env", value_name = "K=V")]
    pub envs: Vec<String>,
    /// Compile with breakpoint guards (debug code).
    #[arg(long)]
    pub debug: bool,
    /// Compile with Cranelift's `opt_level` speed instead of none.
    #[arg(long)]
    pub speed: bool,
    /// Run on N workers, one store each, all running one copy of the code;
    /// each worker's output lines are prefixed with `[worker i] `, and the
    /// code arena's bytes are reported at the end.
    #[arg(long, value_name = "N")]
    pub workers: Option<usize>,
    /// With `--workers`: discard the programs' stdout.
    #[arg(long)]
    pub quiet: bool,
}

/// Run the program (or the call) and give the process's exit status.
pub fn main(args: &RunArgs) -> Result<ExitCode> {
    let bytes = load(&args.file)?;
    let opt_level = if args.speed { OptLevel::Speed } else { OptLevel::None };
    let engine = Engine::new(&Config::default().debug(args.debug).opt_level(opt_level))?;
    let module = Module::new(&engine, &bytes).with_context(|| format!("cannot compile {}", args.file.display()))?;
    if args.invoke.is_none() && !has_start(&module) {
        bail!("the module exports no `_start` (it is no WASI command): pass --invoke NAME to call an export");
    }
    linker(&engine, &module)?;
    if let Some(workers) = args.workers {
        return workers::main(args, &module, workers);
    }
    let ctx = context(args, WasiCtxBuilder::new().inherit_stdio())?;
    let mut store = Store::new(&engine, ctx);
    let instance = linker(&engine, &module)?.instantiate(&mut store, &module).context("cannot instantiate the module")?;
    let Some(name) = &args.invoke else {
        let start = instance.get_typed_func::<(), ()>(&store, "_start")?;
        return Ok(exit_code(status(start.call(&mut store, ()))?));
    };
    let func = instance.get_func(&store, name).ok_or_else(|| no_such_export(&module, name))?;
    for result in invoke(&mut store, func, name, &args.args)? {
        println!("{}", values::show(&result));
    }
    Ok(ExitCode::SUCCESS)
}

/// Whether the module exports a `_start` that takes and returns nothing.
pub(crate) fn has_start(module: &Module) -> bool {
    module
        .exports()
        .into_iter()
        .any(|(name, ty)| name == "_start" && matches!(ty, ExternType::Func(f) if f.params.is_empty() && f.results.is_empty()))
}

/// Call `func` (export `name`) with `args` parsed for its parameters.
fn invoke<T>(store: &mut Store<T>, func: onecopy_runtime::Func, name: &str, args: &[String]) -> Result<Vec<Val>> {
    let ty = func.ty(&*store)?;
    if ty.params.len() != args.len() {
        bail!("`{name}` takes {} argument(s), {} given", ty.params.len(), args.len());
    }
    let call_args = args.iter().zip(&ty.params).map(|(text, ty)| values::parse(text, *ty)).collect::<Result<Vec<Val>>>()?;
    let mut results: Vec<Val> = ty.results.iter().map(|t| Val::default_for(*t)).collect();
    func.call(store, &call_args, &mut results).with_context(|| format!("calling `{name}`"))?;
    Ok(results)
}

/// The WASI context of a run: `builder`'s streams, the program's name and
/// arguments, `--env` and `--dir`.
pub(crate) fn context(args: &RunArgs, builder: WasiCtxBuilder) -> Result<WasiCtx> {
    let name = args.file.display().to_string();
    let mut builder = builder.arg(name);
    if args.invoke.is_none() {
        builder = builder.args(args.args.iter().cloned());
    }
    for env in &args.envs {
        let (key, value) = env.split_once('=').ok_or_else(|| anyhow!("--env {env}: expected K=V"))?;
        builder = builder.env(key, value);
    }
    for dir in &args.dirs {
        let (host, guest) = dir.split_once("::").unwrap_or((dir, dir));
        builder = builder.preopened_dir(host, guest).with_context(|| format!("--dir {dir}: cannot open {host}"))?;
    }
    Ok(builder.build())
}

/// The exit status of a `_start` call: 0 when it returns, the status of
/// `proc_exit`; anything else is an error.
pub(crate) fn status(outcome: Result<(), Error>) -> Result<i32> {
    match outcome {
        Ok(()) => Ok(0),
        Err(e) => match e.downcast_ref::<I32Exit>() {
            Some(exit) => Ok(exit.0),
            None => Err(anyhow::Error::new(e).context("running `_start`")),
        },
    }
}

/// The process exit code of a WASI status (its low byte, as the OS keeps).
pub(crate) fn exit_code(status: i32) -> ExitCode {
    ExitCode::from(status as u8)
}

/// The module in `path`, a `.wasm` binary or a `.wat` text module (every
/// command that takes a module file reads it this way, so errors read alike).
pub(crate) fn load(path: &Path) -> Result<Vec<u8>> {
    wat::parse_file(path).with_context(|| format!("cannot load {}", path.display()))
}

/// A linker with WASI, and functions that trap when called for the
/// module's other function imports (so modules that import but rarely call
/// still run). Other imports (memories, tables, globals) have no stand-in.
pub(crate) fn linker(engine: &Engine, module: &Module) -> Result<Linker<WasiCtx>> {
    let mut linker = Linker::new(engine);
    onecopy_wasi::add_to_linker(&mut linker, |ctx: &mut WasiCtx| ctx)?;
    stub_missing(&mut linker, module)?;
    Ok(linker)
}

/// Define each function import `linker` lacks as a function that traps,
/// naming itself.
fn stub_missing<T: 'static>(linker: &mut Linker<T>, module: &Module) -> Result<()> {
    for import in module.imports() {
        if linker.is_defined(&import.module, &import.name) {
            continue;
        }
        let ExternType::Func(ty) = import.ty else {
            bail!("the module imports {}.{}, which `onecopy run` cannot provide", import.module, import.name);
        };
        let what = format!("{}.{}", import.module, import.name);
        linker.func_new(&import.module, &import.name, ty, move |_, _, _| {
            let mut trap = Trap::new(TrapKind::Host);
            trap.detail = Some(format!("imported function {what} is not provided by `onecopy run`"));
            Err(trap.into())
        })?;
    }
    Ok(())
}

/// The error for a missing export, listing the functions that do exist.
fn no_such_export(module: &Module, name: &str) -> anyhow::Error {
    let funcs: Vec<String> =
        module.exports().into_iter().filter(|(_, ty)| matches!(ty, ExternType::Func(_))).map(|(name, _)| name).collect();
    anyhow!("the module exports no function `{name}` (its functions: {})", funcs.join(", "))
}
