//! Tables and references: `table.*`, `elem.drop` and `ref.*`.

use cranelift_codegen::ir::{condcodes::IntCC, types, InstBuilder, MemFlagsData};

use super::FuncTranslator;
use crate::trap::TrapKind;
use crate::types::ValType;
use crate::vmctx::{builtin, table};

impl FuncTranslator<'_, '_> {
    pub(super) fn table_get(&mut self, table: u32) {
        let index = self.pop();
        let slot = self.table_slot(table, index, TrapKind::TableOutOfBounds);
        let v = self.load_field(types::I64, slot, 0);
        self.push(v, self.table_element(table));
    }

    pub(super) fn table_set(&mut self, table: u32) {
        let (index, value) = self.pop2();
        let slot = self.table_slot(table, index, TrapKind::TableOutOfBounds);
        let flags = MemFlagsData::trusted();
        self.b.ins().store(flags, value, slot, 0);
    }

    pub(super) fn table_size(&mut self, table: u32) {
        let def = self.vmctx_load(self.env.layout.table(table));
        let len = self.load_field(types::I32, def, table::LENGTH);
        self.push(len, ValType::I32);
    }

    pub(super) fn table_grow(&mut self, table: u32) {
        let (init, delta) = self.pop2();
        let table = self.b.ins().iconst(types::I32, table as i64);
        let old = self.call_builtin(builtin::TABLE_GROW, &[table, init, delta], &[types::I32])[0];
        self.push(old, ValType::I32);
    }

    pub(super) fn table_fill(&mut self, table: u32) {
        self.bulk(builtin::TABLE_FILL, &[table], TrapKind::TableOutOfBounds);
    }

    pub(super) fn table_copy(&mut self, dst_table: u32, src_table: u32) {
        self.bulk(builtin::TABLE_COPY, &[dst_table, src_table], TrapKind::TableOutOfBounds);
    }

    pub(super) fn table_init(&mut self, elem_index: u32, table: u32) {
        self.bulk(builtin::TABLE_INIT, &[table, elem_index], TrapKind::TableOutOfBounds);
    }

    pub(super) fn elem_drop(&mut self, elem_index: u32) {
        let index = self.b.ins().iconst(types::I32, elem_index as i64);
        self.call_builtin(builtin::ELEM_DROP, &[index], &[]);
    }

    /// A null reference is 0, of either reference type.
    pub(super) fn ref_null(&mut self, hty: wasmparser::HeapType) {
        let ty = if hty == wasmparser::HeapType::FUNC { ValType::FuncRef } else { ValType::ExternRef };
        let null = self.b.ins().iconst(types::I64, 0);
        self.push(null, ty);
    }

    pub(super) fn ref_is_null(&mut self) {
        let r = self.pop();
        let is_null = self.b.ins().icmp_imm_s(IntCC::Equal, r, 0);
        let v = self.b.ins().uextend(types::I32, is_null);
        self.push(v, ValType::I32);
    }

    pub(super) fn ref_func(&mut self, function_index: u32) {
        let f = self.vmctx_load(self.env.layout.func(function_index));
        self.push(f, ValType::FuncRef);
    }

    fn table_element(&self, table: u32) -> ValType {
        self.env.info.tables[table as usize].element
    }
}
