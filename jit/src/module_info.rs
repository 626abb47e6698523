//! What the runtime needs to know about a module besides its code:
//! imports, exports, types, memories, tables, globals and segments.

use std::collections::HashMap;
use std::ops::Range;

use wasmparser::{Operator, Parser, Payload, TypeRef};

use crate::types::{FuncType, GlobalType, MemoryType, TableType, ValType};
use crate::CompileError;

/// A constant expression (initializers of globals, offsets, elements).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ConstExpr {
    /// `i32.const`.
    I32(i32),
    /// `i64.const`.
    I64(i64),
    /// `f32.const`, as bits.
    F32(u32),
    /// `f64.const`, as bits.
    F64(u64),
    /// `ref.null` of either reference type.
    RefNull,
    /// `ref.func`.
    RefFunc(u32),
    /// `global.get` of an (imported, immutable) global.
    GlobalGet(u32),
}

/// Which kind of entity an import or export names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntityKind {
    /// A function.
    Func,
    /// A table.
    Table,
    /// A linear memory.
    Memory,
    /// A global.
    Global,
}

/// One import, with the index it takes in its kind's index space.
#[derive(Debug, Clone)]
pub struct Import {
    /// Module name.
    pub module: String,
    /// Field name.
    pub name: String,
    /// Kind of entity.
    pub kind: EntityKind,
    /// Index in that kind's index space.
    pub index: u32,
}

/// One export.
#[derive(Debug, Clone)]
pub struct Export {
    /// Exported name.
    pub name: String,
    /// Kind of entity.
    pub kind: EntityKind,
    /// Index in that kind's index space.
    pub index: u32,
}

/// Where an element or data segment goes.
#[derive(Debug, Clone, PartialEq)]
pub enum SegmentMode {
    /// Copied at instantiation into `index` at `offset`, then dropped.
    Active {
        /// Table or memory index.
        index: u32,
        /// Start offset.
        offset: ConstExpr,
    },
    /// Used by `table.init` / `memory.init`.
    Passive,
    /// Only declares functions for `ref.func`; dropped at once.
    Declared,
}

/// An element segment.
#[derive(Debug, Clone)]
pub struct ElementSegment {
    /// Where it goes.
    pub mode: SegmentMode,
    /// Element type.
    pub ty: ValType,
    /// One constant expression per element.
    pub items: Vec<ConstExpr>,
}

/// A data segment.
#[derive(Debug, Clone)]
pub struct DataSegment {
    /// Where it goes.
    pub mode: SegmentMode,
    /// The bytes.
    pub bytes: Vec<u8>,
}

/// A module's declarations, in wasm index spaces (imports first).
#[derive(Debug, Clone, Default)]
pub struct ModuleInfo {
    /// The type section.
    pub types: Vec<FuncType>,
    /// Type index of every function.
    pub funcs: Vec<u32>,
    /// How many of `funcs` are imported.
    pub imported_funcs: u32,
    /// Every table.
    pub tables: Vec<TableType>,
    /// How many of `tables` are imported.
    pub imported_tables: u32,
    /// Every memory.
    pub memories: Vec<MemoryType>,
    /// How many of `memories` are imported.
    pub imported_memories: u32,
    /// Every global's type.
    pub globals: Vec<GlobalType>,
    /// Initializers of defined globals (index - imported_globals).
    pub global_inits: Vec<ConstExpr>,
    /// How many of `globals` are imported.
    pub imported_globals: u32,
    /// Imports, in order.
    pub imports: Vec<Import>,
    /// Exports, in order.
    pub exports: Vec<Export>,
    /// The start function.
    pub start: Option<u32>,
    /// Element segments.
    pub elements: Vec<ElementSegment>,
    /// Data segments.
    pub data: Vec<DataSegment>,
    /// Names from the name section.
    pub func_names: HashMap<u32, String>,
    /// Byte range of each defined function's body in the module binary.
    pub bodies: Vec<Range<usize>>,
    /// Byte range of the code section's contents.
    pub code_section: Range<usize>,
}

impl ModuleInfo {
    /// Signature of function `index`.
    pub fn func_type(&self, index: u32) -> &FuncType {
        &self.types[self.funcs[index as usize] as usize]
    }

    /// Number of functions defined (not imported) by the module.
    pub fn defined_funcs(&self) -> u32 {
        self.funcs.len() as u32 - self.imported_funcs
    }

    /// Look an export up by name.
    pub fn export(&self, name: &str) -> Option<&Export> {
        self.exports.iter().find(|e| e.name == name)
    }

