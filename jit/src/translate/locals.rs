//! Locals and globals.

use cranelift_codegen::ir::{InstBuilder, MemFlagsData};
use wasmparser::Operator;

use super::{ir_type, FuncTranslator};

impl FuncTranslator<'_, '_> {
    /// Translate a local or global access; false if `op` is not one.
    pub(super) fn locals_and_globals(&mut self, op: &Operator<'_>) -> bool {
        match *op {
            Operator::LocalGet { local_index } => {
                let (var, ty) = self.locals[local_index as usize];
                let v = self.b.use_var(var);
                self.push(v, ty);
            }
            Operator::LocalSet { local_index } => {
                let v = self.pop();
                self.b.def_var(self.locals[local_index as usize].0, v);
            }
            Operator::LocalTee { local_index } => {
                let v = *self.stack.last().expect("validated");
                self.b.def_var(self.locals[local_index as usize].0, v);
            }
            Operator::GlobalGet { global_index } => {
                let ty = self.env.info.globals[global_index as usize].content;
                let addr = self.global_addr(global_index);
                let flags = MemFlagsData::trusted();
                let v = self.b.ins().load(ir_type(ty), flags, addr, 0);
                self.push(v, ty);
            }
            Operator::GlobalSet { global_index } => {
                let v = self.pop();
                let addr = self.global_addr(global_index);
                let flags = MemFlagsData::trusted();
                self.b.ins().store(flags, v, addr, 0);
            }
            _ => return false,
        }
        true
    }

    /// Address of a global's storage (imported globals live in their owner).
    fn global_addr(&mut self, index: u32) -> cranelift_codegen::ir::Value {
        let offset = self.env.layout.global(index);
        self.vmctx_load(offset)
    }
}
