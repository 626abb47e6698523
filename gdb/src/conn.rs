//! The connection to LLDB, which makes up for two gaps of LLDB 22's wasm
//! plug-in with several threads:
//!
//! - it never re-reads a thread's PC (its register context does not
//!   invalidate), so stop replies get the stopped thread's own PC (`00:`,
//!   when gdbstub wrote none, as for `?`) and every thread's (`threads:`
//!   and `thread-pcs:`, LLDB's keys for the threads that did not report);
//! - it sends `qWasmLocal` (and reads variables' memory) for the thread
//!   it last unwound with `qWasmCallStack:TID` without selecting that
//!   thread first (`Hg`), so the thread LLDB named last, by either, is
//!   kept as its [`Focus`].

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::io::{self, Write};
use std::net::TcpStream;
use std::rc::Rc;

use gdbstub::conn::{Connection, ConnectionExt};

/// Each live thread's PC (a protocol address), by thread id; kept current
/// by the event loop whenever the workers stop.
pub type Pcs = Rc<RefCell<BTreeMap<usize, u64>>>;

/// The thread id LLDB named last (`Hg` or `qWasmCallStack`), if any.
pub type Focus = Rc<Cell<Option<usize>>>;

/// What is being written: packets are held until their checksum, so a
/// stop reply can still be extended.
enum Out {
    Between,
    Body(Vec<u8>),
    Checksum(Vec<u8>, u8),
}

/// A TCP connection that extends outgoing stop replies with [`Pcs`].
pub struct StopPcs {
    stream: TcpStream,
    pcs: Pcs,
    out: Out,
    focus: Focus,
    /// The body of the packet being read, from its `$`.
    incoming: Option<Vec<u8>>,
}

impl StopPcs {
    /// `stream`, its stop replies extended with `pcs`, the thread LLDB
    /// names kept in `focus`.
    pub fn new(stream: TcpStream, pcs: Pcs, focus: Focus) -> StopPcs {
        StopPcs { stream, pcs, out: Out::Between, focus, incoming: None }
    }

    /// Watch the bytes LLDB sends for the threads it names.
    fn saw(&mut self, byte: u8) {
        match (&mut self.incoming, byte) {
            (_, b'$') => self.incoming = Some(Vec::new()),
            (Some(body), b'#') => {
                let text = String::from_utf8_lossy(body);
                let named = text.strip_prefix("Hg").or_else(|| text.strip_prefix("qWasmCallStack:"));
                if let Some(tid) = named.and_then(tid_of) {
                    self.focus.set(Some(tid));
                }
                self.incoming = None;
            }
            (Some(body), _) if body.len() < 64 => body.push(byte),
            // Long packets (memory writes) name no thread.
            (Some(_), _) => self.incoming = None,
            (None, _) => {}
        }
    }

    /// The body of stop reply `body` with the PCs added.
    fn extend(&self, mut body: Vec<u8>) -> Vec<u8> {
        if body.first() != Some(&b'T') {
            return body;
        }
        let pcs = self.pcs.borrow();
        let text = String::from_utf8_lossy(&body).into_owned();
        if !text.contains(";00:") {
            let pc = thread_of(&text).and_then(|tid| pcs.get(&tid));
            if let Some(pc) = pc {
                let hex: String = pc.to_le_bytes().iter().map(|b| format!("{b:02x}")).collect();
                body.extend_from_slice(format!("00:{hex};").as_bytes());
            }
        }
        let tids: Vec<String> = pcs.keys().map(|t| format!("{t:x}")).collect();
        let values: Vec<String> = pcs.values().map(|pc| format!("{pc:x}")).collect();
        body.extend_from_slice(format!("threads:{};thread-pcs:{};", tids.join(","), values.join(",")).as_bytes());
        body
    }

    fn send(&mut self, body: &[u8]) -> io::Result<()> {
        let sum = body.iter().fold(0u8, |a, b| a.wrapping_add(*b));
        let mut packet = Vec::with_capacity(body.len() + 4);
        packet.push(b'$');
        packet.extend_from_slice(body);
        packet.extend_from_slice(format!("#{sum:02x}").as_bytes());
        Write::write_all(&mut self.stream, &packet)
    }
}

/// The thread id of a stop reply's `thread:` key (`thread:p1.2;` or `thread:2;`).
fn thread_of(body: &str) -> Option<usize> {
    tid_of(body.split("thread:").nth(1)?.split(';').next()?)
}

/// A thread id as LLDB writes one (`p1.2` or `2`, hex); none for `0`
/// ("any") and `-1` ("all").
fn tid_of(text: &str) -> Option<usize> {
    let tid = text.rsplit('.').next()?;
    usize::from_str_radix(tid, 16).ok().filter(|t| *t != 0)
}

impl Connection for StopPcs {
    type Error = io::Error;

    fn write(&mut self, byte: u8) -> io::Result<()> {
        self.out = match std::mem::replace(&mut self.out, Out::Between) {
            Out::Between if byte == b'$' => Out::Body(Vec::new()),
            Out::Between => {
                Write::write_all(&mut self.stream, &[byte])?;
                Out::Between
            }
            Out::Body(body) if byte == b'#' => Out::Checksum(body, 0),
            Out::Body(mut body) => {
                body.push(byte);
                Out::Body(body)
            }
            // gdbstub's checksum is recomputed over the extended body.
            Out::Checksum(body, 0) => Out::Checksum(body, 1),
            Out::Checksum(body, _) => {
                let body = self.extend(body);
                self.send(&body)?;
                Out::Between
            }
        };
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        Write::flush(&mut self.stream)
    }

    fn on_session_start(&mut self) -> io::Result<()> {
        self.stream.set_nodelay(true)
    }
}

impl ConnectionExt for StopPcs {
    fn read(&mut self) -> io::Result<u8> {
        let byte = ConnectionExt::read(&mut self.stream)?;
        self.saw(byte);
        Ok(byte)
    }

    fn peek(&mut self) -> io::Result<Option<u8>> {
        ConnectionExt::peek(&mut self.stream)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_replies_name_their_thread() {
        assert_eq!(thread_of("T05thread:p01.02;swbreak:;"), Some(2));
        assert_eq!(thread_of("T05thread:0a;"), Some(10));
        assert_eq!(thread_of("T05;"), None);
        assert_eq!(tid_of("p1.-1"), None);
        assert_eq!(tid_of("0"), None);
    }
}
