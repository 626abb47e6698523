//! `onecopy bench debug --load --json` as a user runs it, scaled down: one
//! JSON object whose counts add up (stops seen, every one resumed, every
//! worker back). Timings are the benchmark's business, not the test's.

use std::process::Command;

use serde_json::Value;

#[test]
fn load_mode_resumes_every_stop_and_loses_no_worker() {
    let output = Command::new(env!("CARGO_BIN_EXE_onecopy"))
        .args(["bench", "debug", "--load", "--json", "--workers", "4", "--stopping", "2", "--rounds", "1", "--phase-ms", "200"])
        .output()
        .expect("start onecopy");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let report: Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("one JSON object ({e}): {}", String::from_utf8_lossy(&output.stdout)));
    let count = |key: &str| report[key].as_u64().unwrap_or_else(|| panic!("{key} is a count: {report}"));
    assert_eq!((count("workers"), count("stopping_workers"), count("kernel_workers")), (4, 2, 2));
    assert!(count("stops") > 0, "the stopping workers stopped: {report}");
    assert_eq!(count("resumed"), count("stops"), "every stop resumed: {report}");
    assert_eq!(count("stopping_workers_seen"), 2, "both stopping workers stopped: {report}");
    assert_eq!(count("workers_finished"), 4, "no worker lost: {report}");
    assert!(count("round_trips") <= count("stops"));
    for q in ["median", "p90", "p99", "max"] {
        let v = report["round_trip_us"][q].as_f64().unwrap_or_else(|| panic!("round_trip_us.{q}: {report}"));
        assert!(v.is_finite() && v >= 0.0, "round_trip_us.{q} = {v}");
    }
    for key in ["events_per_second", "kernel_slowdown"] {
        assert!(report[key].as_f64().is_some_and(|v| v.is_finite() && v > 0.0), "{key}: {report}");
    }
    for phase in ["quiet", "breakpoint"] {
        let rate = &report["kernel_iterations_per_second"][phase];
        assert!(rate.as_f64().is_some_and(|v| v > 0.0), "kernel ran in the {phase} phase: {report}");
    }
    assert!(report["round_trip_definition"].as_str().is_some_and(|d| d.contains("coordinator")));
    assert!(report["command"].as_str().is_some_and(|c| c.contains("bench debug --load")));
}

#[test]
fn default_mode_keeps_its_report() {
    let output = Command::new(env!("CARGO_BIN_EXE_onecopy"))
        .args(["bench", "debug", "--json", "--hits", "200", "--workers", "2", "--hits-per-worker", "50"])
        .output()
        .expect("start onecopy");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let report: Value = serde_json::from_slice(&output.stdout).expect("one JSON object");
    for key in ["round_trip_median_us", "round_trip_p99_us", "events_per_second"] {
        assert!(report[key].as_f64().is_some(), "{key}: {report}");
    }
    assert_eq!(report["events"].as_u64(), Some(100));
}
