//! The `onecopy` command line as a user runs it: `run`, errors, the demo,
//! the `wast` runner on small scripts, and `stress`.

use std::path::PathBuf;
use std::process::{Command, Output};

/// Run `onecopy` with `args`.
fn onecopy(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_onecopy")).args(args).output().expect("start onecopy")
}

/// Write `contents` to a file named `name` in the tests' scratch folder.
fn scratch(name: &str, contents: &str) -> String {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::write(&path, contents).expect("write scratch file");
    path.display().to_string()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

const TRIANGLE: &str = r#"(module
  (func (export "triangle") (param $n i32) (result i32) (local $acc i32)
    (block $done (loop $next
      (br_if $done (i32.eqz (local.get $n)))
      (local.set $acc (i32.add (local.get $acc) (local.get $n)))
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br $next)))
    (local.get $acc))
  (func (export "halves") (param f64) (result f64 i64)
    (f64.mul (local.get 0) (f64.const 0.5)) (i64.const -1)))"#;

#[test]
fn run_prints_results_in_wasm_text_style() {
    let file = scratch("triangle.wat", TRIANGLE);
    let output = onecopy(&["run", &file, "--invoke", "triangle", "10"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stdout(&output), "55 : i32\n");

    let output = onecopy(&["run", &file, "--invoke", "halves", "-3"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stdout(&output), "-1.5 : f64\n-1 : i64\n");
}

#[test]
fn run_reports_a_bad_file_readably() {
    let file = scratch("garbage.wat", "this is not a module");
    let output = onecopy(&["run", &file, "--invoke", "main"]);
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert!(message.starts_with("error: cannot load") && message.contains("garbage.wat"), "{message}");
}

#[test]
fn run_names_the_functions_when_the_export_is_missing() {
    let file = scratch("triangle-missing.wat", TRIANGLE);
    let output = onecopy(&["run", &file, "--invoke", "nope"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("triangle, halves"), "{}", stderr(&output));
}

#[test]
fn the_demo_runs_one_module_on_every_core() {
    // (`onecopy` alone runs `onecopy stress`, whose full default takes minutes;
    // stress/tests/stress.rs runs it scaled down.)
    let output = onecopy(&["demo"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let out = stdout(&output);
    assert!(out.contains("thread 0: fib(27) = 196418") && out.contains("code arena:"), "{out}");
}

#[test]
fn wast_counts_passes_failures_and_skips() {
    let script = scratch(
        "mixed.wast",
        r#"(module (func (export "id") (param i32) (result i32) (local.get 0)))
(assert_return (invoke "id" (i32.const 7)) (i32.const 7))
(assert_return (invoke "id" (i32.const 7)) (i32.const 8))
(assert_trap (module (func $f unreachable) (start $f)) "unreachable")
(module (func (export "v") (result v128) (v128.const i64x2 0 0)))
(assert_return (invoke "v") (v128.const i64x2 0 0))"#,
    );
    let output = onecopy(&["wast", &script, "--json"]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).expect("one JSON object");
    assert_eq!((&summary["passed"], &summary["failed"], &summary["skipped"]), (&3.into(), &1.into(), &2.into()));
    let file = &summary["files"][0];
    assert_eq!(file["failures"][0]["line"], 3);
    assert!(file["failures"][0]["message"].as_str().unwrap().contains("expected [8 : i32], got [7 : i32]"));
    assert!(file["skips"][0]["feature"].as_str().unwrap().contains("SIMD"), "{file}");
}

#[test]
fn wasmtime_compat_makes_named_modules_importable_by_name() {
    let script = scratch(
        "named.wast",
        r#"(module $env (func (export "seven") (result i32) (i32.const 7)))
(module $env (func (export "seven") (result i32) (i32.const 8)) (func (export "extra")))
(module (import "env" "seven" (func $f (result i32))) (import "env" "extra" (func))
  (func (export "g") (result i32) (call $f)))
(assert_return (invoke "g") (i32.const 8))"#,
    );
    for mode in [None, Some("--debug")] {
        let mut args = vec!["wast", &script, "--json", "--wasmtime-compat"];
        args.extend(mode);
        let output = onecopy(&args);
        assert!(output.status.success(), "{mode:?}: {}", stdout(&output));
        let summary: serde_json::Value = serde_json::from_slice(&output.stdout).expect("one JSON object");
        assert_eq!((&summary["passed"], &summary["failed"]), (&4.into(), &0.into()), "{mode:?}: the later $env shadows the first");
    }
    // Without the flag the spec's convention holds: only `register` makes a module importable.
    let output = onecopy(&["wast", &script, "--json"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stdout(&output).contains("unknown import"), "{}", stdout(&output));
}

#[test]
fn stress_shares_one_copy_of_code_between_debugged_workers() {
    // The built-in module scaled down (`--funcs`), so the test runs in seconds.
    let output = onecopy(&["stress", "--funcs", "300", "--workers", "1,8", "--mode", "shared", "--json"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("one JSON object");
    let rows = report["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), 2, "{report}");
    for (row, workers) in rows.iter().zip([1, 8]) {
        assert_eq!(row["error"], serde_json::Value::Null, "{row}");
        assert_eq!((&row["mode"], &row["workers"]), (&"shared".into(), &workers.into()));
        // Each worker hits its own breakpoint exactly once.
        assert_eq!(row["events"], workers, "{row}");
        let (used, copy) = (row["arena_used_bytes"].as_u64().unwrap(), row["code_bytes_per_copy"].as_u64().unwrap());
        assert!(used >= copy, "{row}");
    }
    // Eight debugged workers cost no more code bytes than one.
    assert_eq!(rows[0]["arena_used_bytes"], rows[1]["arena_used_bytes"], "{report}");
}
