//! `onecopy stress` as a user runs it, on the built-in module scaled down
//! (`--funcs`) and a small code arena: shared debug code stays one copy
//! whatever the number of debugged workers; legacy clone-and-patch code
//! grows by one copy per debugged worker and runs out exactly where the
//! arena's page arithmetic says.

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

/// Functions of the scaled-down built-in module.
const FUNCS: &str = "100";

fn onecopy(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_onecopy")).args(args).output().expect("start onecopy")
}

/// Run `onecopy stress ARGS --json` and parse its one JSON object.
fn stress(args: &[&str]) -> (Output, Value) {
    let mut all = vec!["stress", "--json"];
    all.extend_from_slice(args);
    let output = onecopy(&all);
    let report = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("one JSON object ({e}); stderr: {}", String::from_utf8_lossy(&output.stderr)));
    (output, report)
}

fn rows<'a>(report: &'a Value, mode: &str) -> Vec<&'a Value> {
    report["rows"].as_array().expect("rows").iter().filter(|r| r["mode"] == mode).collect()
}

fn compile<'a>(report: &'a Value, mode: &str) -> &'a Value {
    report["module"]["compiles"].as_array().expect("compiles").iter().find(|c| c["mode"] == mode).expect("compile")
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("a number, got {v}"))
}

fn scratch(name: &str, contents: &str) -> String {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::write(&path, contents).expect("write scratch file");
    path.display().to_string()
}

#[test]
fn shared_debug_code_is_one_copy_for_any_number_of_debugged_workers() {
    let (output, report) = stress(&["--funcs", FUNCS, "--arena-cap", "8M", "--mode", "shared", "--workers", "1,3,16,64"]);
    assert!(output.status.success(), "{report}");
    let module = &report["module"];
    assert!(u(&module["wasm_bytes"]) > 0 && module["compile_ms"].as_f64().unwrap() > 0.0, "{module}");
    let shared = compile(&report, "shared");
    let (copy, stubs) = (u(&shared["code_bytes_per_copy"]), u(&shared["stub_bytes"]));
    assert_eq!(u(&module["code_bytes_per_copy"]), copy);
    // No worker's instance outlived its thread.
    assert_eq!(shared["module_freed"], true, "{shared}");
    let rows = rows(&report, "shared");
    assert_eq!(rows.iter().map(|r| u(&r["workers"])).collect::<Vec<_>>(), [1, 3, 16, 64]);
    for row in rows {
        assert_eq!(row["error"], Value::Null, "{row}");
        // One copy of the code plus the call stubs, however many workers debug.
        assert_eq!(u(&row["arena_used_bytes"]), copy + stubs, "{row}");
        assert_eq!(u(&row["arena_cap_bytes"]), 8 << 20, "{row}");
        assert_eq!(u(&row["code_bytes_per_copy"]), copy, "{row}");
        // Every worker set its breakpoint and hit it once, running the
        // module's own code (same function addresses in every worker).
        assert_eq!(row["events"], row["workers"], "{row}");
        assert_eq!(row["debugged_workers"], row["workers"], "{row}");
        assert_eq!(row["same_code_addresses"], true, "{row}");
        assert!(u(&row["rss_bytes"]) > 0 && row["instantiate_ms"].as_f64().is_some(), "{row}");
    }
}

#[test]
fn legacy_code_grows_by_one_copy_per_debugged_worker() {
    let (output, report) = stress(&["--funcs", FUNCS, "--arena-cap", "8M", "--mode", "legacy", "--workers", "1,2,5,9"]);
    assert!(output.status.success(), "{report}");
    let copy = u(&compile(&report, "legacy")["code_bytes_per_copy"]);
    let base = u(&compile(&report, "legacy")["arena_used_bytes"]);
    let rows = rows(&report, "legacy");
    let one = u(&rows[0]["arena_used_bytes"]);
    // The module's code and stubs, plus the one debugged worker's clone.
    assert_eq!(one, base + copy);
    for row in &rows {
        let n = u(&row["workers"]);
        assert_eq!(row["error"], Value::Null, "{row}");
        assert_eq!(u(&row["arena_used_bytes"]) - one, (n - 1) * copy, "{row}");
        assert_eq!((u(&row["events"]), u(&row["debugged_workers"])), (n, n), "{row}");
        // Each debugged worker runs a clone, not the module's code.
        assert_eq!(row["same_code_addresses"], false, "{row}");
    }
}

