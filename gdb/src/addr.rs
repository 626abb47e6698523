//! LLDB's wasm addresses as onecopy reads them: every worker's instance is
//! its own library (`name@id`, id = worker + 1), so the id in bits 61:32
//! names one instance for code and memory alike. Memory addresses with id 0
//! (LLDB's DWARF evaluation does not add one) mean the instance of the
//! thread LLDB selected.

use gdbstub_arch::wasm::addr::{WasmAddr, WasmAddrType};

/// What a 64-bit protocol address points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// Byte `offset` of the module binary, as loaded for worker `worker`.
    Code { worker: usize, offset: u32 },
    /// Byte `offset` of a worker's memory 0; `None` for the selected thread's.
    Memory { worker: Option<usize>, offset: u32 },
}

/// The library id of `worker`'s instance (0 is kept for "no id").
pub fn library_id(worker: usize) -> u32 {
    worker as u32 + 1
}

/// The worker of library id `id`, if it is one.
fn worker_of(id: u32) -> Option<usize> {
    id.checked_sub(1).map(|w| w as usize)
}

/// The code address of byte `offset` of the module as `worker`'s library.
pub fn code_address(worker: usize, offset: u32) -> u64 {
    // Ids are worker numbers + 1, far below the 30 bits an id has.
    WasmAddr::new(WasmAddrType::Object, library_id(worker), offset).map_or(0, WasmAddr::as_raw)
}

/// Decode a protocol address; `None` for encodings LLDB's scheme does not define
/// or a code address with no library id.
pub fn decode(raw: u64) -> Option<Place> {
    let addr = WasmAddr::from_raw(raw)?;
    match addr.addr_type() {
        WasmAddrType::Object => Some(Place::Code { worker: worker_of(addr.module_index())?, offset: addr.offset() }),
        WasmAddrType::Memory => Some(Place::Memory { worker: worker_of(addr.module_index()), offset: addr.offset() }),
    }
}

/// Where a call at `offset` of `wasm` returns to: the byte after the
/// instruction (`call f` or `call_indirect t m`), the return address LLDB
/// expects for a calling frame. `None` if no call starts there.
pub fn after_call(wasm: &[u8], offset: u32) -> Option<u32> {
    let start = offset as usize;
    let operands = match *wasm.get(start)? {
        0x10 => 1,
        0x11 => 2,
        _ => return None,
    };
    let mut at = start + 1;
    for _ in 0..operands {
        at += leb_len(wasm.get(at..)?)?;
    }
    u32::try_from(at).ok()
}

/// Bytes of the unsigned LEB128 at the start of `bytes`.
fn leb_len(bytes: &[u8]) -> Option<usize> {
    bytes.iter().take(5).position(|b| b & 0x80 == 0).map(|i| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_and_memory_addresses_round_trip() {
        let raw = code_address(3, 0x1234);
        assert_eq!(raw, (1 << 62) | (4 << 32) | 0x1234);
        assert_eq!(decode(raw), Some(Place::Code { worker: 3, offset: 0x1234 }));
        assert_eq!(decode(0x10), Some(Place::Memory { worker: None, offset: 0x10 }));
        assert_eq!(decode((2 << 32) | 8), Some(Place::Memory { worker: Some(1), offset: 8 }));
        assert_eq!(decode(1 << 62), None, "a code address needs a library id");
        assert_eq!(decode(3 << 62), None);
    }

    #[test]
    fn return_addresses_skip_the_whole_call() {
        // call 200 (LEB 0xc8 0x01), call_indirect 1 0, i32.const 0
        let code = [0x10, 0xc8, 0x01, 0x11, 0x01, 0x00, 0x41];
        assert_eq!(after_call(&code, 0), Some(3));
        assert_eq!(after_call(&code, 3), Some(6));
        assert_eq!(after_call(&code, 6), None);
        assert_eq!(after_call(&code, 9), None);
        assert_eq!(after_call(&[0x10, 0x80], 0), None, "a cut-off LEB");
    }
}
