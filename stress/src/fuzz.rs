//! `onecopy fuzz`: differential fuzzing against wasmi for a number of
//! seconds (see the `onecopy-differential` crate), a table or one JSON
//! object at the end; exit status 1 if any module disagreed.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, Context, Result};
use onecopy_differential::campaign::InFlight;
use onecopy_differential::{Campaign, Failure, Report};

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
    /// Run the campaign in this process (what each child does). Without it
    /// the campaign runs in a child, and a child that crashes on a module
    /// is counted as that module's failure and followed by a new child
    /// from the next seed.
    #[arg(long, hide = true)]
    pub in_process: bool,
}

/// Run the campaign in children (or, with `--in-process`, here); print the totals.
pub fn main(args: &FuzzArgs) -> Result<ExitCode> {
    let seed = args.seed.unwrap_or_else(|| SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64));
    let report = if args.in_process { in_process(args, seed)? } else { in_children(args, seed)? };
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print!("{}", table(&report));
    }
    Ok(if report.failures == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// Children run the campaign from `seed` on; when one crashes, its
/// in-flight module becomes a failure and the next child starts after it.
fn in_children(args: &FuzzArgs, seed: u64) -> Result<Report> {
    let start = std::time::Instant::now();
    let mut total = Report { seed, failures_dir: args.out.display().to_string(), ..Report::default() };
    let mut next = seed;
    loop {
        let left = args.seconds.saturating_sub(start.elapsed().as_secs());
        let output = std::process::Command::new(crate::child_process::this_exe().map_err(|e| anyhow!(e))?)
            .args(["fuzz", "--in-process", "--json", "--seconds", &left.to_string(), "--seed", &next.to_string(), "--out"])
            .arg(&args.out)
            .stderr(std::process::Stdio::inherit())
            .output()?;
        if let Ok(part) = serde_json::from_slice::<Report>(&output.stdout) {
            add(&mut total, &part);
            break;
        }
        // The child died on a module: take its totals and the module.
        let text = std::fs::read(args.out.join("in-flight.json")).context("a crashed child left no in-flight.json")?;
        let crashed: InFlight = serde_json::from_slice(&text)?;
        add(&mut total, &crashed.report);
        let path = args.out.join(format!("seed-{}.wasm", crashed.seed));
        std::fs::rename(args.out.join("in-flight.wasm"), &path)?;
        let message = format!("the process crashed ({})", output.status);
        std::fs::write(path.with_extension("txt"), format!("{message}\n"))?;
        tracing::warn!(seed = crashed.seed, %message, "crash");
        total.executions += 1;
        total.failures += 1;
        total.failed.push(Failure { seed: crashed.seed, mode: "?".into(), message, path: path.display().to_string() });
        next = crashed.seed.wrapping_add(1);
        if start.elapsed().as_secs() >= args.seconds {
            break;
        }
    }
    let _ = std::fs::remove_file(args.out.join("in-flight.json"));
    total.seconds = start.elapsed().as_secs_f64();
    Ok(total)
}

/// Add a child's totals to the campaign's.
fn add(total: &mut Report, part: &Report) {
    total.executions += part.executions;
    total.failures += part.failures;
    total.calls += part.calls;
    total.skipped += part.skipped;
    total.debug_stops += part.debug_stops;
    total.locals_read += part.locals_read;
    total.failed.extend(part.failed.iter().cloned());
}

/// The campaign here, on a big-stack thread.
fn in_process(args: &FuzzArgs, seed: u64) -> Result<Report> {
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
    Ok(report)
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
