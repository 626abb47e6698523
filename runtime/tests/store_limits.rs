//! Per-store limits (`Store::limiter` with `StoreLimits`, as in Wasmtime):
//! growing past them gives -1 and changes nothing; instantiating past them
//! is a typed error that leaves the store usable and uncounted.

use onecopy_runtime::{Engine, Error, Instance, Limit, LimitExceeded, Memory, MemoryType, Module, Store, StoreLimitsBuilder, PAGE_SIZE};

const PAGE: usize = PAGE_SIZE as usize;

/// Memory of `pages` initial pages (at most 10), a table of 2 (at most 10),
/// and exports to grow and measure both.
fn program(engine: &Engine, pages: u32) -> Module {
    let wat = format!(
        r#"(module
      (memory (export "mem") {pages} 10)
      (table 2 10 funcref)
      (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
      (func (export "size") (result i32) (memory.size))
      (func (export "load") (param i32) (result i32) (i32.load8_u (local.get 0)))
      (func (export "grow_table") (param i32) (result i32) (table.grow (ref.null func) (local.get 0)))
      (func (export "table_size") (result i32) (table.size)))"#
    );
    Module::new(engine, wat::parse_str(wat).expect("valid text")).expect("compiles")
}

fn store_with(engine: &Engine, limits: StoreLimitsBuilder) -> Store<()> {
    let mut store = Store::new(engine, ());
    store.limiter(limits.build());
    store
}

fn call(store: &mut Store<()>, instance: Instance, name: &str, arg: Option<i32>) -> i32 {
    match arg {
        Some(a) => instance.get_typed_func::<i32, i32>(&*store, name).unwrap().call(store, a).unwrap(),
        None => instance.get_typed_func::<(), i32>(&*store, name).unwrap().call(store, ()).unwrap(),
    }
}

fn exceeded(error: Error) -> LimitExceeded {
    match error {
        Error::LimitExceeded(e) => e,
        other => panic!("expected LimitExceeded, got {other:?}"),
    }
}

#[test]
fn memory_grow_past_the_limit_gives_minus_one_and_changes_nothing() {
    let engine = Engine::default();
    let module = program(&engine, 1);
    let mut store = store_with(&engine, StoreLimitsBuilder::new().memory_size(3 * PAGE));
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let memory = instance.get_memory(&store, "mem").unwrap();
    memory.write(&mut store, PAGE - 1, &[7]).unwrap();
    assert_eq!(call(&mut store, instance, "grow", Some(3)), -1, "1 + 3 pages is over 3");
    assert_eq!(call(&mut store, instance, "grow", Some(2)), 1, "3 pages is at the limit");
    assert_eq!(call(&mut store, instance, "grow", Some(1)), -1);
    assert_eq!(memory.grow(&mut store, 1).unwrap(), None, "the host's growth is limited too");
    assert_eq!(call(&mut store, instance, "size", None), 3);
    assert_eq!(memory.data_size(&store).unwrap(), 3 * PAGE);
    assert_eq!(call(&mut store, instance, "load", Some(PAGE as i32 - 1)), 7, "the bytes are untouched");
    // The module's own maximum (10) is still below the default limits.
    let mut free = Store::new(&engine, ());
    let other = Instance::new(&mut free, &module, &[]).unwrap();
    assert_eq!(call(&mut free, other, "grow", Some(9)), 1);
}

#[test]
fn an_initial_memory_over_the_limit_fails_to_instantiate_and_leaves_the_store_usable() {
    let engine = Engine::default();
    let mut store = store_with(&engine, StoreLimitsBuilder::new().memory_size(2 * PAGE).instances(1));
    let error = Instance::new(&mut store, &program(&engine, 3), &[]).unwrap_err();
    assert_eq!(exceeded(error), LimitExceeded { limit: Limit::MemorySize, requested: 3 * PAGE, allowed: 2 * PAGE });
    // The refused instance was never counted: the one instance allowed fits.
    let instance = Instance::new(&mut store, &program(&engine, 2), &[]).expect("2 pages fit");
    assert_eq!(call(&mut store, instance, "size", None), 2);
    let error = Instance::new(&mut store, &program(&engine, 1), &[]).unwrap_err();
    assert_eq!(exceeded(error), LimitExceeded { limit: Limit::Instances, requested: 2, allowed: 1 });
}

#[test]
fn tables_are_limited_in_elements_and_number() {
    let engine = Engine::default();
    let module = program(&engine, 1);
    let mut store = store_with(&engine, StoreLimitsBuilder::new().table_elements(4));
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    assert_eq!(call(&mut store, instance, "grow_table", Some(3)), -1);
    assert_eq!(call(&mut store, instance, "grow_table", Some(2)), 2);
    assert_eq!(call(&mut store, instance, "grow_table", Some(1)), -1);
    assert_eq!(call(&mut store, instance, "table_size", None), 4);

    let mut small = store_with(&engine, StoreLimitsBuilder::new().table_elements(1));
    let error = Instance::new(&mut small, &module, &[]).unwrap_err();
    assert_eq!(exceeded(error), LimitExceeded { limit: Limit::TableElements, requested: 2, allowed: 1 });
    let mut none = store_with(&engine, StoreLimitsBuilder::new().tables(0));
    assert_eq!(exceeded(Instance::new(&mut none, &module, &[]).unwrap_err()).limit, Limit::Tables);
}

#[test]
fn memories_made_by_the_host_count_and_are_limited_too() {
    let engine = Engine::default();
    let mut store = store_with(&engine, StoreLimitsBuilder::new().memories(1).memory_size(PAGE));
    let ty = |min| MemoryType { min, max: None };
    let error = Memory::new(&mut store, ty(2)).unwrap_err();
    assert_eq!(exceeded(error), LimitExceeded { limit: Limit::MemorySize, requested: 2 * PAGE, allowed: PAGE });
    Memory::new(&mut store, ty(1)).expect("one page fits");
    let error = Instance::new(&mut store, &program(&engine, 1), &[]).unwrap_err();
    assert_eq!(exceeded(error), LimitExceeded { limit: Limit::Memories, requested: 2, allowed: 1 });
    assert_eq!(store.limits(), StoreLimitsBuilder::new().memories(1).memory_size(PAGE).build());
}

#[test]
fn limits_set_later_leave_what_exists_and_count_each_kind_apart() {
    let engine = Engine::default();
    let module = program(&engine, 1);
    let mut store = Store::new(&engine, ());
    let first = Instance::new(&mut store, &module, &[]).unwrap();
    Instance::new(&mut store, &module, &[]).unwrap();
    store.limiter(StoreLimitsBuilder::new().instances(1).memory_size(PAGE).build());
    // Two instances already exceed the new count: new memories are still
    // judged by the memory limits alone, and the existing instances run.
    Memory::new(&mut store, MemoryType { min: 1, max: None }).expect("a memory is no instance");
    assert_eq!(call(&mut store, first, "grow", Some(1)), -1, "growth is judged by the new limit");
    assert_eq!(exceeded(Instance::new(&mut store, &module, &[]).unwrap_err()).limit, Limit::Instances);
}
