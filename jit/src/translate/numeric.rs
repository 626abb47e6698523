//! Numeric operators: constants, comparisons, integer and float arithmetic,
//! bitwise operations and the in-place sign extensions (`i32.extend8_s` ...).
//!
//! Most wasm numeric operators map one-to-one onto a Cranelift opcode that is
//! polymorphic in its operand type, so the i32/i64 (and f32/f64) variants
//! share one emitter per instruction format; `visit.rs` picks the opcode.

use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::immediates::{Ieee32, Ieee64};
use cranelift_codegen::ir::{types, InstBuilder, Opcode, Type, Value};

use super::FuncTranslator;

impl FuncTranslator<'_, '_> {
    /// A two-operand opcode at the operands' (shared) type.
    pub(super) fn binary(&mut self, opcode: Opcode) {
        let (x, y) = self.pop2();
        let ty = self.b.func.dfg.value_type(x);
        let (inst, dfg) = self.b.ins().Binary(opcode, ty, x, y);
        let v = dfg.first_result(inst);
        self.push_num(v);
    }

    /// A one-operand opcode whose result has the operand's type.
    pub(super) fn unary(&mut self, opcode: Opcode) {
        let x = self.pop();
        let ty = self.b.func.dfg.value_type(x);
        let (inst, dfg) = self.b.ins().Unary(opcode, ty, x);
        let v = dfg.first_result(inst);
        self.push_num(v);
    }

    pub(super) fn int_compare(&mut self, cc: IntCC) {
        let (x, y) = self.pop2();
        let flag = self.b.ins().icmp(cc, x, y);
        self.push_flag(flag);
    }

    pub(super) fn float_compare(&mut self, cc: FloatCC) {
        let (x, y) = self.pop2();
        let flag = self.b.ins().fcmp(cc, x, y);
        self.push_flag(flag);
    }

    pub(super) fn eqz(&mut self) {
        let x = self.pop();
        let flag = self.b.ins().icmp_imm_u(IntCC::Equal, x, 0);
        self.push_flag(flag);
    }

    /// Sign-extend the low `narrow` bits of the operand to `wide`.
    pub(super) fn sign_extend(&mut self, narrow: Type, wide: Type) {
        let x = self.pop();
        let low = self.b.ins().ireduce(narrow, x);
        let v = self.b.ins().sextend(wide, low);
        self.push_num(v);
    }

    pub(super) fn i32_const(&mut self, value: i32) {
        // The verifier wants narrow immediates zero-extended, not sign-extended.
        let v = self.b.ins().iconst(types::I32, i64::from(value as u32));
        self.push_num(v);
    }

    pub(super) fn i64_const(&mut self, value: i64) {
        let v = self.b.ins().iconst(types::I64, value);
        self.push_num(v);
    }

    // Floats go through their bit patterns, so NaN payloads survive exactly.

    pub(super) fn f32_const(&mut self, value: wasmparser::Ieee32) {
        let v = self.b.ins().f32const(Ieee32::with_bits(value.bits()));
        self.push_num(v);
    }

    pub(super) fn f64_const(&mut self, value: wasmparser::Ieee64) {
        let v = self.b.ins().f64const(Ieee64::with_bits(value.bits()));
        self.push_num(v);
    }

    /// Push a comparison result: Cranelift yields an I8 flag, wasm an i32 0/1.
    fn push_flag(&mut self, flag: Value) {
        let v = self.b.ins().uextend(types::I32, flag);
        self.push_num(v);
    }
}
