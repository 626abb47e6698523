//! Locals and globals.

use cranelift_codegen::ir::{types, InstBuilder, MemFlagsData};
use wasmparser::Operator;

use super::{ir_type, FuncTranslator};

impl FuncTranslator<'_, '_> {
    /// Translate a local or global access; false if `op` is not one.
    pub(super) fn locals_and_globals(&mut self, op: &Operator<'_>) -> bool {
        match *op {
            Operator::LocalGet { local_index } => {
                let ty = self.locals[local_index as usize].1;
                let v = self.get_local(local_index);
                self.push(v, ty);
            }
            Operator::LocalSet { local_index } => {
                let v = self.pop();
                self.set_local(local_index, v);
            }
            Operator::LocalTee { local_index } => {
                let v = *self.stack.last().expect("validated");
                self.set_local(local_index, v);
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

    /// Read a local: an SSA variable, or (debug code of functions with many
    /// locals) its cell in the frame view.
    pub(super) fn get_local(&mut self, index: u32) -> cranelift_codegen::ir::Value {
        let (var, ty) = self.locals[index as usize];
        match self.frame_view.filter(|_| self.locals_in_frame) {
            Some(slot) => self.b.ins().stack_load(types::I64, ir_type(ty), slot, 8 * index as i32),
            None => self.b.use_var(var),
        }
    }

    /// Write a local (see [`Self::get_local`]).
    pub(crate) fn set_local(&mut self, index: u32, value: cranelift_codegen::ir::Value) {
        match self.frame_view.filter(|_| self.locals_in_frame) {
            Some(slot) => {
                self.b.ins().stack_store(types::I64, value, slot, 8 * index as i32);
            }
            None => self.b.def_var(self.locals[index as usize].0, value),
        }
    }

    /// Address of a global's storage (imported globals live in their owner).
    fn global_addr(&mut self, index: u32) -> cranelift_codegen::ir::Value {
        let offset = self.env.layout.global(index);
        self.vmctx_load(offset)
    }
}
