//! Locals and globals.

use cranelift_codegen::ir::{types, InstBuilder, MemFlagsData, Opcode, Type, Value};
use wasmparser::FunctionBody;

use super::{ir_type, FuncTranslator};
use crate::types::ValType;
use crate::CompileError;

impl FuncTranslator<'_, '_> {
    /// Define the parameters and the declared locals (zero) as locals.
    /// Guarded debug code gives each declared local a zero of its own (see
    /// `write_local`), so none is a constant folded into code.
    pub(crate) fn declare_locals(&mut self, body: &FunctionBody<'_>) -> Result<(), CompileError> {
        let entry = self.b.current_block().expect("the entry block is current");
        let params = self.b.block_params(entry).to_vec();
        for p in &params {
            self.record_explicit(*p);
        }
        let param_types = self.env.info.func_type(self.func_index).params.clone();
        for (value, ty) in params[2..].iter().zip(param_types) {
            let index = self.declare_local(ty);
            self.write_local(index, *value);
        }
        let mut declared = Vec::new();
        let mut reader = body.get_locals_reader()?;
        for _ in 0..reader.get_count() {
            let (count, ty) = reader.read()?;
            let ty = ValType::from_wasmparser(ty)
                .map_err(|message| CompileError::Unsupported { offset: reader.original_position() as usize, message })?;
            declared.extend(std::iter::repeat_n(ty, count as usize));
        }
        for ty in declared {
            let index = self.declare_local(ty);
            let zero = self.zero(ir_type(ty));
            self.write_local(index, zero);
        }
        Ok(())
    }

    fn declare_local(&mut self, ty: ValType) -> u32 {
        let var = self.b.declare_var(ir_type(ty));
        self.locals.push((var, ty));
        self.locals.len() as u32 - 1
    }

    fn zero(&mut self, ty: Type) -> Value {
        match ty {
            types::F32 => self.b.ins().f32const(0.0),
            types::F64 => self.b.ins().f64const(0.0),
            _ => self.b.ins().iconst(ty, 0),
        }
    }

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

    /// Read a local (an SSA variable).
    pub(super) fn read_local(&mut self, index: u32) -> Value {
        let v = self.b.use_var(self.locals[index as usize].0);
        if self.guards.is_some() && self.owners[v] == u32::MAX {
            // A parameter the frontend just made for this local is its own.
            self.owners[v] = index;
        }
        v
    }

    /// Write a local. Guarded debug code keeps every value owned by one
    /// local: a value another local holds is copied first, so a debugger
    /// writing this local changes only this local; and a constant is put in
    /// a register (the code would otherwise fold it into instructions and
    /// keep it nowhere a debugger could change it).
    pub(crate) fn write_local(&mut self, index: u32, value: Value) {
        let value = match self.guards {
            Some(_) if self.is_constant(value) => self.materialize(value),
            Some(_) if ![u32::MAX, index].contains(&self.owners[value]) => self.copy_value(value),
            _ => value,
        };
        if self.guards.is_some() {
            self.owners[value] = index;
        }
        self.b.def_var(self.locals[index as usize].0, value);
        self.record_def(index, value);
    }

    fn is_constant(&self, v: Value) -> bool {
        let dfg = &self.b.func.dfg;
        dfg.value_def(v).inst().is_some_and(|inst| matches!(dfg.insts[inst].opcode(), Opcode::Iconst | Opcode::F32const | Opcode::F64const))
    }

    /// `v` (a constant) through a same-type `bitcast`: no code of its own,
    /// but uses can no longer fold the constant, so it lives in a register.
    fn materialize(&mut self, v: Value) -> Value {
        let ty = self.b.func.dfg.value_type(v);
        self.b.ins().bitcast(ty, MemFlagsData::new(), v)
    }

    /// A new SSA value equal to `v` in a register of its own (without a
    /// block, which would make the allocator's liveness grow): `or 0` for
    /// integers, a round trip through an integer register for floats.
    fn copy_value(&mut self, v: Value) -> Value {
        let ty = self.b.func.dfg.value_type(v);
        if ty.is_int() {
            return self.b.ins().bor_imm_u(v, 0);
        }
        let int = ty.as_int();
        let bits = self.b.ins().bitcast(int, MemFlagsData::new(), v);
        self.b.ins().bitcast(ty, MemFlagsData::new(), bits)
    }

    /// Address of a global's storage (imported globals live in their owner).
    fn global_addr(&mut self, index: u32) -> cranelift_codegen::ir::Value {
        let offset = self.env.layout.global(index);
        self.vmctx_load(offset)
    }
}
