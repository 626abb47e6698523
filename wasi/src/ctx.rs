//! [`WasiCtx`]: one store's WASI state (arguments, environment, open
//! descriptors), made with a [`WasiCtxBuilder`]; and [`I32Exit`], how
//! `proc_exit` ends the program.

use std::io::{IsTerminal, Read, Write};
use std::path::Path;

use cap_std::ambient_authority;

use crate::abi::rights;
use crate::fd_table::{Descriptor, FdTable};

/// The WASI state of one store (put it in the store's data; see
/// [`crate::add_to_linker`]). Each worker has its own: nothing is shared
/// between stores but the host's files themselves.
pub struct WasiCtx {
    pub(crate) args: Vec<String>,
    pub(crate) env: Vec<(String, String)>,
    pub(crate) fds: FdTable,
}

impl WasiCtx {
    /// A builder with no arguments, no environment, empty stdin and
    /// discarded stdout and stderr.
    pub fn builder() -> WasiCtxBuilder {
        WasiCtxBuilder::new()
    }
}

/// Makes a [`WasiCtx`]: what the program sees as its arguments,
/// environment, standard streams and preopened directories.
///
/// ```
/// use onecopy_wasi::WasiCtxBuilder;
/// let dir = std::env::temp_dir();
/// let ctx = WasiCtxBuilder::new()
///     .args(["prog", "--verbose"])
///     .env("LANG", "C")
///     .inherit_stdio()
///     .preopened_dir(&dir, "/tmp")?
///     .build();
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct WasiCtxBuilder {
    args: Vec<String>,
    env: Vec<(String, String)>,
    stdin: Descriptor,
    stdout: Descriptor,
    stderr: Descriptor,
    preopens: Vec<(cap_std::fs::Dir, String)>,
}

impl Default for WasiCtxBuilder {
    fn default() -> Self {
        WasiCtxBuilder::new()
    }
}

impl WasiCtxBuilder {
    /// No arguments or environment, empty stdin, stdout and stderr discarded.
    pub fn new() -> WasiCtxBuilder {
        WasiCtxBuilder {
            args: Vec::new(),
            env: Vec::new(),
            stdin: Descriptor::Reader { stream: Box::new(std::io::empty()), tty: false },
            stdout: Descriptor::Writer { stream: Box::new(std::io::sink()), tty: false },
            stderr: Descriptor::Writer { stream: Box::new(std::io::sink()), tty: false },
            preopens: Vec::new(),
        }
    }

    /// Add one argument (the first is the program's name).
    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// Add arguments.
    pub fn args<S: Into<String>>(mut self, args: impl IntoIterator<Item = S>) -> Self {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Add the environment variable `key=value`.
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// What the program reads from stdin.
    pub fn stdin(mut self, stream: impl Read + Send + 'static) -> Self {
        self.stdin = Descriptor::Reader { stream: Box::new(stream), tty: false };
        self
    }

    /// Where the program's stdout goes.
    pub fn stdout(mut self, stream: impl Write + Send + 'static) -> Self {
        self.stdout = Descriptor::Writer { stream: Box::new(stream), tty: false };
        self
    }

    /// Where the program's stderr goes.
    pub fn stderr(mut self, stream: impl Write + Send + 'static) -> Self {
        self.stderr = Descriptor::Writer { stream: Box::new(stream), tty: false };
        self
    }

    /// The host process's own stdin, stdout and stderr (each shown to the
    /// program as a terminal when it is one).
    pub fn inherit_stdio(mut self) -> Self {
        self.stdin = Descriptor::Reader { stream: Box::new(std::io::stdin()), tty: std::io::stdin().is_terminal() };
        self.stdout = Descriptor::Writer { stream: Box::new(std::io::stdout()), tty: std::io::stdout().is_terminal() };
        self.stderr = Descriptor::Writer { stream: Box::new(std::io::stderr()), tty: std::io::stderr().is_terminal() };
        self
    }

    /// Let the program use the host directory `host` under the name
    /// `guest` (paths beneath it resolve inside it, never outside:
    /// not through `..`, absolute paths or symbolic links).
    pub fn preopened_dir(mut self, host: impl AsRef<Path>, guest: impl Into<String>) -> std::io::Result<Self> {
        let dir = cap_std::fs::Dir::open_ambient_dir(host, ambient_authority())?;
        self.preopens.push((dir, guest.into()));
        Ok(self)
    }

    /// The context: stdin, stdout and stderr as fds 0-2, the preopened
    /// directories from fd 3 on, in the order given.
    pub fn build(self) -> WasiCtx {
        let mut fds = FdTable::default();
        fds.insert_at(0, self.stdin);
        fds.insert_at(1, self.stdout);
        fds.insert_at(2, self.stderr);
        for (k, (dir, name)) in self.preopens.into_iter().enumerate() {
            fds.insert_at(3 + k as u32, Descriptor::Dir { dir, preopen: Some(name), rights: rights::DIRECTORY });
        }
        WasiCtx { args: self.args, env: self.env, fds }
    }
}

/// The error a program's `proc_exit(code)` ends its call with (find it
/// with [`onecopy_runtime::Error::downcast_ref`]); a `_start` that returns
/// exited with 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct I32Exit(pub i32);

impl std::fmt::Display for I32Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the program exited with status {}", self.0)
    }
}

impl std::error::Error for I32Exit {}
