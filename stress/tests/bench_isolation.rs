//! `onecopy bench isolation --json` as a user runs it, scaled down: one JSON
//! object with both other-worker ratios and each kernel's medians (the
//! shape only: timings are the benchmark's business, not the test's).

use std::process::Command;

use serde_json::Value;

#[test]
fn isolation_prints_both_ratios_and_each_kernel() {
    let output = Command::new(env!("CARGO_BIN_EXE_onecopy"))
        .args(["bench", "isolation", "--json", "--rounds", "1", "--fib", "18", "--loop", "100000"])
        .output()
        .expect("start onecopy");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let report: Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("one JSON object ({e}): {}", String::from_utf8_lossy(&output.stdout)));
    let keys = [
        "other_worker_ratio_stopped",
        "other_worker_ratio_stepping",
        "other_worker_cpu_ratio_stopped",
        "other_worker_cpu_ratio_stepping",
        "busy_thread_ratio",
    ];
    for key in keys {
        let ratio = report[key].as_f64().unwrap_or_else(|| panic!("{key} is a number: {report}"));
        assert!(ratio.is_finite() && ratio > 0.0, "{key} = {ratio}");
    }
    let kernels = report["kernels"].as_array().expect("kernels");
    let names: Vec<&str> = kernels.iter().map(|k| k["kernel"].as_str().expect("kernel name")).collect();
    assert_eq!(names, ["fib", "loop"]);
    for k in kernels {
        let fields = [
            "idle_ms",
            "stopped_ms",
            "stepping_ms",
            "ratio_stopped",
            "ratio_stepping",
            "cpu_idle_ms",
            "cpu_ratio_stepping",
            "busy_ms",
            "ratio_busy",
        ];
        for field in fields {
            assert!(k[field].as_f64().is_some_and(|v| v.is_finite() && v >= 0.0), "{field} in {k}");
        }
        // A stepped while B ran (the coordinator steps A before each look at B).
        assert!(k["steps"].as_u64().is_some_and(|s| s >= 1), "A stepped: {k}");
    }
    assert!(report["command"].as_str().is_some_and(|c| c.contains("bench isolation")));
}
