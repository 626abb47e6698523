//! Script values: turning `invoke` arguments into runtime values, and
//! checking results against `assert_return` patterns.

use onecopy_runtime::{ExternRef, Val};
use wast::core::{AbstractHeapType, HeapType, NanPattern, WastArgCore, WastRetCore};
use wast::{WastArg, WastRet};

use crate::values::{show, show_f32, show_f64};

/// The runtime value of an `invoke` argument.
pub fn arg(arg: &WastArg) -> Result<Val, String> {
    let WastArg::Core(core) = arg else { return Err("component-model argument".into()) };
    Ok(match core {
        WastArgCore::I32(v) => Val::I32(*v),
        WastArgCore::I64(v) => Val::I64(*v),
        WastArgCore::F32(v) => Val::F32(v.bits),
        WastArgCore::F64(v) => Val::F64(v.bits),
        WastArgCore::RefNull(HeapType::Abstract { ty: AbstractHeapType::Func, .. }) => Val::FuncRef(None),
        WastArgCore::RefNull(HeapType::Abstract { ty: AbstractHeapType::Extern, .. }) => Val::ExternRef(None),
        WastArgCore::RefExtern(n) => Val::ExternRef(Some(ExternRef(*n))),
        other => return Err(format!("unsupported argument {other:?}")),
    })
}

/// Whether `actual` satisfies the `assert_return` pattern `expected`.
pub fn matches(expected: &WastRet, actual: &Val) -> bool {
    match expected {
        WastRet::Core(core) => core_matches(core, actual),
        _ => false,
    }
}

fn core_matches(expected: &WastRetCore, actual: &Val) -> bool {
    match (expected, actual) {
        (WastRetCore::I32(e), Val::I32(a)) => e == a,
        (WastRetCore::I64(e), Val::I64(a)) => e == a,
        (WastRetCore::F32(e), Val::F32(a)) => float_matches(e, |v| v.bits as u64, *a as u64, F32_BITS),
        (WastRetCore::F64(e), Val::F64(a)) => float_matches(e, |v| v.bits, *a, F64_BITS),
        (WastRetCore::RefNull(ty), Val::FuncRef(None)) => null_of(ty, AbstractHeapType::Func),
        (WastRetCore::RefNull(ty), Val::ExternRef(None)) => null_of(ty, AbstractHeapType::Extern),
        (WastRetCore::RefFunc(_), Val::FuncRef(Some(_))) => true,
        (WastRetCore::RefExtern(e), Val::ExternRef(Some(a))) => e.is_none_or(|e| e == a.0),
        (WastRetCore::Either(options), _) => options.iter().any(|option| core_matches(option, actual)),
        _ => false,
    }
}

/// Where a float's exponent and quiet bit sit, for NaN patterns.
struct FloatBits {
    /// Sign bit cleared: exponent and mantissa.
    magnitude: u64,
    /// Exponent all ones plus the quiet bit: a canonical NaN's magnitude,
    /// and the bits every arithmetic NaN has set.
    canonical_nan: u64,
}

const F32_BITS: FloatBits = FloatBits { magnitude: 0x7fff_ffff, canonical_nan: 0x7fc0_0000 };
const F64_BITS: FloatBits = FloatBits { magnitude: 0x7fff_ffff_ffff_ffff, canonical_nan: 0x7ff8_0000_0000_0000 };

/// A float pattern: exact bits, or a NaN class with either sign.
fn float_matches<T>(expected: &NanPattern<T>, bits_of: impl Fn(&T) -> u64, actual: u64, f: FloatBits) -> bool {
    match expected {
        NanPattern::Value(v) => bits_of(v) == actual,
        NanPattern::CanonicalNan => actual & f.magnitude == f.canonical_nan,
        NanPattern::ArithmeticNan => actual & f.canonical_nan == f.canonical_nan,
    }
}

/// `ref.null` with no type matches any null; with a type, only that one.
fn null_of(expected: &Option<HeapType>, actual: AbstractHeapType) -> bool {
    match expected {
        None => true,
        Some(HeapType::Abstract { ty, .. }) => std::mem::discriminant(ty) == std::mem::discriminant(&actual),
        Some(_) => false,
    }
}

/// An `assert_return` pattern in the same style as [`show`] prints values.
pub fn describe(expected: &WastRet) -> String {
    match expected {
        WastRet::Core(core) => describe_core(core),
        other => format!("{other:?}"),
    }
}

fn describe_core(expected: &WastRetCore) -> String {
    match expected {
        WastRetCore::I32(v) => show(&Val::I32(*v)),
        WastRetCore::I64(v) => show(&Val::I64(*v)),
        WastRetCore::F32(p) => format!("{} : f32", describe_float(p, |v| show_f32(v.bits))),
        WastRetCore::F64(p) => format!("{} : f64", describe_float(p, |v| show_f64(v.bits))),
        WastRetCore::RefNull(_) => "ref.null".into(),
        WastRetCore::RefFunc(_) => "ref.func".into(),
        WastRetCore::RefExtern(Some(n)) => format!("ref.extern {n}"),
        WastRetCore::RefExtern(None) => "ref.extern".into(),
        WastRetCore::Either(options) => {
            let options: Vec<_> = options.iter().map(describe_core).collect();
            format!("either({})", options.join(" | "))
        }
        other => format!("{other:?}"),
    }
}

fn describe_float<T>(pattern: &NanPattern<T>, show_value: impl Fn(&T) -> String) -> String {
    match pattern {
        NanPattern::Value(v) => show_value(v),
        NanPattern::CanonicalNan => "nan:canonical".into(),
        NanPattern::ArithmeticNan => "nan:arithmetic".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nan_classes() {
        let canonical = NanPattern::<u64>::CanonicalNan;
        let arithmetic = NanPattern::<u64>::ArithmeticNan;
        let id = |v: &u64| *v;
        assert!(float_matches(&canonical, id, 0xffc0_0000, F32_BITS));
        assert!(!float_matches(&canonical, id, 0x7fc0_0001, F32_BITS));
        assert!(float_matches(&arithmetic, id, 0x7fc0_0001, F32_BITS));
        assert!(!float_matches(&arithmetic, id, 0x7f80_0001, F32_BITS));
        assert!(float_matches(&arithmetic, id, 0xfff8_0000_0000_0001, F64_BITS));
    }
}
