//! What one engine did with one module, in a form both engines can produce
//! and two runs can be compared by.

use std::fmt;

/// A value as the comparison sees it: floats by their bits, references only
/// by whether they are null (two engines' function handles are not comparable).
#[derive(Debug, Clone, Copy)]
pub enum Value {
    /// `i32`.
    I32(i32),
    /// `i64`.
    I64(i64),
    /// `f32` bits.
    F32(u32),
    /// `f64` bits.
    F64(u64),
    /// A `funcref`: is it null?
    FuncRef { null: bool },
    /// An `externref`: is it null?
    ExternRef { null: bool },
}

impl PartialEq for Value {
    /// Equal bits, except that any NaN equals any NaN: the spec lets an
    /// engine pick a NaN's payload, so only NaN-ness is observable.
    fn eq(&self, other: &Value) -> bool {
        match (*self, *other) {
            (Value::I32(a), Value::I32(b)) => a == b,
            (Value::I64(a), Value::I64(b)) => a == b,
            (Value::F32(a), Value::F32(b)) => a == b || (f32::from_bits(a).is_nan() && f32::from_bits(b).is_nan()),
            (Value::F64(a), Value::F64(b)) => a == b || (f64::from_bits(a).is_nan() && f64::from_bits(b).is_nan()),
            (Value::FuncRef { null: a }, Value::FuncRef { null: b }) => a == b,
            (Value::ExternRef { null: a }, Value::ExternRef { null: b }) => a == b,
            _ => false,
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::I32(v) => write!(f, "i32:{v}"),
            Value::I64(v) => write!(f, "i64:{v}"),
            Value::F32(v) => write!(f, "f32:{}({v:#x})", f32::from_bits(*v)),
            Value::F64(v) => write!(f, "f64:{}({v:#x})", f64::from_bits(*v)),
            Value::FuncRef { null } => write!(f, "funcref:{}", if *null { "null" } else { "non-null" }),
            Value::ExternRef { null } => write!(f, "externref:{}", if *null { "null" } else { "non-null" }),
        }
    }
}

/// Why wasm stopped, in the classes both engines distinguish. `call_indirect`
/// past a table's end is `TableOutOfBounds` for both (wasmi does not tell it
/// apart from other table accesses).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrapClass {
    /// `unreachable` (also how wasm-smith's fuel runs out).
    Unreachable,
    /// Memory access out of bounds.
    MemoryOutOfBounds,
    /// Table access out of bounds, or `call_indirect` past the end.
    TableOutOfBounds,
    /// `call_indirect` of a null entry.
    IndirectCallToNull,
    /// `call_indirect` of a function of another type.
    BadSignature,
    /// Integer overflow.
    IntegerOverflow,
    /// Division or remainder by zero.
    IntegerDivisionByZero,
    /// Float-to-int conversion of NaN.
    BadConversionToInteger,
    /// A null reference was used.
    NullReference,
    /// The call stack ran out: ends the comparison, since engines'
    /// stack limits differ.
    StackOverflow,
    /// Anything else (a host error, a fault, an engine's own error).
    Other,
}

/// The outcome of one step (instantiation or one call).
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// It returned these values.
    Returned(Vec<Value>),
    /// It trapped.
    Trapped(TrapClass),
}

impl Step {
    /// Did the call stack run out? Then the comparison ends here.
    pub fn is_exhaustion(&self) -> bool {
        matches!(self, Step::Trapped(TrapClass::StackOverflow))
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Returned(values) => {
                let shown: Vec<String> = values.iter().map(Value::to_string).collect();
                write!(f, "returned [{}]", shown.join(", "))
            }
            Step::Trapped(class) => write!(f, "trapped: {class:?}"),
        }
    }
}

/// What is observable after a step: each exported global's value and each
/// exported memory's size and a hash of its bytes, sorted by export name
/// (engines list an instance's exports in different orders).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct State {
    /// `(export name, value)`.
    pub globals: Vec<(String, Value)>,
    /// `(export name, bytes, FNV-1a hash of the bytes)`.
    pub memories: Vec<(String, usize, u64)>,
}

impl State {
    /// Sort by export name, for comparison.
    pub fn sorted(mut self) -> State {
        self.globals.sort_by(|a, b| a.0.cmp(&b.0));
        self.memories.sort_by(|a, b| a.0.cmp(&b.0));
        self
    }
}

/// FNV-1a over `bytes`: cheap, and enough to tell two memories apart.
pub fn hash(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3))
}

/// One step and the state after it.
#[derive(Debug, Clone, PartialEq)]
pub struct Observed {
    /// What the step's name is: `instantiate` or `call NAME`.
    pub what: String,
    /// How it ended.
    pub step: Step,
    /// Globals and memories after it.
    pub state: State,
}
