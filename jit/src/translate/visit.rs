//! The dispatch: wasmparser's [`VisitOperator`], one method per operator,
//! each a call of the emitter in the file of its concern. Operators of the
//! proposals onecopy does not support get generated methods that report
//! them (see `unsupported.rs`), so the visitor stays exhaustive: an operator
//! added to a supported proposal by a wasmparser upgrade fails to compile
//! until it is handled here.

use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::types::{F32, F64, I16, I32, I64, I8};
use cranelift_codegen::ir::Opcode;
use wasmparser::{BlockType, BrTable, HeapType, Ieee32, Ieee64, MemArg, VisitOperator};

use super::memory::Ext;
use super::unsupported::unsupported_operators;
use super::FuncTranslator;
use crate::trap::TrapKind;
use crate::CompileError;

/// Methods of operators without immediates: `visit_a | visit_b => emitter(args);`.
macro_rules! plain {
    ($( $($visit:ident)|+ => $emit:ident $args:tt; )*) => {
        $($(
            fn $visit(&mut self) -> Self::Output {
                self.$emit $args;
                Ok(())
            }
        )+)*
    };
}

/// Methods of operators with immediates: `visit_x(name: Type) => emitter(args);`.
macro_rules! with_immediates {
    ($( $visit:ident($($arg:ident: $ty:ty),*) => $emit:ident $args:tt; )*) => {
        $(
            fn $visit(&mut self, $($arg: $ty),*) -> Self::Output {
                self.$emit $args;
                Ok(())
            }
        )*
    };
}

impl<'a> VisitOperator<'a> for FuncTranslator<'_, '_> {
    type Output = Result<(), CompileError>;

    // Control and parametric operators (control.rs).
    fn visit_nop(&mut self) -> Self::Output {
        Ok(())
    }
    fn visit_br_table(&mut self, targets: BrTable<'a>) -> Self::Output {
        self.br_table(&targets)
    }
    plain! {
        visit_unreachable => trap(TrapKind::Unreachable);
        visit_else => else_();
        visit_end => end();
        visit_return => return_();
        visit_drop => drop_();
        visit_select => select();
    }
    with_immediates! {
        visit_block(blockty: BlockType) => block(blockty);
        visit_loop(blockty: BlockType) => loop_(blockty);
        visit_if(blockty: BlockType) => if_(blockty);
        visit_br(depth: u32) => br(depth);
        visit_br_if(depth: u32) => br_if(depth);
        visit_typed_select(_ty: wasmparser::ValType) => select();
        visit_typed_select_multi(_tys: Vec<wasmparser::ValType>) => select();
    }

    // Calls (calls.rs).
    with_immediates! {
        visit_call(function_index: u32) => call(function_index);
        visit_call_indirect(type_index: u32, table_index: u32) => call_indirect(type_index, table_index);
    }

    // Locals and globals (locals.rs).
    with_immediates! {
        visit_local_get(index: u32) => local_get(index);
        visit_local_set(index: u32) => local_set(index);
        visit_local_tee(index: u32) => local_tee(index);
        visit_global_get(index: u32) => global_get(index);
        visit_global_set(index: u32) => global_set(index);
    }

