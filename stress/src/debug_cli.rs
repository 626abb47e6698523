//! `onecopy debug FILE --workers N [--script FILE|-]`: compile a module once
//! with breakpoint guards, start N workers that each instantiate it, and
//! drive a [`DebugSession`] over them with text commands, one per line
//! (from a script file, or stdin). Every reply and event is one JSON object
//! on its own line of stdout, so people and programs can drive a session:
//!
//! ```text
//! break 2 fib          {"reply":"break","worker":2,"func":0,"offset":45}
//! run fib 10           {"reply":"run","export":"fib","args":["10:i32"],"workers":[0,1,2,3]}
//! wait 2               {"event":"stopped","worker":2,"func":0,"name":"fib","offset":45,"reason":"breakpoint"}
//! locals 2             {"reply":"locals","worker":2,"locals":["10:i32"]}
//! continue 2           {"reply":"continue","worker":2}
//!                      {"event":"finished","worker":2,"results":["55:i32"]}
//! ```
//!
//! `break FILE:LINE` (or `break W FILE:LINE`) sets a breakpoint where the
//! line's code starts, from the module's DWARF line table; stop events and
//! backtrace frames then carry `file` and `line`. WASI programs run (`run
//! _start`), their output on stderr, `[worker i] `-prefixed. With `--gdb
//! ADDR` the session is LLDB's instead (see `debug_gdb.rs`).
//!
//! Calls started by `run` are waited for by background threads that print
//! `finished`, `trapped` (or, for errors other than traps, `failed`) events
//! as they happen; one lock keeps lines whole. A bad command prints
//! `{"error":".."}` and the session goes on. At the end of the input,
//! stopped workers are resumed (the session detaches), every started call's
//! outcome is printed, and the pool shuts down.

/// An [`Obj`] with these keys and values (anything `Serialize`), in this
/// order: `obj!{"reply": "break", "worker": 2}`.
macro_rules! obj {
    ($($key:literal : $value:expr),* $(,)?) => {
        $crate::debug_cli::Obj::default()$(.with($key, &$value))*
    };
}

mod command;
mod exec;
mod format;

use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::{Context, Result};
use onecopy_runtime::{Breakable, Config, Engine, Error, Module};
use onecopy_workers::{DebugSession, PoolConfig, WorkerPool};
use serde::Serialize;
use serde_json::Value as Json;

use crate::run::prefix::{PrefixedLines, Sink};
use command::Command;
use exec::Debugger;
use onecopy_wasi::WasiCtxBuilder;

/// Arguments of `onecopy debug`.
#[derive(Debug, clap::Args)]
pub struct DebugArgs {
    /// A `.wasm` binary or a `.wat` text module (compiled once, with
    /// breakpoint guards).
    pub file: PathBuf,
    /// Worker threads, each with its own instance of the module.
    #[arg(long, default_value_t = 1)]
    pub workers: usize,
    /// Read commands from this file; `-` (the default) reads stdin, with a
    /// prompt on stderr when stdin is a terminal.
    #[arg(long)]
    pub script: Option<PathBuf>,
    /// Breakable points only where the module's DWARF line table marks a
    /// statement (and at each loop's start), not at every wasm statement:
    /// smaller, faster debug code for source-level debugging.
    #[arg(long, conflicts_with = "gdb")]
    pub lines: bool,
    /// How long `wait` waits for a stop before it answers with an error.
    #[arg(long, default_value_t = 30_000)]
    pub wait_timeout_ms: u64,
    /// Instead of text commands, serve LLDB's wasm plug-in on this address
    /// (`process connect --plugin wasm connect://ADDR`) and run the WASI
    /// program's `_start` on every worker, each an LLDB thread.
    #[arg(long, value_name = "ADDR:PORT", conflicts_with = "script")]
    pub gdb: Option<std::net::SocketAddr>,
    /// With `--gdb`: allow an address off the loopback interface (the
    /// protocol has no authentication: whoever connects controls the program).
    #[arg(long, requires = "gdb")]
    pub gdb_any_host: bool,
    /// With `--gdb`: let the program use host directory HOST as GUEST.
    #[arg(long = "dir", value_name = "HOST[::GUEST]", requires = "gdb")]
    pub dirs: Vec<String>,
    /// With `--gdb`: set the program's environment variable K to V.
    #[arg(long = "env", value_name = "K=V", requires = "gdb")]
    pub envs: Vec<String>,
    /// With `--gdb`: the program's arguments (after `--`).
    #[arg(last = true, requires = "gdb")]
    pub args: Vec<String>,
}

/// One line of output: a JSON object whose keys keep the order they were
/// added in (`reply` or `event` first; `serde_json::Map` would sort them).
#[derive(Debug, Default, Clone)]
pub struct Obj(String);

