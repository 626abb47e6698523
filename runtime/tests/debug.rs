//! Debugging an instance: breakpoints, locals, stepping, and isolation from
//! other instances running the same code.

use std::cell::RefCell;
use std::rc::Rc;

use onecopy_runtime::{Config, DebugAction, Engine, Instance, Module, SiteKind, Store, Val};

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
    module_with(Config::new().debug(true))
}

fn module_with(config: Config) -> Module {
    let engine = Engine::new(&config).unwrap();
    Module::new(&engine, wat::parse_str(PROGRAM).unwrap()).unwrap()
}

#[test]
fn a_breakpoint_reads_and_changes_a_local() {
    let module = module();
    let mut store = Store::new(module.engine(), ());
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    // Stop before `local.get 1`, the last instruction of $double.
    let site = module.sites().iter().rfind(|s| s.func == 0 && s.kind == SiteKind::Instruction).unwrap().clone();
    instance.debug(&mut store).unwrap().set_breakpoint(0, site.wasm_offset).unwrap();
    let seen = Rc::new(RefCell::new(Vec::new()));
    let log = seen.clone();
    instance.debug(&mut store).unwrap().set_handler(move |frame| {
        log.borrow_mut().push((frame.site.wasm_offset, frame.locals()));
        frame.set_local(1, Val::I32(100)).unwrap();
        DebugAction::Continue
    });
    let double = instance.get_typed_func::<(i32,), i32>(&store, "double").unwrap();
    assert_eq!(double.call(&mut store, (21,)).unwrap(), 100);
    let seen = seen.borrow();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].0, site.wasm_offset);
    assert!(matches!(seen[0].1[..], [Some(Val::I32(21)), Some(Val::I32(42))]), "{:?}", seen[0].1);
}

#[test]
fn bad_offsets_list_the_nearest_breakable_points() {
    let module = module();
    let mut store = Store::new(module.engine(), ());
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let err = instance.debug(&mut store).unwrap().set_breakpoint(0, 1).unwrap_err().to_string();
    assert!(err.contains("nearest"), "{err}");
}

#[test]
fn stepping_stops_at_every_site_and_results_stay_correct() {
    stepping_stops_at_every_site(module());
}

/// At `opt_level` speed Cranelift may move blocks and values around the
/// guards, and every site still stops and finds its instance.
#[test]
fn stepping_optimized_debug_code_stops_at_every_site() {
    stepping_stops_at_every_site(module_with(Config::new().debug(true).opt_level(onecopy_runtime::OptLevel::Speed)));
}

fn stepping_stops_at_every_site(module: Module) {
    let mut store = Store::new(module.engine(), ());
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let stops = Rc::new(RefCell::new(0usize));
    let count = stops.clone();
    instance.debug(&mut store).unwrap().set_handler(move |_| {
        *count.borrow_mut() += 1;
        DebugAction::Step
    });
    instance.debug(&mut store).unwrap().set_stepping(true);
    let f = instance.get_typed_func::<(i32,), i32>(&store, "loop").unwrap();
    assert_eq!(f.call(&mut store, (10,)).unwrap(), 55);
    // Entry, 10 iterations of 2 statements, `local.get 1`, exit.
    assert_eq!(*stops.borrow(), 1 + 10 * 2 + 2);
}