    // Linear memory (memory.rs): accesses by result type, width and extension.
    with_immediates! {
        visit_i32_load(memarg: MemArg) => load(memarg, I32, 4, Ext::None);
        visit_i64_load(memarg: MemArg) => load(memarg, I64, 8, Ext::None);
        visit_f32_load(memarg: MemArg) => load(memarg, F32, 4, Ext::None);
        visit_f64_load(memarg: MemArg) => load(memarg, F64, 8, Ext::None);
        visit_i32_load8_s(memarg: MemArg) => load(memarg, I32, 1, Ext::Signed);
        visit_i32_load8_u(memarg: MemArg) => load(memarg, I32, 1, Ext::Unsigned);
        visit_i32_load16_s(memarg: MemArg) => load(memarg, I32, 2, Ext::Signed);
        visit_i32_load16_u(memarg: MemArg) => load(memarg, I32, 2, Ext::Unsigned);
        visit_i64_load8_s(memarg: MemArg) => load(memarg, I64, 1, Ext::Signed);
        visit_i64_load8_u(memarg: MemArg) => load(memarg, I64, 1, Ext::Unsigned);
        visit_i64_load16_s(memarg: MemArg) => load(memarg, I64, 2, Ext::Signed);
        visit_i64_load16_u(memarg: MemArg) => load(memarg, I64, 2, Ext::Unsigned);
        visit_i64_load32_s(memarg: MemArg) => load(memarg, I64, 4, Ext::Signed);
        visit_i64_load32_u(memarg: MemArg) => load(memarg, I64, 4, Ext::Unsigned);
        visit_i32_store(memarg: MemArg) => store(memarg, 4);
        visit_i64_store(memarg: MemArg) => store(memarg, 8);
        visit_f32_store(memarg: MemArg) => store(memarg, 4);
        visit_f64_store(memarg: MemArg) => store(memarg, 8);
        visit_i32_store8(memarg: MemArg) => store(memarg, 1);
        visit_i32_store16(memarg: MemArg) => store(memarg, 2);
        visit_i64_store8(memarg: MemArg) => store(memarg, 1);
        visit_i64_store16(memarg: MemArg) => store(memarg, 2);
        visit_i64_store32(memarg: MemArg) => store(memarg, 4);
        visit_memory_size(mem: u32) => memory_size(mem);
        visit_memory_grow(mem: u32) => memory_grow(mem);
        visit_memory_fill(mem: u32) => memory_fill(mem);
        visit_memory_copy(dst_mem: u32, src_mem: u32) => memory_copy(dst_mem, src_mem);
        visit_memory_init(data_index: u32, mem: u32) => memory_init(data_index, mem);
        visit_data_drop(data_index: u32) => data_drop(data_index);
    }

    // Tables and references (tables.rs).
    plain! {
        visit_ref_is_null => ref_is_null();
    }
    with_immediates! {
        visit_table_get(table: u32) => table_get(table);
        visit_table_set(table: u32) => table_set(table);
        visit_table_size(table: u32) => table_size(table);
        visit_table_grow(table: u32) => table_grow(table);
        visit_table_fill(table: u32) => table_fill(table);
        visit_table_copy(dst_table: u32, src_table: u32) => table_copy(dst_table, src_table);
        visit_table_init(elem_index: u32, table: u32) => table_init(elem_index, table);
        visit_elem_drop(elem_index: u32) => elem_drop(elem_index);
        visit_ref_null(hty: HeapType) => ref_null(hty);
        visit_ref_func(function_index: u32) => ref_func(function_index);
    }