impl Obj {
    /// Add `key` with `value`.
    pub fn with(mut self, key: &str, value: &impl Serialize) -> Obj {
        self.0.push(if self.0.is_empty() { '{' } else { ',' });
        self.0 += &Json::from(key).to_string();
        self.0.push(':');
        // Plain data (numbers, strings, vectors of them) always serializes.
        self.0 += &serde_json::to_string(value).unwrap_or_else(|_| "null".to_string());
        self
    }
}

impl fmt::Display for Obj {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            f.write_str("{}")
        } else {
            write!(f, "{}}}", self.0)
        }
    }
}

/// Where every reply and event goes: stdout, one whole line at a time.
pub struct Out(Mutex<io::Stdout>);

impl Out {
    /// Print `value` as one line and flush it.
    pub fn line(&self, value: &Obj) {
        let mut stdout = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        // A closed stdout (a reader that went away) is no reason to stop
        // the session: the script still runs to its end.
        let _ = writeln!(stdout, "{value}").and_then(|()| stdout.flush());
    }
}

/// Run the session. Fails (exit code 1) only when the module, the script
/// or the workers cannot be set up.
pub fn main(args: &DebugArgs) -> Result<ExitCode> {
    if let Some(addr) = args.gdb {
        return crate::debug_gdb::main(args, addr);
    }
    let path = args.file.display();
    let bytes = crate::run::load(&args.file)?;
    let breakable = if args.lines { Breakable::Lines } else { Breakable::Statements };
    let engine = Engine::new(&Config::new().debug(true).breakable(breakable))?;
    let module = Module::new(&engine, &bytes).with_context(|| format!("cannot compile {path}"))?;
    // Imports WASI and the stubs cannot satisfy fail here, once, rather
    // than on every worker.
    crate::run::linker(&engine, &module)?;
    let input = Input::open(args.script.as_ref())?;

    let session = DebugSession::new();
    // WASI programs run too; their output goes to stderr, prefixed, so
    // stdout stays one JSON object a line.
    let config = PoolConfig::with_data(args.workers, |worker| {
        let prefix = format!("[worker {worker}] ");
        Ok(WasiCtxBuilder::new()
            .stdout(PrefixedLines::new(prefix.clone(), Sink::Stderr))
            .stderr(PrefixedLines::new(prefix, Sink::Stderr))
            .build())
    })
    .name("onecopy-debug")
    .linker(|_, module| crate::run::linker(module.engine(), module).map_err(|e| Error::Link(format!("{e:#}"))))
    .on_instance(session.hook());
    let pool = WorkerPool::new(&module, config).context("cannot start the workers")?;
    let out = Arc::new(Out(Mutex::new(io::stdout())));
    let timeout = Duration::from_millis(args.wait_timeout_ms);
    let lines = onecopy_gdb::lines::LineTable::new(&bytes).unwrap_or_else(|error| {
        tracing::warn!(%error, "no source lines: the module's line table does not parse");
        Default::default()
    });
    let mut debugger = Debugger::new(module, lines, pool, session, out.clone(), timeout);

    for line in input {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let command = command::parse(line);
        let quit = command == Ok(Command::Quit);
        match command.and_then(|command| debugger.execute(command)) {
            Ok(Some(reply)) => out.line(&reply),
            Ok(None) => {}
            Err(message) => out.line(&obj! {"error": message}),
        }
        if quit {
            break;
        }
    }

    let report = debugger.finish();
    if !report.is_clean() {
        eprintln!("warning: workers did not shut down cleanly: {report:?}");
    }
    Ok(ExitCode::SUCCESS)
}

/// The command lines: a script file or stdin, with a prompt for a person at
/// a terminal.
struct Input {
    reader: Box<dyn BufRead>,
    prompt: bool,
}

impl Input {
    fn open(script: Option<&PathBuf>) -> Result<Input> {
        match script {
            Some(path) if path.as_os_str() != "-" => {
                let file = File::open(path).with_context(|| format!("cannot open the script {}", path.display()))?;
                Ok(Input { reader: Box::new(BufReader::new(file)), prompt: false })
            }
            _ => {
                let prompt = io::stdin().is_terminal();
                if prompt {
                    eprintln!("onecopy debug: one command a line (`help` lists them); end with `quit` or Ctrl-D");
                }
                Ok(Input { reader: Box::new(io::stdin().lock()), prompt })
            }
        }
    }
}

impl Iterator for Input {
    type Item = String;

    /// The next line; input that cannot be read ends the session like its end.
    fn next(&mut self) -> Option<String> {
        if self.prompt {
            eprint!("(onecopy) ");
            let _ = io::stderr().flush();
        }
        let mut line = String::new();
        match self.reader.read_line(&mut line) {
            Ok(0) | Err(_) => None,
            Ok(_) => Some(line),
        }
    }
}
