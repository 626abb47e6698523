//! Runtime functions compiled code calls through the vmctx's builtins table
//! (indices in `onecopy_jit::vmctx::builtin`). Each receives the caller's
//! vmctx first; operations that can fail return a status the code traps on.

use onecopy_jit::vmctx::builtin;
use onecopy_jit::TrapKind;

use crate::instance::InstanceInner;

type Status = Result<(), TrapKind>;

fn status(r: Status) -> u32 {
    r.is_err() as u32
}

/// `start..start+len` if it lies within `size`.
fn range(start: u32, len: u32, size: usize) -> Option<std::ops::Range<usize>> {
    let end = (start as usize).checked_add(len as usize)?;
    (end <= size).then_some(start as usize..end)
}

fn instance<'a>(vmctx: *mut u8) -> &'a InstanceInner {
    // SAFETY: compiled code passes its own vmctx.
    unsafe { InstanceInner::from_vmctx(vmctx) }
}

unsafe extern "C" fn memory_grow(vmctx: *mut u8, mem: u32, delta: u32) -> i32 {
    match instance(vmctx).memories[mem as usize].grow(delta as u64) {
        Ok(Some(old)) => old as i32,
        _ => -1,
    }
}

unsafe extern "C" fn memory_fill(vmctx: *mut u8, mem: u32, dst: u32, val: u32, len: u32) -> u32 {
    let memory = &instance(vmctx).memories[mem as usize];
    // SAFETY: the calling wasm is suspended in this builtin.
    let data = unsafe { memory.data() };
    status(range(dst, len, data.len()).map(|r| data[r].fill(val as u8)).ok_or(TrapKind::MemoryOutOfBounds))
}

unsafe extern "C" fn memory_copy(vmctx: *mut u8, dst_mem: u32, src_mem: u32, dst: u32, src: u32, len: u32) -> u32 {
    let inner = instance(vmctx);
    // SAFETY: the calling wasm is suspended; the two slices may alias, so
    // copy through raw pointers (memmove semantics).
    let (d, s) = unsafe { (inner.memories[dst_mem as usize].data(), inner.memories[src_mem as usize].data()) };
    let (Some(dr), Some(sr)) = (range(dst, len, d.len()), range(src, len, s.len())) else {
        return status(Err(TrapKind::MemoryOutOfBounds));
    };
    unsafe { std::ptr::copy(s.as_ptr().add(sr.start), d.as_mut_ptr().add(dr.start), len as usize) };
    0
}

/// `memory.init`: also used for active data segments at instantiation.
pub(crate) fn memory_init(inner: &InstanceInner, mem: u32, data: u32, dst: u32, src: u32, len: u32) -> Status {
    let segment = &inner.module.info().data[data as usize].bytes;
    let segment: &[u8] = if inner.dropped_data.borrow()[data as usize] { &[] } else { segment };
    // SAFETY: no wasm runs on this thread while the slice lives.
    let memory = unsafe { inner.memories[mem as usize].data() };
    let (Some(dr), Some(sr)) = (range(dst, len, memory.len()), range(src, len, segment.len())) else {
        return Err(TrapKind::MemoryOutOfBounds);
    };
    memory[dr].copy_from_slice(&segment[sr]);
    Ok(())
}

unsafe extern "C" fn memory_init_builtin(vmctx: *mut u8, mem: u32, data: u32, dst: u32, src: u32, len: u32) -> u32 {
    status(memory_init(instance(vmctx), mem, data, dst, src, len))
}

unsafe extern "C" fn data_drop(vmctx: *mut u8, data: u32) {
    instance(vmctx).dropped_data.borrow_mut()[data as usize] = true;
}

unsafe extern "C" fn table_grow(vmctx: *mut u8, table: u32, init: u64, delta: u32) -> i32 {
    instance(vmctx).tables[table as usize].grow_raw(delta, init).map_or(-1, |old| old as i32)
}

unsafe extern "C" fn table_fill(vmctx: *mut u8, table: u32, dst: u32, val: u64, len: u32) -> u32 {
    let mut cells = instance(vmctx).tables[table as usize].cells();
    let size = cells.len();
    status(range(dst, len, size).map(|r| cells[r].fill(val)).ok_or(TrapKind::TableOutOfBounds))
}

unsafe extern "C" fn table_copy(vmctx: *mut u8, dst_t: u32, src_t: u32, dst: u32, src: u32, len: u32) -> u32 {
    let inner = instance(vmctx);
    let (dt, st) = (&inner.tables[dst_t as usize], &inner.tables[src_t as usize]);
    let result = if crate::Table::same(dt, st) {
        let mut cells = dt.cells();
        match (range(dst, len, cells.len()), range(src, len, cells.len())) {
            (Some(dr), Some(sr)) => {
                cells.copy_within(sr, dr.start);
                Ok(())
            }
            _ => Err(TrapKind::TableOutOfBounds),
        }
    } else {
        let (mut d, s) = (dt.cells(), st.cells());
        match (range(dst, len, d.len()), range(src, len, s.len())) {
            (Some(dr), Some(sr)) => {
                d[dr].copy_from_slice(&s[sr]);
                Ok(())
            }
            _ => Err(TrapKind::TableOutOfBounds),
        }
    };
    status(result)
}

