//! `onecopy bench compile` as a user runs it, on the built-in module scaled
//! down (`--funcs`): every mode measured in its own child process, the
//! ratios against normal code, and a module that fails to compile reported
//! per mode rather than as a crash.

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

fn onecopy(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_onecopy")).args(args).output().expect("start onecopy")
}

/// Run `onecopy bench compile ARGS --json` and parse its one JSON object.
fn bench(args: &[&str]) -> (Output, Value) {
    let mut all = vec!["bench", "compile", "--json"];
    all.extend_from_slice(args);
    let output = onecopy(&all);
    let report = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("one JSON object ({e}); stderr: {}", String::from_utf8_lossy(&output.stderr)));
    (output, report)
}

fn mode<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["modes"].as_array().expect("modes").iter().find(|m| m["mode"] == name).expect("the mode's row")
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("a number, got {v}"))
}

#[test]
fn every_mode_is_measured_and_compared_with_normal_code() {
    let (output, report) = bench(&["--funcs", "40", "--threads", "1"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(report["modes"].as_array().unwrap().len(), 3);
    assert_eq!(report["threads"], 1);
    let (normal, debug, legacy) = (mode(&report, "normal"), mode(&report, "debug"), mode(&report, "legacy"));
    assert_eq!(normal["sites"], 0);
    assert!(f(&debug["sites"]) > 40.0, "at least an entry and an exit per function: {debug}");
    assert_eq!(debug["sites"], legacy["sites"], "both debug modes break at the same points");
    for row in [normal, debug, legacy] {
        assert_eq!(row["functions"], 41);
        assert!(f(&row["peak_rss_bytes"]) >= f(&row["base_rss_bytes"]) && f(&row["base_rss_bytes"]) > 0.0, "{row}");
        assert!(f(&row["compile_ms"]) > 0.0 && f(&row["mb_per_s"]) > 0.0, "{row}");
    }
    let size = f(&debug["code_bytes"]) / f(&normal["code_bytes"]);
    assert!((f(&report["debug_size_ratio"]) - size).abs() < 1e-9);
    let per_site = (f(&debug["code_bytes"]) - f(&normal["code_bytes"])) / f(&debug["sites"]);
    assert!((f(&debug["bytes_per_site"]) - per_site).abs() < 1e-9);
    // A group's first site is a 3-5 byte entry load and a 4-5 byte faulting
    // load; its later sites are points with no code; an exit guard is a
    // load, a test and a 6-byte jne (or a test and the jne in a group).
    let guard = f(&debug["guard_bytes_per_site"]);
    assert!((2.0..=10.0).contains(&guard), "guard bytes per site: {guard}");
    assert!(legacy.get("guard_bytes_per_site").is_none() && legacy.get("bytes_per_site").is_some());
    assert!(report["command"].as_str().unwrap().contains("bench compile --mode all --funcs 40 --threads 1"));
}

#[test]
fn one_mode_alone_has_no_ratios() {
    let (output, report) = bench(&["--funcs", "10", "--mode", "debug"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(report["modes"].as_array().unwrap().len(), 1);
    assert!(report.get("debug_size_ratio").is_none() && mode(&report, "debug").get("bytes_per_site").is_none());
}

#[test]
fn a_module_that_does_not_compile_is_each_modes_error() {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bench-compile-invalid.wat");
    std::fs::write(&path, "(module (func (result i32)))").unwrap();
    let (output, report) = bench(&["--module", path.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    for name in ["normal", "debug", "legacy"] {
        let error = mode(&report, name)["error"].as_str().unwrap_or_else(|| panic!("{name} has an error"));
        assert!(error.contains("type mismatch"), "{error}");
    }
    assert!(!String::from_utf8_lossy(&output.stderr).contains("panicked"));
}

#[test]
fn the_table_names_each_mode_and_how_to_reproduce_it() {
    let output = onecopy(&["bench", "compile", "--funcs", "10"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let table = String::from_utf8_lossy(&output.stdout);
    for needle in ["normal ", "debug ", "legacy ", "debug / normal: code size", "reproduce: cargo run"] {
        assert!(table.contains(needle), "{needle:?} in:\n{table}");
    }
}

#[test]
fn a_generated_function_is_measured_in_every_mode() {
    let (output, report) = bench(&["--generate", "sites=2000,locals=40,live=5", "--threads", "1"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(report["module"].as_str().unwrap().contains("one function: 2000 sites, 40 i32 locals, 5 live"), "{report}");
    for name in ["debug", "legacy"] {
        assert_eq!(mode(&report, name)["sites"], 2000, "the children compile the generated module");
        assert_eq!(mode(&report, name)["functions"], 1);
    }
    assert!(report["command"].as_str().unwrap().contains("--generate sites=2000,locals=40,live=5"));
}

#[test]
fn speed_compiles_every_child_at_opt_level_speed() {
    let (_, none) = bench(&["--funcs", "20", "--mode", "normal"]);
    let (output, speed) = bench(&["--funcs", "20", "--mode", "normal", "--speed"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    // Cranelift's optimizer changes the code: the child got the setting.
    assert_ne!(mode(&none, "normal")["code_bytes"], mode(&speed, "normal")["code_bytes"]);
    assert!(speed["command"].as_str().unwrap().contains(" --speed"), "{}", speed["command"]);
}