#[test]
fn breakpoints_in_one_instance_do_not_stop_another() {
    let module = module();
    let mut store = Store::new(module.engine(), ());
    let debugged = Instance::new(&mut store, &module, &[]).unwrap();
    let other = Instance::new(&mut store, &module, &[]).unwrap();
    let entry = module.sites().iter().find(|s| s.func == 1).unwrap().wasm_offset;
    debugged.debug(&mut store).unwrap().set_breakpoint(1, entry).unwrap();
    let hits = Rc::new(RefCell::new((0, 0)));
    let (h1, h2) = (hits.clone(), hits.clone());
    debugged.debug(&mut store).unwrap().set_handler(move |_| {
        h1.borrow_mut().0 += 1;
        DebugAction::Continue
    });
    other.debug(&mut store).unwrap().set_handler(move |_| {
        h2.borrow_mut().1 += 1;
        DebugAction::Continue
    });
    for i in [debugged, other] {
        assert_eq!(i.get_typed_func::<(i32,), i32>(&store, "loop").unwrap().call(&mut store, (4,)).unwrap(), 10);
    }
    assert_eq!(*hits.borrow(), (1, 0));
    assert_eq!(debugged.func_address(&store, 1), other.func_address(&store, 1));
    assert!(debugged.debug(&mut store).unwrap().is_armed(entry));
    assert!(!other.debug(&mut store).unwrap().is_armed(entry));
    debugged.debug(&mut store).unwrap().clear_breakpoint(1, entry);
    assert!(!debugged.debug(&mut store).unwrap().is_armed(entry));
}

const CALLS: &str = r#"(module
  (func $c (export "c") (param i32) (result i32)
    local.get 0
    i32.const 1
    i32.add)
  (func $b (export "b") (param i32) (result i32) (local i32)
    local.get 0
    call $c
    local.set 1
    local.get 1
    i32.const 2
    i32.mul)
  (func $a (export "a") (param i32) (result i32)
    local.get 0
    call $b)
  (func (export "spin") (param i32) (result i32) (local i32)
    (loop $l
      local.get 1 i32.const 1 i32.add local.set 1
      local.get 0 br_if $l)
    local.get 1))"#;

/// Byte offsets of the `call` instructions of function `func`.
fn call_offsets(wasm: &[u8], func: usize) -> Vec<u32> {
    let mut bodies = wasmparser::Parser::new(0).parse_all(wasm).filter_map(|p| match p.unwrap() {
        wasmparser::Payload::CodeSectionEntry(body) => Some(body),
        _ => None,
    });
    let body = bodies.nth(func).unwrap();
    let mut ops = body.get_operators_reader().unwrap();
    let mut offsets = Vec::new();
    while !ops.eof() {
        let at = ops.original_position() as u32;
        if let wasmparser::Operator::Call { .. } = ops.read().unwrap() {
            offsets.push(at);
        }
    }
    offsets
}

fn calls_module() -> (Vec<u8>, Module) {
    let wasm = wat::parse_str(CALLS).unwrap();
    let engine = Engine::new(&Config::new().debug(true)).unwrap();
    let module = Module::new(&engine, &wasm).unwrap();
    (wasm, module)
}

#[test]
fn backtraces_name_every_wasm_frame_innermost_first() {
    let (wasm, module) = calls_module();
    let mut store = Store::new(module.engine(), ());
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let entry_c = module.sites().iter().find(|s| s.func == 0).unwrap().wasm_offset;
    instance.debug(&mut store).unwrap().set_breakpoint(0, entry_c).unwrap();
    let seen = Rc::new(RefCell::new(Vec::new()));
    let log = seen.clone();
    instance.debug(&mut store).unwrap().set_handler(move |frame| {
        *log.borrow_mut() = frame.backtrace();
        DebugAction::Continue
    });
    assert_eq!(instance.get_typed_func::<(i32,), i32>(&store, "a").unwrap().call(&mut store, (5,)).unwrap(), 12);
    let frames: Vec<(u32, u32)> = seen.borrow().iter().map(|f| (f.func, f.wasm_offset)).collect();
    let expected = vec![(0, entry_c), (1, call_offsets(&wasm, 1)[0]), (2, call_offsets(&wasm, 2)[0])];
    assert_eq!(frames, expected);
}

