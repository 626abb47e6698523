//! Pauses asked of an instance that is stopped: a debugger pauses a worker
//! while that worker sits at a breakpoint or a step, then lets it go on;
//! the pause must still be delivered at the next breakable point, whatever
//! the resume changes about stepping.

mod common;

use std::cell::RefCell;
use std::rc::Rc;

use onecopy_runtime::{Config, DebugAction, Engine, Instance, Module, StopReason, Store};

use common::entry_offset;

const PROGRAM: &str = r#"(module
  (func (export "sum") (param i32) (result i32) (local i32)
    (loop $l
      (local.set 1 (i32.add (local.get 1) (local.get 0)))
      (br_if $l (local.tee 0 (i32.sub (local.get 0) (i32.const 1)))))
    (local.get 1)))"#;

/// Run `sum(100)` with a breakpoint at its entry; the handler answers stop
/// `i` with `actions[i]` (then `Continue`), asking for a pause at the stop
/// `pause_at`. Returns the reasons of every stop.
fn stops(actions: &[DebugAction], pause_at: usize) -> Vec<StopReason> {
    let engine = Engine::new(&Config::new().debug(true)).unwrap();
    let module = Module::new(&engine, wat::parse_str(PROGRAM).unwrap()).unwrap();
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let debug = instance.debug(&mut store).unwrap();
    debug.set_breakpoint(0, entry_offset(&module, 0)).unwrap();
    let remote = debug.remote();
    let seen = Rc::new(RefCell::new(Vec::new()));
    let log = seen.clone();
    let actions = actions.to_vec();
    debug.set_handler(move |frame| {
        let i = log.borrow().len();
        log.borrow_mut().push(frame.reason);
        if i == pause_at {
            remote.pause();
        }
        actions.get(i).copied().unwrap_or(DebugAction::Continue)
    });
    let sum = instance.get_typed_func::<i32, i32>(&store, "sum").unwrap();
    assert_eq!(sum.call(&mut store, 100).unwrap(), 5050);
    seen.take()
}

#[test]
fn a_pause_asked_at_a_breakpoint_stops_at_the_next_point() {
    assert_eq!(stops(&[DebugAction::Continue], 0), [StopReason::Breakpoint, StopReason::Pause]);
}

#[test]
fn a_pause_asked_while_stepping_survives_the_end_of_the_step() {
    // The second stop ends stepping (Continue) with a pause pending: the
    // watch on every site goes, the pause must stay.
    let actions = [DebugAction::Step, DebugAction::Continue];
    assert_eq!(stops(&actions, 1), [StopReason::Breakpoint, StopReason::Step, StopReason::Pause]);
}

#[test]
fn a_pause_asked_while_stepping_over_survives_a_step_out() {
    let actions = [DebugAction::StepOver, DebugAction::StepOut];
    let seen = stops(&actions, 1);
    assert_eq!(seen[..3], [StopReason::Breakpoint, StopReason::Step, StopReason::Pause], "{seen:?}");
}
