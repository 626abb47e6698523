//! Numeric operators: constants, comparisons, integer and float arithmetic,
//! bitwise operations and the in-place sign extensions (`i32.extend8_s` ...).
//!
//! Most wasm numeric operators map one-to-one onto a Cranelift opcode that is
//! polymorphic in its operand type, so the i32/i64 (and f32/f64) variants are
//! resolved through small operator → opcode tables and emitted by one generic
//! path per instruction format.

use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::immediates::{Ieee32, Ieee64};
use cranelift_codegen::ir::{types, InstBuilder, Opcode, Type, Value};
use wasmparser::Operator as O;

use super::FuncTranslator;

impl FuncTranslator<'_, '_> {
    /// Translate a numeric operator; false if `op` is not one.
    pub(super) fn numeric(&mut self, op: &O<'_>) -> bool {
        if let Some(opcode) = binary_opcode(op) {
            let (x, y) = self.pop2();
            let ty = self.b.func.dfg.value_type(x);
            let (inst, dfg) = self.b.ins().Binary(opcode, ty, x, y);
            let v = dfg.first_result(inst);
            self.push_num(v);
        } else if let Some(opcode) = unary_opcode(op) {
            let x = self.pop();
            let ty = self.b.func.dfg.value_type(x);
            let (inst, dfg) = self.b.ins().Unary(opcode, ty, x);
            let v = dfg.first_result(inst);
            self.push_num(v);
        } else if let Some(cc) = int_compare(op) {
            let (x, y) = self.pop2();
            let flag = self.b.ins().icmp(cc, x, y);
            self.push_flag(flag);
        } else if let Some(cc) = float_compare(op) {
            let (x, y) = self.pop2();
            let flag = self.b.ins().fcmp(cc, x, y);
            self.push_flag(flag);
        } else if let Some((narrow, wide)) = sign_extension(op) {
            let x = self.pop();
            let low = self.b.ins().ireduce(narrow, x);
            let v = self.b.ins().sextend(wide, low);
            self.push_num(v);
        } else {
            return self.constant_or_eqz(op);
        }
        true
    }

    /// Constants and `eqz`, the operators that fit none of the tables.
    fn constant_or_eqz(&mut self, op: &O<'_>) -> bool {
        let v = match *op {
            // The verifier wants narrow immediates zero-extended, not sign-extended.
            O::I32Const { value } => self.b.ins().iconst(types::I32, i64::from(value as u32)),
            O::I64Const { value } => self.b.ins().iconst(types::I64, value),
            // Through the bit pattern, so NaN payloads survive exactly.
            O::F32Const { value } => self.b.ins().f32const(Ieee32::with_bits(value.bits())),
            O::F64Const { value } => self.b.ins().f64const(Ieee64::with_bits(value.bits())),
            O::I32Eqz | O::I64Eqz => {
                let x = self.pop();
                let flag = self.b.ins().icmp_imm_u(IntCC::Equal, x, 0);
                self.push_flag(flag);
                return true;
            }
            _ => return false,
        };
        self.push_num(v);
        true
    }

    /// Push a comparison result: Cranelift yields an I8 flag, wasm an i32 0/1.
    fn push_flag(&mut self, flag: Value) {
        let v = self.b.ins().uextend(types::I32, flag);
        self.push_num(v);
    }
}

