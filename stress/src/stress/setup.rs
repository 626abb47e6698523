//! Before the rows: the workload (the built-in module or `--module`'s),
//! what each worker does with it, and each mode's compile.

use anyhow::{bail, Context, Result};
use onecopy_runtime::{Config, Engine, ExternType, Module, SiteKind};
use std::time::Instant;

use super::generate;
use super::report::Compile;
use super::workers::Workload;
use super::{Mode, StressArgs};

/// The workload, prepared once.
pub struct Workpiece {
    pub name: String,
    pub wasm: Vec<u8>,
    /// Imported and defined (known once compiled).
    pub functions: Option<usize>,
    /// Built from the first compiled module (it only needs declarations).
    pub workload: Option<Workload>,
}

/// The built-in module, or `--module`'s.
pub fn load(args: &StressArgs) -> Result<Workpiece> {
    let Some(path) = &args.module else {
        let generated = generate::module(args.funcs);
        return Ok(Workpiece {
            name: generate::name(args.funcs),
            functions: Some(args.funcs.max(1) as usize + 1),
            wasm: generated.wasm,
            workload: Some(Workload::Builtin { slots: generated.slots }),
        });
    };
    let wasm = crate::run::load(path)?;
    let name = path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned());
    Ok(Workpiece { name, wasm, functions: None, workload: None })
}

/// What workers do with a foreign module (see the module docs), and a
/// description of it.
pub fn workload(args: &StressArgs, module: &Module) -> Result<(Workload, Option<String>)> {
    if onecopy_wasi::is_command(module) {
        let func = module.info().export("_start").map(|e| e.index).context("a WASI command exports _start")?;
        let description = format!("function {func} (_start of a WASI command, run to its end on every worker)");
        return Ok((Workload::Command { func }, Some(description)));
    }
    let imports = module.imports();
    if !imports.is_empty() && !args.stub_imports {
        bail!(
            "the module has {} imports (first: {}.{}); pass --stub-imports to satisfy them with stand-ins",
            imports.len(),
            imports[0].module,
            imports[0].name
        );
    }
    let info = module.info();
    let entries: std::collections::HashSet<u32> =
        module.sites().iter().filter(|s| s.kind == SiteKind::Entry && s.func >= info.imported_funcs).map(|s| s.func).collect();
    let export = module.exports().into_iter().find_map(|(name, ty)| {
        let ExternType::Func(ty) = ty else { return None };
        let func = info.export(&name)?.index;
        (ty.params.is_empty() && entries.contains(&func)).then_some((name, func))
    });
    Ok(match export {
        Some((name, func)) => (
            Workload::Foreign { func, call: Some(name.clone()), stub_imports: args.stub_imports },
            Some(format!("function {func} (export {name:?}, called once, aborted at the breakpoint)")),
        ),
        None => {
            let func = entries.iter().min().copied().context("the module defines no function to set a breakpoint in")?;
            (
                Workload::Foreign { func, call: None, stub_imports: args.stub_imports },
                Some(format!("function {func} (no exported function without parameters: nothing is called)")),
            )
        }
    })
}

/// Compile `wasm` for `mode` in an engine of its own.
pub fn compile(mode: Mode, wasm: &[u8], cap: usize, page: usize) -> (Compile, Option<(Engine, Module)>) {
    let mut report = Compile {
        mode,
        code_bytes_per_copy: None,
        compile_ms: None,
        arena_used_bytes: None,
        stub_bytes: None,
        arena_committed_bytes: None,
        predicted_max_debugged: None,
        module_freed: None,
        error: None,
    };
    let config = Config::new().debug(true).legacy(mode == Mode::Legacy).arena_cap(cap);
    let engine = match Engine::new(&config) {
        Ok(engine) => engine,
        Err(e) => {
            report.error = Some(e.to_string());
            return (report, None);
        }
    };
    let start = Instant::now();
    let module = match Module::new(&engine, wasm) {
        Ok(module) => module,
        Err(e) => {
            report.error = Some(e.to_string());
            return (report, None);
        }
    };
    report.compile_ms = Some(start.elapsed().as_secs_f64() * 1e3);
    let memory = engine.code_memory();
    let copy = module.code_size();
    report.code_bytes_per_copy = Some(copy);
    report.arena_used_bytes = Some(memory.used);
    report.stub_bytes = Some(memory.stub_bytes);
    report.arena_committed_bytes = Some(memory.committed);
    if mode == Mode::Legacy {
        report.predicted_max_debugged = Some(memory.reserved.saturating_sub(memory.committed) / copy.next_multiple_of(page).max(1));
    }
    (report, Some((engine, module)))
}

/// The page size the code arena allocates in.
pub fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    (unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).max(4096) as usize
}
