//! Conversions between the numeric types: wrap and extend, float → int
//! truncation (trapping and saturating), int → float, demote and promote,
//! and the bit-preserving reinterpretations.
//!
//! Every conversion except the reinterpretations is a one-operand Cranelift
//! opcode whose controlling type is the result type, so one emitter given
//! (opcode, result type) covers them; `visit.rs` picks the pair.

use cranelift_codegen::ir::{InstBuilder, MemFlagsData, Opcode, Type};

use super::FuncTranslator;

impl FuncTranslator<'_, '_> {
    /// A value-changing conversion to `to`.
    pub(super) fn convert(&mut self, opcode: Opcode, to: Type) {
        let x = self.pop();
        let (inst, dfg) = self.b.ins().Unary(opcode, to, x);
        let v = dfg.first_result(inst);
        self.push_num(v);
    }

    /// A bit-preserving reinterpretation as `to`.
    pub(super) fn reinterpret(&mut self, to: Type) {
        let x = self.pop();
        // A register-to-register move: no memory is touched, so the
        // default flags are enough.
        let v = self.b.ins().bitcast(to, MemFlagsData::new(), x);
        self.push_num(v);
    }
}
