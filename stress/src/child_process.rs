//! Children that run one of this executable's hidden subcommands (one
//! measurement per process: peak memory that is the child's own, or a run
//! under valgrind), and how to say why one failed.

use std::path::PathBuf;
use std::process::{Command, Output};

/// This executable, to start children of.
pub fn this_exe() -> Result<PathBuf, String> {
    std::env::current_exe().map_err(|e| format!("cannot find this executable: {e}"))
}

/// Run `command` to its end: its output if it succeeded, else why not
/// (the child's own `error:` line, or the signal that killed it).
pub fn output(command: &mut Command) -> Result<Output, String> {
    tracing::debug!("starting a child: {command:?}");
    let output = command.output().map_err(|e| format!("cannot start a child process: {e}"))?;
    if output.status.success() {
        Ok(output)
    } else {
        Err(failure(&output))
    }
}

/// Why a child failed: its own error line, else how it ended.
fn failure(output: &Output) -> String {
    use std::os::unix::process::ExitStatusExt;
    let stderr = String::from_utf8_lossy(&output.stderr);
    let said = stderr.lines().rev().find_map(|l| l.strip_prefix("error: ")).map(str::to_owned);
    match (output.status.signal(), said) {
        (Some(signal), _) => {
            // SAFETY: strsignal returns a valid C string for any signal number.
            let what = unsafe { std::ffi::CStr::from_ptr(libc::strsignal(signal)) }.to_string_lossy();
            format!("the child was killed by signal {signal} ({what})")
        }
        (None, Some(said)) => said,
        (None, None) => format!("the child failed ({}): {}", output.status, stderr.trim()),
    }
}