/// Where each stop of `a(5)` lands, starting from a breakpoint at `start`
/// in function `func`, answering every stop with `action`.
fn stops_after(func: u32, start: u32, action: DebugAction) -> Vec<(u32, u32, onecopy_runtime::StopReason)> {
    let (_, module) = calls_module();
    let mut store = Store::new(module.engine(), ());
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    instance.debug(&mut store).unwrap().set_breakpoint(func, start).unwrap();
    let stops = Rc::new(RefCell::new(Vec::new()));
    let log = stops.clone();
    instance.debug(&mut store).unwrap().set_handler(move |frame| {
        let mut log = log.borrow_mut();
        log.push((frame.site.func, frame.site.wasm_offset, frame.reason));
        if log.len() < 2 {
            action
        } else {
            DebugAction::Continue
        }
    });
    assert_eq!(instance.get_typed_func::<(i32,), i32>(&store, "a").unwrap().call(&mut store, (5,)).unwrap(), 12);
    let stops = stops.borrow().clone();
    stops
}

#[test]
fn step_over_skips_the_callee_and_step_out_returns_to_the_caller() {
    use onecopy_runtime::StopReason::{Breakpoint, Step};
    let (wasm, module) = calls_module();
    let b_sites: Vec<u32> = module.sites().iter().filter(|s| s.func == 1).map(|s| s.wasm_offset).collect();
    let call_in_b = call_offsets(&wasm, 1)[0];
    // The statement that starts at `local.get 0` before `call $c` (b's entry).
    let over = stops_after(1, b_sites[0], DebugAction::StepOver);
    let after_call = *b_sites.iter().find(|o| **o > call_in_b).unwrap();
    assert_eq!(over, vec![(1, b_sites[0], Breakpoint), (1, after_call, Step)]);

    let into = stops_after(1, b_sites[0], DebugAction::Step);
    assert_eq!(into[1].0, 0, "step into stops in the callee: {into:?}");

    let entry_c = module.sites().iter().find(|s| s.func == 0).unwrap().wasm_offset;
    let out = stops_after(0, entry_c, DebugAction::StepOut);
    assert_eq!(out, vec![(0, entry_c, Breakpoint), (1, after_call, Step)]);
}

#[test]
fn another_thread_pauses_a_spinning_instance() {
    let (_, module) = calls_module();
    let (tx, rx) = std::sync::mpsc::channel();
    let worker = std::thread::spawn(move || {
        let mut store = Store::new(module.engine(), ());
        let instance = Instance::new(&mut store, &module, &[]).unwrap();
        let reasons = Rc::new(RefCell::new(Vec::new()));
        let log = reasons.clone();
        instance.debug(&mut store).unwrap().set_handler(move |frame| {
            log.borrow_mut().push(frame.reason);
            // Stop spinning: the loop runs while local 0 is non-zero.
            frame.set_local(0, Val::I32(0)).unwrap();
            DebugAction::Continue
        });
        tx.send(instance.debug(&mut store).unwrap().remote()).unwrap();
        let spins = instance.get_typed_func::<(i32,), i32>(&store, "spin").unwrap().call(&mut store, (1,)).unwrap();
        let reasons = reasons.borrow().clone();
        (spins, reasons)
    });
    let remote = rx.recv().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(50));
    remote.pause();
    let (spins, reasons) = worker.join().unwrap();
    assert!(spins > 0);
    assert_eq!(reasons, vec![onecopy_runtime::StopReason::Pause]);
}

