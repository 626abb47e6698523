//! [`Pipe`]: an in-memory byte buffer to give a program as stdout or
//! stderr (or stdin), and read afterwards.

use std::io::{Read, Write};
use std::sync::{Arc, Mutex};

/// A shared buffer: what the program writes, another clone reads back.
#[derive(Clone, Default)]
pub struct Pipe {
    bytes: Arc<Mutex<Vec<u8>>>,
    read_at: Arc<Mutex<usize>>,
}

impl Pipe {
    /// A pipe holding `bytes` (for stdin).
    pub fn with_contents(bytes: impl Into<Vec<u8>>) -> Pipe {
        Pipe { bytes: Arc::new(Mutex::new(bytes.into())), read_at: Arc::default() }
    }

    /// Everything written so far.
    pub fn contents(&self) -> Vec<u8> {
        self.bytes.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl Write for Pipe {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.bytes.lock().unwrap_or_else(|e| e.into_inner()).extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Read for Pipe {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let bytes = self.bytes.lock().unwrap_or_else(|e| e.into_inner());
        let mut at = self.read_at.lock().unwrap_or_else(|e| e.into_inner());
        let rest = &bytes[(*at).min(bytes.len())..];
        let n = rest.len().min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        *at += n;
        Ok(n)
    }
}
