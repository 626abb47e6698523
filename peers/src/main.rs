//! `peers`: onecopy side by side with the runtimes users would pick
//! instead (Wasmtime 48's Cranelift, Winch and guest debugging; wasmi 2),
//! in one process, alternating runs, medians of N rounds (issue 13), on
//! small kernels and on C programs compiled to wasm32-wasi. Every row
//! carries the command that reproduces it.

mod bench_kernels;
mod c_programs;
mod code_bytes;
mod commands;
mod compile;
#[path = "../../stress/src/stress/generate.rs"]
#[allow(dead_code)]
mod generate;
mod kernels;
mod report;
mod runtimes;
mod timing;
mod wasi_shim;

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};

use c_programs::Program;
use kernels::{Kernel, Kernels};
use report::{Report, Versions};
use runtimes::Peer;

/// Parts of the comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Section {
    /// The bench-guard kernels: normal code and debug code.
    Kernels,
    /// Compile throughput on a large module.
    Compile,
    /// Executable bytes mapped for N debugged stores / workers.
    CodeBytes,
    /// Whole runs of C programs compiled to wasm32-wasi.
    CPrograms,
}

impl Section {
    fn flag(self) -> &'static str {
        match self {
            Section::Kernels => "kernels",
            Section::Compile => "compile",
            Section::CodeBytes => "code-bytes",
            Section::CPrograms => "c-programs",
        }
    }
}

#[derive(Debug, Parser)]
#[command(name = "peers", about = "onecopy against Wasmtime (Cranelift, Winch, guest debug) and wasmi, side by side")]
struct Cli {
    #[command(subcommand)]
    one: Option<One>,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    json: bool,
    /// Also write the JSON object to this file (the table still goes to stdout).
    #[arg(long, value_name = "FILE")]
    json_out: Option<PathBuf>,
    /// Only these sections (repeatable); default: all.
    #[arg(long, value_enum)]
    only: Vec<Section>,
    /// Only these kernels (repeatable); default: all.
    #[arg(long, value_enum)]
    kernel: Vec<Kernel>,
    /// Timed rounds per configuration (medians are reported).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    rounds: u32,
    /// fib's argument.
    #[arg(long, default_value_t = 35)]
    fib: i32,
    /// Iterations of the loop kernel.
    #[arg(long = "loop", default_value_t = 50_000_000)]
    loop_iterations: i32,
    /// Rounds over 16 MiB of the memory kernel.
    #[arg(long, default_value_t = 6)]
    memsum: i32,
    /// Indirect calls of the call_indirect kernel.
    #[arg(long, default_value_t = 30_000_000)]
    indirect: i32,
    /// The large module for compile throughput and code bytes (.wasm or
    /// .wat, importing nothing); default: the stress crate's generated module.
    #[arg(long, value_name = "FILE")]
    module: Option<PathBuf>,
    /// Functions in the generated module.
    #[arg(long, default_value_t = 3000)]
    funcs: u32,
    /// Timed compiles per setup.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    compile_rounds: u32,
    /// Debugged stores / workers to count code bytes for.
    #[arg(long, value_delimiter = ',', default_value = "1,16,64")]
    stores: Vec<usize>,
    /// Only these C programs (repeatable); default: all.
    #[arg(long, value_enum)]
    program: Vec<Program>,
    /// The sieve program's bound (primes below N).
    #[arg(long, default_value_t = 80_000_000)]
    sieve: u32,
    /// MiB hashed by the sha256 program.
    #[arg(long, default_value_t = 48)]
    sha256: u32,
    /// The matmul program's matrix size (N x N doubles).
    #[arg(long, default_value_t = 1024)]
    matmul: u32,
    /// Ints sorted by the qsort program.
    #[arg(long, default_value_t = 1_000_000)]
    qsort: u32,
    /// Rows the sqlite program inserts (and a tenth of that, queries).
    #[arg(long, default_value_t = 50_000)]
    sqlite: u32,
}

#[derive(Debug, Subcommand)]
enum One {
    /// Call one kernel once in one configuration (for callgrind: the
    /// difference between two arguments is the kernel's own instructions).
    One {
        #[arg(long, value_enum)]
        peer: Peer,
        #[arg(long, value_enum)]
        kernel: Kernel,
        #[arg(long)]
        arg: i32,
    },
    /// Run one C program once in one configuration and print what it
    /// printed (for callgrind, like `one`: run two sizes, subtract).
    OneProgram {
        #[arg(long, value_enum)]
        peer: Peer,
        #[arg(long, value_enum)]
        program: Program,
        #[arg(long)]
        arg: u32,
    },
}

/// The ones named on the command line, or all of them if none is.
fn chosen<T: Clone>(named: &[T], all: &[T]) -> Vec<T> {
    if named.is_empty() { all } else { named }.to_vec()
}

impl Cli {
    fn wants(&self, section: Section) -> bool {
        self.only.is_empty() || self.only.contains(&section)
    }

    fn kernels(&self) -> Vec<Kernel> {
        chosen(&self.kernel, &Kernel::ALL)
    }

    fn arg(&self, kernel: Kernel) -> i32 {
        match kernel {
            Kernel::Fib => self.fib,
            Kernel::Loop => self.loop_iterations,
            Kernel::Memsum => self.memsum,
            Kernel::Indirect => self.indirect,
        }
    }

    fn programs(&self) -> Vec<Program> {
        chosen(&self.program, &Program::ALL)
    }

    fn program_arg(&self, program: Program) -> u32 {
        match program {
            Program::Sieve => self.sieve,
            Program::Sha256 => self.sha256,
            Program::Matmul => self.matmul,
            Program::Qsort => self.qsort,
            Program::Sqlite => self.sqlite,
        }
    }

