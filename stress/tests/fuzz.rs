//! `onecopy fuzz` as CI runs it: a short campaign from a fixed seed, whose
//! JSON names its seed and counts, with no disagreement.

use std::process::Command;

/// From this seed a campaign reaches, in about 15 s, the module that once
/// crashed step mode (seed 269, now in `differential/tests/regressions/`).
const SEED: &str = "42";

/// Long enough to be the two-minute smoke run.
const SECONDS: &str = "100";

#[test]
fn a_short_campaign_from_a_fixed_seed_finds_no_disagreement() {
    let out = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("fuzz-smoke-failures");
    let output = Command::new(env!("CARGO_BIN_EXE_onecopy"))
        .args(["fuzz", "--seconds", SECONDS, "--seed", SEED, "--json", "--out"])
        .arg(&out)
        .output()
        .expect("start onecopy");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let report: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    eprintln!("fuzz smoke: {report}");
    assert_eq!(report["seed"], 42);
    assert_eq!(report["failures"], 0, "{}", report["failed"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(report["executions"].as_u64().unwrap_or(0) > 0, "{report}");
    assert!(report["debug_stops"].as_u64().unwrap_or(0) > 0, "stepping never stopped: {report}");
    assert!(!out.join("in-flight.wasm").exists(), "the in-flight module is removed after the run");
    assert!(!out.join("in-flight.json").exists(), "the in-flight totals are removed after the run");
}
