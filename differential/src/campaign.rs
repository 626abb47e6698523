//! A fuzzing campaign: modules from consecutive seeds for a while, each
//! checked in every mode, each disagreement saved to a folder.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::{check, generate, Engines, Verdict};

/// What to run.
#[derive(Debug, Clone)]
pub struct Campaign {
    /// Stop starting modules after this long.
    pub duration: Duration,
    /// The first module's seed; module `i` uses `seed + i`.
    pub seed: u64,
    /// Where failing modules go. While a module runs it is kept there as
    /// `in-flight.wasm`, its seed and the totals so far as `in-flight.json`
    /// ([`InFlight`]), so a crash leaves both behind.
    pub failures_dir: PathBuf,
}

/// One disagreement (or panic, or crash).
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Failure {
    /// The module's seed.
    pub seed: u64,
    /// The mode that disagreed.
    pub mode: String,
    /// The first difference.
    pub message: String,
    /// The saved module.
    pub path: String,
}

/// What `in-flight.json` holds while a module runs.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct InFlight {
    /// The seed of the module under test.
    pub seed: u64,
    /// The totals before it.
    pub report: Report,
}

/// The campaign's totals.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize)]
pub struct Report {
    /// Modules checked in all five engines.
    pub executions: u64,
    /// Disagreements.
    pub failures: u64,
    /// The first seed.
    pub seed: u64,
    /// Exported-function calls made per engine.
    pub calls: u64,
    /// Seeds wasm-smith could not build a module from, or whose module the
    /// oracle refused.
    pub skipped: u64,
    /// Debug stops of the step and legacy handlers.
    pub debug_stops: u64,
    /// Locals the step handler read with a value.
    pub locals_read: u64,
    /// Wall time.
    pub seconds: f64,
    /// Where failing modules were saved.
    pub failures_dir: String,
    /// Each failure.
    pub failed: Vec<Failure>,
}

impl Campaign {
    /// Run until the time is up; `progress` sees the report after each module.
    pub fn run(&self, mut progress: impl FnMut(&Report)) -> anyhow::Result<Report> {
        let engines = Engines::new()?;
        let start = Instant::now();
        let mut report = Report { seed: self.seed, failures_dir: self.failures_dir.display().to_string(), ..Report::default() };
        let in_flight = self.failures_dir.join("in-flight.wasm");
        let in_flight_json = self.failures_dir.join("in-flight.json");
        let mut index = 0u64;
        while start.elapsed() < self.duration {
            let seed = self.seed.wrapping_add(index);
            index += 1;
            let Ok(wasm) = generate::module(seed) else {
                report.skipped += 1;
                continue;
            };
            save(&in_flight, &wasm)?;
            std::fs::write(&in_flight_json, serde_json::to_vec(&InFlight { seed, report: report.clone() })?)?;
            let verdict = catch_unwind(AssertUnwindSafe(|| check(&engines, &wasm, seed))).unwrap_or_else(|payload| Verdict::Disagreed {
                mode: crate::Mode::Normal,
                message: format!("panicked: {}", panic_text(payload.as_ref())),
            });
            match verdict {
                Verdict::Agreed { calls } => {
                    report.executions += 1;
                    report.calls += calls as u64;
                }
                Verdict::OracleRefused(reason) => {
                    tracing::debug!(seed, %reason, "oracle refused a generated module");
                    report.skipped += 1;
                }
                Verdict::Disagreed { mode, message } => {
                    report.executions += 1;
                    report.failures += 1;
                    let path = self.failures_dir.join(format!("seed-{seed}.wasm"));
                    save(&path, &wasm)?;
                    std::fs::write(path.with_extension("txt"), format!("mode {}: {message}\n", mode.name()))?;
                    tracing::warn!(seed, mode = mode.name(), %message, "disagreement");
                    report.failed.push(Failure { seed, mode: mode.name().into(), message, path: path.display().to_string() });
                }
            }
            (report.debug_stops, report.locals_read) = engines.onecopy.counts();
            report.seconds = start.elapsed().as_secs_f64();
            progress(&report);
        }
        let _ = std::fs::remove_file(&in_flight);
        let _ = std::fs::remove_file(&in_flight_json);
        if std::fs::read_dir(&self.failures_dir).is_ok_and(|mut d| d.next().is_none()) {
            let _ = std::fs::remove_dir(&self.failures_dir);
        }
        report.seconds = start.elapsed().as_secs_f64();
        Ok(report)
    }
}

fn save(path: &Path, wasm: &[u8]) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, wasm)?;
    Ok(())
}

fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".into())
}