/// Two-operand operators whose opcode takes both operands' (shared) type.
///
/// Shifts and rotates need no masking: Cranelift reduces the amount modulo
/// the bit width exactly as wasm does. The division and remainder opcodes
/// trap by themselves on a zero divisor, and `sdiv` on MIN / -1, with the
/// trap codes wasm expects. `srem` is defined to give 0 for MIN % -1 (x64
/// emits an explicit -1 check around `idiv`), which is also wasm's answer, so
/// it needs no guard. `fmin`/`fmax` already follow wasm: NaN-propagating and
/// ordering -0 below +0.
fn binary_opcode(op: &O<'_>) -> Option<Opcode> {
    Some(match op {
        O::I32Add | O::I64Add => Opcode::Iadd,
        O::I32Sub | O::I64Sub => Opcode::Isub,
        O::I32Mul | O::I64Mul => Opcode::Imul,
        O::I32DivS | O::I64DivS => Opcode::Sdiv,
        O::I32DivU | O::I64DivU => Opcode::Udiv,
        O::I32RemS | O::I64RemS => Opcode::Srem,
        O::I32RemU | O::I64RemU => Opcode::Urem,
        O::I32And | O::I64And => Opcode::Band,
        O::I32Or | O::I64Or => Opcode::Bor,
        O::I32Xor | O::I64Xor => Opcode::Bxor,
        O::I32Shl | O::I64Shl => Opcode::Ishl,
        O::I32ShrS | O::I64ShrS => Opcode::Sshr,
        O::I32ShrU | O::I64ShrU => Opcode::Ushr,
        O::I32Rotl | O::I64Rotl => Opcode::Rotl,
        O::I32Rotr | O::I64Rotr => Opcode::Rotr,
        O::F32Add | O::F64Add => Opcode::Fadd,
        O::F32Sub | O::F64Sub => Opcode::Fsub,
        O::F32Mul | O::F64Mul => Opcode::Fmul,
        O::F32Div | O::F64Div => Opcode::Fdiv,
        O::F32Min | O::F64Min => Opcode::Fmin,
        O::F32Max | O::F64Max => Opcode::Fmax,
        O::F32Copysign | O::F64Copysign => Opcode::Fcopysign,
        _ => return None,
    })
}

/// One-operand operators whose result has the operand's type.
fn unary_opcode(op: &O<'_>) -> Option<Opcode> {
    Some(match op {
        O::I32Clz | O::I64Clz => Opcode::Clz,
        O::I32Ctz | O::I64Ctz => Opcode::Ctz,
        O::I32Popcnt | O::I64Popcnt => Opcode::Popcnt,
        O::F32Abs | O::F64Abs => Opcode::Fabs,
        O::F32Neg | O::F64Neg => Opcode::Fneg,
        O::F32Ceil | O::F64Ceil => Opcode::Ceil,
        O::F32Floor | O::F64Floor => Opcode::Floor,
        O::F32Trunc | O::F64Trunc => Opcode::Trunc,
        // Cranelift's `nearest` rounds half to even, as wasm requires.
        O::F32Nearest | O::F64Nearest => Opcode::Nearest,
        O::F32Sqrt | O::F64Sqrt => Opcode::Sqrt,
        _ => return None,
    })
}

/// Integer comparisons.
fn int_compare(op: &O<'_>) -> Option<IntCC> {
    Some(match op {
        O::I32Eq | O::I64Eq => IntCC::Equal,
        O::I32Ne | O::I64Ne => IntCC::NotEqual,
        O::I32LtS | O::I64LtS => IntCC::SignedLessThan,
        O::I32LtU | O::I64LtU => IntCC::UnsignedLessThan,
        O::I32GtS | O::I64GtS => IntCC::SignedGreaterThan,
        O::I32GtU | O::I64GtU => IntCC::UnsignedGreaterThan,
        O::I32LeS | O::I64LeS => IntCC::SignedLessThanOrEqual,
        O::I32LeU | O::I64LeU => IntCC::UnsignedLessThanOrEqual,
        O::I32GeS | O::I64GeS => IntCC::SignedGreaterThanOrEqual,
        O::I32GeU | O::I64GeU => IntCC::UnsignedGreaterThanOrEqual,
        _ => return None,
    })
}

/// Float comparisons. All are false on NaN except `ne`, hence the ordered
/// conditions everywhere and the unordered-or-not-equal `NotEqual`.
fn float_compare(op: &O<'_>) -> Option<FloatCC> {
    Some(match op {
        O::F32Eq | O::F64Eq => FloatCC::Equal,
        O::F32Ne | O::F64Ne => FloatCC::NotEqual,
        O::F32Lt | O::F64Lt => FloatCC::LessThan,
        O::F32Gt | O::F64Gt => FloatCC::GreaterThan,
        O::F32Le | O::F64Le => FloatCC::LessThanOrEqual,
        O::F32Ge | O::F64Ge => FloatCC::GreaterThanOrEqual,
        _ => return None,
    })
}

/// Sign extensions within a type: (width of the low part kept, result type).
fn sign_extension(op: &O<'_>) -> Option<(Type, Type)> {
    Some(match op {
        O::I32Extend8S => (types::I8, types::I32),
        O::I32Extend16S => (types::I16, types::I32),
        O::I64Extend8S => (types::I8, types::I64),
        O::I64Extend16S => (types::I16, types::I64),
        O::I64Extend32S => (types::I32, types::I64),
        _ => return None,
    })
}
