//! How `onecopy bench compile` compiles besides the mode, shared by its
//! command line and its children's: bounds checks, breakable points and
//! Cranelift's optimization level.

use std::ffi::OsString;

use clap::Args;
use onecopy_runtime::{Breakable, Config, OptLevel};

/// The compile settings every mode of one report shares.
#[derive(Debug, Clone, Default, Args)]
pub struct Settings {
    /// Explicit bounds checks instead of guard pages (`Config::memory_guard(false)`).
    #[arg(long)]
    pub explicit_checks: bool,
    /// Debug modes: breakable points where the module's DWARF line table
    /// marks statements (`Breakable::Lines`), not at every wasm statement.
    #[arg(long)]
    pub lines: bool,
    /// Cranelift's `opt_level` speed instead of none (`Config::opt_level`).
    #[arg(long)]
    pub speed: bool,
}

impl Settings {
    /// `config` with these settings.
    pub fn apply(&self, mut config: Config) -> Config {
        if self.explicit_checks {
            config = config.memory_guard(false);
        }
        if self.lines {
            config = config.breakable(Breakable::Lines);
        }
        if self.speed {
            config = config.opt_level(OptLevel::Speed);
        }
        config
    }

    /// These settings as command-line flags (the defaults left out).
    pub fn to_args(&self) -> Vec<OsString> {
        let flags = [(self.explicit_checks, "--explicit-checks"), (self.lines, "--lines"), (self.speed, "--speed")];
        flags.into_iter().filter(|(on, _)| *on).map(|(_, flag)| flag.into()).collect()
    }
}
