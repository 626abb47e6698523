//! Wasm values as the embedder sees them, and their raw 8-byte encoding.

use std::fmt;

use crate::error::{Error, Result};
use crate::func::Func;
use crate::store::{StoreId, StoreOpaque};
use crate::ValType;

/// An opaque host reference carried by `externref` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ExternRef(pub u32);

/// A wasm value. A funcref is a handle into the store it came from.
#[derive(Debug, Clone, Copy)]
pub enum Val {
    /// `i32`.
    I32(i32),
    /// `i64`.
    I64(i64),
    /// `f32`, as its bits (so NaN payloads survive).
    F32(u32),
    /// `f64`, as its bits.
    F64(u64),
    /// `funcref`.
    FuncRef(Option<Func>),
    /// `externref`.
    ExternRef(Option<ExternRef>),
}

impl Val {
    /// The value's type.
    pub fn ty(&self) -> ValType {
        match self {
            Val::I32(_) => ValType::I32,
            Val::I64(_) => ValType::I64,
            Val::F32(_) => ValType::F32,
            Val::F64(_) => ValType::F64,
            Val::FuncRef(_) => ValType::FuncRef,
            Val::ExternRef(_) => ValType::ExternRef,
        }
    }

    /// The zero value (null for references) of `ty`.
    pub fn default_for(ty: ValType) -> Val {
        match ty {
            ValType::I32 => Val::I32(0),
            ValType::I64 => Val::I64(0),
            ValType::F32 => Val::F32(0),
            ValType::F64 => Val::F64(0),
            ValType::FuncRef => Val::FuncRef(None),
            ValType::ExternRef => Val::ExternRef(None),
        }
    }

    /// The `i32`, if this is one.
    pub fn i32(&self) -> Option<i32> {
        if let Val::I32(v) = self {
            Some(*v)
        } else {
            None
        }
    }

    /// The `i64`, if this is one.
    pub fn i64(&self) -> Option<i64> {
        if let Val::I64(v) = self {
            Some(*v)
        } else {
            None
        }
    }

    /// The `f32`, if this is one.
    pub fn f32(&self) -> Option<f32> {
        if let Val::F32(v) = self {
            Some(f32::from_bits(*v))
        } else {
            None
        }
    }

    /// The `f64`, if this is one.
    pub fn f64(&self) -> Option<f64> {
        if let Val::F64(v) = self {
            Some(f64::from_bits(*v))
        } else {
            None
        }
    }

    /// Encode into an 8-byte cell as compiled code stores it; a funcref
    /// must belong to `store`.
    pub(crate) fn to_raw(self, store: &StoreOpaque) -> Result<u64> {
        Ok(match self {
            Val::FuncRef(Some(f)) => f.raw(store)? as u64,
            Val::FuncRef(None) => 0,
            Val::ExternRef(r) => r.map_or(0, |r| r.0 as u64 + 1),
            number => number.number_bits().unwrap_or_default(),
        })
    }

    /// A number's cell (`None` for references, which belong to a store).
    pub(crate) fn number_bits(&self) -> Option<u64> {
        match self {
            Val::I32(v) => Some(*v as u32 as u64),
            Val::I64(v) => Some(*v as u64),
            Val::F32(v) => Some(*v as u64),
            Val::F64(v) => Some(*v),
            Val::FuncRef(_) | Val::ExternRef(_) => None,
        }
    }

    /// [`Self::to_raw`] for a slot of type `expected` (`what` names the
    /// slot in the error: "table", "global", ...).
    pub(crate) fn checked_raw(&self, store: &StoreOpaque, expected: ValType, what: &str) -> Result<u64> {
        if self.ty() != expected {
            return Err(Error::Type(format!("{} value for a {expected} {what}", self.ty())));
        }
        self.to_raw(store)
    }

    /// Decode an 8-byte cell of type `ty` found in store `store`.
    ///
    /// # Safety
    /// A non-null funcref cell must point at a live `VMFuncRef` of that store.
    pub(crate) unsafe fn from_raw(raw: u64, ty: ValType, store: StoreId) -> Val {
        match Val::from_plain_raw(raw, ty) {
            Some(v) => v,
            // SAFETY: the caller's contract.
            None => Val::FuncRef(unsafe { Func::from_raw(raw as usize as *const _, store) }),
        }
    }

    /// Decode an 8-byte cell of any type but funcref (`None` for a funcref,
    /// whose bits are a pointer only a caller that knows it can follow).
    pub(crate) fn from_plain_raw(raw: u64, ty: ValType) -> Option<Val> {
        Some(match ty {
            ValType::I32 => Val::I32(raw as u32 as i32),
            ValType::I64 => Val::I64(raw as i64),
            ValType::F32 => Val::F32(raw as u32),
            ValType::F64 => Val::F64(raw),
            ValType::FuncRef => return None,
            ValType::ExternRef => Val::ExternRef(raw.checked_sub(1).map(|v| ExternRef(v as u32))),
        })
    }
}

impl fmt::Display for Val {
    /// Wasm text style: `55 : i32`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Val::I32(v) => write!(f, "{v} : i32"),
            Val::I64(v) => write!(f, "{v} : i64"),
            Val::F32(v) => write!(f, "{} : f32", f32::from_bits(*v)),
            Val::F64(v) => write!(f, "{} : f64", f64::from_bits(*v)),
            Val::FuncRef(None) => write!(f, "null : funcref"),
            Val::FuncRef(Some(func)) => write!(f, "{func:?} : funcref"),
            Val::ExternRef(None) => write!(f, "null : externref"),
            Val::ExternRef(Some(r)) => write!(f, "{} : externref", r.0),
        }
    }
}

macro_rules! from_number {
    ($($t:ty => $variant:ident),*) => {$(
        impl From<$t> for Val {
            fn from(v: $t) -> Val {
                Val::$variant(v)
            }
        }
    )*};
}
from_number!(i32 => I32, i64 => I64);

impl From<f32> for Val {
    fn from(v: f32) -> Val {
        Val::F32(v.to_bits())
    }
}

impl From<f64> for Val {
    fn from(v: f64) -> Val {
        Val::F64(v.to_bits())
    }
}
