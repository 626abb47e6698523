//! Sites that share a guard group (the statements of one block with no call
//! between them read one debug-table entry): each stops only for itself,
//! a breakpoint set while stopped in the group is still hit, clearing one
//! of a group's breakpoints leaves the others armed, and a breakpoint in a
//! branch that never runs costs the code around it nothing. A check whose
//! failure path only traps does not end a group.

use std::cell::RefCell;
use std::rc::Rc;

use onecopy_runtime::{Config, DebugAction, Engine, Instance, Module, SiteKind, Store};

/// `$f`: four statements in one block (the first shares its site with
/// the function's entry); `$h`: a branch that is never taken, around which
/// a caller loops, so one guard group (see
/// `stress/tests/disas/straight.debug.disas` for the shape). `$g`: a
/// statement, a call, a statement: two groups. `$k`: a bounds check's
/// `br_if` over a panic (`call; unreachable`) and an assertion's `if`
/// around `unreachable`, statements before, between and after them: the
/// hot path's sites are one group, each failure path's its own. `$t`: a
/// division that traps on zero between two statements of one group.
const PROGRAM: &str = r#"(module
  (func $f (export "f") (param i32) (result i32) (local i32)
    local.get 0 i32.const 1 i32.add local.set 1
    local.get 1 i32.const 2 i32.mul local.set 1
    local.get 1 i32.const 3 i32.add local.set 1
    local.get 1)
  (func $g (export "g") (param i32) (result i32) (local i32)
    local.get 0 call $f local.set 1
    local.get 1 i32.const 1 i32.add)
  (func $h (export "h") (param i32) (result i32) (local i32)
    (loop $l
      (if (i32.lt_s (local.get 0) (i32.const 0)) (then (local.set 1 (i32.const 7)) unreachable))
      (local.set 1 (i32.add (local.get 1) (local.get 0)))
      (br_if $l (local.tee 0 (i32.sub (local.get 0) (i32.const 1)))))
    (local.get 1))
  (func $panic (param i32))
  (func $k (export "k") (param i32) (result i32) (local i32)
    (block $ok
      (br_if $ok (i32.lt_u (local.get 0) (i32.const 100)))
      (call $panic (local.get 0))
      unreachable)
    (local.set 1 (i32.mul (local.get 0) (i32.const 3)))
    (if (i32.eqz (local.get 1)) (then unreachable))
    (local.set 1 (i32.add (local.get 1) (i32.const 1)))
    (local.get 1))
  (func $t (export "t") (param i32) (result i32) (local i32)
    (local.set 1 (i32.div_u (i32.const 100) (local.get 0)))
    (local.set 1 (i32.add (local.get 1) (i32.const 1)))
    (local.get 1))
)"#;

struct Fixture {
    module: Module,
    store: Store<()>,
    instance: Instance,
    /// Wasm offsets of the stops taken, in order.
    stops: Rc<RefCell<Vec<u32>>>,
}

fn fixture() -> Fixture {
    let engine = Engine::new(&Config::new().debug(true)).unwrap();
    let module = Module::new(&engine, wat::parse_str(PROGRAM).unwrap()).unwrap();
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    Fixture { module, store, instance, stops: Rc::default() }
}

impl Fixture {
    /// Wasm offsets of function `func`'s statement sites.
    fn statements(&self, func: u32) -> Vec<u32> {
        self.module.sites().iter().filter(|s| s.func == func && s.kind == SiteKind::Instruction).map(|s| s.wasm_offset).collect()
    }

    /// Log every stop; run `also` at each.
    fn on_stop(&mut self, mut also: impl FnMut(u32) + 'static) {
        let log = self.stops.clone();
        self.instance.debug(&mut self.store).unwrap().set_handler(move |frame| {
            log.borrow_mut().push(frame.site.wasm_offset);
            also(frame.site.wasm_offset);
            DebugAction::Continue
        });
    }

    /// A breakpoint at `wasm_offset` of `func`, in this instance.
    fn set_breakpoint(&mut self, func: u32, wasm_offset: u32) {
        self.instance.debug(&mut self.store).unwrap().set_breakpoint(func, wasm_offset).unwrap();
    }

