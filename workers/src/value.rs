//! [`Value`]: the wasm values that cross threads, as call arguments and
//! results.
//!
//! A runtime [`Val`] that is a funcref is a handle into one worker's store,
//! meaningless on any other thread, so a pool call carries plain data
//! instead: numbers, null references and `externref` handles. A non-null
//! funcref result cannot leave its worker and is reported as an error.

use std::fmt;

use onecopy_runtime::{ExternRef, Val, ValType};

/// A wasm value that can be sent to and from worker threads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Value {
    /// `i32`.
    I32(i32),
    /// `i64`.
    I64(i64),
    /// `f32`, as its bits (so NaN payloads survive).
    F32(u32),
    /// `f64`, as its bits.
    F64(u64),
    /// A null `funcref` (non-null funcrefs belong to one worker's instance).
    NullFuncRef,
    /// An `externref`: a host handle, or null.
    ExternRef(Option<ExternRef>),
}

/// A runtime value that has no [`Value`] form: a non-null funcref, which
/// refers to one worker's store and cannot leave its thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a non-null funcref cannot leave its worker thread")]
pub struct NotSendable;

impl Value {
    /// The value's wasm type.
    pub fn ty(&self) -> ValType {
        match self {
            Value::I32(_) => ValType::I32,
            Value::I64(_) => ValType::I64,
            Value::F32(_) => ValType::F32,
            Value::F64(_) => ValType::F64,
            Value::NullFuncRef => ValType::FuncRef,
            Value::ExternRef(_) => ValType::ExternRef,
        }
    }

    /// The `i32`, if this is one.
    pub fn i32(&self) -> Option<i32> {
        match *self {
            Value::I32(v) => Some(v),
            _ => None,
        }
    }

    /// The `i64`, if this is one.
    pub fn i64(&self) -> Option<i64> {
        match *self {
            Value::I64(v) => Some(v),
            _ => None,
        }
    }

    /// The `f32`, if this is one.
    pub fn f32(&self) -> Option<f32> {
        match *self {
            Value::F32(bits) => Some(f32::from_bits(bits)),
            _ => None,
        }
    }

    /// The `f64`, if this is one.
    pub fn f64(&self) -> Option<f64> {
        match *self {
            Value::F64(bits) => Some(f64::from_bits(bits)),
            _ => None,
        }
    }
}

impl From<Value> for Val {
    fn from(v: Value) -> Val {
        match v {
            Value::I32(x) => Val::I32(x),
            Value::I64(x) => Val::I64(x),
            Value::F32(bits) => Val::F32(bits),
            Value::F64(bits) => Val::F64(bits),
            Value::NullFuncRef => Val::FuncRef(None),
            Value::ExternRef(r) => Val::ExternRef(r),
        }
    }
}

impl TryFrom<&Val> for Value {
    type Error = NotSendable;

    fn try_from(v: &Val) -> Result<Value, NotSendable> {
        Ok(match v {
            Val::I32(x) => Value::I32(*x),
            Val::I64(x) => Value::I64(*x),
            Val::F32(bits) => Value::F32(*bits),
            Val::F64(bits) => Value::F64(*bits),
            Val::FuncRef(None) => Value::NullFuncRef,
            Val::FuncRef(Some(_)) => return Err(NotSendable),
            Val::ExternRef(r) => Value::ExternRef(*r),
        })
    }
}

impl TryFrom<Val> for Value {
    type Error = NotSendable;

    fn try_from(v: Val) -> Result<Value, NotSendable> {
        Value::try_from(&v)
    }
}

impl From<i32> for Value {
    fn from(v: i32) -> Value {
        Value::I32(v)
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Value {
        Value::I64(v)
    }
}

impl From<f32> for Value {
    fn from(v: f32) -> Value {
        Value::F32(v.to_bits())
    }
}

impl From<f64> for Value {
    fn from(v: f64) -> Value {
        Value::F64(v.to_bits())
    }
}

impl fmt::Display for Value {
    /// Wasm text style, like [`Val`]'s: `55 : i32`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::I32(v) => write!(f, "{v} : i32"),
            Value::I64(v) => write!(f, "{v} : i64"),
            Value::F32(v) => write!(f, "{} : f32", f32::from_bits(*v)),
            Value::F64(v) => write!(f, "{} : f64", f64::from_bits(*v)),
            Value::NullFuncRef => write!(f, "null : funcref"),
            Value::ExternRef(None) => write!(f, "null : externref"),
            Value::ExternRef(Some(r)) => write!(f, "{} : externref", r.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_val() {
        let values = [
            Value::I32(-7),
            Value::I64(1 << 40),
            Value::from(1.5f32),
            Value::F64(f64::NAN.to_bits() | 1),
            Value::NullFuncRef,
            Value::ExternRef(Some(ExternRef(3))),
            Value::ExternRef(None),
        ];
        for v in values {
            assert_eq!(Value::try_from(Val::from(v)), Ok(v));
            assert_eq!(Val::from(v).ty(), v.ty());
        }
        assert_eq!(Value::from(2.5f64).f64(), Some(2.5));
        assert_eq!(Value::I32(1).i64(), None);
        assert_eq!(Value::I32(55).to_string(), "55 : i32");
    }
}
