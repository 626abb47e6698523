//! `onecopy fuzz`: differential fuzzing against wasmi for a number of
//! seconds (see the `onecopy-differential` crate), a table or one JSON
//! object at the end; exit status 1 if any module disagreed.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, Result};
use onecopy_differential::{Campaign, Report};

use crate::progress;

/// Host stack of the fuzzing thread: deep wasm recursion must exhaust
/// onecopy's wasm stack limit, never the host thread's stack.
const FUZZ_STACK: usize = 64 << 20;

/// Arguments of `onecopy fuzz`.
#[derive(Debug, clap::Args)]
pub struct FuzzArgs {
    /// Stop starting new modules after this many seconds.
    #[arg(long, default_value_t = 60)]
    pub seconds: u64,
    /// First seed (module i uses seed + i); default: from the clock.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Where each disagreeing module is saved, as `seed-N.wasm` with a
    /// `seed-N.txt` saying what differed.
    #[arg(long, default_value = "fuzz-failures")]
    pub out: PathBuf,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    pub json: bool,
}

/// Run the campaign on a big-stack thread.
pub fn main(args: &FuzzArgs) -> Result<ExitCode> {
    let seed = args.seed.unwrap_or_else(|| SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64));
    let campaign = Campaign { duration: Duration::from_secs(args.seconds), seed, failures_dir: args.out.clone() };
    let bar = progress::bar(args.seconds, "s");
    let shown = bar.clone();
    let report = std::thread::Builder::new()
        .name("fuzz".into())
        .stack_size(FUZZ_STACK)
        .spawn(move || {
            campaign.run(|r| {
                shown.set_position(r.seconds as u64);
                shown.set_message(format!("{} modules, {} failures", r.executions, r.failures));
            })
        })?
        .join()
        .map_err(|_| anyhow!("the fuzzing thread panicked"))??;
    bar.finish_and_clear();
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print!("{}", table(&report));
    }
    Ok(if report.failures == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// The readable summary.
fn table(r: &Report) -> String {
    let rate = r.executions as f64 / r.seconds.max(1e-9);
    let mut text = String::new();
    for (name, value) in [
        ("seed", r.seed.to_string()),
        ("seconds", format!("{:.1}", r.seconds)),
        ("executions (modules x 5 engines)", r.executions.to_string()),
        ("executions per second", format!("{rate:.1}")),
        ("calls per engine", r.calls.to_string()),
        ("seeds skipped", r.skipped.to_string()),
        ("debug stops (step, legacy)", r.debug_stops.to_string()),
        ("locals read at stops", r.locals_read.to_string()),
        ("failures", r.failures.to_string()),
    ] {
        text += &format!("{name:<34} {value:>14}\n");
    }
    for f in &r.failed {
        text += &format!("seed {} ({}): {} -> {}\n", f.seed, f.mode, f.message, f.path);
    }
    if r.failures > 0 {
        text += &format!("failing modules in {}\n", r.failures_dir);
    }
    text
}