    // Numeric operators (numeric.rs).
    with_immediates! {
        visit_i32_const(value: i32) => i32_const(value);
        visit_i64_const(value: i64) => i64_const(value);
        visit_f32_const(value: Ieee32) => f32_const(value);
        visit_f64_const(value: Ieee64) => f64_const(value);
    }
    // Shifts and rotates need no masking: Cranelift reduces the amount
    // modulo the bit width exactly as wasm does. The division and remainder
    // opcodes trap by themselves on a zero divisor, and `sdiv` on MIN / -1,
    // with the trap codes wasm expects. `srem` is defined to give 0 for
    // MIN % -1 (x64 emits an explicit -1 check around `idiv`), which is also
    // wasm's answer, so it needs no guard. `fmin`/`fmax` already follow
    // wasm: NaN-propagating and ordering -0 below +0.
    plain! {
        visit_i32_add | visit_i64_add => binary(Opcode::Iadd);
        visit_i32_sub | visit_i64_sub => binary(Opcode::Isub);
        visit_i32_mul | visit_i64_mul => binary(Opcode::Imul);
        visit_i32_div_s | visit_i64_div_s => binary(Opcode::Sdiv);
        visit_i32_div_u | visit_i64_div_u => binary(Opcode::Udiv);
        visit_i32_rem_s | visit_i64_rem_s => binary(Opcode::Srem);
        visit_i32_rem_u | visit_i64_rem_u => binary(Opcode::Urem);
        visit_i32_and | visit_i64_and => binary(Opcode::Band);
        visit_i32_or | visit_i64_or => binary(Opcode::Bor);
        visit_i32_xor | visit_i64_xor => binary(Opcode::Bxor);
        visit_i32_shl | visit_i64_shl => binary(Opcode::Ishl);
        visit_i32_shr_s | visit_i64_shr_s => binary(Opcode::Sshr);
        visit_i32_shr_u | visit_i64_shr_u => binary(Opcode::Ushr);
        visit_i32_rotl | visit_i64_rotl => binary(Opcode::Rotl);
        visit_i32_rotr | visit_i64_rotr => binary(Opcode::Rotr);
        visit_f32_add | visit_f64_add => binary(Opcode::Fadd);
        visit_f32_sub | visit_f64_sub => binary(Opcode::Fsub);
        visit_f32_mul | visit_f64_mul => binary(Opcode::Fmul);
        visit_f32_div | visit_f64_div => binary(Opcode::Fdiv);
        visit_f32_min | visit_f64_min => binary(Opcode::Fmin);
        visit_f32_max | visit_f64_max => binary(Opcode::Fmax);
        visit_f32_copysign | visit_f64_copysign => binary(Opcode::Fcopysign);

        visit_i32_clz | visit_i64_clz => unary(Opcode::Clz);
        visit_i32_ctz | visit_i64_ctz => unary(Opcode::Ctz);
        visit_i32_popcnt | visit_i64_popcnt => unary(Opcode::Popcnt);
        visit_f32_abs | visit_f64_abs => unary(Opcode::Fabs);
        visit_f32_neg | visit_f64_neg => unary(Opcode::Fneg);
        visit_f32_ceil | visit_f64_ceil => unary(Opcode::Ceil);
        visit_f32_floor | visit_f64_floor => unary(Opcode::Floor);
        visit_f32_trunc | visit_f64_trunc => unary(Opcode::Trunc);
        // Cranelift's `nearest` rounds half to even, as wasm requires.
        visit_f32_nearest | visit_f64_nearest => unary(Opcode::Nearest);
        visit_f32_sqrt | visit_f64_sqrt => unary(Opcode::Sqrt);

        visit_i32_eqz | visit_i64_eqz => eqz();
        visit_i32_eq | visit_i64_eq => int_compare(IntCC::Equal);
        visit_i32_ne | visit_i64_ne => int_compare(IntCC::NotEqual);
        visit_i32_lt_s | visit_i64_lt_s => int_compare(IntCC::SignedLessThan);
        visit_i32_lt_u | visit_i64_lt_u => int_compare(IntCC::UnsignedLessThan);
        visit_i32_gt_s | visit_i64_gt_s => int_compare(IntCC::SignedGreaterThan);
        visit_i32_gt_u | visit_i64_gt_u => int_compare(IntCC::UnsignedGreaterThan);
        visit_i32_le_s | visit_i64_le_s => int_compare(IntCC::SignedLessThanOrEqual);
        visit_i32_le_u | visit_i64_le_u => int_compare(IntCC::UnsignedLessThanOrEqual);
        visit_i32_ge_s | visit_i64_ge_s => int_compare(IntCC::SignedGreaterThanOrEqual);
        visit_i32_ge_u | visit_i64_ge_u => int_compare(IntCC::UnsignedGreaterThanOrEqual);
        // All float comparisons are false on NaN except `ne`, hence the
        // ordered conditions and the unordered-or-not-equal `NotEqual`.
        visit_f32_eq | visit_f64_eq => float_compare(FloatCC::Equal);
        visit_f32_ne | visit_f64_ne => float_compare(FloatCC::NotEqual);
        visit_f32_lt | visit_f64_lt => float_compare(FloatCC::LessThan);
        visit_f32_gt | visit_f64_gt => float_compare(FloatCC::GreaterThan);
        visit_f32_le | visit_f64_le => float_compare(FloatCC::LessThanOrEqual);
        visit_f32_ge | visit_f64_ge => float_compare(FloatCC::GreaterThanOrEqual);

        visit_i32_extend8_s => sign_extend(I8, I32);
        visit_i32_extend16_s => sign_extend(I16, I32);
        visit_i64_extend8_s => sign_extend(I8, I64);
        visit_i64_extend16_s => sign_extend(I16, I64);
        visit_i64_extend32_s => sign_extend(I32, I64);
    }

