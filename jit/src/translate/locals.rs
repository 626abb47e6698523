//! Locals and globals.

use cranelift_codegen::ir::{types, InstBuilder, MemFlagsData};

use super::{ir_type, FuncTranslator};

impl FuncTranslator<'_, '_> {
    pub(super) fn local_get(&mut self, index: u32) {
        let ty = self.locals[index as usize].1;
        let v = self.read_local(index);
        self.push(v, ty);
    }

    pub(super) fn local_set(&mut self, index: u32) {
        let v = self.pop();
        self.write_local(index, v);
    }

    pub(super) fn local_tee(&mut self, index: u32) {
        let v = *self.stack.last().expect("validated");
        self.write_local(index, v);
    }

    pub(super) fn global_get(&mut self, index: u32) {
        let ty = self.env.info.globals[index as usize].content;
        let addr = self.global_addr(index);
        let flags = MemFlagsData::trusted();
        let v = self.b.ins().load(ir_type(ty), flags, addr, 0);
        self.push(v, ty);
    }

    pub(super) fn global_set(&mut self, index: u32) {
        let v = self.pop();
        let addr = self.global_addr(index);
        let flags = MemFlagsData::trusted();
        self.b.ins().store(flags, v, addr, 0);
    }

    /// Read a local: an SSA variable, or (debug code of functions with many
    /// locals) its cell in the frame view.
    pub(super) fn read_local(&mut self, index: u32) -> cranelift_codegen::ir::Value {
        let (var, ty) = self.locals[index as usize];
        match self.frame_view.filter(|_| self.locals_in_frame) {
            Some(slot) => self.b.ins().stack_load(types::I64, ir_type(ty), slot, 8 * index as i32),
            None => self.b.use_var(var),
        }
    }

    /// Write a local (see [`Self::read_local`]).
    pub(crate) fn write_local(&mut self, index: u32, value: cranelift_codegen::ir::Value) {
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
