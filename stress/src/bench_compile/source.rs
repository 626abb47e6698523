//! Which module `onecopy bench compile` measures, chosen the same way on
//! its command line and its children's: a file, a generated function of a
//! given size, or the built-in stress module.

use std::ffi::OsString;
use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use super::one_function::OneFunction;
use crate::stress::generate;

/// The module options, shared by `bench compile` and `bench compile-one`.
#[derive(Debug, Clone, Args)]
pub struct SourceArgs {
    /// The module to compile (.wasm or .wat); default: the built-in stress module.
    #[arg(long, value_name = "FILE.wasm", conflicts_with = "generate")]
    pub module: Option<PathBuf>,
    /// Instead, a generated module of one function of this many breakable
    /// points and i32 locals (statements `local.set A (i32.add (local.get B)
    /// (local.get 0))`).
    #[arg(long, value_name = "sites=N,locals=L")]
    pub generate: Option<OneFunction>,
    /// Functions in the built-in module (scale it down for quick runs).
    #[arg(long, hide = true, default_value_t = generate::DEFAULT_FUNCS, conflicts_with_all = ["module", "generate"])]
    pub funcs: u32,
}

impl SourceArgs {
    /// How reports name the module.
    pub fn name(&self) -> String {
        match (&self.module, &self.generate) {
            (Some(path), _) => path.display().to_string(),
            (None, Some(one)) => one.name(),
            (None, None) => generate::name(self.funcs),
        }
    }

    /// The module's binary.
    pub fn wasm(&self) -> Result<Vec<u8>> {
        Ok(match (&self.module, &self.generate) {
            (Some(path), _) => crate::run::load(path)?,
            (None, Some(one)) => one.module(),
            (None, None) => generate::module(self.funcs).wasm,
        })
    }

    /// These options as a command line, leaving out the defaults (for a
    /// child, and for the line that reproduces a report).
    pub fn to_args(&self) -> Vec<OsString> {
        match (&self.module, &self.generate) {
            (Some(path), _) => vec!["--module".into(), path.into()],
            (None, Some(one)) => vec!["--generate".into(), one.to_string().into()],
            (None, None) if self.funcs != generate::DEFAULT_FUNCS => vec!["--funcs".into(), self.funcs.to_string().into()],
            (None, None) => vec![],
        }
    }
}
