//! `onecopy debug --gdb` against bad input, spoken to byte by byte (no
//! LLDB needed): malformed packets get error replies and the session goes
//! on; a client that goes away mid-session lets every worker run to the end.

mod gdb_server;

use std::io::{Read, Write};
use std::net::TcpStream;

use gdb_server::{Server, DEADLINE};

/// A GDB remote client on a socket, in ack mode (it ignores acks).
struct Client(TcpStream);

impl Client {
    fn connect(server: &Server) -> Client {
        let stream = TcpStream::connect(&server.addr).expect("connect to the server");
        stream.set_read_timeout(Some(DEADLINE)).unwrap();
        Client(stream)
    }

    fn send_raw(&mut self, bytes: &[u8]) {
        self.0.write_all(bytes).unwrap();
    }

    /// Send `body` as a packet with its checksum.
    fn send(&mut self, body: &str) {
        let sum = body.bytes().fold(0u8, |a, b| a.wrapping_add(b));
        self.send_raw(format!("${body}#{sum:02x}").as_bytes());
    }

    /// The next reply's body (acks skipped).
    fn reply(&mut self) -> String {
        let mut byte = [0u8];
        loop {
            self.0.read_exact(&mut byte).expect("a reply");
            if byte[0] == b'$' {
                break;
            }
        }
        let mut body = Vec::new();
        loop {
            self.0.read_exact(&mut byte).unwrap();
            if byte[0] == b'#' {
                break;
            }
            body.push(byte[0]);
        }
        let mut sum = [0u8; 2];
        self.0.read_exact(&mut sum).unwrap();
        String::from_utf8(body).unwrap()
    }

    fn ask(&mut self, body: &str) -> String {
        self.send(body);
        self.reply()
    }
}

#[test]
fn malformed_packets_get_error_replies_and_the_session_goes_on() {
    let server = Server::start(2);
    let mut client = Client::connect(&server);
    assert!(client.ask("?").starts_with("T05thread:"), "stopped at the start");
    // A memory read whose address and length are not hex.
    assert!(client.ask("mzz,qq").starts_with('E'));
    // A checksum that does not match.
    client.send_raw(b"$?#00");
    assert!(client.reply().starts_with('E'));
    // Addresses LLDB's scheme does not define, and code bytes (never written).
    assert!(client.ask("mc000000000000000,4").starts_with('E'));
    assert!(client.ask("M4000000100000000,1:00").starts_with('E'));
    assert!(client.ask("Z0,4000000100000000,1").starts_with('E'), "offset 0 is no breakable point");
    // Still serving: the module image's magic number, the two threads.
    assert_eq!(client.ask("m4000000100000000,4"), "0061736d");
    assert_eq!(client.ask("qfThreadInfo"), "m01,02");
    assert!(client.ask("qWasmLocal:zz").starts_with('E'));
    // The wasm queries LLDB 22 sends (qWasmGlobal in its frame form only):
    // global 0 is clang's __stack_pointer, an i32 (4 bytes, maybe RLE'd).
    let sp = client.ask("qWasmGlobal:0;0");
    assert!(!sp.is_empty() && !sp.starts_with('E'), "{sp}");
    assert!(client.ask("qWasmGlobal:0;9999").is_empty(), "no such global: no value");
    assert!(client.ask("qWasmLocal:0;9999").is_empty(), "no such local: no value");
    assert!(client.ask("qWasmStackValue:0;0").is_empty(), "the entry's operand stack is empty");
    let stack = client.ask("qWasmCallStack:1");
    assert!(!stack.is_empty() && !stack.starts_with('E'), "{stack}");
    assert!(client.ask("?").starts_with('T'));
    client.send("D");
    let finished = server.finish();
    assert_eq!(finished.stdout.lines().filter(|l| l.ends_with("total=90")).count(), 2, "{}", finished.stderr);
    assert!(finished.status.success(), "{}", finished.stderr);
}

#[test]
fn a_client_that_goes_away_mid_session_lets_every_worker_finish() {
    let server = Server::start(4);
    let mut client = Client::connect(&server);
    assert!(client.ask("?").starts_with("T05thread:"));
    assert_eq!(client.ask("qfThreadInfo"), "m01,02,03,04");
    // Memory without an instance id is the selected thread's worker's.
    assert_eq!(client.ask("Hg3"), "OK");
    let memory = client.ask("m400,4");
    assert!(!memory.is_empty() && !memory.starts_with('E'), "worker 2's memory: {memory}");
    drop(client);
    let finished = server.finish();
    assert_eq!(finished.stdout.lines().filter(|l| l.ends_with("total=90")).count(), 4, "{}", finished.stderr);
    assert!(finished.stderr.contains("Disconnected"), "{}", finished.stderr);
    assert!(finished.status.success(), "{}", finished.stderr);
}
