//! `onecopy run`: instantiate one module and call one of its exports.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use onecopy_runtime::{Config, Engine, ExternType, Linker, Module, Store, Trap, TrapKind, Val};

use crate::values;

/// Arguments of `onecopy run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// A `.wasm` binary or a `.wat` text module.
    pub file: PathBuf,
    /// The exported function to call.
    #[arg(long)]
    pub invoke: String,
    /// The call's arguments, one per parameter (ints decimal or 0x hex; floats
    /// decimal, inf or nan).
    #[arg(allow_hyphen_values = true)]
    pub args: Vec<String>,
    /// Compile with breakpoint guards (debug code).
    #[arg(long)]
    pub debug: bool,
}

/// Run the call and print its results, one per line (`55 : i32`).
pub fn main(args: &RunArgs) -> Result<()> {
    let bytes = load(&args.file)?;
    let engine = Engine::new(&Config::default().debug(args.debug))?;
    let module = Module::new(&engine, &bytes).with_context(|| format!("cannot compile {}", args.file.display()))?;
    let linker = stub_imports(&engine, &module)?;
    let mut store = Store::new(&engine, ());
    let instance = linker.instantiate(&mut store, &module).context("cannot instantiate the module")?;
    let func = instance.get_func(&store, &args.invoke).ok_or_else(|| no_such_export(&module, &args.invoke))?;
    let ty = func.ty(&store)?;
    let params = ty.params;
    if params.len() != args.args.len() {
        bail!("`{}` takes {} argument(s), {} given", args.invoke, params.len(), args.args.len());
    }
    let call_args = args
        .args
        .iter()
        .zip(params)
        .map(|(text, ty)| values::parse(text, ty))
        .collect::<Result<Vec<Val>>>()?;
    let mut results: Vec<Val> = ty.results.iter().map(|t| Val::default_for(*t)).collect();
    func.call(&mut store, &call_args, &mut results).with_context(|| format!("calling `{}`", args.invoke))?;
    for result in &results {
        println!("{}", values::show(result));
    }
    Ok(())
}

/// The module in `path`, a `.wasm` binary or a `.wat` text module (every
/// command that takes a module file reads it this way, so errors read alike).
pub(crate) fn load(path: &Path) -> Result<Vec<u8>> {
    wat::parse_file(path).with_context(|| format!("cannot load {}", path.display()))
}

/// A linker whose functions satisfy the module's function imports by trapping
/// when called, so modules that import but rarely call still run. Other
/// imports (memories, tables, globals) have no sensible stand-in.
pub(crate) fn stub_imports<T: 'static>(engine: &Engine, module: &Module) -> Result<Linker<T>> {
    let mut linker = Linker::new(engine);
    for import in module.imports() {
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
    Ok(linker)
}

/// The error for a missing export, listing the functions that do exist.
fn no_such_export(module: &Module, name: &str) -> anyhow::Error {
    let funcs: Vec<String> = module
        .exports()
        .into_iter()
        .filter(|(_, ty)| matches!(ty, ExternType::Func(_)))
        .map(|(name, _)| name)
        .collect();
    anyhow!("the module exports no function `{name}` (its functions: {})", funcs.join(", "))
}
