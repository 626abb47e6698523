//! The operators of proposals onecopy does not support.
//!
//! Supported: the MVP, `sign_extension`, `saturating_float_to_int`,
//! `bulk_memory` and `reference_types` (Wasm 2.0 without SIMD). Every other
//! proposal wasmparser knows gets visitor methods generated here that fail
//! with [`CompileError::Unsupported`] naming the proposal and the operator:
//! `threads`, `exceptions`, `legacy_exceptions`, `tail_call`,
//! `function_references`, `gc`, `custom_descriptors`, `memory_control`,
//! `shared_everything_threads`, `stack_switching`, `wide_arithmetic` and
//! `acquire_release_atomics`; and, with this crate's `simd` feature,
//! `simd` and `relaxed_simd`.
//!
//! Validation rejects all of these first (see [`crate::features`]); the
//! methods exist because the visitor must cover every operator. Without the
//! `simd` feature wasmparser does not decode SIMD operators at all (its
//! reader rejects the `0xfd` prefix), so there is nothing to visit.

use super::FuncTranslator;
use crate::CompileError;

/// Visitor methods for the operators of unsupported proposals, from
/// wasmparser's `for_each_visit_operator!` (or `_simd_`) list; the
/// supported proposals' methods are written out in `visit.rs`.
macro_rules! unsupported_operators {
    ($( @$proposal:ident $op:ident $({ $($arg:ident: $argty:ty),* })? => $visit:ident ($($ann:tt)*) )*) => {
        $( unsupported_operators!(one $proposal $visit $($($argty),*)?); )*
    };
    (one mvp $($rest:tt)*) => {};
    (one sign_extension $($rest:tt)*) => {};
    (one saturating_float_to_int $($rest:tt)*) => {};
    (one bulk_memory $($rest:tt)*) => {};
    (one reference_types $($rest:tt)*) => {};
    (one $proposal:ident $visit:ident $($argty:ty),*) => {
        fn $visit(&mut self $(, _: $argty)*) -> Self::Output {
            Err(self.unsupported(stringify!($proposal), stringify!($visit)))
        }
    };
}
pub(super) use unsupported_operators;

impl<'a> wasmparser::VisitSimdOperator<'a> for FuncTranslator<'_, '_> {
    wasmparser::for_each_visit_simd_operator!(unsupported_operators);
}

impl FuncTranslator<'_, '_> {
    /// The error for the operator whose visitor method is `visit`, at the
    /// current offset.
    pub(super) fn unsupported(&self, proposal: &str, visit: &str) -> CompileError {
        CompileError::Unsupported { offset: self.offset, message: unsupported_message(proposal, visit) }
    }
}

/// "the threads proposal (operator i32.atomic.load) is not supported".
fn unsupported_message(proposal: &str, visit: &str) -> String {
    format!("the {} proposal (operator {}) is not supported", proposal.replace('_', "-"), text_name(visit))
}

/// Prefixes that the text format separates from the rest with a dot.
const NAMESPACES: &[&str] = &[
    "i32", "i64", "f32", "f64", "v128", "i8x16", "i16x8", "i32x4", "i64x2", "f32x4", "f64x2", "memory", "table", "global", "local",
    "struct", "array", "ref", "i31", "any", "extern", "data", "elem", "atomic", "cont",
];

/// An operator's text-format name from its visitor method's name:
/// `visit_i32_atomic_rmw8_add_u` is `i32.atomic.rmw8.add_u`. Dots follow a
/// namespace prefix, `atomic` and `rmw`; other underscores stay. (A few GC
/// methods name a type annotation too: `visit_ref_test_non_null` gives
/// `ref.test_non_null` for `ref.test`.)
fn text_name(visit: &str) -> String {
    let mut parts = visit.strip_prefix("visit_").unwrap_or(visit).split('_');
    let mut name = parts.next().unwrap_or_default().to_string();
    let mut dot = NAMESPACES.contains(&name.as_str());
    for part in parts {
        name.push(if dot { '.' } else { '_' });
        name.push_str(part);
        dot = part == "atomic" || part.starts_with("rmw");
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CompileConfig, Compiler, TypeRegistry};

    /// Translate `wat` without validating it (validation would reject it).
    fn translate_unvalidated(wat: &str) -> CompileError {
        let wasm = wat::parse_str(wat).expect("wat");
        let compiler = Compiler::new(CompileConfig { parallel: false, ..CompileConfig::default() }).expect("compiler");
        let info = crate::module_info::parse(&wasm).expect("declarations");
        let env = crate::env::ModuleEnv::new(&info, &TypeRegistry::default(), compiler.isa(), compiler.config());
        crate::compile::compile_all(&env, &wasm).err().expect("an error")
    }

    fn assert_unsupported(wat: &str, expected: &str) {
        match translate_unvalidated(wat) {
            CompileError::Unsupported { offset, message } => {
                assert_eq!(message, expected);
                assert!(offset > 0, "the operator's offset");
            }
            other => panic!("{other}"),
        }
    }

    #[test]
    fn operators_of_unsupported_proposals_are_named() {
        assert_unsupported("(module (func atomic.fence))", "the threads proposal (operator atomic.fence) is not supported");
        assert_unsupported("(module (func return_call 0))", "the tail-call proposal (operator return_call) is not supported");
    }

    #[test]
    fn simd_operators_are_named() {
        assert_unsupported("(module (func v128.const i64x2 0 0 drop))", "the simd proposal (operator v128.const) is not supported");
    }

    #[test]
    fn text_names_follow_the_text_format() {
        for (visit, text) in [
            ("visit_i32_atomic_load", "i32.atomic.load"),
            ("visit_i64_atomic_rmw8_add_u", "i64.atomic.rmw8.add_u"),
            ("visit_i32_atomic_rmw_cmpxchg", "i32.atomic.rmw.cmpxchg"),
            ("visit_memory_atomic_wait32", "memory.atomic.wait32"),
            ("visit_atomic_fence", "atomic.fence"),
            ("visit_return_call_indirect", "return_call_indirect"),
            ("visit_struct_new_default", "struct.new_default"),
            ("visit_br_on_cast_fail", "br_on_cast_fail"),
            ("visit_i64_mul_wide_s", "i64.mul_wide_s"),
            ("visit_try_table", "try_table"),
            ("visit_v128_load8x8_s", "v128.load8x8_s"),
            ("visit_i8x16_extract_lane_s", "i8x16.extract_lane_s"),
        ] {
            assert_eq!(text_name(visit), text, "{visit}");
        }
    }

    #[test]
    fn the_message_names_the_proposal() {
        assert_eq!(unsupported_message("tail_call", "visit_return_call"), "the tail-call proposal (operator return_call) is not supported");
    }
}