    /// The command line reproducing one C program's rows.
    fn program_command(&self, program: Program) -> String {
        let (name, arg) = (program.name(), self.program_arg(program));
        format!("cd peers && cargo run --release -- --only c-programs --program {name} --{name} {arg} --rounds {}", self.rounds)
    }

    /// The command line reproducing one section's rows (for `kernel`'s only, if given).
    fn command(&self, section: Section, kernel: Option<Kernel>) -> String {
        let mut c = format!("cd peers && cargo run --release -- --only {}", section.flag());
        match section {
            Section::Kernels => {
                let k = kernel.expect("kernel rows name their kernel");
                c += &format!(" --kernel {} --{} {} --rounds {}", k.name(), k.name(), self.arg(k), self.rounds);
            }
            Section::Compile => c += &format!("{} --compile-rounds {}", self.module_flag(), self.compile_rounds),
            Section::CodeBytes => {
                let stores: Vec<String> = self.stores.iter().map(|s| s.to_string()).collect();
                c += &format!("{} --stores {}", self.module_flag(), stores.join(","));
            }
            Section::CPrograms => unreachable!("C program rows use program_command"),
        }
        c
    }

    fn module_flag(&self) -> String {
        match &self.module {
            Some(path) => format!(" --module {}", path.display()),
            None => format!(" --funcs {}", self.funcs),
        }
    }

    /// The large module's binary and its name in reports.
    fn large_module(&self) -> Result<(Vec<u8>, String)> {
        Ok(match &self.module {
            Some(path) => {
                let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
                let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                (wat::parse_bytes(&bytes)?.into_owned(), name)
            }
            None => (generate::module(self.funcs).wasm, generate::name(self.funcs)),
        })
    }
}

/// The version of `package` this binary was built with, from the crate's Cargo.lock.
fn locked_version(package: &str) -> String {
    const LOCK: &str = include_str!("../Cargo.lock");
    let name = format!("name = \"{package}\"");
    let mut lines = LOCK.lines();
    while let Some(line) = lines.next() {
        if line == name {
            if let Some(version) = lines.next().and_then(|v| v.strip_prefix("version = ")) {
                return version.trim_matches('"').to_string();
            }
        }
    }
    "unknown".into()
}

fn progress(total: u64) -> ProgressBar {
    let bar = ProgressBar::new(total);
    bar.set_style(ProgressStyle::with_template("{elapsed:>4} [{bar:30}] {pos}/{len} {msg}").unwrap().progress_chars("=> "));
    bar
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.one {
        Some(One::One { peer, kernel, arg }) => {
            let mut runner = runtimes::prepare(peer, &Kernels::load()?, kernel.name())?;
            println!("{}", runner.call(arg)?);
            return Ok(());
        }
        Some(One::OneProgram { peer, program, arg }) => {
            let outcome = c_programs::run_once(peer, program, arg)?;
            std::io::Write::write_all(&mut std::io::stdout(), &outcome.stdout)?;
            std::io::Write::write_all(&mut std::io::stderr(), &outcome.stderr)?;
            anyhow::ensure!(outcome.status == 0, "{} exited with {}", program.name(), outcome.status);
            return Ok(());
        }
        None => {}
    }
    let kernels = Kernels::load()?;
    let large = if cli.wants(Section::Compile) || cli.wants(Section::CodeBytes) { Some(cli.large_module()?) } else { None };
    let mut total = 0;
    if cli.wants(Section::Kernels) {
        total += bench_kernels::runs(cli.rounds) * cli.kernels().len() as u64;
    }
    if cli.wants(Section::Compile) {
        total += compile::runs(cli.compile_rounds);
    }
    if cli.wants(Section::CodeBytes) {
        // Two modules: the kernels and the large one.
        total += 2 * code_bytes::runs(&cli.stores);
    }
    if cli.wants(Section::CPrograms) {
        total += c_programs::runs(cli.rounds) * cli.programs().len() as u64;
    }
    let bar = progress(total);
    let mut rows = Vec::new();
    if cli.wants(Section::Kernels) {
        for kernel in cli.kernels() {
            let command = cli.command(Section::Kernels, Some(kernel));
            rows.extend(bench_kernels::measure(&kernels, kernel, cli.arg(kernel), cli.rounds, &command, &bar)?);
        }
    }
    if let Some((wasm, name)) = &large {
        if cli.wants(Section::Compile) {
            rows.extend(compile::measure(wasm, name, cli.compile_rounds, &cli.command(Section::Compile, None), &bar)?);
        }
        if cli.wants(Section::CodeBytes) {
            let command = cli.command(Section::CodeBytes, None);
            // The kernels module too: the smallest code a store can copy.
            let small = code_bytes::Target { func: kernels.unrelated_func, offset: kernels.unrelated_offset };
            rows.extend(code_bytes::measure(&kernels.wasm, "kernels.wat", &small, &cli.stores, &command, &bar)?);
            let target = code_bytes::Target::first_function(wasm)?;
            rows.extend(code_bytes::measure(wasm, name, &target, &cli.stores, &command, &bar)?);
        }
    }
    if cli.wants(Section::CPrograms) {
        for program in cli.programs() {
            let command = cli.program_command(program);
            rows.extend(c_programs::measure(program, cli.program_arg(program), cli.rounds, &command, &bar)?);
        }
    }
    bar.finish_and_clear();
    let report = Report {
        versions: Versions { wasmtime: locked_version("wasmtime"), wasmi: locked_version("wasmi") },
        cores: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        rows,
    };
    if let Some(path) = &cli.json_out {
        std::fs::write(path, serde_json::to_string_pretty(&report)?).with_context(|| format!("writing {}", path.display()))?;
    }
    if cli.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        report::print_table(&report);
    }
    Ok(())
}
