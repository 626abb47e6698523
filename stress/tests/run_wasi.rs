//! `onecopy run` on WASI commands as a user runs them: the program's
//! output and exit status, `--dir`, `--env` and arguments, N workers from
//! one copy of code (`--workers`, `--quiet`), `--debug`, and `onecopy
//! stress --module` on a WASI command.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

fn program(name: &str) -> String {
    format!("{}/../wasi/tests/programs/{name}.wasm", env!("CARGO_MANIFEST_DIR"))
}

fn expected(run: &str) -> String {
    std::fs::read_to_string(format!("{}/../wasi/tests/programs/{run}.expected", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// `onecopy ARGS` in `dir`, with `stdin`.
fn onecopy_in(dir: &PathBuf, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_onecopy"))
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start onecopy");
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

/// A fresh directory holding `data/inside.txt`.
fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("data")).unwrap();
    std::fs::write(dir.join("data/inside.txt"), "inside\n").unwrap();
    dir
}

/// Stdout then `exit: STATUS`, as the expected files hold them.
fn transcript(output: &Output) -> String {
    format!("{}exit: {}\n", String::from_utf8_lossy(&output.stdout), output.status.code().expect("an exit status"))
}

#[test]
fn run_gives_the_programs_output_and_exit_status() {
    let dir = scratch("run-status");
    assert_eq!(transcript(&onecopy_in(&dir, &["run", &program("exit_code"), "7"], "")), expected("exit_7"));
    assert_eq!(transcript(&onecopy_in(&dir, &["run", "--debug", &program("exit_code")], "")), expected("exit_0"));
    assert_eq!(transcript(&onecopy_in(&dir, &["run", &program("stdio")], "hello\nworld\n")), expected("stdio"));
}

#[test]
fn run_passes_arguments_environment_and_preopened_directories() {
    let dir = scratch("run-args");
    let output = onecopy_in(
        &dir,
        &[
            "run",
            "--env",
            "GREETING=hi there",
            "--env",
            "ONECOPY_TEST_B=2",
            "--env",
            "ONECOPY_TEST_A=1",
            &program("args_env"),
            "one",
            "two words",
            "--three",
        ],
        "",
    );
    assert_eq!(transcript(&output), expected("args_env"), "{}", String::from_utf8_lossy(&output.stderr));
    // The files program only needs `data`, under that name.
    let output = onecopy_in(&dir, &["run", "--dir", "data::data", &program("files")], "");
    let out = transcript(&output);
    assert!(out.starts_with("read: first line\n") && out.ends_with("data: . .. inside.txt\nexit: 0\n"), "{out}");
    // Without the directory, the program cannot open its file.
    let output = onecopy_in(&dir, &["run", &program("files")], "");
    assert!(String::from_utf8_lossy(&output.stdout).starts_with("fopen: "), "{output:?}");
    assert_eq!(output.status.code(), Some(1));
}

#[test]
fn run_on_sixty_four_workers_prefixes_each_line_and_reports_one_copy_of_code() {
    let dir = scratch("run-workers");
    let output = onecopy_in(&dir, &["run", "--workers", "64", &program("exit_code"), "5"], "");
    assert_eq!(output.status.code(), Some(5), "{}", String::from_utf8_lossy(&output.stderr));
    let out = String::from_utf8_lossy(&output.stdout);
    for w in 0..64 {
        assert!(out.contains(&format!("[worker {w}] exiting with 5\n")), "worker {w}: {out}");
        assert!(out.contains(&format!("[worker {w}] atexit handler ran\n")), "worker {w}: {out}");
    }
    assert_eq!(out.lines().count(), 128, "{out}");
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(err.contains("64 workers ran") && err.contains("from one copy of code") && err.contains("1 module(s)"), "{err}");

    let quiet = onecopy_in(&dir, &["run", "--workers", "8", "--quiet", "--debug", &program("clocks")], "");
    assert_eq!(quiet.status.code(), Some(0), "{}", String::from_utf8_lossy(&quiet.stderr));
    assert!(quiet.stdout.is_empty(), "{}", String::from_utf8_lossy(&quiet.stdout));
}

#[test]
fn run_without_start_or_invoke_says_what_to_do() {
    let dir = scratch("run-no-start");
    let wat = dir.join("lib.wat");
    std::fs::write(&wat, r#"(module (func (export "f") (result i32) i32.const 1))"#).unwrap();
    let output = onecopy_in(&dir, &["run", wat.to_str().unwrap()], "");
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--invoke"), "{output:?}");
    let output = onecopy_in(&dir, &["run", wat.to_str().unwrap(), "--invoke", "f"], "");
    assert_eq!(String::from_utf8_lossy(&output.stdout), "1 : i32\n");
}

#[test]
fn stress_runs_a_wasi_command_to_its_end_on_every_worker() {
    let dir = scratch("stress-wasi");
    let output = onecopy_in(&dir, &["stress", "--module", &program("stdio"), "--workers", "1,8", "--mode", "shared", "--json"], "");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("one JSON object");
    assert!(report["module"]["break_in"].as_str().unwrap().contains("_start"), "{report}");
    for (row, workers) in report["rows"].as_array().unwrap().iter().zip([1, 8]) {
        assert_eq!(row["error"], serde_json::Value::Null, "{row}");
        assert_eq!(row["events"], workers, "each worker stops at _start's entry once: {row}");
    }
}
