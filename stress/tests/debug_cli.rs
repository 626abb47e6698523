//! `onecopy debug` driven as a program would drive it: a script on stdin,
//! one JSON object per line on stdout.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value as Json;

/// The program the workers crate's debugger tests drive too.
const PROGRAM: &str = include_str!("../../workers/tests/data/debugger.wat");

/// A file in the system's temp folder that no other test (or test run) uses,
/// removed when dropped.
struct TempFile(PathBuf);

impl TempFile {
    fn new(name: &str, contents: &str) -> TempFile {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let unique = format!("onecopy-debug-{}-{}-{name}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
        let path = std::env::temp_dir().join(unique);
        std::fs::write(&path, contents).expect("write a temp file");
        TempFile(path)
    }

    fn path(&self) -> &str {
        self.0.to_str().expect("a UTF-8 temp path")
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Run `onecopy debug` on `file` with `args`, feeding `script` on stdin.
fn onecopy_debug(file: &str, args: &[&str], script: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_onecopy"))
        .arg("debug")
        .arg(file)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start onecopy");
    child.stdin.take().unwrap().write_all(script.as_bytes()).expect("write the script");
    child.wait_with_output().expect("onecopy ends")
}

/// A debug session over `workers` workers of [`PROGRAM`]: every output line,
/// parsed. The run must succeed.
fn session(workers: usize, script: &str) -> Vec<Json> {
    session_with(workers, &[], script)
}

fn session_with(workers: usize, args: &[&str], script: &str) -> Vec<Json> {
    let wat = TempFile::new("program.wat", PROGRAM);
    let workers = workers.to_string();
    let mut all_args = vec!["--workers", &workers];
    all_args.extend_from_slice(args);
    let output = onecopy_debug(wat.path(), &all_args, script);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "exit {:?}\nstdout:\n{stdout}\nstderr:\n{}", output.status, String::from_utf8_lossy(&output.stderr));
    stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not one JSON object: {line:?}: {e}\n{stdout}")))
        .collect()
}

/// Lines whose `key` is `value` (`"reply"`/`"event"` and its kind).
fn with<'a>(lines: &'a [Json], key: &str, value: &str) -> Vec<&'a Json> {
    lines.iter().filter(|l| l[key] == value).collect()
}

/// The one line with this `key`/`value`.
fn one<'a>(lines: &'a [Json], key: &str, value: &str) -> &'a Json {
    let found = with(lines, key, value);
    assert_eq!(found.len(), 1, "one {key}={value} line expected in {lines:#?}");
    found[0]
}

/// The results of each worker's finished call, by worker.
fn finished(lines: &[Json]) -> Vec<(u64, Json)> {
    let mut results: Vec<(u64, Json)> =
        with(lines, "event", "finished").iter().map(|l| (l["worker"].as_u64().unwrap(), l["results"].clone())).collect();
    results.sort_by_key(|(w, _)| *w);
    results
}

fn errors(lines: &[Json]) -> Vec<&str> {
    lines.iter().filter_map(|l| l.get("error")).map(|e| e.as_str().unwrap()).collect()
}

#[test]
fn one_worker_stops_at_a_breakpoint_and_its_argument_changes() {
    let lines = session(4, "break 2 fib\nrun fib 10\nwait 2\nlocals 2\nbacktrace 2\nset-local 2 0 5\nclear 2\ncontinue 2\n");
    assert!(errors(&lines).is_empty(), "{lines:#?}");
    let stop = one(&lines, "event", "stopped");
    assert_eq!((&stop["worker"], &stop["name"], &stop["reason"]), (&Json::from(2), &Json::from("fib"), &Json::from("breakpoint")));
    assert_eq!(stop["func"], 0);
    assert_eq!(one(&lines, "reply", "break")["offset"], stop["offset"], "no offset: the entry site");
    assert_eq!(one(&lines, "reply", "locals")["locals"], serde_json::json!(["10:i32"]));
    let frames = one(&lines, "reply", "backtrace")["frames"].as_array().unwrap().clone();
    assert_eq!(frames.len(), 1, "{frames:?}");
    assert_eq!(frames[0]["name"], "fib");
    assert_eq!(one(&lines, "reply", "set-local")["value"], "5:i32");
    let fib10 = serde_json::json!(["55:i32"]);
    let fib5 = serde_json::json!(["5:i32"]);
    assert_eq!(finished(&lines), [(0, fib10.clone()), (1, fib10.clone()), (2, fib5), (3, fib10)]);
    // Every event comes after the `run` reply, and worker 2's stop before its result.
    let position = |pred: &dyn Fn(&Json) -> bool| lines.iter().position(pred).unwrap();
    let run = position(&|l| l["reply"] == "run");
    let stopped = position(&|l| l["event"] == "stopped");
    let done2 = position(&|l| l["event"] == "finished" && l["worker"] == 2);
    assert!(run < stopped && stopped < done2, "{lines:#?}");
}

