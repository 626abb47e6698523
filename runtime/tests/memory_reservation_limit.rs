//! Under an address-space limit (`ulimit -v`) too low for a guard-page
//! memory's 6 GiB: an engine that insists on guard pages fails to create
//! the memory with a typed error (no crash), and an engine left to choose
//! falls back to explicit bounds checks and runs (a memory with explicit
//! checks reserves only its maximum, here one page).
//!
//! Alone in its test binary: the limit is the whole process's.

use onecopy_runtime::{Config, Engine, Error, Instance, Module, Store};

const PROGRAM: &str = r#"(module (memory 1 1)
  (func (export "load") (param i32) (result i32) local.get 0 i32.load))"#;

/// This process's mapped address space now (`VmSize`), in bytes.
fn address_space() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmSize:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() * 1024
}

#[test]
#[cfg(target_os = "linux")]
fn a_refused_reservation_is_an_error_and_the_default_falls_back() {
    // Both engines reserve their (small) code arenas before the limit.
    let small = || Config::new().arena_cap(64 << 20).parallel_compilation(false);
    let insisting = Engine::new(&small().memory_guard(true)).unwrap();
    let module = Module::new(&insisting, wat::parse_str(PROGRAM).unwrap()).unwrap();
    let limit = address_space() + (1 << 30);
    let rlimit = libc::rlimit { rlim_cur: limit, rlim_max: libc::RLIM_INFINITY };
    // SAFETY: only lowers this process's soft limit; nothing else is touched.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_AS, &rlimit) }, 0);

    let mut store = Store::new(&insisting, ());
    match Instance::new(&mut store, &module, &[]) {
        Err(Error::Resource(message)) => assert!(message.contains("reserve"), "{message}"),
        Err(other) => panic!("expected Error::Resource, got {other}"),
        Ok(_) => panic!("a 6 GiB reservation fit under a {limit}-byte limit"),
    }

    let choosing = Engine::new(&small()).unwrap();
    assert!(!choosing.memory_guard(), "no room for guard pages: explicit checks");
    let module = Module::new(&choosing, wat::parse_str(PROGRAM).unwrap()).unwrap();
    let mut store = Store::new(&choosing, ());
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let load = instance.get_typed_func::<(i32,), i32>(&store, "load").unwrap();
    assert_eq!(load.call(&mut store, (0,)).unwrap(), 0);
    let trap = load.call(&mut store, (65533,)).unwrap_err();
    assert_eq!(trap.trap().unwrap().kind, onecopy_runtime::TrapKind::MemoryOutOfBounds);
}
