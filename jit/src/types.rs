//! Value and function types as the compiler and the embedding API see them.

use std::fmt;

/// A wasm value type supported by onecopy (Wasm 2.0 without SIMD).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ValType {
    /// 32-bit integer.
    I32,
    /// 64-bit integer.
    I64,
    /// 32-bit IEEE float.
    F32,
    /// 64-bit IEEE float.
    F64,
    /// Nullable reference to a function.
    FuncRef,
    /// Nullable opaque host reference.
    ExternRef,
}

impl ValType {
    /// Convert from wasmparser, naming the feature when it is unsupported.
    pub fn from_wasmparser(ty: wasmparser::ValType) -> Result<ValType, String> {
        use wasmparser::ValType as W;
        Ok(match ty {
            W::I32 => ValType::I32,
            W::I64 => ValType::I64,
            W::F32 => ValType::F32,
            W::F64 => ValType::F64,
            W::V128 => return Err("SIMD (v128) is not supported".into()),
            W::Ref(r) => ValType::from_ref_type(r)?,
        })
    }

    /// Convert a wasmparser reference type (only `funcref` and `externref`).
    pub fn from_ref_type(r: wasmparser::RefType) -> Result<ValType, String> {
        if r == wasmparser::RefType::FUNCREF {
            Ok(ValType::FuncRef)
        } else if r == wasmparser::RefType::EXTERNREF {
            Ok(ValType::ExternRef)
        } else {
            Err(format!("reference type {r} (GC / typed function references) is not supported"))
        }
    }

    /// Whether this is a reference type.
    pub fn is_ref(self) -> bool {
        matches!(self, ValType::FuncRef | ValType::ExternRef)
    }
}

impl fmt::Display for ValType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ValType::I32 => "i32",
            ValType::I64 => "i64",
            ValType::F32 => "f32",
            ValType::F64 => "f64",
            ValType::FuncRef => "funcref",
            ValType::ExternRef => "externref",
        })
    }
}

/// A function signature.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct FuncType {
    /// Parameter types, in order.
    pub params: Vec<ValType>,
    /// Result types, in order.
    pub results: Vec<ValType>,
}

impl FuncType {
    /// Build a signature from parameter and result types.
    pub fn new(params: impl IntoIterator<Item = ValType>, results: impl IntoIterator<Item = ValType>) -> Self {
        FuncType { params: params.into_iter().collect(), results: results.into_iter().collect() }
    }
}

impl fmt::Display for FuncType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |v: &[ValType]| v.iter().map(|t| t.to_string()).collect::<Vec<_>>().join(" ");
        write!(f, "(func (param {}) (result {}))", list(&self.params), list(&self.results))
    }
}

/// Limits and element type of a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableType {
    /// `FuncRef` or `ExternRef`.
    pub element: ValType,
    /// Initial size in elements.
    pub min: u32,
    /// Maximum size in elements, if bounded.
    pub max: Option<u32>,
}

/// Limits of a linear memory, in 64 KiB pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryType {
    /// Initial size in pages.
    pub min: u64,
    /// Maximum size in pages, if bounded.
    pub max: Option<u64>,
}

/// Type and mutability of a global.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GlobalType {
    /// Value type.
    pub content: ValType,
    /// Whether `global.set` may change it.
    pub mutable: bool,
}