#[test]
fn step_over_from_the_entry_lands_on_the_second_site() {
    let lines = session(2, "sites fib\nbreak 0 fib\nrun fib 3\nwait 0\nclear 0 fib\nstep-over 0\nwait 0\nbacktrace 0\ncontinue 0\n");
    assert!(errors(&lines).is_empty(), "{lines:#?}");
    let sites = one(&lines, "reply", "sites")["offsets"].as_array().unwrap().clone();
    assert!(sites.len() >= 2, "{sites:?}");
    let stops = with(&lines, "event", "stopped");
    assert_eq!(stops.len(), 2, "{lines:#?}");
    assert_eq!((&stops[0]["offset"], &stops[0]["reason"]), (&sites[0], &Json::from("breakpoint")));
    assert_eq!((&stops[1]["offset"], &stops[1]["reason"]), (&sites[1], &Json::from("step")));
    assert_eq!((&stops[1]["worker"], &stops[1]["func"]), (&Json::from(0), &Json::from(0)));
    assert_eq!(one(&lines, "reply", "backtrace")["frames"][0]["offset"], sites[1]);
    let fib3 = serde_json::json!(["2:i32"]);
    assert_eq!(finished(&lines), [(0, fib3.clone()), (1, fib3)]);
}

#[test]
fn a_bad_command_is_an_error_line_and_the_session_goes_on() {
    let script = "\
# comments and empty lines are skipped

frobnicate 1
break 0
break 0 nosuchfunc
locals 0 1
step-in all
wait 7
run fib 1 2
run fib
sites fib
run fib 7
";
    let lines = session(2, script);
    let errors = errors(&lines);
    assert_eq!(errors.len(), 8, "{lines:#?}");
    assert!(errors[0].contains("unknown command `frobnicate`"), "{errors:?}");
    assert!(errors[1].contains("usage: break"), "{errors:?}");
    assert!(errors[2].contains("nosuchfunc"), "{errors:?}");
    assert!(errors[3].contains("not stopped"), "{errors:?}");
    assert!(errors[5].contains("no worker 7"), "{errors:?}");
    assert!(errors[6].contains("takes 1 argument"), "{errors:?}");
    assert!(one(&lines, "reply", "sites")["offsets"].as_array().is_some_and(|o| !o.is_empty()));
    let fib7 = serde_json::json!(["13:i32"]);
    assert_eq!(finished(&lines), [(0, fib7.clone()), (1, fib7)]);
}

#[test]
fn pause_all_stops_every_worker_and_continue_all_finishes() {
    // Long enough (about a second per worker) that no worker can finish
    // before the pause, even on a starved machine.
    let n: u64 = 200_000_000;
    let script = format!("run sum {n}\npause all\nwait any\nwait any\nwait any\nwait any\ncontinue all\n");
    let lines = session(4, &script);
    assert!(errors(&lines).is_empty(), "{lines:#?}");
    let stops = with(&lines, "event", "stopped");
    assert_eq!(stops.len(), 4, "{lines:#?}");
    assert!(stops.iter().all(|s| s["reason"] == "pause" && s["name"] == "sum"), "{stops:#?}");
    let mut workers: Vec<u64> = stops.iter().map(|s| s["worker"].as_u64().unwrap()).collect();
    workers.sort_unstable();
    assert_eq!(workers, [0, 1, 2, 3]);
    let expected = serde_json::json!([format!("{}:i32", (n * (n + 1) / 2) as u32 as i32)]);
    assert_eq!(finished(&lines), (0..4).map(|w| (w, expected.clone())).collect::<Vec<_>>());
    // Every stop came before every result (nothing finished while paused).
    let last_stop = lines.iter().rposition(|l| l["event"] == "stopped").unwrap();
    let first_result = lines.iter().position(|l| l["event"] == "finished").unwrap();
    assert!(last_stop < first_result, "{lines:#?}");
}

#[test]
fn globals_memory_and_traps() {
    let script = "\
break all fib
run fib 1
wait 0
global 0 calls
global 0 0 41
memory 0 16 4
continue 0
wait 1
global 1 calls
clear all
continue 1
break 1 sum@0x0
run crash 0
";
    let lines = session(2, script);
    let globals: Vec<&Json> = with(&lines, "reply", "global").iter().map(|l| &l["value"]).collect();
    assert_eq!(globals, ["0:i32", "41:i32", "0:i32"], "{lines:#?}");
    assert_eq!(one(&lines, "reply", "memory")["bytes"], "00000000");
    let errors = errors(&lines);
    assert_eq!(errors.len(), 1, "{lines:#?}");
    assert!(errors[0].contains("no breakable point"), "{errors:?}");
    assert_eq!(finished(&lines), [(0, serde_json::json!(["1:i32"])), (1, serde_json::json!(["1:i32"]))]);
    let traps = with(&lines, "event", "trapped");
    assert_eq!(traps.len(), 2, "{lines:#?}");
    assert!(traps.iter().all(|t| t["trap"].as_str().unwrap().contains("divide by zero")), "{traps:#?}");
}

#[test]
fn the_end_of_the_script_resumes_stopped_workers_and_waits_for_their_results() {
    let lines = session(3, "break all fib\nrun fib 6\nwait 1\n");
    assert_eq!(one(&lines, "event", "stopped")["worker"], 1);
    let fib6 = serde_json::json!(["8:i32"]);
    assert_eq!(finished(&lines), (0..3).map(|w| (w, fib6.clone())).collect::<Vec<_>>());
}

