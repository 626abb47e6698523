//! `onecopy debug --gdb` as the GDB tests start it: on a port the OS
//! picks, read back from the server's stderr, with a deadline on every
//! child so a test can never hang.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// How long any child process of these tests may run.
pub const DEADLINE: Duration = Duration::from_secs(60);

/// The committed test program (see `lldb/build.sh`).
pub fn program() -> String {
    format!("{}/tests/lldb/squares.wasm", env!("CARGO_MANIFEST_DIR"))
}

/// A running `onecopy debug --gdb 127.0.0.1:0 ...`.
pub struct Server {
    child: Child,
    /// Where it listens.
    pub addr: String,
    stderr: mpsc::Receiver<String>,
    stdout: Option<thread::JoinHandle<String>>,
}

/// What the server printed and how it ended.
pub struct Finished {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Server {
    /// Start the server on `workers` workers and wait until it listens.
    pub fn start(workers: usize) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_onecopy"))
            .args(["debug", "--gdb", "127.0.0.1:0", &program(), "--workers", &workers.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start onecopy debug --gdb");
        let (lines_tx, stderr) = mpsc::channel();
        let err = child.stderr.take().unwrap();
        thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                let _ = lines_tx.send(line);
            }
        });
        let mut out = child.stdout.take().unwrap();
        let stdout = thread::spawn(move || {
            let mut text = String::new();
            let _ = out.read_to_string(&mut text);
            text
        });
        let mut server = Server { child, addr: String::new(), stderr, stdout: Some(stdout) };
        let line = server.stderr_line_with("wait for LLDB on ");
        let rest = line.split("wait for LLDB on ").nth(1).unwrap();
        server.addr = rest.split(':').take(2).collect::<Vec<_>>().join(":");
        server
    }

    /// Wait for the next stderr line containing `text`, before the deadline.
    fn stderr_line_with(&mut self, text: &str) -> String {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stderr.recv_timeout(left) {
                Ok(line) if line.contains(text) => return line,
                Ok(_) => continue,
                Err(_) => {
                    let _ = self.child.kill();
                    panic!("the server printed no line with {text:?}");
                }
            }
        }
    }

    /// Wait for the server to exit (killing it at the deadline).
    pub fn finish(mut self) -> Finished {
        let status = wait_with_deadline(&mut self.child, "onecopy debug --gdb");
        let stdout = self.stdout.take().map(|t| t.join().unwrap()).unwrap_or_default();
        let stderr: Vec<String> = self.stderr.try_iter().collect();
        Finished { status, stdout, stderr: stderr.join("\n") }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

/// Wait for `child`, killing it and failing the test at [`DEADLINE`].
pub fn wait_with_deadline(child: &mut Child, what: &str) -> ExitStatus {
    let deadline = Instant::now() + DEADLINE;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not end within {DEADLINE:?}");
        }
        thread::sleep(Duration::from_millis(20));
    }
}
