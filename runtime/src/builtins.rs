//! Runtime functions compiled code calls through the vmctx's builtins table
//! (indices in `onecopy_jit::vmctx::builtin`). Each receives the caller's
//! vmctx first; operations that can fail return a status the code traps on.

use onecopy_jit::vmctx::builtin;
use onecopy_jit::TrapKind;

use crate::instance::InstanceData;
use crate::store::StoreOpaque;

type Status = Result<(), TrapKind>;

fn status(r: Status) -> u32 {
    r.is_err() as u32
}

/// `start..start+len` if it lies within `size`.
fn range(start: u32, len: u32, size: usize) -> Option<std::ops::Range<usize>> {
    let end = (start as usize).checked_add(len as usize)?;
    (end <= size).then_some(start as usize..end)
}

/// The store and instance index of the calling code.
fn context<'a>(vmctx: *mut u8) -> (&'a mut StoreOpaque, u32) {
    // SAFETY: compiled code passes its own vmctx, of a live instance; the
    // calling wasm is suspended in this builtin and no reference into the
    // store lives across calls into wasm (the store's aliasing rule), so
    // this is the only one.
    unsafe {
        let (store, index) = InstanceData::from_vmctx(vmctx);
        (&mut *store, index)
    }
}

/// Store index of memory `mem` of instance `instance`.
fn memory_index(store: &StoreOpaque, instance: u32, mem: u32) -> usize {
    store.instances[instance as usize].memories[mem as usize] as usize
}

/// Store index of table `table` of instance `instance`.
fn table_index(store: &StoreOpaque, instance: u32, table: u32) -> usize {
    store.instances[instance as usize].tables[table as usize] as usize
}

unsafe extern "C" fn memory_grow(vmctx: *mut u8, mem: u32, delta: u32) -> i32 {
    let (store, instance) = context(vmctx);
    let index = memory_index(store, instance, mem);
    store.grow_memory(index, delta as u64).map_or(-1, |old| old as i32)
}

unsafe extern "C" fn memory_fill(vmctx: *mut u8, mem: u32, dst: u32, val: u32, len: u32) -> u32 {
    let (store, instance) = context(vmctx);
    let memory = &store.memories[memory_index(store, instance, mem)];
    let Some(r) = range(dst, len, memory.len()) else { return status(Err(TrapKind::MemoryOutOfBounds)) };
    // SAFETY: the range lies within the memory's accessible bytes.
    unsafe { memory.base().add(r.start).write_bytes(val as u8, r.len()) };
    0
}

/// `memory.copy` between two memories of a store, which may be the same
/// memory (then the ranges may overlap): memmove through raw pointers, so
/// no two references to one memory ever exist.
pub(crate) fn memory_copy_in(store: &StoreOpaque, dst_mem: usize, src_mem: usize, dst: u32, src: u32, len: u32) -> Status {
    let (d, s) = (&store.memories[dst_mem], &store.memories[src_mem]);
    let (Some(dr), Some(sr)) = (range(dst, len, d.len()), range(src, len, s.len())) else {
        return Err(TrapKind::MemoryOutOfBounds);
    };
    // SAFETY: both ranges lie within their memories' accessible bytes;
    // `ptr::copy` allows them to overlap.
    unsafe { std::ptr::copy(s.base().add(sr.start), d.base().add(dr.start), len as usize) };
    Ok(())
}

unsafe extern "C" fn memory_copy(vmctx: *mut u8, dst_mem: u32, src_mem: u32, dst: u32, src: u32, len: u32) -> u32 {
    let (store, instance) = context(vmctx);
    let (d, s) = (memory_index(store, instance, dst_mem), memory_index(store, instance, src_mem));
    status(memory_copy_in(store, d, s, dst, src, len))
}

/// `memory.init`: also used for active data segments at instantiation.
pub(crate) fn memory_init(store: &mut StoreOpaque, instance: u32, mem: u32, data: u32, dst: u32, src: u32, len: u32) -> Status {
    let inner = &store.instances[instance as usize];
    let segment: &[u8] = if inner.dropped_data[data as usize] { &[] } else { &inner.module.info().data[data as usize].bytes };
    let memory = &store.memories[memory_index(store, instance, mem)];
    let (Some(dr), Some(sr)) = (range(dst, len, memory.len()), range(src, len, segment.len())) else {
        return Err(TrapKind::MemoryOutOfBounds);
    };
    // SAFETY: the destination lies within the memory's accessible bytes;
    // the segment is the module's, never linear memory.
    unsafe { std::ptr::copy_nonoverlapping(segment[sr].as_ptr(), memory.base().add(dr.start), dr.len()) };
    Ok(())
}

