//! Tables and references: `table.*`, `elem.drop` and `ref.*`.

use cranelift_codegen::ir::{condcodes::IntCC, types, InstBuilder, MemFlagsData};
use wasmparser::Operator;

use super::FuncTranslator;
use crate::trap::TrapKind;
use crate::types::ValType;
use crate::vmctx::{builtin, table};

impl FuncTranslator<'_, '_> {
    /// Translate a table or reference operator; false if `op` is not one.
    pub(super) fn tables(&mut self, op: &Operator<'_>) -> bool {
        match *op {
            Operator::TableGet { table } => {
                let index = self.pop();
                let slot = self.table_slot(table, index, TrapKind::TableOutOfBounds);
                let v = self.load_field(types::I64, slot, 0);
                self.push(v, self.table_element(table));
            }
            Operator::TableSet { table } => {
                let (index, value) = self.pop2();
                let slot = self.table_slot(table, index, TrapKind::TableOutOfBounds);
                let flags = MemFlagsData::trusted();
                self.b.ins().store(flags, value, slot, 0);
            }
            Operator::TableSize { table } => {
                let def = self.vmctx_load(self.env.layout.table(table));
                let len = self.load_field(types::I32, def, table::LENGTH);
                self.push(len, ValType::I32);
            }
            Operator::TableGrow { table } => {
                let (init, delta) = self.pop2();
                let table = self.b.ins().iconst(types::I32, table as i64);
                let old = self.call_builtin(builtin::TABLE_GROW, &[table, init, delta], &[types::I32])[0];
                self.push(old, ValType::I32);
            }
            Operator::TableFill { table } => self.bulk(builtin::TABLE_FILL, &[table], TrapKind::TableOutOfBounds),
            Operator::TableCopy { dst_table, src_table } => self.bulk(builtin::TABLE_COPY, &[dst_table, src_table], TrapKind::TableOutOfBounds),
            Operator::TableInit { elem_index, table } => self.bulk(builtin::TABLE_INIT, &[table, elem_index], TrapKind::TableOutOfBounds),
            Operator::ElemDrop { elem_index } => {
                let index = self.b.ins().iconst(types::I32, elem_index as i64);
                self.call_builtin(builtin::ELEM_DROP, &[index], &[]);
            }
            Operator::RefNull { hty } => {
                let ty = if hty == wasmparser::HeapType::FUNC { ValType::FuncRef } else { ValType::ExternRef };
                let null = self.b.ins().iconst(types::I64, 0);
                self.push(null, ty);
            }
            Operator::RefIsNull => {
                let r = self.pop();
                let is_null = self.b.ins().icmp_imm_s(IntCC::Equal, r, 0);
                let v = self.b.ins().uextend(types::I32, is_null);
                self.push(v, ValType::I32);
            }
            Operator::RefFunc { function_index } => {
                let f = self.vmctx_load(self.env.layout.func(function_index));
                self.push(f, ValType::FuncRef);
            }
            _ => return false,
        }
        true
    }

    fn table_element(&self, table: u32) -> ValType {
        self.env.info.tables[table as usize].element
    }
}
