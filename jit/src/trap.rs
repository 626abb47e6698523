//! Trap kinds and their encoding as Cranelift trap codes.

use cranelift_codegen::ir::TrapCode;
use std::fmt;

/// Why wasm execution stopped abnormally.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TrapKind {
    /// `unreachable` was executed.
    Unreachable,
    /// A load, store or bulk memory operation was out of bounds.
    MemoryOutOfBounds,
    /// A table access or bulk table operation was out of bounds.
    TableOutOfBounds,
    /// `call_indirect` found a null entry.
    IndirectCallToNull,
    /// `call_indirect` indexed past the end of its table.
    UndefinedElement,
    /// `call_indirect` found a function of another type.
    BadSignature,
    /// Integer overflow (`i32.div_s` of MIN by -1, float-to-int overflow).
    IntegerOverflow,
    /// Integer division or remainder by zero.
    IntegerDivisionByZero,
    /// Float-to-int conversion of NaN.
    BadConversionToInteger,
    /// The wasm call stack was exhausted.
    StackOverflow,
    /// A null reference was dereferenced.
    NullReference,
    /// A host function returned an error or panicked.
    Host,
    /// The debugger asked to abort the call.
    DebugAbort,
    /// A breakpoint guard's load, which faults only when its site is armed:
    /// the runtime turns that fault into a debug stop, never a trap.
    DebugStop,
    /// The call was interrupted (by the host, or its deadline passed) at a
    /// function entry or loop header; the instance stays usable.
    Interrupt,
    /// A fault that no trap site explains (a bug, reported rather than crashing).
    Fault,
}

impl TrapKind {
    const USER: [TrapKind; 10] = [
        TrapKind::Unreachable,
        TrapKind::TableOutOfBounds,
        TrapKind::IndirectCallToNull,
        TrapKind::UndefinedElement,
        TrapKind::BadSignature,
        TrapKind::NullReference,
        TrapKind::Host,
        TrapKind::DebugAbort,
        TrapKind::DebugStop,
        TrapKind::Interrupt,
    ];

    /// The Cranelift trap code compiled code uses for this kind.
    pub fn code(self) -> TrapCode {
        match self {
            TrapKind::MemoryOutOfBounds => TrapCode::HEAP_OUT_OF_BOUNDS,
            TrapKind::IntegerOverflow => TrapCode::INTEGER_OVERFLOW,
            TrapKind::IntegerDivisionByZero => TrapCode::INTEGER_DIVISION_BY_ZERO,
            TrapKind::BadConversionToInteger => TrapCode::BAD_CONVERSION_TO_INTEGER,
            TrapKind::StackOverflow => TrapCode::STACK_OVERFLOW,
            other => {
                let pos = Self::USER.iter().position(|k| *k == other).unwrap_or(0);
                TrapCode::unwrap_user(pos as u8 + 1)
            }
        }
    }

    /// Decode a Cranelift trap code found at a trap site.
    pub fn from_code(code: TrapCode) -> TrapKind {
        match code {
            TrapCode::HEAP_OUT_OF_BOUNDS => TrapKind::MemoryOutOfBounds,
            TrapCode::INTEGER_OVERFLOW => TrapKind::IntegerOverflow,
            TrapCode::INTEGER_DIVISION_BY_ZERO => TrapKind::IntegerDivisionByZero,
            TrapCode::BAD_CONVERSION_TO_INTEGER => TrapKind::BadConversionToInteger,
            TrapCode::STACK_OVERFLOW => TrapKind::StackOverflow,
            other => {
                let raw = other.as_raw().get() as usize;
                // Reserved codes occupy the top of the byte range; user codes start at 1.
                Self::USER.get(raw.wrapping_sub(1)).copied().unwrap_or(TrapKind::Fault)
            }
        }
    }
}

impl fmt::Display for TrapKind {
    /// The spec test suite's wording, so `assert_trap` messages match.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TrapKind::Unreachable => "unreachable",
            TrapKind::MemoryOutOfBounds => "out of bounds memory access",
            TrapKind::TableOutOfBounds => "out of bounds table access",
            TrapKind::IndirectCallToNull => "uninitialized element",
            TrapKind::UndefinedElement => "undefined element",
            TrapKind::BadSignature => "indirect call type mismatch",
            TrapKind::IntegerOverflow => "integer overflow",
            TrapKind::IntegerDivisionByZero => "integer divide by zero",
            TrapKind::BadConversionToInteger => "invalid conversion to integer",
            TrapKind::StackOverflow => "call stack exhausted",
            TrapKind::NullReference => "null reference",
            TrapKind::Host => "host function error",
            TrapKind::DebugAbort => "aborted by the debugger",
            TrapKind::DebugStop => "breakpoint guard (a debug stop, not a trap)",
            TrapKind::Interrupt => "interrupted",
            TrapKind::Fault => "unexpected fault in compiled code",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_round_trips_through_its_code() {
        for kind in TrapKind::USER.iter().copied().chain([
            TrapKind::MemoryOutOfBounds,
            TrapKind::IntegerOverflow,
            TrapKind::IntegerDivisionByZero,
            TrapKind::BadConversionToInteger,
            TrapKind::StackOverflow,
        ]) {
            assert_eq!(TrapKind::from_code(kind.code()), kind);
        }
    }
}