    /// The guards' stop checks so far (true stops and false faults alike).
    fn stop_checks(&mut self) -> u64 {
        self.instance.debug(&mut self.store).unwrap().stop_checks()
    }

    fn call(&mut self, name: &str, arg: i32) -> i32 {
        self.instance.get_typed_func::<(i32,), i32>(&self.store, name).unwrap().call(&mut self.store, (arg,)).unwrap()
    }
}

#[test]
fn an_exit_in_its_group_stops_for_itself() {
    let mut fx = fixture();
    let exit = fx.module.sites().iter().find(|s| s.func == 0 && s.kind == SiteKind::Exit).unwrap().wasm_offset;
    fx.set_breakpoint(0, exit);
    fx.on_stop(|_| {});
    assert_eq!(fx.call("f", 4), 13);
    assert_eq!(*fx.stops.borrow(), vec![exit]);
    // The exit tests its group's entry: the group's first site faults and
    // asks, its later sites (points) want no stop, so nothing steps to
    // them; then the exit branches and asks.
    assert_eq!(fx.stop_checks(), 2);
}

#[test]
fn only_the_site_with_the_breakpoint_stops() {
    let mut fx = fixture();
    let s = fx.statements(0);
    fx.set_breakpoint(0, s[1]);
    fx.on_stop(|_| {});
    assert_eq!(fx.call("f", 4), 13);
    assert_eq!(*fx.stops.borrow(), vec![s[1]]);
    let debug = fx.instance.debug(&mut fx.store).unwrap();
    // The entry, the three statements and the exit are one group: the
    // entry faults, the stop steps to s[1] alone (the other points want no
    // stop), and the exit branches.
    assert_eq!(debug.stop_checks(), 3);
    assert!(debug.is_armed(s[1]));
    assert!(!debug.is_armed(s[0]) && !debug.is_armed(s[2]), "group mates do not stop");
}

#[test]
fn a_breakpoint_set_while_stopped_in_the_group_is_hit() {
    let mut fx = fixture();
    let s = fx.statements(0);
    let remote = fx.instance.debug(&mut fx.store).unwrap().remote();
    remote.set_breakpoint(0, s[0]).unwrap();
    let (first, later) = (s[0], s[2]);
    fx.on_stop(move |at| {
        if at == first {
            remote.clear_breakpoint(0, first);
            remote.set_breakpoint(0, later).unwrap();
        }
    });
    assert_eq!(fx.call("f", 4), 13);
    assert_eq!(*fx.stops.borrow(), vec![s[0], s[2]]);
}

#[test]
fn a_breakpoint_set_in_a_callee_stops_after_the_call() {
    let mut fx = fixture();
    let (f, g) = (fx.statements(0), fx.statements(1));
    let remote = fx.instance.debug(&mut fx.store).unwrap().remote();
    remote.set_breakpoint(0, f[0]).unwrap();
    // `$g`'s last statement, after the call.
    let after = *g.last().unwrap();
    let first = f[0];
    fx.on_stop(move |at| {
        if at == first {
            remote.set_breakpoint(1, after).unwrap();
        }
    });
    assert_eq!(fx.call("g", 4), 14);
    assert_eq!(*fx.stops.borrow(), vec![f[0], after]);
}

#[test]
fn clearing_one_breakpoint_of_a_group_keeps_the_others() {
    let mut fx = fixture();
    let s = fx.statements(0);
    let debug = fx.instance.debug(&mut fx.store).unwrap();
    debug.set_breakpoint(0, s[0]).unwrap();
    debug.set_breakpoint(0, s[2]).unwrap();
    debug.clear_breakpoint(0, s[0]);
    assert!(!debug.is_armed(s[0]));
    assert!(debug.is_armed(s[2]));
    fx.on_stop(|_| {});
    assert_eq!(fx.call("f", 4), 13);
    assert_eq!(*fx.stops.borrow(), vec![s[2]]);
    fx.instance.debug(&mut fx.store).unwrap().clear_breakpoint(0, s[2]);
    fx.stops.borrow_mut().clear();
    assert_eq!(fx.call("f", 4), 13);
    assert!(fx.stops.borrow().is_empty());
}

