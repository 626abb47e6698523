//! Linear memory: loads, stores, `memory.size`/`grow` and bulk memory.
//!
//! How an access is kept in bounds depends on
//! [`CompileConfig::memory_guard`](crate::CompileConfig):
//!
//! - guard pages (see [`crate::memory_guard`]): the access is
//!   `base + zext(index) + offset` and nothing else; past the memory's
//!   length the reservation is `PROT_NONE`, so an out-of-bounds access
//!   faults at its own instruction, a trap site with the heap-out-of-bounds
//!   code. Only a static offset beyond the guard region is checked;
//! - explicit checks: every access loads the current length, compares the
//!   access's end with it and traps, before the access.
//!
//! Either way the memory's base never moves (memories reserve their space
//! up front), so each function loads it once, in its entry block, the first
//! time it needs it: one value that dominates every access, where the
//! register allocator keeps it in a register or spills it, instead of two
//! dependent loads (vmctx slot, then base) before each access.

use cranelift_codegen::cursor::{Cursor, FuncCursor};
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

/// Each memory's base pointer in the function being translated, once loaded.
#[derive(Default)]
pub(crate) struct HeapBases(Vec<Option<Value>>);

/// Flags of a load that reads what never changes while the instance lives
/// (a vmctx slot, a memory's base): never traps, and may be shared and
/// hoisted by Cranelift's optimizer where it runs.
fn invariant_flags() -> MemFlagsData {
    MemFlagsData::trusted().with_readonly().with_can_move()
}

/// Flags of a wasm access: its fault, if any, is a heap-out-of-bounds trap
/// site (the explicit check's trap comes first when there is one).
fn access_flags() -> MemFlagsData {
    MemFlagsData::new().with_endianness(cranelift_codegen::ir::Endianness::Little).with_trap_code(Some(TrapKind::MemoryOutOfBounds.code()))
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

    /// Memory `mem`'s base, loaded at the top of the entry block the first
    /// time this function needs it (so it dominates every use).
    fn heap_base(&mut self, mem: u32) -> Value {
        if let Some(Some(base)) = self.heap_bases.0.get(mem as usize) {
            return *base;
        }
        let slot = self.env.layout.memory(mem);
        let entry = self.b.func.layout.entry_block();
        let base = match entry.filter(|e| Some(*e) != self.b.current_block()) {
            // The entry block is finished: put the loads before its first
            // instruction (the vmctx is a block parameter, defined above).
            Some(entry) => {
                let mut pos = FuncCursor::new(self.b.func).at_first_insertion_point(entry);
                let def = pos.ins().load(types::I64, invariant_flags(), self.vmctx, slot);
                pos.ins().load(types::I64, invariant_flags(), def, memory::BASE)
            }
            None => {
                let def = self.b.ins().load(types::I64, invariant_flags(), self.vmctx, slot);
                self.b.ins().load(types::I64, invariant_flags(), def, memory::BASE)
            }
        };
        let bases = &mut self.heap_bases.0;
        if bases.len() <= mem as usize {
            bases.resize(mem as usize + 1, None);
        }
        bases[mem as usize] = Some(base);
        base
    }

    /// Trap unless `index + offset + size` is within memory `mem`'s current
    /// length.
    fn bounds_check(&mut self, mem: u32, index: Value, offset: u64, size: u64) {
        let def = self.vmctx_load(self.env.layout.memory(mem));
        let len = self.load_field(types::I64, def, memory::LENGTH);
        // index < 2^32 and offset < 2^32, so the sum cannot wrap in 64 bits.
        let end = self.b.ins().iadd_imm_s(index, (offset + size) as i64);
        let oob = self.b.ins().icmp(cranelift_codegen::ir::condcodes::IntCC::UnsignedGreaterThan, end, len);
        self.trap_if(oob, TrapKind::MemoryOutOfBounds);
    }

    /// The native address of an access of `size` bytes (without
    /// `memarg.offset` when that fits the load's immediate), checked
    /// explicitly unless guard pages catch it.
    fn heap_address(&mut self, memarg: &MemArg, size: u64) -> (Value, i32) {
        let index = self.pop();
        let mem = memory_index(memarg);
        let index = self.b.ins().uextend(types::I64, index);
        if !(self.env.config.memory_guard && crate::memory_guard::covers(memarg.offset, size)) {
            self.bounds_check(mem, index, memarg.offset, size);
        }
        let base = self.heap_base(mem);
        let addr = self.b.ins().iadd(base, index);
        match i32::try_from(memarg.offset) {
            Ok(offset) => (addr, offset),
            Err(_) => (self.b.ins().iadd_imm_s(addr, memarg.offset as i64), 0),
        }
    }

    /// Load `size` bytes as a value of `ty`.
    pub(super) fn load(&mut self, memarg: MemArg, ty: Type, size: u64, ext: Ext) {
        let (addr, offset) = self.heap_address(&memarg, size);
        let flags = access_flags();
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
        let flags = access_flags();
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
