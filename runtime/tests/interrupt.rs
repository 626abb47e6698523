//! Interrupting calls on a store's thread from another thread
//! (`InterruptHandle`) and by deadline (`Store::set_deadline`), with both
//! interrupt checks, optimized and not, in normal and debug code. The store
//! stays usable, and keeps what the interrupted call wrote. No timing is
//! asserted; waits are bounded only to turn a hang into a failure.

use std::time::{Duration, Instant};

use onecopy_runtime::{Config, Engine, Error, Instance, InterruptHandle, Interrupts, Linker, Module, OptLevel, Store, TrapKind};

const PROGRAM: &str = r#"(module
  (import "host" "pause" (func $pause))
  (global $ticks (export "ticks") (mut i32) (i32.const 0))
  (func (export "spin") (loop br 0))
  (func (export "count") (loop
    (global.set $ticks (i32.add (global.get $ticks) (i32.const 1)))
    (br 0)))
  (func (export "pausing") (loop (call $pause) (br 0)))
  (func $fib (export "fib") (param i32) (result i32)
    (if (result i32) (i32.lt_u (local.get 0) (i32.const 2))
      (then (local.get 0))
      (else (i32.add (call $fib (i32.sub (local.get 0) (i32.const 1)))
                     (call $fib (i32.sub (local.get 0) (i32.const 2)))))))
  (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1))))"#;

const HANG: Duration = Duration::from_secs(30);

fn configs() -> Vec<(&'static str, Config)> {
    vec![
        ("probe", Config::new()),
        ("probe, debug", Config::new().debug(true)),
        ("probe, debug, speed", Config::new().debug(true).opt_level(OptLevel::Speed)),
        ("probe, speed", Config::new().opt_level(OptLevel::Speed)),
        ("flag", Config::new().interrupt_check(Interrupts::Flag)),
        ("flag, speed", Config::new().interrupt_check(Interrupts::Flag).opt_level(OptLevel::Speed)),
    ]
}

fn instance(config: &Config) -> (Store<()>, Instance) {
    let engine = Engine::new(config).unwrap();
    let module = Module::new(&engine, wat::parse_str(PROGRAM).unwrap()).unwrap();
    let mut store = Store::new(&engine, ());
    let mut linker = Linker::new(&engine);
    linker.func_wrap("host", "pause", || std::thread::sleep(Duration::from_micros(100))).unwrap();
    let instance = linker.instantiate(&mut store, &module).unwrap();
    (store, instance)
}

fn trap_kind<T: std::fmt::Debug>(result: Result<T, Error>) -> TrapKind {
    result.expect_err("should trap").trap().expect("a trap").kind
}

/// Run `f` on this thread while a watchdog interrupts it through `handle`
/// as soon as a call runs.
fn with_watchdog<R>(handle: InterruptHandle, f: impl FnOnce() -> R) -> R {
    let watchdog = std::thread::spawn(move || {
        let start = Instant::now();
        while !handle.interrupt() {
            assert!(start.elapsed() < HANG, "the call never started");
            std::thread::sleep(Duration::from_millis(1));
        }
    });
    let result = f();
    watchdog.join().unwrap();
    result
}

#[test]
fn a_watchdog_thread_interrupts_each_runaway_and_the_store_stays_usable() {
    for (name, config) in configs() {
        let (mut store, i) = instance(&config);
        for export in ["spin", "count", "pausing"] {
            let func = i.get_typed_func::<(), ()>(&store, export).unwrap();
            let kind = with_watchdog(store.interrupt_handle(), || trap_kind(func.call(&mut store, ())));
            assert_eq!(kind, TrapKind::Interrupt, "{name}: {export}");
        }
        let fib = i.get_typed_func::<(i32,), i32>(&store, "fib").unwrap();
        let kind = with_watchdog(store.interrupt_handle(), || trap_kind(fib.call(&mut store, (60,))));
        assert_eq!(kind, TrapKind::Interrupt, "{name}: fib");
        // The next call runs normally; what the interrupted one wrote stays.
        assert_eq!(fib.call(&mut store, (20,)).unwrap(), 6765, "{name}");
        let ticks = i.get_global(&store, "ticks").unwrap().get(&store).unwrap().i32().unwrap();
        assert!(ticks > 0, "{name}: count's writes were kept");
    }
}

