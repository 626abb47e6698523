//! Bulk memory and table operations within one memory or table, where
//! source and destination overlap: the builtins move bytes and cells
//! through raw pointers with memmove semantics (two `&mut [u8]` of one
//! memory, as `memory.copy` once made, are undefined behaviour), and the
//! results are those of the spec in both directions.

use onecopy_runtime::{Engine, Instance, Module, Store};

const PROGRAM: &str = r#"(module
  (memory (export "memory") 1)
  (data (i32.const 0) "0123456789")
  (table $t 8 funcref)
  (func $a (result i32) i32.const 10)
  (func $b (result i32) i32.const 11)
  (func $c (result i32) i32.const 12)
  (elem (table $t) (i32.const 0) func $a $b $c)
  (type $r (func (result i32)))
  (func (export "copy") (param i32 i32 i32) (memory.copy (local.get 0) (local.get 1) (local.get 2)))
  (func (export "fill") (param i32 i32 i32) (memory.fill (local.get 0) (local.get 1) (local.get 2)))
  (func (export "table_copy") (param i32 i32 i32) (table.copy $t $t (local.get 0) (local.get 1) (local.get 2)))
  (func (export "at") (param i32) (result i32) (call_indirect $t (type $r) (local.get 0))))"#;

fn setup() -> (Store<()>, Instance) {
    let engine = Engine::default();
    let module = Module::new(&engine, wat::parse_str(PROGRAM).unwrap()).unwrap();
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    (store, instance)
}

fn bytes(store: &Store<()>, instance: Instance) -> Vec<u8> {
    instance.get_memory(store, "memory").unwrap().data(store).unwrap()[..12].to_vec()
}

#[test]
fn memory_copy_within_one_memory_overlapping_either_way() {
    let (mut store, instance) = setup();
    let copy = instance.get_typed_func::<(i32, i32, i32), ()>(&store, "copy").unwrap();
    copy.call(&mut store, (2, 0, 6)).unwrap(); // forward overlap: destination above source
    assert_eq!(bytes(&store, instance), b"0101234589\0\0");
    copy.call(&mut store, (0, 3, 7)).unwrap(); // backward overlap: destination below source
    assert_eq!(bytes(&store, instance), b"1234589589\0\0");
    copy.call(&mut store, (4, 4, 3)).unwrap(); // onto itself
    assert_eq!(bytes(&store, instance), b"1234589589\0\0");
    let err = copy.call(&mut store, (65530, 0, 10)).unwrap_err();
    assert_eq!(err.trap().map(|t| t.kind), Some(onecopy_runtime::TrapKind::MemoryOutOfBounds));
    assert_eq!(bytes(&store, instance), b"1234589589\0\0", "a copy that traps writes nothing");
    let fill = instance.get_typed_func::<(i32, i32, i32), ()>(&store, "fill").unwrap();
    fill.call(&mut store, (1, b'x' as i32, 3)).unwrap();
    assert_eq!(bytes(&store, instance), b"1xxx589589\0\0");
}

#[test]
fn table_copy_within_one_table_overlapping_either_way() {
    let (mut store, instance) = setup();
    let copy = instance.get_typed_func::<(i32, i32, i32), ()>(&store, "table_copy").unwrap();
    let at = instance.get_typed_func::<i32, i32>(&store, "at").unwrap();
    let row = |store: &mut Store<()>| (0..4).map(|i| at.call(&mut *store, i).unwrap()).collect::<Vec<_>>();
    copy.call(&mut store, (1, 0, 3)).unwrap();
    assert_eq!(row(&mut store), [10, 10, 11, 12]);
    copy.call(&mut store, (0, 1, 3)).unwrap();
    assert_eq!(row(&mut store), [10, 11, 12, 12]);
}

#[test]
fn the_host_writes_memory_through_the_store() {
    let (mut store, instance) = setup();
    let memory = instance.get_memory(&store, "memory").unwrap();
    memory.data_mut(&mut store).unwrap()[..3].copy_from_slice(b"abc");
    memory.write(&mut store, 3, b"de").unwrap();
    let mut back = [0; 5];
    memory.read(&store, 0, &mut back).unwrap();
    assert_eq!(&back, b"abcde");
    assert!(memory.write(&mut store, 65535, b"too long").is_err());
    assert_eq!(memory.grow(&mut store, 1).unwrap(), Some(1));
    assert_eq!(memory.data(&store).unwrap().len(), 2 << 16);
}
