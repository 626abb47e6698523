//! Debugging an instance: breakpoints, locals, stepping, and isolation from
//! other instances running the same code.

use std::cell::RefCell;
use std::rc::Rc;

use onecopy_runtime::{Config, DebugAction, Engine, Instance, Module, SiteKind, Val};

const PROGRAM: &str = r#"(module
  (func $double (export "double") (param i32) (result i32) (local i32)
    local.get 0
    i32.const 2
    i32.mul
    local.set 1
    local.get 1)
  (func (export "loop") (param i32) (result i32) (local i32)
    (loop $l
      local.get 1 local.get 0 i32.add local.set 1
      local.get 0 i32.const 1 i32.sub local.tee 0
      br_if $l)
    local.get 1))"#;

fn module() -> Module {
    let engine = Engine::new(&Config::new().debug(true)).unwrap();
    Module::new(&engine, wat::parse_str(PROGRAM).unwrap()).unwrap()
}

#[test]
fn a_breakpoint_reads_and_changes_a_local() {
    let module = module();
    let instance = Instance::new(&module, &[]).unwrap();
    // Stop before `local.get 1`, the last instruction of $double.
    let site = module.sites().iter().rfind(|s| s.func == 0 && s.kind == SiteKind::Instruction).unwrap().clone();
    instance.debug().set_breakpoint(0, site.wasm_offset).unwrap();
    let seen = Rc::new(RefCell::new(Vec::new()));
    let log = seen.clone();
    instance.debug().set_handler(move |frame| {
        log.borrow_mut().push((frame.site.wasm_offset, frame.locals()));
        frame.set_local(1, Val::I32(100)).unwrap();
        DebugAction::Continue
    });
    let double = instance.get_typed_func::<(i32,), i32>("double").unwrap();
    assert_eq!(double.call((21,)).unwrap(), 100);
    let seen = seen.borrow();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].0, site.wasm_offset);
    assert!(matches!(seen[0].1[..], [Val::I32(21), Val::I32(42)]), "{:?}", seen[0].1);
}

#[test]
fn bad_offsets_list_the_nearest_breakable_points() {
    let module = module();
    let instance = Instance::new(&module, &[]).unwrap();
    let err = instance.debug().set_breakpoint(0, 1).unwrap_err().to_string();
    assert!(err.contains("nearest"), "{err}");
}

#[test]
fn stepping_stops_at_every_site_and_results_stay_correct() {
    let module = module();
    let instance = Instance::new(&module, &[]).unwrap();
    let stops = Rc::new(RefCell::new(0usize));
    let count = stops.clone();
    instance.debug().set_handler(move |_| {
        *count.borrow_mut() += 1;
        DebugAction::Step
    });
    instance.debug().set_stepping(true);
    let f = instance.get_typed_func::<(i32,), i32>("loop").unwrap();
    assert_eq!(f.call((10,)).unwrap(), 55);
    // Entry, 10 iterations of 2 statements, `local.get 1`, exit.
    assert_eq!(*stops.borrow(), 1 + 10 * 2 + 2);
}

#[test]
fn breakpoints_in_one_instance_do_not_stop_another() {
    let module = module();
    let debugged = Instance::new(&module, &[]).unwrap();
    let other = Instance::new(&module, &[]).unwrap();
    let entry = module.sites().iter().find(|s| s.func == 1).unwrap().wasm_offset;
    debugged.debug().set_breakpoint(1, entry).unwrap();
    let hits = Rc::new(RefCell::new((0, 0)));
    let (h1, h2) = (hits.clone(), hits.clone());
    debugged.debug().set_handler(move |_| {
        h1.borrow_mut().0 += 1;
        DebugAction::Continue
    });
    other.debug().set_handler(move |_| {
        h2.borrow_mut().1 += 1;
        DebugAction::Continue
    });
    for i in [&debugged, &other] {
        assert_eq!(i.get_typed_func::<(i32,), i32>("loop").unwrap().call((4,)).unwrap(), 10);
    }
    assert_eq!(*hits.borrow(), (1, 0));
    assert_eq!(debugged.func_address(1), other.func_address(1));
    assert!(debugged.debug().is_armed(entry));
    assert!(!other.debug().is_armed(entry));
    debugged.debug().clear_breakpoint(1, entry);
    assert!(!debugged.debug().is_armed(entry));
}
