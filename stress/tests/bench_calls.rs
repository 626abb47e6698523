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
    assert!(rate(&report["one_thread"]) > 0.0);
    let two = [rate(&report["two_threads"][0]), rate(&report["two_threads"][1])];
    assert!(two.iter().all(|r| *r > 0.0), "{report}");
    assert_eq!(rate(&report["two_threads_total"]), two[0] + two[1]);
    assert_eq!(rate(&report["first_thread_ratio"]), two[0] / rate(&report["one_thread"]));
    assert!(report["command"].as_str().unwrap().contains("bench calls --rounds 1 --millis 20"));
}