    /// A readable name for function `index`: its export or name-section name.
    pub fn func_name(&self, index: u32) -> Option<&str> {
        self.exports
            .iter()
            .find(|e| e.kind == EntityKind::Func && e.index == index)
            .map(|e| e.name.as_str())
            .or_else(|| self.func_names.get(&index).map(String::as_str))
    }
}

fn err(offset: usize, message: impl Into<String>) -> CompileError {
    CompileError::Unsupported { offset, message: message.into() }
}

fn val(ty: wasmparser::ValType, offset: usize) -> Result<ValType, CompileError> {
    ValType::from_wasmparser(ty).map_err(|m| err(offset, m))
}

fn func_type(ty: &wasmparser::FuncType, offset: usize) -> Result<FuncType, CompileError> {
    let params = ty.params().iter().map(|t| val(*t, offset)).collect::<Result<_, _>>()?;
    let results = ty.results().iter().map(|t| val(*t, offset)).collect::<Result<_, _>>()?;
    Ok(FuncType { params, results })
}

fn table_type(ty: &wasmparser::TableType, offset: usize) -> Result<TableType, CompileError> {
    if ty.table64 || ty.shared {
        return Err(err(offset, "64-bit or shared tables are not supported"));
    }
    let element = ValType::from_ref_type(ty.element_type).map_err(|m| err(offset, m))?;
    Ok(TableType { element, min: ty.initial as u32, max: ty.maximum.map(|m| m as u32) })
}

fn memory_type(ty: &wasmparser::MemoryType, offset: usize) -> Result<MemoryType, CompileError> {
    if ty.memory64 || ty.shared || ty.page_size_log2.is_some() {
        return Err(err(offset, "memory64, shared memories and custom page sizes are not supported"));
    }
    Ok(MemoryType { min: ty.initial, max: ty.maximum })
}

fn global_type(ty: &wasmparser::GlobalType, offset: usize) -> Result<GlobalType, CompileError> {
    if ty.shared {
        return Err(err(offset, "shared globals are not supported"));
    }
    Ok(GlobalType { content: val(ty.content_type, offset)?, mutable: ty.mutable })
}

/// Read a constant expression (one value-producing operator, then `end`).
pub fn const_expr(expr: &wasmparser::ConstExpr<'_>) -> Result<ConstExpr, CompileError> {
    let mut reader = expr.get_operators_reader();
    let offset = reader.original_position() as usize;
    let value = match reader.read().map_err(CompileError::from)? {
        Operator::I32Const { value } => ConstExpr::I32(value),
        Operator::I64Const { value } => ConstExpr::I64(value),
        Operator::F32Const { value } => ConstExpr::F32(value.bits()),
        Operator::F64Const { value } => ConstExpr::F64(value.bits()),
        Operator::RefNull { .. } => ConstExpr::RefNull,
        Operator::RefFunc { function_index } => ConstExpr::RefFunc(function_index),
        Operator::GlobalGet { global_index } => ConstExpr::GlobalGet(global_index),
        other => return Err(err(offset, format!("constant expression {other:?} (extended-const) is not supported"))),
    };
    match reader.read().map_err(CompileError::from)? {
        Operator::End => Ok(value),
        _ => Err(err(offset, "constant expressions with more than one operator (extended-const) are not supported")),
    }
}

