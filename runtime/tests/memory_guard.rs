//! Out-of-bounds memory accesses trap at exactly the right byte with
//! guard-page memories and with explicit bounds checks, in normal code, in
//! debug code, and while stepping (where every fault in compiled code goes
//! through the debug-stop path first).

use onecopy_runtime::{Config, Engine, Error, Instance, Module, Store, TrapKind};

const PROGRAM: &str = r#"(module
  (memory (export "mem") 1 3)
  (func (export "load8") (param i32) (result i32) local.get 0 i32.load8_u)
  (func (export "load32") (param i32) (result i32) local.get 0 i32.load)
  (func (export "load64") (param i32) (result i64) local.get 0 i64.load offset=8)
  (func (export "store32") (param i32 i32) local.get 0 local.get 1 i32.store)
  ;; Within the 2 GiB guard: no explicit check with guard pages.
  (func (export "load_guard_edge") (param i32) (result i32) local.get 0 i32.load offset=2147483644)
  ;; Past the guard: checked explicitly in both modes.
  (func (export "load_huge_offset") (param i32) (result i32) local.get 0 i32.load offset=4294967280)
  (func (export "grow") (param i32) (result i32) local.get 0 memory.grow))"#;

/// The configurations every boundary is checked in.
fn configs() -> Vec<(&'static str, Config, bool)> {
    let mut configs = Vec::new();
    for (name, guard) in [("guard pages", true), ("explicit checks", false)] {
        configs.push((name, Config::new().memory_guard(guard), false));
        configs.push((name, Config::new().memory_guard(guard).debug(true), false));
        configs.push((name, Config::new().memory_guard(guard).debug(true), true));
    }
    configs
}

struct Kernel {
    store: Store<()>,
    instance: Instance,
}

impl Kernel {
    fn new(config: &Config, stepping: bool) -> Kernel {
        let engine = Engine::new(config).unwrap();
        let module = Module::new(&engine, wat::parse_str(PROGRAM).unwrap()).unwrap();
        let mut store = Store::new(&engine, ());
        let instance = Instance::new(&mut store, &module, &[]).unwrap();
        if stepping {
            let debug = instance.debug(&mut store).unwrap();
            debug.set_handler(|_| onecopy_runtime::DebugAction::Continue);
            debug.set_stepping(true);
        }
        Kernel { store, instance }
    }

    fn call<P: onecopy_runtime::WasmParams, R: onecopy_runtime::WasmResults>(&mut self, name: &str, args: P) -> Result<R, Error> {
        self.instance.get_typed_func::<P, R>(&self.store, name).unwrap().call(&mut self.store, args)
    }
}

fn is_out_of_bounds<T: std::fmt::Debug>(result: Result<T, Error>) -> bool {
    match result {
        Err(Error::Trap(trap)) => {
            assert_eq!(trap.kind, TrapKind::MemoryOutOfBounds, "{trap}");
            assert!(trap.func.is_some(), "the trap is located: {trap}");
            true
        }
        Err(other) => panic!("not a trap: {other}"),
        Ok(_) => false,
    }
}

#[test]
fn the_engine_says_which_kind_of_memory_it_makes() {
    assert!(!Engine::new(&Config::new().memory_guard(false)).unwrap().memory_guard());
    if cfg!(all(target_arch = "x86_64", target_os = "linux")) {
        assert!(Engine::new(&Config::new().memory_guard(true)).unwrap().memory_guard());
    }
}

#[test]
fn loads_trap_at_the_first_byte_past_the_end_and_when_they_straddle_it() {
    for (name, config, stepping) in configs() {
        let mut k = Kernel::new(&config, stepping);
        let at = format!("{name}, debug {}, stepping {stepping}", k.store.engine().is_debug());
        assert!(!is_out_of_bounds(k.call::<(i32,), i32>("load8", (65535,))), "{at}");
        assert!(is_out_of_bounds(k.call::<(i32,), i32>("load8", (65536,))), "{at}");
        assert!(!is_out_of_bounds(k.call::<(i32,), i32>("load32", (65532,))), "{at}");
        for straddling in 65533..=65535 {
            assert!(is_out_of_bounds(k.call::<(i32,), i32>("load32", (straddling,))), "{at}: {straddling}");
        }
        assert!(!is_out_of_bounds(k.call::<(i32,), i64>("load64", (65520,))), "{at}");
        assert!(is_out_of_bounds(k.call::<(i32,), i64>("load64", (65521,))), "{at}");
        assert!(is_out_of_bounds(k.call::<(i32,), i32>("load32", (-1,))), "{at}");
        assert!(is_out_of_bounds(k.call::<(i32,), i32>("load_guard_edge", (-1,))), "{at}");
        assert!(is_out_of_bounds(k.call::<(i32,), i32>("load_guard_edge", (0,))), "{at}");
        assert!(is_out_of_bounds(k.call::<(i32,), i32>("load_huge_offset", (0,))), "{at}");
        assert!(is_out_of_bounds(k.call::<(i32,), i32>("load_huge_offset", (-1,))), "{at}");
    }
}

#[test]
fn a_straddling_store_traps_and_writes_nothing() {
    for (name, config, stepping) in configs() {
        let mut k = Kernel::new(&config, stepping);
        assert!(is_out_of_bounds(k.call::<(i32, i32), ()>("store32", (65534, -1))), "{name}");
        let memory = k.instance.get_memory(&k.store, "mem").unwrap();
        assert_eq!(&memory.data(&k.store).unwrap()[65532..], &[0, 0, 0, 0], "{name}: the store left no bytes behind");
        assert!(!is_out_of_bounds(k.call::<(i32, i32), ()>("store32", (65532, -1))), "{name}");
    }
}

#[test]
fn growing_moves_the_boundary_and_the_maximum_holds() {
    for (name, config, stepping) in configs() {
        let mut k = Kernel::new(&config, stepping);
        assert_eq!(k.call::<(i32,), i32>("grow", (1,)).unwrap(), 1, "{name}");
        assert!(!is_out_of_bounds(k.call::<(i32,), i32>("load8", (65536,))), "{name}");
        assert!(!is_out_of_bounds(k.call::<(i32,), i32>("load32", (131068,))), "{name}");
        assert!(is_out_of_bounds(k.call::<(i32,), i32>("load32", (131069,))), "{name}");
        assert_eq!(k.call::<(i32,), i32>("grow", (2,)).unwrap(), -1, "{name}: past the maximum");
        assert!(is_out_of_bounds(k.call::<(i32,), i32>("load8", (131072,))), "{name}");
        assert_eq!(k.call::<(i32,), i32>("grow", (1,)).unwrap(), 2, "{name}");
        assert!(!is_out_of_bounds(k.call::<(i32,), i32>("load8", (196607,))), "{name}");
        assert!(is_out_of_bounds(k.call::<(i32,), i32>("load8", (196608,))), "{name}");
    }
}