#[test]
fn a_breakpoint_in_a_branch_never_taken_costs_the_loop_around_it_nothing() {
    let mut fx = fixture();
    let never = fx.module.sites().iter().find(|s| s.func == 2 && s.kind == SiteKind::Instruction).map(|s| s.wasm_offset);
    // The first statement inside `then` (`local.set 1 (i32.const 7)`).
    let then = fx.statements(2).into_iter().nth(2).unwrap();
    assert_ne!(Some(then), never, "not the loop's first statement");
    fx.set_breakpoint(2, then);
    fx.on_stop(|_| {});
    assert_eq!(fx.call("h", 100), 5050);
    assert!(fx.stops.borrow().is_empty());
    let checks = fx.stop_checks();
    assert_eq!(checks, 0, "the sites of other blocks fault only for their own groups");
}

/// `$k`'s statements: the hot path's (the `br_if`, the two `local.set`s,
/// the `if`, the result) and the failure paths' (the panic's call and
/// `unreachable`, the assertion's `unreachable`).
fn k_statements(fx: &Fixture) -> (Vec<u32>, Vec<u32>) {
    let s = fx.statements(4);
    assert_eq!(s.len(), 8, "{s:?}");
    (vec![s[0], s[3], s[4], s[6], s[7]], vec![s[1], s[2], s[5]])
}

#[test]
fn a_check_whose_failure_path_only_traps_keeps_the_group_going() {
    let mut fx = fixture();
    let (hot, _) = k_statements(&fx);
    let last = *hot.last().unwrap();
    fx.set_breakpoint(4, last);
    fx.on_stop(|_| {});
    assert_eq!(fx.call("k", 5), 16);
    assert_eq!(*fx.stops.borrow(), vec![last]);
    // The entry, the five hot statements and the exit read one entry: the
    // entry faults, steps to the last statement, and the exit branches.
    assert_eq!(fx.stop_checks(), 3);
}

#[test]
fn a_breakpoint_on_a_failure_path_never_taken_costs_the_hot_path_nothing() {
    let mut fx = fixture();
    let (_, cold) = k_statements(&fx);
    for at in cold {
        fx.set_breakpoint(4, at);
    }
    fx.on_stop(|_| {});
    assert_eq!(fx.call("k", 5), 16);
    assert!(fx.stops.borrow().is_empty());
    assert_eq!(fx.stop_checks(), 0);
}

#[test]
fn every_site_of_a_group_that_goes_on_past_checks_stops_for_itself() {
    let mut fx = fixture();
    let (hot, _) = k_statements(&fx);
    for &at in &hot {
        fx.set_breakpoint(4, at);
    }
    fx.on_stop(|_| {});
    assert_eq!(fx.call("k", 5), 16);
    assert_eq!(*fx.stops.borrow(), hot);
}

#[test]
fn a_trap_on_the_way_to_a_point_ends_the_step() {
    let mut fx = fixture();
    let s = fx.statements(5);
    assert_eq!(s.len(), 2, "the first statement shares the entry's site: {s:?}");
    // The second statement is a point of the entry's group, after the
    // division: a stop at the entry steps towards it.
    fx.set_breakpoint(5, s[0]);
    fx.on_stop(|_| {});
    let t = fx.instance.get_typed_func::<(i32,), i32>(&fx.store, "t").unwrap();
    let trap = t.call(&mut fx.store, (0,)).unwrap_err();
    assert!(format!("{trap:#}").contains("divide by zero") || format!("{trap:?}").contains("Division"), "{trap:?}");
    assert!(fx.stops.borrow().is_empty(), "the trap came before the point");
    // Had the step left the trap flag set, this thread would now die of
    // SIGTRAP; instead the next call stops at the point and goes on.
    assert_eq!(t.call(&mut fx.store, (4,)).unwrap(), 26);
    assert_eq!(*fx.stops.borrow(), vec![s[0]]);
    assert_eq!(fx.call("f", 4), 13);
}
