//! [`GuestMemory`]: bounds-checked access to the calling instance's linear
//! memory. Every pointer and length comes from the guest, so every access
//! is checked; one out of bounds is `EFAULT`, never a host fault.

use crate::errno::{Errno, WasiResult};

/// The guest's memory for the length of one call.
pub(crate) struct GuestMemory<'a> {
    bytes: &'a mut [u8],
}

impl<'a> GuestMemory<'a> {
    pub(crate) fn new(bytes: &'a mut [u8]) -> GuestMemory<'a> {
        GuestMemory { bytes }
    }

    fn range(&self, ptr: u32, len: u32) -> WasiResult<std::ops::Range<usize>> {
        let end = (ptr as usize).checked_add(len as usize).ok_or(Errno::FAULT)?;
        if end > self.bytes.len() {
            return Err(Errno::FAULT);
        }
        Ok(ptr as usize..end)
    }

    /// `len` bytes at `ptr`.
    pub(crate) fn slice(&self, ptr: u32, len: u32) -> WasiResult<&[u8]> {
        let range = self.range(ptr, len)?;
        Ok(&self.bytes[range])
    }

    /// `len` bytes at `ptr`, to write.
    pub(crate) fn slice_mut(&mut self, ptr: u32, len: u32) -> WasiResult<&mut [u8]> {
        let range = self.range(ptr, len)?;
        Ok(&mut self.bytes[range])
    }

    /// A UTF-8 string of `len` bytes at `ptr` (paths are strings in WASI).
    pub(crate) fn str(&self, ptr: u32, len: u32) -> WasiResult<&str> {
        std::str::from_utf8(self.slice(ptr, len)?).map_err(|_| Errno::ILSEQ)
    }

    pub(crate) fn read_u16(&self, ptr: u32) -> WasiResult<u16> {
        Ok(u16::from_le_bytes(self.slice(ptr, 2)?.try_into().map_err(|_| Errno::FAULT)?))
    }

    pub(crate) fn read_u32(&self, ptr: u32) -> WasiResult<u32> {
        Ok(u32::from_le_bytes(self.slice(ptr, 4)?.try_into().map_err(|_| Errno::FAULT)?))
    }

    pub(crate) fn read_u64(&self, ptr: u32) -> WasiResult<u64> {
        Ok(u64::from_le_bytes(self.slice(ptr, 8)?.try_into().map_err(|_| Errno::FAULT)?))
    }

    /// Copy `bytes` to `ptr`.
    pub(crate) fn write(&mut self, ptr: u32, bytes: &[u8]) -> WasiResult {
        let len = u32::try_from(bytes.len()).map_err(|_| Errno::FAULT)?;
        self.slice_mut(ptr, len)?.copy_from_slice(bytes);
        Ok(())
    }

    pub(crate) fn write_u8(&mut self, ptr: u32, value: u8) -> WasiResult {
        self.write(ptr, &[value])
    }

    pub(crate) fn write_u16(&mut self, ptr: u32, value: u16) -> WasiResult {
        self.write(ptr, &value.to_le_bytes())
    }

    pub(crate) fn write_u32(&mut self, ptr: u32, value: u32) -> WasiResult {
        self.write(ptr, &value.to_le_bytes())
    }

    pub(crate) fn write_u64(&mut self, ptr: u32, value: u64) -> WasiResult {
        self.write(ptr, &value.to_le_bytes())
    }

    /// The `(buf, buf_len)` pairs of an `iovec` / `ciovec` array.
    pub(crate) fn iovecs(&self, ptr: u32, count: u32) -> WasiResult<Vec<(u32, u32)>> {
        let bytes = self.slice(ptr, count.checked_mul(8).ok_or(Errno::FAULT)?)?;
        Ok(bytes
            .chunks_exact(8)
            .map(|c| (u32::from_le_bytes([c[0], c[1], c[2], c[3]]), u32::from_le_bytes([c[4], c[5], c[6], c[7]])))
            .collect())
    }
}