#[test]
fn legacy_runs_out_of_arena_exactly_where_predicted() {
    let cap: u64 = 8 << 20;
    let (_, sizes) = stress(&["--funcs", FUNCS, "--arena-cap", "8M", "--mode", "legacy", "--workers", "1"]);
    let legacy = compile(&sizes, "legacy");
    let page = u(&sizes["module"]["page_bytes"]);
    let pages = |bytes: u64| bytes.div_ceil(page) * page;
    let (copy, stubs) = (u(&legacy["code_bytes_per_copy"]), u(&legacy["stub_bytes"]));
    // The arena hands out whole pages, first fit: the module's code and its
    // stubs, then one page-rounded clone per debugged worker.
    let fit = (cap - pages(copy) - pages(stubs)) / pages(copy);
    assert_eq!(u(&legacy["predicted_max_debugged"]), fit, "{legacy}");
    assert!((2..200).contains(&fit), "scale the test: {fit} clones fit");

    let workers = format!("{},{},{},{}", fit - 1, fit, fit + 1, fit + 9);
    let (output, report) = stress(&["--funcs", FUNCS, "--arena-cap", "8M", "--mode", "legacy", "--workers", &workers]);
    // Running out is what legacy mode is expected to do: not a failure.
    assert!(output.status.success(), "{report}");
    let rows = rows(&report, "legacy");
    for row in &rows[..2] {
        assert_eq!(row["error"], Value::Null, "{row}");
        assert_eq!(row["events"], row["workers"], "{row}");
    }
    for row in &rows[2..] {
        let n = u(&row["workers"]);
        let error = row["error"].as_str().unwrap_or_else(|| panic!("{n} workers must run out: {row}"));
        assert!(error.starts_with("CodeArenaExhausted"), "{error}");
        assert!(error.contains(&format!("{} of {n} workers", n - fit)) && error.contains(&cap.to_string()), "{error}");
        // The workers that got a clone still hit their breakpoints; the
        // others exited cleanly.
        assert_eq!((u(&row["debugged_workers"]), u(&row["events"])), (fit, fit), "{row}");
        assert_eq!(u(&row["arena_used_bytes"]), u(&legacy["arena_used_bytes"]) + fit * copy, "{row}");
    }
}

#[test]
fn both_modes_table_and_plot() {
    let svg = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("stress.svg");
    let _ = std::fs::remove_file(&svg);
    let output = onecopy(&["stress", "--funcs", "40", "--arena-cap", "2M", "--workers", "1,4,64", "--plot", svg.to_str().unwrap()]);
    let table = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{table}{}", String::from_utf8_lossy(&output.stderr));
    assert!(table.contains("mode") && table.contains("shared") && table.contains("legacy"), "{table}");
    assert!(table.contains("CodeArenaExhausted") && table.contains("ran out"), "{table}");
    // No progress bar when stderr is not a terminal.
    assert!(output.stderr.is_empty(), "{}", String::from_utf8_lossy(&output.stderr));
    let drawn = std::fs::read_to_string(&svg).expect("the plot was written");
    assert!(drawn.contains("<svg") && drawn.contains("legacy") && drawn.contains("arena cap"), "{drawn}");
}

#[test]
fn a_foreign_module_with_stub_imports() {
    let file = scratch(
        "stress-foreign.wat",
        r#"(module
  (import "env" "log" (func $log (param i32)))
  (import "env" "memory" (memory 1))
  (import "env" "table" (table 2 funcref))
  (import "env" "base" (global i32))
  (func (export "work") (param i32) (result i32) (local.get 0))
  (func (export "main") (call $log (global.get 0)))
  (func $hidden))"#,
    );
    let (output, report) = stress(&["--module", &file, "--stub-imports", "--arena-cap", "1M", "--workers", "1,8"]);
    assert!(output.status.success(), "{report}");
    assert_eq!(report["module"]["name"], "stress-foreign.wat");
    // `main` is the first export without parameters: function 2 (after the import).
    assert!(report["module"]["break_in"].as_str().unwrap().contains("function 2 (export \"main\""), "{report}");
    for row in report["rows"].as_array().unwrap() {
        assert_eq!(row["error"], Value::Null, "{row}");
        // The breakpoint at `main`'s entry stops every worker once, before
        // it reaches the import (whose stub would trap).
        assert_eq!(row["events"], row["workers"], "{row}");
        let same = row["mode"] == "shared";
        assert_eq!(row["same_code_addresses"], same, "{row}");
    }

    // Without --stub-imports, the imports are named.
    let output = onecopy(&["stress", "--module", &file, "--workers", "1"]);
    assert_eq!(output.status.code(), Some(1));
    let message = String::from_utf8_lossy(&output.stderr);
    assert!(message.contains("--stub-imports") && message.contains("env.log"), "{message}");

    // No export without parameters: the breakpoint is set, nothing is called.
    let file = scratch("stress-nocall.wat", r#"(module (func (export "f") (param i32)) (func $g))"#);
    let (output, report) = stress(&["--module", &file, "--arena-cap", "1M", "--workers", "2"]);
    assert!(output.status.success(), "{report}");
    for row in report["rows"].as_array().unwrap() {
        assert_eq!((u(&row["events"]), u(&row["debugged_workers"])), (0, 2), "{row}");
    }
    assert!(report["module"]["break_in"].as_str().unwrap().contains("nothing is called"), "{report}");
}

#[test]
fn bad_arguments_are_refused() {
    let output = onecopy(&["stress", "--arena-cap", "lots"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("not a byte count"));
    let output = onecopy(&["stress", "--workers", "0"]);
    assert_eq!(output.status.code(), Some(1));
}