/// `table.init`: also used for active element segments at instantiation.
pub(crate) fn table_init(inner: &InstanceInner, table: u32, elem: u32, dst: u32, src: u32, len: u32) -> Status {
    let items = &inner.module.info().elements[elem as usize].items;
    let items: &[_] = if inner.dropped_elems.borrow()[elem as usize] { &[] } else { items };
    let raws: Vec<u64> = match range(src, len, items.len()) {
        Some(r) => items[r].iter().map(|e| inner.const_raw(e)).collect(),
        None => return Err(TrapKind::TableOutOfBounds),
    };
    let mut cells = inner.tables[table as usize].cells();
    let dr = range(dst, len, cells.len()).ok_or(TrapKind::TableOutOfBounds)?;
    cells[dr].copy_from_slice(&raws);
    Ok(())
}

unsafe extern "C" fn table_init_builtin(vmctx: *mut u8, table: u32, elem: u32, dst: u32, src: u32, len: u32) -> u32 {
    status(table_init(instance(vmctx), table, elem, dst, src, len))
}

unsafe extern "C" fn elem_drop(vmctx: *mut u8, elem: u32) {
    instance(vmctx).dropped_elems.borrow_mut()[elem as usize] = true;
}

/// Legacy debug code's break stub lands here (guarded code stops through
/// its trap tail instead; see `debug_stop.rs`).
unsafe extern "C" fn debug_break(vmctx: *mut u8, func: u32, site: u32, _frame: *mut u64, fp: usize) -> u32 {
    let inner = instance(vmctx);
    let compiled = inner.module.compiled();
    let id = compiled.site_base[(func - compiled.info.imported_funcs) as usize] + site;
    inner.debug.on_stop(inner, id, crate::debug::StopFrame::Legacy(fp)) as u32
}

/// The builtins table, one typed field per `builtin::*` index.
#[repr(C)]
struct Builtins {
    memory_grow: unsafe extern "C" fn(*mut u8, u32, u32) -> i32,
    memory_fill: unsafe extern "C" fn(*mut u8, u32, u32, u32, u32) -> u32,
    memory_copy: unsafe extern "C" fn(*mut u8, u32, u32, u32, u32, u32) -> u32,
    memory_init: unsafe extern "C" fn(*mut u8, u32, u32, u32, u32, u32) -> u32,
    data_drop: unsafe extern "C" fn(*mut u8, u32),
    table_grow: unsafe extern "C" fn(*mut u8, u32, u64, u32) -> i32,
    table_fill: unsafe extern "C" fn(*mut u8, u32, u32, u64, u32) -> u32,
    table_copy: unsafe extern "C" fn(*mut u8, u32, u32, u32, u32, u32) -> u32,
    table_init: unsafe extern "C" fn(*mut u8, u32, u32, u32, u32, u32) -> u32,
    elem_drop: unsafe extern "C" fn(*mut u8, u32),
    debug_break: unsafe extern "C" fn(*mut u8, u32, u32, *mut u64, usize) -> u32,
}

const _: () = {
    use std::mem::offset_of;
    assert!(offset_of!(Builtins, memory_grow) == 8 * builtin::MEMORY_GROW as usize);
    assert!(offset_of!(Builtins, memory_fill) == 8 * builtin::MEMORY_FILL as usize);
    assert!(offset_of!(Builtins, memory_copy) == 8 * builtin::MEMORY_COPY as usize);
    assert!(offset_of!(Builtins, memory_init) == 8 * builtin::MEMORY_INIT as usize);
    assert!(offset_of!(Builtins, data_drop) == 8 * builtin::DATA_DROP as usize);
    assert!(offset_of!(Builtins, table_grow) == 8 * builtin::TABLE_GROW as usize);
    assert!(offset_of!(Builtins, table_fill) == 8 * builtin::TABLE_FILL as usize);
    assert!(offset_of!(Builtins, table_copy) == 8 * builtin::TABLE_COPY as usize);
    assert!(offset_of!(Builtins, table_init) == 8 * builtin::TABLE_INIT as usize);
    assert!(offset_of!(Builtins, elem_drop) == 8 * builtin::ELEM_DROP as usize);
    assert!(offset_of!(Builtins, debug_break) == 8 * builtin::DEBUG_BREAK as usize);
    assert!(std::mem::size_of::<Builtins>() == 8 * builtin::COUNT as usize);
};

static BUILTINS: Builtins = Builtins {
    memory_grow,
    memory_fill,
    memory_copy,
    memory_init: memory_init_builtin,
    data_drop,
    table_grow,
    table_fill,
    table_copy,
    table_init: table_init_builtin,
    elem_drop,
    debug_break,
};

/// The table every vmctx points at.
pub(crate) fn table() -> *const u8 {
    &BUILTINS as *const Builtins as *const u8
}