/// Guarded debug code's loops have no probe: an interrupt arms the debug
/// tables, and the end of the call puts them back as the debugger left them.
#[test]
fn after_an_interrupt_debug_code_stops_only_at_its_breakpoints() {
    let (mut store, i) = instance(&Config::new().debug(true));
    let module = i.module(&store).unwrap();
    let add = module.sites().iter().find(|s| s.func == 5).unwrap().wasm_offset;
    i.debug(&mut store).unwrap().set_breakpoint(5, add).unwrap();
    let stops = std::rc::Rc::new(std::cell::Cell::new(0));
    let count = stops.clone();
    i.debug(&mut store).unwrap().set_handler(move |_| {
        count.set(count.get() + 1);
        onecopy_runtime::DebugAction::Continue
    });
    let spin = i.get_typed_func::<(), ()>(&store, "spin").unwrap();
    assert_eq!(with_watchdog(store.interrupt_handle(), || trap_kind(spin.call(&mut store, ()))), TrapKind::Interrupt);
    assert_eq!(stops.get(), 0, "the interrupt is no stop");
    let fib = i.get_typed_func::<(i32,), i32>(&store, "fib").unwrap();
    assert_eq!(fib.call(&mut store, (15,)).unwrap(), 610);
    assert_eq!(stops.get(), 0, "no entry stays armed after the interrupted call");
    let add = i.get_typed_func::<(i32, i32), i32>(&store, "add").unwrap();
    assert_eq!(add.call(&mut store, (2, 3)).unwrap(), 5);
    assert_eq!(stops.get(), 1, "the breakpoint survives the interrupt");
}

#[test]
fn a_deadline_interrupts_calls_that_run_past_it() {
    for (name, config) in configs() {
        let (mut store, i) = instance(&config);
        store.set_deadline(Some(Duration::from_millis(10)));
        for export in ["spin", "count", "pausing"] {
            let func = i.get_typed_func::<(), ()>(&store, export).unwrap();
            assert_eq!(trap_kind(func.call(&mut store, ())), TrapKind::Interrupt, "{name}: {export}");
        }
        let fib = i.get_typed_func::<(i32,), i32>(&store, "fib").unwrap();
        assert_eq!(trap_kind(fib.call(&mut store, (60,))), TrapKind::Interrupt, "{name}: fib");
        store.set_deadline(Some(HANG));
        assert_eq!(fib.call(&mut store, (20,)).unwrap(), 6765, "{name}");
        store.set_deadline(None);
        assert_eq!(fib.call(&mut store, (21,)).unwrap(), 10946, "{name}");
    }
}

#[test]
fn interrupting_an_idle_thread_does_nothing() {
    let (mut store, i) = instance(&Config::new());
    let handle = store.interrupt_handle();
    assert!(!handle.interrupt());
    let add = i.get_typed_func::<(i32, i32), i32>(&store, "add").unwrap();
    assert_eq!(add.call(&mut store, (2, 3)).unwrap(), 5);
    // A handle outlives its thread; interrupting through it is a no-op.
    let orphan = std::thread::spawn(InterruptHandle::current).join().unwrap();
    assert!(!orphan.interrupt());
}

#[test]
fn without_loop_checks_a_call_still_stops_at_a_function_entry() {
    let (mut store, i) = instance(&Config::new().interruptible(false));
    let fib = i.get_typed_func::<(i32,), i32>(&store, "fib").unwrap();
    let kind = with_watchdog(store.interrupt_handle(), || trap_kind(fib.call(&mut store, (60,))));
    assert_eq!(kind, TrapKind::Interrupt);
    assert_eq!(fib.call(&mut store, (20,)).unwrap(), 6765);
}