/// Parse a validated module's declarations.
pub fn parse(wasm: &[u8]) -> Result<ModuleInfo, CompileError> {
    let mut info = ModuleInfo::default();
    for payload in Parser::new(0).parse_all(wasm) {
        match payload? {
            Payload::TypeSection(reader) => {
                for ty in reader.into_iter_err_on_gc_types() {
                    info.types.push(func_type(&ty?, 0)?);
                }
            }
            Payload::ImportSection(reader) => {
                for import in reader.into_imports() {
                    read_import(&mut info, import?)?;
                }
            }
            Payload::FunctionSection(reader) => {
                for ty in reader {
                    info.funcs.push(ty?);
                }
            }
            Payload::TableSection(reader) => {
                for table in reader {
                    let table = table?;
                    info.tables.push(table_type(&table.ty, 0)?);
                    if let wasmparser::TableInit::Expr(_) = table.init {
                        return Err(err(0, "table initializer expressions (function references) are not supported"));
                    }
                }
            }
            Payload::MemorySection(reader) => {
                for memory in reader {
                    info.memories.push(memory_type(&memory?, 0)?);
                }
            }
            Payload::GlobalSection(reader) => {
                for global in reader {
                    let global = global?;
                    info.globals.push(global_type(&global.ty, 0)?);
                    info.global_inits.push(const_expr(&global.init_expr)?);
                }
            }
            Payload::ExportSection(reader) => {
                for export in reader {
                    let export = export?;
                    let kind = entity_kind(export.kind).ok_or_else(|| err(0, "tag exports (exceptions) are not supported"))?;
                    info.exports.push(Export { name: export.name.to_string(), kind, index: export.index });
                }
            }
            Payload::StartSection { func, .. } => info.start = Some(func),
            Payload::ElementSection(reader) => {
                for element in reader {
                    info.elements.push(read_element(element?)?);
                }
            }
            Payload::DataSection(reader) => {
                for data in reader {
                    let data = data?;
                    let mode = match data.kind {
                        wasmparser::DataKind::Passive => SegmentMode::Passive,
                        wasmparser::DataKind::Active { memory_index, offset_expr } => {
                            SegmentMode::Active { index: memory_index, offset: const_expr(&offset_expr)? }
                        }
                    };
                    info.data.push(DataSegment { mode, bytes: data.data.to_vec() });
                }
            }
            Payload::CodeSectionStart { unchecked_range: range, .. } => {
                info.code_section = range.start as usize..range.end as usize;
            }
            Payload::CodeSectionEntry(body) => {
                let range = body.range();
                info.bodies.push(range.start as usize..range.end as usize);
            }
            Payload::CustomSection(section) => read_names(&mut info, &section),
            _ => {}
        }
    }
    Ok(info)
}

fn entity_kind(kind: wasmparser::ExternalKind) -> Option<EntityKind> {
    use wasmparser::ExternalKind as K;
    match kind {
        K::Func | K::FuncExact => Some(EntityKind::Func),
        K::Table => Some(EntityKind::Table),
        K::Memory => Some(EntityKind::Memory),
        K::Global => Some(EntityKind::Global),
        K::Tag => None,
    }
}

fn read_import(info: &mut ModuleInfo, import: wasmparser::Import<'_>) -> Result<(), CompileError> {
    let (kind, index) = match import.ty {
        TypeRef::Func(ty) | TypeRef::FuncExact(ty) => {
            info.funcs.push(ty);
            info.imported_funcs += 1;
            (EntityKind::Func, info.funcs.len() - 1)
        }
        TypeRef::Table(ty) => {
            info.tables.push(table_type(&ty, 0)?);
            info.imported_tables += 1;
            (EntityKind::Table, info.tables.len() - 1)
        }
        TypeRef::Memory(ty) => {
            info.memories.push(memory_type(&ty, 0)?);
            info.imported_memories += 1;
            (EntityKind::Memory, info.memories.len() - 1)
        }
        TypeRef::Global(ty) => {
            info.globals.push(global_type(&ty, 0)?);
            info.imported_globals += 1;
            (EntityKind::Global, info.globals.len() - 1)
        }
        TypeRef::Tag(_) => return Err(err(0, "tag imports (exceptions) are not supported")),
    };
    info.imports.push(Import { module: import.module.to_string(), name: import.name.to_string(), kind, index: index as u32 });
    Ok(())
}

fn read_element(element: wasmparser::Element<'_>) -> Result<ElementSegment, CompileError> {
    let mode = match element.kind {
        wasmparser::ElementKind::Passive => SegmentMode::Passive,
        wasmparser::ElementKind::Declared => SegmentMode::Declared,
        wasmparser::ElementKind::Active { table_index, offset_expr } => {
            SegmentMode::Active { index: table_index.unwrap_or(0), offset: const_expr(&offset_expr)? }
        }
    };
    let (ty, items) = match element.items {
        wasmparser::ElementItems::Functions(funcs) => {
            let items = funcs.into_iter().map(|f| f.map(ConstExpr::RefFunc)).collect::<Result<_, _>>()?;
            (ValType::FuncRef, items)
        }
        wasmparser::ElementItems::Expressions(ty, exprs) => {
            let ty = ValType::from_ref_type(ty).map_err(|m| err(0, m))?;
            let items = exprs.into_iter().map(|e| const_expr(&e?)).collect::<Result<_, _>>()?;
            (ty, items)
        }
    };
    Ok(ElementSegment { mode, ty, items })
}

fn read_names(info: &mut ModuleInfo, section: &wasmparser::CustomSectionReader<'_>) {
    let wasmparser::KnownCustom::Name(reader) = section.as_known() else { return };
    // A malformed name section is not an error in wasm: names are advisory.
    for name in reader.into_iter().flatten() {
        if let wasmparser::Name::Function(map) = name {
            for naming in map.into_iter().flatten() {
                info.func_names.insert(naming.index, naming.name.to_string());
            }
        }
    }
}