#[test]
fn legacy_debug_code_clones_the_module_per_debugged_instance() {
    let engine = Engine::new(&Config::new().debug(true).legacy(true)).unwrap();
    let module = Module::new(&engine, wat::parse_str(PROGRAM).unwrap()).unwrap();
    let shared = engine.code_memory().used;
    let mut store = Store::new(&engine, ());
    let debugged = Instance::new(&mut store, &module, &[]).unwrap();
    let other = Instance::new(&mut store, &module, &[]).unwrap();
    let entry = module.sites().iter().find(|s| s.func == 1).unwrap().wasm_offset;
    debugged.debug(&mut store).unwrap().set_breakpoint(1, entry).unwrap();
    // One more copy of the code, for the debugged instance only.
    assert_eq!(engine.code_memory().used, shared + module.code_size());
    assert_eq!(debugged.debug(&mut store).unwrap().clone_bytes(), module.code_size());
    assert_ne!(debugged.func_address(&store, 1), other.func_address(&store, 1));
    let hits = Rc::new(RefCell::new(0));
    let count = hits.clone();
    debugged.debug(&mut store).unwrap().set_handler(move |frame| {
        *count.borrow_mut() += 1;
        assert!(frame.locals().is_empty(), "legacy code has no frame view");
        DebugAction::Continue
    });
    for i in [debugged, other] {
        assert_eq!(i.get_typed_func::<(i32,), i32>(&store, "loop").unwrap().call(&mut store, (4,)).unwrap(), 10);
    }
    assert_eq!(*hits.borrow(), 1);
    debugged.debug(&mut store).unwrap().clear_breakpoint(1, entry);
    assert_eq!(debugged.func_address(&store, 1), other.func_address(&store, 1));
    assert_eq!(engine.code_memory().used, shared);
}

#[test]
fn aborting_from_the_handler_traps_in_guarded_and_legacy_code() {
    for legacy in [false, true] {
        let engine = Engine::new(&Config::new().debug(true).legacy(legacy)).unwrap();
        let module = Module::new(&engine, wat::parse_str(PROGRAM).unwrap()).unwrap();
        let mut store = Store::new(&engine, ());
        let instance = Instance::new(&mut store, &module, &[]).unwrap();
        let entry = module.sites().iter().find(|s| s.func == 1).unwrap().wasm_offset;
        instance.debug(&mut store).unwrap().set_breakpoint(1, entry).unwrap();
        instance.debug(&mut store).unwrap().set_handler(|_| DebugAction::Abort);
        let err = instance.get_typed_func::<(i32,), i32>(&store, "loop").unwrap().call(&mut store, (4,)).unwrap_err();
        assert_eq!(err.trap().map(|t| t.kind), Some(onecopy_runtime::TrapKind::DebugAbort), "legacy={legacy}: {err}");
    }
}

#[test]
fn the_handler_reads_globals_memory_and_store_data_through_the_frame() {
    let engine = Engine::new(&Config::new().debug(true)).unwrap();
    let module = Module::new(
        &engine,
        wat::parse_str(
            r#"(module
          (memory (export "memory") 1)
          (data (i32.const 4) "seen")
          (global $g (export "g") (mut i32) (i32.const 5))
          (func (export "bump") (result i32)
            (global.set $g (i32.add (global.get $g) (i32.const 1)))
            (global.get $g)))"#,
        )
        .unwrap(),
    )
    .unwrap();
    let mut store = Store::new(&engine, Vec::<String>::new());
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let entry = module.sites().iter().find(|s| s.func == 0 && s.kind == SiteKind::Entry).unwrap().wasm_offset;
    let debug = instance.debug(&mut store).unwrap();
    debug.set_breakpoint(0, entry).unwrap();
    debug.set_handler(|frame| {
        let instance = frame.instance();
        let g = instance.get_global(&*frame, "g").unwrap();
        let before = g.get(&*frame).unwrap().i32().unwrap();
        g.set(&mut *frame, Val::I32(before * 10)).unwrap();
        let mut word = [0; 4];
        instance.get_memory(&*frame, "memory").unwrap().read(&*frame, 4, &mut word).unwrap();
        let note = format!("{} at g={before}", String::from_utf8_lossy(&word));
        frame.data_mut().push(note);
        // The handler may also change this instance's breakpoints.
        instance.debug(&mut *frame).unwrap().clear_all();
        DebugAction::Continue
    });
    let bump = instance.get_typed_func::<(), i32>(&store, "bump").unwrap();
    assert_eq!(bump.call(&mut store, ()).unwrap(), 51);
    assert_eq!(bump.call(&mut store, ()).unwrap(), 52, "the breakpoint was cleared at the stop");
    assert_eq!(store.data(), &["seen at g=5"]);
}
