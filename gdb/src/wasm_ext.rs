//! LLDB's wasm extensions and the queries around them: the call stack,
//! locals, operand-stack values and globals of a stopped worker, the
//! library list (one library per worker's instance), breakpoints as
//! debug-table bits, and the host and thread descriptions.

use gdbstub::arch::lldb::{Encoding, Format, Generic, Register};
use gdbstub::common::{Endianness, Pid, Tid};
use gdbstub::target::ext::breakpoints::{Breakpoints, SwBreakpoint, SwBreakpointOps};
use gdbstub::target::ext::host_info::{HostInfo, HostInfoResponse};
use gdbstub::target::ext::libraries::Libraries;
use gdbstub::target::ext::lldb_register_info_override::{Callback, CallbackToken, LldbRegisterInfoOverride};
use gdbstub::target::ext::process_info::{ProcessInfo, ProcessInfoResponse};
use gdbstub::target::ext::thread_extra_info::ThreadExtraInfo;
use gdbstub::target::ext::wasm::Wasm;
use gdbstub::target::{TargetError, TargetResult};
use onecopy_workers::{FrameValue, GlobalRef, Value, Who};

use crate::addr::{self, Place};
use crate::target::WasmTarget;

/// The triple LLDB's wasm plug-in expects of its process.
const TRIPLE: &str = "wasm32-unknown-unknown-wasm";

/// Copy the part of `text` from `offset` into `buf` (the qXfer paging).
fn page(text: &[u8], offset: u64, length: usize, buf: &mut [u8]) -> usize {
    let Some(rest) = usize::try_from(offset).ok().and_then(|o| text.get(o..)) else { return 0 };
    let n = rest.len().min(length).min(buf.len());
    buf[..n].copy_from_slice(&rest[..n]);
    n
}

/// A value's little-endian bytes at their wasm width into `buf`; 0 for
/// values the protocol cannot carry (references) or that do not fit.
fn put(value: Value, buf: &mut [u8]) -> usize {
    let bytes: &[u8] = match value {
        Value::I32(v) => &v.to_le_bytes(),
        Value::I64(v) => &v.to_le_bytes(),
        Value::F32(bits) => &bits.to_le_bytes(),
        Value::F64(bits) => &bits.to_le_bytes(),
        Value::NullFuncRef | Value::ExternRef(_) => return 0,
    };
    match buf.get_mut(..bytes.len()) {
        Some(out) => {
            out.copy_from_slice(bytes);
            bytes.len()
        }
        None => 0,
    }
}

impl WasmTarget {
    /// A value of a stopped frame, written into `buf`.
    fn frame_value(found: Result<Option<FrameValue>, String>, buf: &mut [u8]) -> usize {
        match found {
            Ok(Some(FrameValue { value: Some(value), .. })) => put(value, buf),
            Ok(_) => 0,
            Err(error) => {
                tracing::debug!(%error, "value refused");
                0
            }
        }
    }
}

impl Wasm for WasmTarget {
    fn wasm_call_stack(&self, tid: Tid, next_pc: &mut dyn FnMut(u64)) -> Result<(), Self::Error> {
        let worker = Self::worker(tid);
        let frames = match self.threads.session().backtrace(worker) {
            Ok(frames) => frames,
            Err(error) => {
                tracing::debug!(worker, %error, "no call stack");
                return Ok(());
            }
        };
        for (i, frame) in frames.iter().enumerate() {
            // A calling frame's PC is its return address, as for native code:
            // LLDB looks its line up one byte before it.
            let offset = match i {
                0 => frame.wasm_offset,
                _ => addr::after_call(&self.program.bytes, frame.wasm_offset).unwrap_or(frame.wasm_offset),
            };
            next_pc(addr::code_address(worker, offset));
        }
        Ok(())
    }

    fn read_wasm_local(&self, tid: Tid, frame: usize, local: usize, buf: &mut [u8]) -> Result<usize, Self::Error> {
        let worker = self.focused(tid);
        let found = u32::try_from(frame)
            .map_err(|e| e.to_string())
            .and_then(|f| self.threads.session().frame_locals(worker, f).map_err(|e| e.to_string()))
            .map(|locals| locals.get(local).copied());
        Ok(Self::frame_value(found, buf))
    }

    fn read_wasm_stack(&self, tid: Tid, frame: usize, index: usize, buf: &mut [u8]) -> Result<usize, Self::Error> {
        if frame != 0 {
            // Calling frames' operands are not recorded at their calls.
            return Ok(0);
        }
        let found = self.threads.session().stack(self.focused(tid)).map_err(|e| e.to_string()).map(|stack| {
            // LLDB counts from the top of the stack, the session from the bottom.
            stack.len().checked_sub(index + 1).and_then(|i| stack.get(i).copied())
        });
        Ok(Self::frame_value(found, buf))
    }

    fn read_wasm_global(&self, tid: Tid, _frame: usize, global: usize, buf: &mut [u8]) -> Result<usize, Self::Error> {
        // Every frame runs this one module, so the frame does not change
        // which instance's globals are meant.
        let Ok(index) = u32::try_from(global) else { return Ok(0) };
        match self.threads.session().global(self.focused(tid), GlobalRef::Index(index), None) {
            Ok(value) => Ok(put(value, buf)),
            Err(error) => {
                tracing::debug!(%error, "global refused");
                Ok(0)
            }
        }
    }
}