    // Conversions (convert.rs), by opcode and result type. `fcvt_to_sint`
    // and `fcvt_to_uint` trap by themselves with the codes wasm expects
    // (BAD_CONVERSION_TO_INTEGER on NaN, INTEGER_OVERFLOW out of range); the
    // `_sat` opcodes clamp and map NaN to 0 exactly like `trunc_sat`.
    plain! {
        visit_i32_wrap_i64 => convert(Opcode::Ireduce, I32);
        visit_i64_extend_i32_s => convert(Opcode::Sextend, I64);
        visit_i64_extend_i32_u => convert(Opcode::Uextend, I64);
        visit_i32_trunc_f32_s | visit_i32_trunc_f64_s => convert(Opcode::FcvtToSint, I32);
        visit_i32_trunc_f32_u | visit_i32_trunc_f64_u => convert(Opcode::FcvtToUint, I32);
        visit_i64_trunc_f32_s | visit_i64_trunc_f64_s => convert(Opcode::FcvtToSint, I64);
        visit_i64_trunc_f32_u | visit_i64_trunc_f64_u => convert(Opcode::FcvtToUint, I64);
        visit_i32_trunc_sat_f32_s | visit_i32_trunc_sat_f64_s => convert(Opcode::FcvtToSintSat, I32);
        visit_i32_trunc_sat_f32_u | visit_i32_trunc_sat_f64_u => convert(Opcode::FcvtToUintSat, I32);
        visit_i64_trunc_sat_f32_s | visit_i64_trunc_sat_f64_s => convert(Opcode::FcvtToSintSat, I64);
        visit_i64_trunc_sat_f32_u | visit_i64_trunc_sat_f64_u => convert(Opcode::FcvtToUintSat, I64);
        visit_f32_convert_i32_s | visit_f32_convert_i64_s => convert(Opcode::FcvtFromSint, F32);
        visit_f32_convert_i32_u | visit_f32_convert_i64_u => convert(Opcode::FcvtFromUint, F32);
        visit_f64_convert_i32_s | visit_f64_convert_i64_s => convert(Opcode::FcvtFromSint, F64);
        visit_f64_convert_i32_u | visit_f64_convert_i64_u => convert(Opcode::FcvtFromUint, F64);
        visit_f32_demote_f64 => convert(Opcode::Fdemote, F32);
        visit_f64_promote_f32 => convert(Opcode::Fpromote, F64);
        visit_i32_reinterpret_f32 => reinterpret(I32);
        visit_i64_reinterpret_f64 => reinterpret(I64);
        visit_f32_reinterpret_i32 => reinterpret(F32);
        visit_f64_reinterpret_i64 => reinterpret(F64);
    }

    // Every operator of the proposals onecopy does not support.
    wasmparser::for_each_visit_operator!(unsupported_operators);

    fn simd_visitor(&mut self) -> Option<&mut dyn wasmparser::VisitSimdOperator<'a, Output = Self::Output>> {
        Some(self)
    }
}
