//! Real LLDB (Debian's `lldb-22`, its wasm plug-in) against `onecopy debug
//! --gdb`: source-line breakpoints, locals by name in the stopped and the
//! calling frame, a step over a line, backtraces, N workers as N threads,
//! writes that change the program's output, and continuing to the end.
//! Skipped, saying so, where lldb-22 is not installed.

mod gdb_server;

use std::process::{Command, Stdio};

use gdb_server::{wait_with_deadline, Server};

/// Whether lldb-22 can run here; prints why the test is skipped if not.
fn have_lldb(test: &str) -> bool {
    let found = Command::new("lldb-22").arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status();
    let ok = found.is_ok_and(|s| s.success());
    if !ok {
        println!("{test}: skipped: lldb-22 is not installed (apt-get install lldb-22)");
    }
    ok
}

/// Run lldb-22 in batch mode: connect to `server`, then `commands`; its
/// output (stdout and stderr, in order).
fn lldb(server: &Server, commands: &[&str]) -> String {
    let mut args = vec!["-b".to_string(), "-x".into(), "-o".into(), format!("process connect --plugin wasm connect://{}", server.addr)];
    for command in commands {
        args.push("-o".into());
        args.push(command.to_string());
    }
    let log = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("lldb-{}.out", server.addr.replace(['.', ':'], "-")));
    let file = std::fs::File::create(&log).unwrap();
    let mut child = Command::new("lldb-22")
        .args(&args)
        .stdin(Stdio::null())
        .stdout(file.try_clone().unwrap())
        .stderr(file)
        .spawn()
        .expect("start lldb-22");
    wait_with_deadline(&mut child, "lldb-22");
    let text = std::fs::read_to_string(&log).unwrap();
    let _ = std::fs::remove_file(&log);
    text
}

/// The output after the echo of `command` up to the next command's echo.
fn after<'a>(output: &'a str, command: &str) -> &'a str {
    let echo = format!("(lldb) {command}\n");
    let start = output.find(&echo).unwrap_or_else(|| panic!("no {command:?} in:\n{output}")) + echo.len();
    let rest = &output[start..];
    &rest[..rest.find("(lldb) ").unwrap_or(rest.len())]
}

fn assert_has(output: &str, command: &str, wanted: &str, all: &str) {
    let part = after(output, command);
    assert!(part.contains(wanted), "after {command:?} expected {wanted:?}, got:\n{part}\n--- whole transcript:\n{all}");
}

/// The code arena's bytes, from the server's closing line.
fn arena_bytes(stderr: &str) -> u64 {
    let line = stderr.lines().find(|l| l.contains("code arena")).unwrap_or_else(|| panic!("no arena line in:\n{stderr}"));
    let n = line.split("code arena ").nth(1).unwrap().split(' ').next().unwrap();
    n.parse().unwrap()
}

#[test]
fn lldb_breaks_on_a_source_line_reads_and_writes_locals_and_runs_to_the_end() {
    if !have_lldb("lldb_breaks_on_a_source_line") {
        return;
    }
    let server = Server::start(1);
    let commands = [
        "b squares.c:7",
        "c",
        "frame variable x",
        "next",
        "frame variable result",
        "bt",
        "frame select 1",
        "frame variable factor",
        "expr factor = 5",
        "memory write -s 4 -f d &total 100",
        "frame variable total",
        "thread list",
        "breakpoint delete 1",
        "c",
    ];
    let out = lldb(&server, &commands);
    let finished = server.finish();
    println!("{out}");
    assert_has(&out, "b squares.c:7", "Breakpoint 1: where = squares.wasm@1`square", &out);
    assert_has(&out, "c", "stop reason = breakpoint 1.1", &out);
    assert_has(&out, "c", "square(x=1) at squares.c:7", &out);
    assert_has(&out, "frame variable x", "(int) x = 1", &out);
    assert_has(&out, "next", "at squares.c:8", &out);
    assert_has(&out, "frame variable result", "(int) result = 1", &out);
    assert_has(&out, "bt", "frame #0: 0x4000000100000", &out);
    assert_has(&out, "bt", "`square(x=1) at squares.c:8", &out);
    assert_has(&out, "bt", "`main at squares.c:15", &out);
    assert_has(&out, "frame select 1", "main at squares.c:15", &out);
    assert_has(&out, "frame variable factor", "(int) factor = 3", &out);
    assert_has(&out, "expr factor = 5", "= 5", &out);
    assert_has(&out, "frame variable total", "(int) total = 100", &out);
    assert_has(&out, "thread list", "thread #1:", &out);
    assert!(!after(&out, "thread list").contains("thread #2"), "one worker, one thread:\n{out}");
    assert!(out.contains("exited with status = 0"), "{out}");
    // total = 100 (written) + (1 + 4 + 9 + 16) * 5 (factor written): not the 90 of an untouched run.
    assert_eq!(finished.stdout, "total=250\n", "server stderr:\n{}", finished.stderr);
    assert!(finished.status.success());
}

#[test]
fn lldb_sees_eight_workers_as_eight_threads_of_one_copy_of_code() {
    if !have_lldb("lldb_sees_eight_workers") {
        return;
    }
    let one = Server::start(1);
    lldb(&one, &["c"]);
    let one = one.finish();
    let server = Server::start(8);
    // After LLDB unwinds every thread, the stopped thread's local still
    // comes from that thread (LLDB 22 does not select it again first).
    let commands = ["b squares.c:7", "c", "thread list", "bt", "thread backtrace all", "frame variable x", "breakpoint delete 1", "c"];
    let out = lldb(&server, &commands);
    let finished = server.finish();
    println!("{out}");
    assert_has(&out, "b squares.c:7", "Breakpoint 1: 8 locations.", &out);
    assert_has(&out, "c", "stop reason = breakpoint 1.", &out);
    let threads = after(&out, "thread list");
    for n in 1..=8 {
        assert!(threads.contains(&format!("thread #{n}: tid = {n:#06x}")), "thread {n} missing:\n{threads}");
    }
    assert_eq!(threads.matches("stop reason = breakpoint").count(), 1, "the session stops on one thread:\n{threads}");
    assert_has(&out, "bt", "`square(x=", &out);
    let stop = after(&out, "c");
    let x = stop.split("square(x=").nth(1).and_then(|r| r.split(')').next()).unwrap();
    assert_eq!(after(&out, "thread backtrace all").matches("frame #0:").count(), 8, "{out}");
    assert_has(&out, "frame variable x", &format!("(int) x = {x}\n"), &out);
    assert!(out.contains("exited with status = 0"), "{out}");
    let mut lines: Vec<&str> = finished.stdout.lines().collect();
    lines.sort_unstable();
    let expected: Vec<String> = (0..8).map(|w| format!("[worker {w}] total=90")).collect();
    assert_eq!(lines, expected, "server stderr:\n{}", finished.stderr);
    assert!(finished.stderr.contains("1 module(s)"), "{}", finished.stderr);
    assert_eq!(arena_bytes(&finished.stderr), arena_bytes(&one.stderr), "eight workers debugged, still one copy of code");
    assert!(finished.status.success());
}
