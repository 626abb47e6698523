//! A typed call allocates nothing: counted by a global allocator that
//! counts the allocations of the thread that asks (its own test binary,
//! since the allocator is process-wide).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

use onecopy_runtime::{Caller, Config, Engine, Linker, Module, Store};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// Whether this thread's allocations are being counted (const-initialized
    /// with no destructor, so reading it never allocates).
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}

fn note() {
    if COUNTING.with(Cell::get) {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
    }
}

// SAFETY: every call is forwarded to the system allocator unchanged.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: the caller's contract, passed on.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note();
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Allocations `f` makes on this thread.
fn allocations_of(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    COUNTING.with(|c| c.set(true));
    f();
    COUNTING.with(|c| c.set(false));
    ALLOCATIONS.load(Ordering::Relaxed) - before
}

const PROGRAM: &str = r#"(module
  (import "host" "scale" (func $scale (param i64 f64) (result f64)))
  (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
  (func (export "through_host") (param i64) (result f64) (call $scale (local.get 0) (f64.const 0.5))))"#;

#[test]
fn typed_calls_allocate_nothing_in_normal_and_debug_code() {
    for debug in [false, true] {
        let engine = Engine::new(&Config::new().debug(debug)).unwrap();
        let module = Module::new(&engine, wat::parse_str(PROGRAM).unwrap()).unwrap();
        let mut linker = Linker::new(&engine);
        linker
            .func_wrap("host", "scale", |mut caller: Caller<'_, u64>, x: i64, by: f64| {
                *caller.data_mut() += 1;
                x as f64 * by
            })
            .unwrap();
        let mut store = Store::new(&engine, 0u64);
        let instance = linker.instantiate(&mut store, &module).unwrap();
        let add = instance.get_typed_func::<(i32, i32), i32>(&store, "add").unwrap();
        let through_host = instance.get_typed_func::<i64, f64>(&store, "through_host").unwrap();
        let scale = linker.get(&mut store, "host", "scale").unwrap().into_func().unwrap().typed::<(i64, f64), f64>(&store).unwrap();
        // The first calls set up what a thread needs once (signal handlers,
        // thread-locals); the ones after must allocate nothing.
        add.call(&mut store, (1, 2)).unwrap();
        through_host.call(&mut store, 1).unwrap();
        scale.call(&mut store, (1, 1.0)).unwrap();
        let mut sum = 0i64;
        let counted = allocations_of(|| {
            for i in 0..1000 {
                sum += add.call(&mut store, (i, 1)).unwrap() as i64;
                sum += through_host.call(&mut store, i as i64).unwrap() as i64;
                sum += scale.call(&mut store, (i as i64, 2.0)).unwrap() as i64;
            }
        });
        assert_eq!(counted, 0, "allocations in 3000 typed calls (debug code: {debug})");
        assert_eq!(sum, (0..1000i64).map(|i| (i + 1) + i / 2 + 2 * i).sum::<i64>());
        assert_eq!(*store.data(), 2002, "every call through the host function reached it");
    }
}

#[test]
fn the_counter_sees_allocations() {
    // Without this, a counter that never counts would pass the test above.
    assert!(allocations_of(|| drop(std::hint::black_box(vec![1u8; 64]))) >= 1);
}

#[test]
fn storing_a_funcref_in_a_table_keeps_nothing_alive_and_allocates_nothing() {
    // (Tables once kept every stored function's owner in a list that grew
    // with each `Table::set`.)
    let engine = Engine::default();
    let module = Module::new(&engine, wat::parse_str(r#"(module (table (export "t") 4 funcref) (func (export "f")))"#).unwrap()).unwrap();
    let mut store = Store::new(&engine, 0u64);
    let instance = Linker::new(&engine).instantiate(&mut store, &module).unwrap();
    let table = instance.get_table(&store, "t").unwrap();
    let f = instance.get_func(&store, "f").unwrap();
    table.set(&mut store, 0, onecopy_runtime::Val::FuncRef(Some(f))).unwrap();
    let counted = allocations_of(|| {
        for i in 0..10_000u32 {
            table.set(&mut store, i % 4, onecopy_runtime::Val::FuncRef(Some(f))).unwrap();
        }
    });
    assert_eq!(counted, 0, "allocations in 10,000 Table::set calls");
    assert!(matches!(table.get(&store, 3), Some(onecopy_runtime::Val::FuncRef(Some(g))) if g == f));
}