#[test]
fn wait_gives_up_when_nothing_can_stop_or_after_its_timeout() {
    // A loop of 2^31 iterations: no stop within 200 ms, then a pause and a
    // changed counter end it early.
    let script = "\
wait any
run sum 0x7fffffff
wait 0
pause 0
wait 0
set-local 0 0 1
continue 0
";
    let lines = session_with(1, &["--wait-timeout-ms", "200"], script);
    let errors = errors(&lines);
    assert_eq!(errors.len(), 2, "{lines:#?}");
    assert!(errors[0].contains("no worker can stop"), "{errors:?}");
    assert!(errors[1].contains("did not stop within 200 ms"), "{errors:?}");
    assert_eq!(one(&lines, "event", "stopped")["reason"], "pause");
    assert_eq!(with(&lines, "event", "finished").len(), 1, "{lines:#?}");
}

#[test]
fn a_script_file_and_a_module_that_cannot_load() {
    let script = TempFile::new("script.txt", "run fib 4\n");
    let lines = session_with(1, &["--script", script.path()], "this stdin is not read\n");
    assert_eq!(finished(&lines), [(0, serde_json::json!(["3:i32"]))]);

    let garbage = TempFile::new("garbage.wat", "this is not a module");
    let output = onecopy_debug(garbage.path(), &["--workers", "2"], "");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.starts_with("error: cannot load"), "{stderr}");
}

/// The WASI C program the LLDB tests debug, built with DWARF.
fn c_program() -> String {
    format!("{}/tests/lldb/squares.wasm", env!("CARGO_MANIFEST_DIR"))
}

/// Every stdout line of a session over `file`, parsed, and stderr.
fn parsed(output: &Output) -> (Vec<Json>, String) {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let lines = stdout.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not JSON: {l}"))).collect();
    (lines, String::from_utf8_lossy(&output.stderr).into_owned())
}

#[test]
fn break_file_line_stops_there_and_stops_and_backtraces_name_source_lines() {
    source_breakpoint_session(&[]);
}

#[test]
fn with_sites_at_the_line_tables_statements_the_same_source_session_runs_alike() {
    source_breakpoint_session(&["--lines"]);
}

/// Two workers stop at `squares.c:7`, one shows its backtrace, both run to
/// their end; `extra`: more `onecopy debug` flags.
fn source_breakpoint_session(extra: &[&str]) {
    let script = "break squares.c:7\nrun _start\nwait 0\nbacktrace 0\nwait 1\nclear all\ncontinue all\n";
    let args: Vec<&str> = ["--workers", "2"].iter().chain(extra).copied().collect();
    let output = onecopy_debug(&c_program(), &args, script);
    let (lines, stderr) = parsed(&output);
    assert!(output.status.success(), "{stderr}");
    let set = one(&lines, "reply", "break");
    assert_eq!((set["file"].as_str(), set["line"].as_u64()), (Some("squares.c"), Some(7)), "{set}");
    let places = set["locations"].as_array().unwrap();
    assert_eq!(places.len(), 1, "{set}");
    assert_eq!(places[0]["name"], "square");
    assert!(places[0]["file"].as_str().unwrap().ends_with("squares.c"));
    let stops = with(&lines, "event", "stopped");
    assert_eq!(stops.len(), 2, "{lines:?}");
    for stop in &stops {
        assert_eq!((stop["name"].as_str(), stop["line"].as_u64()), (Some("square"), Some(7)), "{stop}");
        assert!(stop["file"].as_str().unwrap().ends_with("squares.c"), "{stop}");
    }
    let frames = one(&lines, "reply", "backtrace")["frames"].as_array().unwrap().clone();
    assert_eq!((frames[0]["name"].as_str(), frames[0]["line"].as_u64()), (Some("square"), Some(7)));
    // The caller's frame is at its call: `total += square(i) * factor;`.
    assert_eq!(frames[1]["line"].as_u64(), Some(15), "{frames:?}");
    assert!(frames[1]["file"].as_str().unwrap().ends_with("squares.c"));
    // WASI programs run to the end, their output on stderr.
    assert_eq!(finished(&lines).len(), 2, "{lines:?}");
    assert_eq!(stderr.matches("] total=90").count(), 2, "{stderr}");
    assert!(errors(&lines).is_empty(), "{lines:?}");
}

#[test]
fn break_on_a_line_without_code_or_a_module_without_dwarf_is_an_error() {
    let output = onecopy_debug(&c_program(), &[], "break squares.c:5\nbreak nosuch.c:7\nbreak squares.c:x\n");
    let (lines, _) = parsed(&output);
    let errs = errors(&lines);
    assert!(errs[0].contains("no code for squares.c:5"), "{errs:?}");
    assert!(errs[1].contains("no code for nosuch.c:7"), "{errs:?}");
    assert!(errs[2].contains("not a line number"), "{errs:?}");
    let lines = session(1, "break a.c:1\n");
    assert!(errors(&lines)[0].contains("no line table"), "{lines:?}");
}
