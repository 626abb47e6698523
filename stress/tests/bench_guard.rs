//! `onecopy bench guard` as a user runs it, with arguments small enough
//! for CI: the report's shape, its code bytes checked against the kernels'
//! module compiled here, and (where valgrind is installed) its instruction
//! counts. Times are only checked to be there: this machine is shared.

use std::process::{Command, Output};

use onecopy_runtime::{Config, Engine, Module};
use serde_json::Value;

const KERNELS: [&str; 4] = ["fib", "loop", "memsum", "indirect"];

/// Tiny timed runs (one round) and callgrind runs of a second or two.
const TINY: [&str; 18] = [
    "--rounds",
    "1",
    "--fib",
    "15",
    "--loop",
    "1000",
    "--memsum",
    "1",
    "--indirect",
    "1000",
    "--fib-instructions",
    "15,20",
    "--loop-instructions",
    "1000,5000",
    "--memsum-instructions",
    "1,2",
    "--indirect-instructions",
    "1000,5000",
];

fn onecopy(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_onecopy")).args(args).output().expect("start onecopy")
}

/// `onecopy bench guard` with the tiny arguments and `extra`.
fn guard(extra: &[&str]) -> Output {
    guard_in(Command::new(env!("CARGO_BIN_EXE_onecopy")), extra)
}

fn guard_in(mut command: Command, extra: &[&str]) -> Output {
    let output = command.args(["bench", "guard"]).args(TINY).args(extra).output().expect("start onecopy");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    output
}

fn json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("one JSON object ({e}); stderr: {}", String::from_utf8_lossy(&output.stderr)))
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("a number, got {v}"))
}

fn valgrind_installed() -> bool {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).any(|dir| dir.join("valgrind").is_file())
}

/// Every kernel has its row, with a time and the three ratios.
fn check_rows(report: &Value) {
    let rows = report["kernels"].as_array().expect("kernels");
    let names: Vec<&str> = rows.iter().map(|k| k["name"].as_str().expect("a name")).collect();
    assert_eq!(names, KERNELS);
    for row in rows {
        for field in ["nodebug_ms", "idle_ratio", "unrelated_ratio", "same_function_ratio"] {
            assert!(f(&row[field]).is_finite(), "{field}: {row}");
        }
    }
}

/// The code fields are the kernels' module's, as compiled here.
fn check_code_bytes(report: &Value) {
    let wasm = wat::parse_str(include_str!("../src/bench_guard/kernels.wat")).unwrap();
    let normal = Module::new(&Engine::new(&Config::new()).unwrap(), &wasm).unwrap();
    let debug = Module::new(&Engine::new(&Config::new().debug(true)).unwrap(), &wasm).unwrap();
    let (n, d, sites) = (normal.code_size(), debug.code_size(), debug.sites().len());
    assert_eq!(report["nodebug_code_bytes"], n);
    assert_eq!(report["debug_code_bytes"], d);
    assert_eq!(report["sites"], sites);
    assert!(d > n && sites >= 2 * 9, "an entry and an exit at least in each of 9 functions: {sites} sites");
    assert!((f(&report["bytes_per_site"]) - (d - n) as f64 / sites as f64).abs() < 1e-9);
    let guard = debug.compiled().debug_code.as_ref().unwrap().guard_bytes as f64 / sites as f64;
    assert!((f(&report["hot_bytes_per_site"]) - guard).abs() < 1e-9);
    // A fault guard is two 3-5 byte loads; an exit guard a load, a test and a 6-byte jne.
    assert!((6.0..=10.0).contains(&guard), "hot bytes per site: {guard}");
    assert!(f(&report["bytes_per_site"]) >= guard, "all of debug code's bytes include the guards'");
}

