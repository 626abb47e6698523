//! [`PrefixedLines`]: a writer that puts a prefix before every line it
//! passes on, whole lines at a time, so the output of many workers
//! interleaves by line, never inside one.

use std::io::{self, Write};

/// Where prefixed lines go.
#[derive(Debug, Clone, Copy)]
pub enum Sink {
    Stdout,
    Stderr,
}

/// Buffers a partial line until its end; complete lines go out prefixed,
/// each under the sink's lock. A last line without an end goes out when
/// the writer is dropped.
pub struct PrefixedLines {
    prefix: String,
    pending: Vec<u8>,
    sink: Sink,
}

impl PrefixedLines {
    pub fn new(prefix: String, sink: Sink) -> PrefixedLines {
        PrefixedLines { prefix, pending: Vec::new(), sink }
    }

    fn emit(&self, lines: &[u8]) -> io::Result<()> {
        let mut out = Vec::with_capacity(lines.len() + self.prefix.len());
        for line in lines.split_inclusive(|b| *b == b'\n') {
            out.extend_from_slice(self.prefix.as_bytes());
            out.extend_from_slice(line);
        }
        match self.sink {
            Sink::Stdout => io::stdout().lock().write_all(&out),
            Sink::Stderr => io::stderr().lock().write_all(&out),
        }
    }
}

impl Write for PrefixedLines {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.pending.extend_from_slice(buf);
        if let Some(end) = self.pending.iter().rposition(|b| *b == b'\n') {
            let rest = self.pending.split_off(end + 1);
            let lines = std::mem::replace(&mut self.pending, rest);
            self.emit(&lines)?;
        }
        Ok(buf.len())
    }

    /// Passes on complete lines only (they already went out with `write`).
    fn flush(&mut self) -> io::Result<()> {
        match self.sink {
            Sink::Stdout => io::stdout().flush(),
            Sink::Stderr => io::stderr().flush(),
        }
    }
}

impl Drop for PrefixedLines {
    fn drop(&mut self) {
        if !self.pending.is_empty() {
            let mut last = std::mem::take(&mut self.pending);
            last.push(b'\n');
            // Dropping cannot report a failed write; the program's status
            // is reported apart.
            let _ = self.emit(&last);
        }
    }
}
