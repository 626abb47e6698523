//! Each script in a child process of its own, so that a crash (a fault the
//! runtime did not turn into a trap) or a hang in one script fails that
//! script only.

use std::io::Read;
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::report::{FileReport, Summary, Verdict};
use super::Options;

/// How long one script may run before it counts as hung. The slowest spec
/// script takes a few seconds in an unoptimized build.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(120);

/// Run `file` as `onecopy wast --in-process --json FILE` (plus the flags of
/// `options`) and read its report.
pub fn run(file: &Path, options: Options) -> FileReport {
    child_report(file, options).unwrap_or_else(|message| {
        let mut report = FileReport::new(file.display().to_string());
        report.record(0, Err(Verdict::Fail(message)));
        report
    })
}

fn child_report(file: &Path, options: Options) -> Result<FileReport, String> {
    let mut command = Command::new(own_executable()?);
    command.args(["wast", "--in-process", "--json"]);
    if options.debug {
        command.arg("--debug");
    }
    if options.step {
        command.arg("--step");
    }
    if options.wasmtime_compat {
        command.arg("--wasmtime-compat");
    }
    if options.legacy {
        command.arg("--legacy");
    }
    if options.explicit_checks {
        command.arg("--explicit-checks");
    }
    if options.speed {
        command.arg("--speed");
    }
    // stderr is inherited: panics and logs reach the user as they happen.
    let mut child =
        command.arg(file).stdin(Stdio::null()).stdout(Stdio::piped()).spawn().map_err(|e| format!("cannot start a child process: {e}"))?;
    // Read while waiting, or a large report would fill the pipe and stall the child.
    let mut stdout = child.stdout.take().expect("piped stdout");
    let reader = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        stdout.read_to_end(&mut bytes).map(|_| bytes)
    });
    let status = wait(&mut child)?;
    let bytes = reader.join().map_err(|_| "reader thread panicked".to_string())?.map_err(|e| e.to_string())?;
    let mut summary: Summary = serde_json::from_slice(&bytes).map_err(|_| describe(status))?;
    summary.files.pop().ok_or_else(|| describe(status))
}

/// This program. On Linux `/proc/self/exe` still runs this very binary when a
/// rebuild has replaced the file on disk meanwhile.
fn own_executable() -> Result<std::path::PathBuf, String> {
    if cfg!(target_os = "linux") {
        return Ok("/proc/self/exe".into());
    }
    std::env::current_exe().map_err(|e| format!("cannot find onecopy itself: {e}"))
}

/// Wait for `child`, killing it at the timeout.
fn wait(child: &mut std::process::Child) -> Result<ExitStatus, String> {
    let deadline = Instant::now() + SCRIPT_TIMEOUT;
    loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            return Ok(status);
        }
        if Instant::now() > deadline {
            // Best effort: the child may have exited in the meantime.
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("timed out after {} s", SCRIPT_TIMEOUT.as_secs()));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Why a child gave no report.
fn describe(status: ExitStatus) -> String {
    #[cfg(unix)]
    if let Some(signal) = std::os::unix::process::ExitStatusExt::signal(&status) {
        return format!("crashed: killed by signal {signal} (its last output is on stderr)");
    }
    format!("crashed: exited with {status} and no report (see stderr)")
}