#[test]
fn the_report_measures_four_kernels_and_debug_codes_bytes() {
    let report = json(&guard(&["--json"]));
    check_rows(&report);
    check_code_bytes(&report);
    assert_eq!(report["rounds"], 1);
    let command = report["command"].as_str().unwrap();
    assert!(command.contains("bench guard --rounds 1 --fib 15 --loop 1000 --memsum 1 --indirect 1000"), "{command}");

    if !valgrind_installed() {
        eprintln!("instruction counts not checked: valgrind is not on PATH");
        assert_eq!(report["instructions"], "skipped (valgrind not found)");
        assert!(report["kernels"].as_array().unwrap().iter().all(|k| k["idle_instructions_ratio"].is_null()));
        return;
    }
    assert_eq!(report["instructions"], "measured");
    assert!(command.contains("--loop-instructions 1000,5000"), "{command}");
    for row in report["kernels"].as_array().unwrap() {
        let counted = &row["instructions"];
        let (normal, debug) = (f(&counted["nodebug"]), f(&counted["debug"]));
        assert!(normal > 0.0 && debug > normal, "idle guards execute instructions of their own: {row}");
        assert!((f(&row["idle_instructions_ratio"]) - debug / normal).abs() < 1e-9, "{row}");
        // A breakpoint the kernel never reaches costs it nothing: arming
        // writes a table entry the kernel does not read, or reads without
        // faulting. The tolerance is callgrind's run-to-run spread, far
        // below one stop per iteration (thousands of instructions each).
        for (field, ratio) in [("unrelated", "unrelated_instructions_ratio"), ("never_hit", "same_function_instructions_ratio")] {
            let armed = f(&counted[field]);
            assert!((armed - debug).abs() <= 0.1 * (debug - normal).max(normal * 0.1), "{field}: {row}");
            assert!((f(&row[ratio]) - armed / normal).abs() < 1e-9, "{row}");
        }
    }
    // The n-difference is the kernel's own work: 4000 iterations of the
    // loop's four statements (two loads, a store, arithmetic, a branch),
    // nothing of compiling or starting up.
    let lp = &report["kernels"][1];
    assert_eq!(lp["instructions"]["args"], serde_json::json!([1000, 5000]));
    let per_iteration = f(&lp["instructions"]["nodebug"]) / 4000.0;
    assert!((8.0..=60.0).contains(&per_iteration), "{per_iteration} instructions per iteration of normal code");
}

#[test]
fn without_instructions_the_table_says_so_and_ends_with_the_command() {
    let output = guard(&["--no-instructions"]);
    let text = String::from_utf8_lossy(&output.stdout);
    let lines: Vec<&str> = text.lines().collect();
    for name in KERNELS {
        assert!(lines.iter().any(|l| l.starts_with(name)), "a row for {name}:\n{text}");
    }
    assert!(lines.contains(&"instructions: skipped (--no-instructions)"), "{text}");
    let last = lines.last().expect("a table");
    assert!(last.starts_with("reproduce: cargo run --release --bin onecopy -- bench guard --rounds 1"), "{text}");
    assert!(last.ends_with("--no-instructions"), "{last}");
}

#[test]
fn without_valgrind_on_path_instructions_are_skipped() {
    let mut command = Command::new(env!("CARGO_BIN_EXE_onecopy"));
    command.env("PATH", "");
    let report = json(&guard_in(command, &["--json"]));
    check_rows(&report);
    assert_eq!(report["instructions"], "skipped (valgrind not found)");
    for row in report["kernels"].as_array().unwrap() {
        assert!(row["idle_instructions_ratio"].is_null() && row.get("instructions").is_none(), "{row}");
    }
}

#[test]
fn a_bad_argument_pair_is_refused() {
    let output = onecopy(&["bench", "guard", "--fib-instructions", "20,10"]);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("1 <= N1 < N2"));
}

#[test]
fn the_child_calls_one_kernel_once_in_either_code_and_with_a_breakpoint() {
    for debug in [&[][..], &["--debug"][..]] {
        let mut args = vec!["bench", "guard-one", "--kernel", "fib", "--arg", "10"];
        args.extend_from_slice(debug);
        let output = onecopy(&args);
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        assert_eq!(json(&output), serde_json::json!({"result": 55}));
    }
    let output = onecopy(&["bench", "guard-one", "--kernel", "fib", "--arg", "10", "--debug", "--breakpoint", "never-hit"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(json(&output), serde_json::json!({"result": 55}));
    let output = onecopy(&["bench", "guard-one", "--kernel", "fib", "--arg", "10", "--breakpoint", "unrelated"]);
    assert!(!output.status.success(), "a breakpoint needs debug code");
}