unsafe extern "C" fn memory_init_builtin(vmctx: *mut u8, mem: u32, data: u32, dst: u32, src: u32, len: u32) -> u32 {
    let (store, instance) = context(vmctx);
    status(memory_init(store, instance, mem, data, dst, src, len))
}

unsafe extern "C" fn data_drop(vmctx: *mut u8, data: u32) {
    let (store, instance) = context(vmctx);
    store.instances[instance as usize].dropped_data[data as usize] = true;
}

unsafe extern "C" fn table_grow(vmctx: *mut u8, table: u32, init: u64, delta: u32) -> i32 {
    let (store, instance) = context(vmctx);
    let index = table_index(store, instance, table);
    store.grow_table(index, delta, init).map_or(-1, |old| old as i32)
}

unsafe extern "C" fn table_fill(vmctx: *mut u8, table: u32, dst: u32, val: u64, len: u32) -> u32 {
    let (store, instance) = context(vmctx);
    let cells = store.tables[table_index(store, instance, table)].cells();
    status(range(dst, len, cells.len()).map(|r| cells[r].iter().for_each(|c| c.set(val))).ok_or(TrapKind::TableOutOfBounds))
}

unsafe extern "C" fn table_copy(vmctx: *mut u8, dst_t: u32, src_t: u32, dst: u32, src: u32, len: u32) -> u32 {
    let (store, instance) = context(vmctx);
    let d = store.tables[table_index(store, instance, dst_t)].cells();
    let s = store.tables[table_index(store, instance, src_t)].cells();
    let (Some(dr), Some(sr)) = (range(dst, len, d.len()), range(src, len, s.len())) else {
        return status(Err(TrapKind::TableOutOfBounds));
    };
    // Cells, not slices: the two tables may be one, the ranges overlapping.
    let pairs = dr.zip(sr);
    if dst <= src {
        pairs.for_each(|(i, j)| d[i].set(s[j].get()));
    } else {
        pairs.rev().for_each(|(i, j)| d[i].set(s[j].get()));
    }
    0
}

/// `table.init`: also used for active element segments at instantiation.
pub(crate) fn table_init(store: &mut StoreOpaque, instance: u32, table: u32, elem: u32, dst: u32, src: u32, len: u32) -> Status {
    let inner = &store.instances[instance as usize];
    let items: &[_] = if inner.dropped_elems[elem as usize] { &[] } else { &inner.module.info().elements[elem as usize].items };
    let items = &items[range(src, len, items.len()).ok_or(TrapKind::TableOutOfBounds)?];
    let cells = store.tables[table_index(store, instance, table)].cells();
    let dr = range(dst, len, cells.len()).ok_or(TrapKind::TableOutOfBounds)?;
    for (cell, item) in cells[dr].iter().zip(items) {
        cell.set(inner.const_raw(store, item));
    }
    Ok(())
}

unsafe extern "C" fn table_init_builtin(vmctx: *mut u8, table: u32, elem: u32, dst: u32, src: u32, len: u32) -> u32 {
    let (store, instance) = context(vmctx);
    status(table_init(store, instance, table, elem, dst, src, len))
}

unsafe extern "C" fn elem_drop(vmctx: *mut u8, elem: u32) {
    let (store, instance) = context(vmctx);
    store.instances[instance as usize].dropped_elems[elem as usize] = true;
}

/// Legacy debug code's break stub lands here (guarded code stops through
/// its trap tail instead; see `debug_stop.rs`).
unsafe extern "C" fn debug_break(vmctx: *mut u8, func: u32, site: u32, _frame: *mut u64, fp: usize) -> u32 {
    // SAFETY: compiled code passes its own vmctx, of a live instance.
    let (store, instance) = unsafe { InstanceData::from_vmctx(vmctx) };
    let id = {
        // SAFETY: a short read of the live store; see `context`.
        let compiled = unsafe { (&*store).instances[instance as usize].module.compiled() };
        compiled.site_base[(func - compiled.info.imported_funcs) as usize] + site
    };
    crate::debug::on_stop(store, instance, id, crate::debug::StopFrame::Legacy(fp)) as u32
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
