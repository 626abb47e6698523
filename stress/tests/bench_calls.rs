//! `onecopy bench calls` as a user runs it, kept short: one JSON object
//! with the rates of one thread and of two.

use std::process::Command;

#[test]
fn bench_calls_reports_the_rates_of_one_and_two_threads() {
    let output = Command::new(env!("CARGO_BIN_EXE_onecopy"))
        .args(["bench", "calls", "--json", "--rounds", "1", "--millis", "20"])
        .output()
        .expect("start onecopy");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("one JSON object");
    let rate = |v: &serde_json::Value| v.as_f64().unwrap_or_else(|| panic!("a number: {report}"));
    // JSON numbers read back to within a rounding of what was written.
    let same = |a: f64, b: f64| assert!((a - b).abs() <= 1e-9 * a.abs().max(b.abs()), "{a} != {b} in {report}");
    assert!(rate(&report["one_thread"]) > 0.0);
    let two = [rate(&report["two_threads"][0]), rate(&report["two_threads"][1])];
    assert!(two.iter().all(|r| *r > 0.0), "{report}");
    same(rate(&report["two_threads_total"]), two[0] + two[1]);
    same(rate(&report["first_thread_ratio"]), two[0] / rate(&report["one_thread"]));
    let cpu = [rate(&report["two_threads_cpu"][0]), rate(&report["two_threads_cpu"][1])];
    assert!(rate(&report["one_thread_cpu"]) > 0.0 && cpu.iter().all(|r| *r > 0.0), "{report}");
    same(rate(&report["first_thread_cpu_ratio"]), cpu[0] / rate(&report["one_thread_cpu"]));
    assert!(report["command"].as_str().unwrap().contains("bench calls --rounds 1 --millis 20"));
}
