//! Conversions between the numeric types: wrap and extend, float → int
//! truncation (trapping and saturating), int → float, demote and promote,
//! and the bit-preserving reinterpretations.
//!
//! Every conversion except the reinterpretations is a one-operand Cranelift
//! opcode whose controlling type is the result type, so one table of
//! (opcode, result type) covers them.

use cranelift_codegen::ir::types::{F32, F64, I32, I64};
use cranelift_codegen::ir::{InstBuilder, MemFlagsData, Opcode, Type};
use wasmparser::Operator as O;

use super::FuncTranslator;

impl FuncTranslator<'_, '_> {
    /// Translate a conversion operator; false if `op` is not one.
    pub(super) fn convert(&mut self, op: &O<'_>) -> bool {
        if let Some((opcode, to)) = conversion(op) {
            let x = self.pop();
            let (inst, dfg) = self.b.ins().Unary(opcode, to, x);
            let v = dfg.first_result(inst);
            self.push_num(v);
        } else if let Some(to) = reinterpretation(op) {
            let x = self.pop();
            // A register-to-register move: no memory is touched, so the
            // default flags are enough.
            let v = self.b.ins().bitcast(to, MemFlagsData::new(), x);
            self.push_num(v);
        } else {
            return false;
        }
        true
    }
}

/// Value-changing conversions: the opcode and the result type.
///
/// `fcvt_to_sint`/`fcvt_to_uint` trap by themselves with the codes wasm
/// expects (BAD_CONVERSION_TO_INTEGER on NaN, INTEGER_OVERFLOW out of range);
/// the `_sat` opcodes clamp and map NaN to 0 exactly like `trunc_sat`.
fn conversion(op: &O<'_>) -> Option<(Opcode, Type)> {
    Some(match op {
        O::I32WrapI64 => (Opcode::Ireduce, I32),
        O::I64ExtendI32S => (Opcode::Sextend, I64),
        O::I64ExtendI32U => (Opcode::Uextend, I64),

        O::I32TruncF32S | O::I32TruncF64S => (Opcode::FcvtToSint, I32),
        O::I32TruncF32U | O::I32TruncF64U => (Opcode::FcvtToUint, I32),
        O::I64TruncF32S | O::I64TruncF64S => (Opcode::FcvtToSint, I64),
        O::I64TruncF32U | O::I64TruncF64U => (Opcode::FcvtToUint, I64),

        O::I32TruncSatF32S | O::I32TruncSatF64S => (Opcode::FcvtToSintSat, I32),
        O::I32TruncSatF32U | O::I32TruncSatF64U => (Opcode::FcvtToUintSat, I32),
        O::I64TruncSatF32S | O::I64TruncSatF64S => (Opcode::FcvtToSintSat, I64),
        O::I64TruncSatF32U | O::I64TruncSatF64U => (Opcode::FcvtToUintSat, I64),

        O::F32ConvertI32S | O::F32ConvertI64S => (Opcode::FcvtFromSint, F32),
        O::F32ConvertI32U | O::F32ConvertI64U => (Opcode::FcvtFromUint, F32),
        O::F64ConvertI32S | O::F64ConvertI64S => (Opcode::FcvtFromSint, F64),
        O::F64ConvertI32U | O::F64ConvertI64U => (Opcode::FcvtFromUint, F64),

        O::F32DemoteF64 => (Opcode::Fdemote, F32),
        O::F64PromoteF32 => (Opcode::Fpromote, F64),
        _ => return None,
    })
}

/// Bit-preserving reinterpretations: the result type.
fn reinterpretation(op: &O<'_>) -> Option<Type> {
    Some(match op {
        O::I32ReinterpretF32 => I32,
        O::I64ReinterpretF64 => I64,
        O::F32ReinterpretI32 => F32,
        O::F64ReinterpretI64 => F64,
        _ => return None,
    })
}