impl Libraries for WasmTarget {
    fn get_libraries(&self, offset: u64, length: usize, buf: &mut [u8]) -> TargetResult<usize, Self> {
        let mut xml = String::from("<library-list>");
        for worker in 0..self.threads.len() {
            xml += &format!(
                "<library name=\"{}@{}\"><section address=\"{:#x}\"/></library>",
                xml_escape(&self.program.name),
                addr::library_id(worker),
                addr::code_address(worker, 0)
            );
        }
        xml += "</library-list>";
        Ok(page(xml.as_bytes(), offset, length, buf))
    }
}

/// `text` safe inside an XML attribute.
fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('"', "&quot;").replace('<', "&lt;").replace('>', "&gt;")
}

impl Breakpoints for WasmTarget {
    fn support_sw_breakpoint(&mut self) -> Option<SwBreakpointOps<'_, Self>> {
        Some(self)
    }
}

impl SwBreakpoint for WasmTarget {
    fn add_sw_breakpoint(&mut self, raw: u64, _kind: usize) -> TargetResult<bool, Self> {
        let Some(Place::Code { worker, offset }) = addr::decode(raw) else { return Ok(false) };
        let Some((func, site)) = self.sites.at_or_after(offset) else { return Ok(false) };
        match self.threads.session().set_breakpoint(Who::Worker(worker), func, site) {
            Ok(()) => Ok(true),
            Err(error) => {
                tracing::debug!(worker, offset, %error, "breakpoint refused");
                Err(TargetError::Errno(22))
            }
        }
    }

    fn remove_sw_breakpoint(&mut self, raw: u64, _kind: usize) -> TargetResult<bool, Self> {
        let Some(Place::Code { worker, offset }) = addr::decode(raw) else { return Ok(false) };
        let Some((func, site)) = self.sites.at_or_after(offset) else { return Ok(false) };
        Ok(self.threads.session().clear_breakpoint(Who::Worker(worker), func, site).is_ok())
    }
}

impl HostInfo for WasmTarget {
    fn host_info(&self, write_item: &mut dyn FnMut(&HostInfoResponse<'_>)) -> Result<(), Self::Error> {
        write_item(&HostInfoResponse::Triple(TRIPLE));
        write_item(&HostInfoResponse::Endianness(Endianness::Little));
        write_item(&HostInfoResponse::PointerSize(4));
        Ok(())
    }
}

impl ProcessInfo for WasmTarget {
    fn process_info(&self, write_item: &mut dyn FnMut(&ProcessInfoResponse<'_>)) -> Result<(), Self::Error> {
        // gdbstub names threads `p1.N` (its one process is pid 1); LLDB
        // drops stop replies of any other pid than this one.
        write_item(&ProcessInfoResponse::Pid(Pid::MIN));
        write_item(&ProcessInfoResponse::Triple(TRIPLE));
        write_item(&ProcessInfoResponse::Endianness(Endianness::Little));
        write_item(&ProcessInfoResponse::PointerSize(4));
        Ok(())
    }
}

/// Wasm has one register for LLDB, the PC (an address as in [`addr`]);
/// locals and operands travel through the `qWasm*` queries.
impl LldbRegisterInfoOverride for WasmTarget {
    fn lldb_register_info<'a>(&mut self, reg_id: usize, reg_info: Callback<'a>) -> Result<CallbackToken<'a>, Self::Error> {
        if reg_id != 0 {
            return Ok(reg_info.done());
        }
        Ok(reg_info.write(Register {
            name: "pc",
            alt_name: None,
            bitsize: 64,
            offset: 0,
            encoding: Encoding::Uint,
            format: Format::Hex,
            set: "General Purpose Registers",
            gcc: None,
            dwarf: None,
            generic: Some(Generic::Pc),
            container_regs: None,
            invalidate_regs: None,
        }))
    }
}

impl ThreadExtraInfo for WasmTarget {
    fn thread_extra_info(&self, tid: Tid, buf: &mut [u8]) -> Result<usize, Self::Error> {
        Ok(page(format!("worker {}", Self::worker(tid)).as_bytes(), 0, buf.len(), buf))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_go_out_at_their_wasm_width() {
        let mut buf = [0u8; 16];
        assert_eq!(put(Value::I32(-2), &mut buf), 4);
        assert_eq!(buf[..4], [0xfe, 0xff, 0xff, 0xff]);
        assert_eq!(put(Value::F64(1.5f64.to_bits()), &mut buf), 8);
        assert_eq!(buf[..8], 1.5f64.to_le_bytes());
        assert_eq!(put(Value::NullFuncRef, &mut buf), 0);
        assert_eq!(put(Value::I64(1), &mut [0u8; 4]), 0, "too small a buffer");
    }

    #[test]
    fn pages_of_a_text() {
        let mut buf = [0u8; 4];
        assert_eq!(page(b"abcdef", 4, 10, &mut buf), 2);
        assert_eq!(&buf[..2], b"ef");
        assert_eq!(page(b"abc", 9, 10, &mut buf), 0);
    }
}
