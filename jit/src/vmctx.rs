//! The vmctx layout shared by the compiler and the runtime.
//!
//! Compiled code reaches everything instance-specific through the vmctx
//! pointer (its first argument), never through an address baked into the
//! code: that is what lets every instance run the same bytes.

use crate::module_info::ModuleInfo;

/// Byte offsets of the fixed vmctx header fields.
pub mod header {
    /// `*const ()`: the runtime's instance, for builtins.
    pub const INSTANCE: i32 = 0;
    /// `*const Builtins`: the table of runtime functions JIT code may call.
    pub const BUILTINS: i32 = 8;
    /// `*const VMLimits`: the running thread's limits (stack limit first).
    pub const LIMITS: i32 = 16;
    /// `*const u32`: engine-wide signature ids of the module's types.
    pub const TYPE_IDS: i32 = 24;
    /// Size of the header; the per-entity arrays follow (the debug table,
    /// where there is one, follows them all: see `debug_table.rs`).
    pub const SIZE: u32 = 32;
}

/// Offset of the stack limit inside `VMLimits`.
pub const LIMITS_STACK_LIMIT: i32 = 0;

/// Offset inside `VMLimits` of the address of the thread's probe page, which
/// [`crate::Interrupts::Probe`] checks read: readable, PROT_NONE while the
/// thread's running call is interrupted. Fixed for the thread's life.
pub const LIMITS_PROBE_PAGE: i32 = 8;

/// Offset inside `VMLimits` of the `u32` interrupt flag that
/// [`crate::Interrupts::Flag`] checks test: non-zero once the thread's
/// running call is interrupted.
pub const LIMITS_INTERRUPT: i32 = 16;

/// Layout of a `VMFuncRef` (what a funcref value points at).
pub mod funcref {
    /// `*const u8`: machine code with the wasm calling convention.
    pub const CODE: i32 = 0;
    /// `*mut u8`: the vmctx to pass as the callee's first argument.
    pub const VMCTX: i32 = 8;
    /// `u32`: engine-wide signature id, checked by `call_indirect`.
    pub const TYPE_ID: i32 = 16;
    /// Size of one `VMFuncRef`.
    pub const SIZE: u32 = 24;
}

/// Layout of a `VMMemoryDef` (base never moves: memories reserve their maximum).
pub mod memory {
    /// `*mut u8`: start of linear memory.
    pub const BASE: i32 = 0;
    /// `u64`: current length in bytes.
    pub const LENGTH: i32 = 8;
}

/// Layout of a `VMTableDef`: elements are 8-byte raw references.
pub mod table {
    /// `*mut u64`: first element.
    pub const BASE: i32 = 0;
    /// `u32`: current number of elements.
    pub const LENGTH: i32 = 8;
}

/// Where each per-entity pointer array sits in one module's vmctx.
///
/// Every slot is a pointer (8 bytes): memories and tables point at their
/// `VM*Def`, globals at 16 bytes of storage, functions at a `VMFuncRef`.
/// Imported and defined entities share one index space each, as in wasm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmctxLayout {
    /// Offset of `memories[0]`.
    pub memories: u32,
    /// Offset of `tables[0]`.
    pub tables: u32,
    /// Offset of `globals[0]`.
    pub globals: u32,
    /// Offset of `funcs[0]`.
    pub funcs: u32,
    /// Total size in bytes.
    pub size: u32,
}

impl VmctxLayout {
    /// Lay out the vmctx for `info`.
    pub fn new(info: &ModuleInfo) -> Self {
        let memories = header::SIZE;
        let tables = memories + 8 * info.memories.len() as u32;
        let globals = tables + 8 * info.tables.len() as u32;
        let funcs = globals + 8 * info.globals.len() as u32;
        let size = funcs + 8 * info.funcs.len() as u32;
        VmctxLayout { memories, tables, globals, funcs, size }
    }

    /// Offset of the pointer to memory `index`'s `VMMemoryDef`.
    pub fn memory(&self, index: u32) -> i32 {
        (self.memories + 8 * index) as i32
    }

    /// Offset of the pointer to table `index`'s `VMTableDef`.
    pub fn table(&self, index: u32) -> i32 {
        (self.tables + 8 * index) as i32
    }

    /// Offset of the pointer to global `index`'s storage.
    pub fn global(&self, index: u32) -> i32 {
        (self.globals + 8 * index) as i32
    }

    /// Offset of the pointer to function `index`'s `VMFuncRef`.
    pub fn func(&self, index: u32) -> i32 {
        (self.funcs + 8 * index) as i32
    }
}

/// Indices into the builtins table (`*const Builtins` in the header): runtime
/// functions JIT code calls with the platform C convention, vmctx first.
///
/// Every integer argument is an `i32` (addresses, indices, lengths; wasm32
/// only) except references, which are `i64`. Functions returning a status
/// return 0 on success and non-zero when the operation must trap; the caller
/// emits the trap so it carries the site.
#[allow(missing_docs)]
pub mod builtin {
    /// `(vmctx, mem, delta_pages) -> i32` old size in pages or -1.
    pub const MEMORY_GROW: u32 = 0;
    /// `(vmctx, mem, dst, val, len) -> i32` status.
    pub const MEMORY_FILL: u32 = 1;
    /// `(vmctx, dst_mem, src_mem, dst, src, len) -> i32` status.
    pub const MEMORY_COPY: u32 = 2;
    /// `(vmctx, mem, data, dst, src, len) -> i32` status.
    pub const MEMORY_INIT: u32 = 3;
    /// `(vmctx, data)`.
    pub const DATA_DROP: u32 = 4;
    /// `(vmctx, table, init: i64, delta: i32) -> i32` old size or -1.
    pub const TABLE_GROW: u32 = 5;
    /// `(vmctx, table, dst: i32, val: i64, len: i32) -> i32` status.
    pub const TABLE_FILL: u32 = 6;
    /// `(vmctx, dst_table, src_table, dst: i32, src: i32, len: i32) -> i32` status.
    pub const TABLE_COPY: u32 = 7;
    /// `(vmctx, table, elem, dst: i32, src: i32, len: i32) -> i32` status.
    pub const TABLE_INIT: u32 = 8;
    /// `(vmctx, elem)`.
    pub const ELEM_DROP: u32 = 9;
    /// `(vmctx, func, site, frame: *mut u64, fp) -> i32` status (non-zero:
    /// abort with a trap). `site` counts the function's breakable points
    /// from 0; `frame` holds the wasm locals then the operand stack, 8 bytes
    /// each; `fp` is the stopped function's frame pointer (for backtraces
    /// and stepping over or out).
    pub const DEBUG_BREAK: u32 = 10;
    /// Number of builtins.
    pub const COUNT: u32 = 11;
}
