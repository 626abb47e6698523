//! Script threads in `onecopy wast`: the scripts in `tests/wast/` run their
//! `thread` directives on real threads in every mode of the runner, a failed
//! assertion on a thread fails the script, and what threads cannot do is a
//! named skip.

use std::process::Command;

use serde_json::Value;

/// Every mode of the runner: plain code, debug code, every instance single
/// stepping, legacy clones with a breakpoint.
const MODES: [&[&str]; 4] = [&[], &["--debug"], &["--step"], &["--legacy"]];

/// `onecopy wast tests/wast/NAME --json` plus `extra`: the exit code and the summary.
fn run(name: &str, extra: &[&str]) -> (Option<i32>, Value) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/wast/").to_string() + name;
    let output = Command::new(env!("CARGO_BIN_EXE_onecopy")).args(["wast", &script, "--json"]).args(extra).output().expect("start onecopy");
    let summary = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("no JSON summary ({e}); stderr:\n{}", String::from_utf8_lossy(&output.stderr)));
    (output.status.code(), summary)
}

/// `(passed, failed, skipped)` of a summary.
fn counts(summary: &Value) -> (u64, u64, u64) {
    let count = |key: &str| summary[key].as_u64().unwrap_or_else(|| panic!("no {key} in {summary}"));
    (count("passed"), count("failed"), count("skipped"))
}

/// `name` passes all `passed` directives in every mode, none failed or skipped.
fn assert_passes(name: &str, flags: &[&str], passed: u64) {
    for mode in MODES {
        let args = [flags, mode].concat();
        let (code, summary) = run(name, &args);
        assert_eq!(counts(&summary), (passed, 0, 0), "{name} {args:?}: {summary}");
        assert_eq!(code, Some(0), "{name} {args:?}");
    }
}

#[test]
fn threads_instantiate_and_call_one_registered_module() {
    assert_passes("threads-shared-calls.wast", &[], 29);
}

#[test]
fn a_trap_on_one_thread_leaves_the_others_running() {
    assert_passes("threads-traps.wast", &[], 17);
}

#[test]
fn a_thread_sees_a_named_module_by_its_name_with_wasmtime_compat() {
    assert_passes("threads-compat.wast", &["--wasmtime-compat"], 7);
}

#[test]
fn a_failed_assertion_on_a_thread_fails_the_script() {
    for mode in MODES {
        let (code, summary) = run("threads-failing.wast", mode);
        assert_eq!(counts(&summary), (8, 1, 0), "{mode:?}: {summary}");
        assert_eq!(code, Some(1), "{mode:?}: a failure must fail the run");
        let failure = &summary["files"][0]["failures"][0];
        assert_eq!(failure["line"], 11, "{mode:?}: {failure}");
        let message = failure["message"].as_str().unwrap_or_default();
        assert!(message.starts_with("thread $wrong: expected [2 : i32], got [1 : i32]"), "{mode:?}: {message}");
    }
}

#[test]
fn what_threads_cannot_do_is_skipped_with_the_reason() {
    for mode in MODES {
        let (code, summary) = run("threads-unsupported.wast", mode);
        assert_eq!(counts(&summary), (8, 0, 6), "{mode:?}: {summary}");
        assert_eq!(code, Some(0), "{mode:?}");
        let skips = summary["files"][0]["skips"].as_array().expect("skips");
        let features: Vec<&str> = skips.iter().map(|skip| skip["feature"].as_str().unwrap_or_default()).collect();
        assert_eq!(
            features,
            [
                "threads proposal: shared memory",
                "threads proposal: shared memory",
                "threads proposal: shared memory",
                "threads proposal: shared memory",
                "threads: importing another thread's memory",
                "threads: importing another thread's mutable global",
            ],
            "{mode:?}"
        );
    }
}
