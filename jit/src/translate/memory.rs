//! Linear memory: loads, stores, `memory.size`/`grow` and bulk memory.
//!
//! Accesses are bounds-checked explicitly against the current length (no
//! guard pages), so an out-of-bounds access is an ordinary trap site.

use cranelift_codegen::ir::{types, InstBuilder, MemFlagsData, Type, Value};
use wasmparser::MemArg;

use super::FuncTranslator;
use crate::trap::TrapKind;
use crate::types::ValType;
use crate::vmctx::{builtin, memory};

/// How a load of fewer bytes than its type widens its value.
#[derive(Clone, Copy)]
pub(super) enum Ext {
    /// The load is as wide as its type.
    None,
    /// Sign-extending.
    Signed,
    /// Zero-extending.
    Unsigned,
}

/// The memory an access goes to (GC array targets are rejected at validation).
fn memory_index(memarg: &MemArg) -> u32 {
    match memarg.target {
        wasmparser::MemArgTarget::Memory(index) => index,
        wasmparser::MemArgTarget::Array(_) => unreachable!("GC is disabled in validation"),
    }
}

impl FuncTranslator<'_, '_> {
    pub(super) fn memory_size(&mut self, mem: u32) {
        let def = self.vmctx_load(self.env.layout.memory(mem));
        let len = self.load_field(types::I64, def, memory::LENGTH);
        let pages = self.b.ins().ushr_imm_u(len, 16);
        let pages = self.b.ins().ireduce(types::I32, pages);
        self.push(pages, ValType::I32);
    }

    pub(super) fn memory_grow(&mut self, mem: u32) {
        let delta = self.pop();
        let mem = self.b.ins().iconst(types::I32, mem as i64);
        let old = self.call_builtin(builtin::MEMORY_GROW, &[mem, delta], &[types::I32])[0];
        self.push(old, ValType::I32);
    }

    pub(super) fn memory_fill(&mut self, mem: u32) {
        self.bulk(builtin::MEMORY_FILL, &[mem], TrapKind::MemoryOutOfBounds);
    }

    pub(super) fn memory_copy(&mut self, dst_mem: u32, src_mem: u32) {
        self.bulk(builtin::MEMORY_COPY, &[dst_mem, src_mem], TrapKind::MemoryOutOfBounds);
    }

    pub(super) fn memory_init(&mut self, data_index: u32, mem: u32) {
        self.bulk(builtin::MEMORY_INIT, &[mem, data_index], TrapKind::MemoryOutOfBounds);
    }

    pub(super) fn data_drop(&mut self, data_index: u32) {
        let index = self.b.ins().iconst(types::I32, data_index as i64);
        self.call_builtin(builtin::DATA_DROP, &[index], &[]);
    }

    /// Bounds-check an access of `size` bytes and return its native address
    /// (without `memarg.offset` when that fits the load's immediate).
    fn heap_address(&mut self, memarg: &MemArg, size: u64) -> (Value, i32) {
        let index = self.pop();
        let def = self.vmctx_load(self.env.layout.memory(memory_index(memarg)));
        let len = self.load_field(types::I64, def, memory::LENGTH);
        let index = self.b.ins().uextend(types::I64, index);
        // index < 2^32 and offset < 2^32, so the sum cannot wrap in 64 bits.
        let end = self.b.ins().iadd_imm_s(index, (memarg.offset + size) as i64);
        let oob = self.b.ins().icmp(cranelift_codegen::ir::condcodes::IntCC::UnsignedGreaterThan, end, len);
        self.trap_if(oob, TrapKind::MemoryOutOfBounds);
        let base = self.load_field(types::I64, def, memory::BASE);
        let addr = self.b.ins().iadd(base, index);
        match i32::try_from(memarg.offset) {
            Ok(offset) => (addr, offset),
            Err(_) => (self.b.ins().iadd_imm_s(addr, memarg.offset as i64), 0),
        }
    }

    /// Load `size` bytes as a value of `ty`.
    pub(super) fn load(&mut self, memarg: MemArg, ty: Type, size: u64, ext: Ext) {
        let (addr, offset) = self.heap_address(&memarg, size);
        let flags = MemFlagsData::new().with_endianness(cranelift_codegen::ir::Endianness::Little);
        let ins = self.b.ins();
        let v = match (ext, size) {
            (Ext::None, _) => ins.load(ty, flags, addr, offset),
            (Ext::Signed, 1) => ins.sload8(ty, flags, addr, offset),
            (Ext::Unsigned, 1) => ins.uload8(ty, flags, addr, offset),
            (Ext::Signed, 2) => ins.sload16(ty, flags, addr, offset),
            (Ext::Unsigned, 2) => ins.uload16(ty, flags, addr, offset),
            (Ext::Signed, _) => ins.sload32(flags, addr, offset),
            (Ext::Unsigned, _) => ins.uload32(flags, addr, offset),
        };
        self.push_num(v);
    }

    /// Store the low `size` bytes of the popped value.
    pub(super) fn store(&mut self, memarg: MemArg, size: u64) {
        let value = self.pop();
        let (addr, offset) = self.heap_address(&memarg, size);
        let flags = MemFlagsData::new().with_endianness(cranelift_codegen::ir::Endianness::Little);
        let wide = self.b.func.dfg.value_type(value).bytes() as u64;
        let ins = self.b.ins();
        match size {
            _ if size == wide => ins.store(flags, value, addr, offset),
            1 => ins.istore8(flags, value, addr, offset),
            2 => ins.istore16(flags, value, addr, offset),
            _ => ins.istore32(flags, value, addr, offset),
        };
    }
}
