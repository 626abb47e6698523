//! The WebAssembly spec test suite (Wasm 2.0 without SIMD) passes, in plain
//! and in debug (breakpoint-guarded) code, and with every instance stopping
//! at every breakable point, skipping only directives that need features
//! onecopy does not support.

use std::process::Command;

use serde_json::Value;

/// The suite, shared beside the workspace.
const SUITE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/spec-testsuite");

/// Directives skipped for unsupported features, as the run reports them.
const EXPECTED_SKIPS: u64 = 0;

/// `onecopy wast SUITE --json` plus `extra`, parsed.
fn run_suite(extra: &[&str]) -> Value {
    let output = Command::new(env!("CARGO_BIN_EXE_onecopy")).args(["wast", SUITE, "--json"]).args(extra).output().expect("start onecopy");
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("no JSON summary ({e}); stderr:\n{}", String::from_utf8_lossy(&output.stderr)))
}

/// `"file:line: text"` for each entry of `key` in every file, `text` taken from `field`.
fn listed(summary: &Value, key: &str, field: &str) -> Vec<String> {
    let files = summary["files"].as_array().expect("files");
    files
        .iter()
        .flat_map(|file| {
            file[key]
                .as_array()
                .into_iter()
                .flatten()
                .map(move |entry| format!("{}:{}: {}", file["file"].as_str().unwrap_or("?"), entry["line"], entry[field]))
        })
        .collect()
}

fn assert_suite_passes(summary: &Value) {
    let failures = listed(summary, "failures", "message");
    assert_eq!(summary["failed"], 0, "{} failures, first ones:\n{}", failures.len(), failures[..failures.len().min(40)].join("\n"));
    assert_eq!(summary["skipped"], EXPECTED_SKIPS, "skips:\n{}", listed(summary, "skips", "feature").join("\n"));
    assert!(summary["passed"].as_u64().unwrap_or(0) > 20_000, "too few directives ran: {}", summary["passed"]);
}

#[test]
fn spec_suite_passes() {
    assert_suite_passes(&run_suite(&[]));
}

#[test]
fn spec_suite_passes_with_debug_guards() {
    assert_suite_passes(&run_suite(&["--debug"]));
}

/// The suite passes with `flag`, and its debug handler really ran (zero
/// calls would mean the run proved nothing).
fn assert_suite_passes_calling_the_handler(flags: &[&str]) {
    let summary = run_suite(flags);
    assert_suite_passes(&summary);
    let calls = summary["handler_calls"].as_u64().unwrap_or(0);
    assert!(calls > 0, "with {flags:?} the debug handler never ran: {}", summary["handler_calls"]);
}

#[test]
fn spec_suite_passes_while_every_instance_single_steps() {
    assert_suite_passes_calling_the_handler(&["--step"]);
}

/// Optimized debug code: Cranelift may remove a site's block as unreachable
/// or move values around the guards, and stops still work.
#[test]
fn spec_suite_passes_single_stepping_optimized_debug_code() {
    assert_suite_passes_calling_the_handler(&["--step", "--speed"]);
}

#[test]
fn spec_suite_passes_in_legacy_clones_with_a_breakpoint_in_every_instance() {
    assert_suite_passes_calling_the_handler(&["--legacy"]);
}
