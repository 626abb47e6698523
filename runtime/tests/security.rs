//! Security properties, tested: (1) no mapping of the process (the code
//! arena included) is ever writable and executable at once, while other
//! threads compile; (2) an instance cannot reach another instance's
//! memory: each has its own, accesses past its end trap, even at the exact
//! distance to a neighbour's bytes; (3) a host function sees only its
//! caller's memory.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;

use onecopy_runtime::{Caller, Config, Engine, Error, Extern, Instance, Linker, Module, Store, TrapKind};

use common::{check_run, loops_module};

/// One line of `/proc/self/maps`: its range and permissions (`rwxp`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Mapping {
    start: usize,
    end: usize,
    perms: String,
    line: String,
}

impl Mapping {
    fn writable_and_executable(&self) -> bool {
        self.perms.contains('w') && self.perms.contains('x')
    }

    fn executable(&self) -> bool {
        self.perms.contains('x')
    }

    fn within(&self, (start, end): (usize, usize)) -> bool {
        self.start >= start && self.end <= end
    }
}

/// Parse `/proc/<pid>/maps` text; a line that does not parse is an error
/// (a parser that skipped lines would miss what it is looking for).
fn parse_maps(text: &str) -> Result<Vec<Mapping>, String> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let mut fields = line.split_whitespace();
            let range = fields.next().ok_or_else(|| format!("no range in {line:?}"))?;
            let perms = fields.next().ok_or_else(|| format!("no permissions in {line:?}"))?;
            let (start, end) = range.split_once('-').ok_or_else(|| format!("bad range in {line:?}"))?;
            let hex = |s: &str| usize::from_str_radix(s, 16).map_err(|e| format!("{e} in {line:?}"));
            if perms.len() != 4 {
                return Err(format!("bad permissions in {line:?}"));
            }
            Ok(Mapping { start: hex(start)?, end: hex(end)?, perms: perms.to_string(), line: line.to_string() })
        })
        .collect()
}

#[test]
fn the_maps_parser_finds_a_writable_executable_mapping() {
    let text = "55d0c0000000-55d0c0001000 r--p 00000000 08:01 123 /bin/x\n\
                7f1200000000-7f1200010000 rwxp 00000000 00:00 0 \n\
                7f1300000000-7f1300001000 r-xp 00000000 00:00 0\n";
    let maps = parse_maps(text).unwrap();
    let bad: Vec<_> = maps.iter().filter(|m| m.writable_and_executable()).collect();
    assert_eq!(bad.len(), 1, "{maps:?}");
    assert_eq!((bad[0].start, bad[0].end), (0x7f12_0000_0000, 0x7f12_0001_0000));
    assert!(bad[0].within((0x7f12_0000_0000, 0x7f13_0000_0000)));
    assert!(maps[2].executable() && !maps[2].writable_and_executable());
    assert!(parse_maps("7f00-7f01\n").is_err(), "a line without permissions is an error, not skipped");
}

/// Compile, run and drop modules on two threads (debug and plain code)
/// while this thread samples the process's mappings: none may ever be both
/// writable and executable, and the arenas' code must be seen executable.
#[test]
fn no_mapping_is_ever_writable_and_executable_while_threads_compile() {
    let engines = [Engine::new(&Config::new().debug(true)).unwrap(), Engine::new(&Config::new()).unwrap()];
    let ranges: Vec<(usize, usize)> = engines.iter().map(Engine::code_range).collect();
    let wasm = loops_module(16);
    let done = AtomicBool::new(false);
    let (samples, arena_code_seen) = thread::scope(|s| {
        let compilers: Vec<_> = engines
            .iter()
            .map(|engine| {
                let (wasm, done) = (&wasm, &done);
                s.spawn(move || {
                    for round in 0..40 {
                        let module = Module::new(engine, wasm).expect("compiles");
                        let mut store = Store::new(engine, ());
                        let instance = Instance::new(&mut store, &module, &[]).expect("instantiates");
                        check_run(&mut store, instance, round % 16, 10).expect("runs");
                    }
                    done.store(true, Ordering::Relaxed);
                })
            })
            .collect();
        let (mut samples, mut arena_code_seen) = (0usize, false);
        // Until both compilers are done, and at least once after.
        loop {
            let finished = compilers.iter().all(|c| c.is_finished());
            let maps = parse_maps(&std::fs::read_to_string("/proc/self/maps").unwrap()).unwrap();
            if let Some(m) = maps.iter().find(|m| m.writable_and_executable()) {
                let arena = ranges.iter().any(|r| m.within(*r));
                panic!("mapping both writable and executable (in a code arena: {arena}): {}", m.line);
            }
            arena_code_seen |= maps.iter().any(|m| m.executable() && ranges.iter().any(|r| m.within(*r)));
            samples += 1;
            if finished {
                break;
            }
        }
        (samples, arena_code_seen)
    });
    assert!(done.load(Ordering::Relaxed));
    assert!(samples > 1, "sampled {samples} times");
    assert!(arena_code_seen, "no sample showed executable code inside an arena: the check looked at the wrong mappings");
}

const MEMORY: &str = r#"(module
  (memory (export "mem") 1 1)
  (func (export "load") (param i32) (result i32) (i32.load (local.get 0)))
  (func (export "store") (param i32 i32) (i32.store (local.get 0) (local.get 1))))"#;

fn load(store: &mut Store<()>, instance: Instance, addr: u32) -> Result<i32, Error> {
    instance.get_typed_func::<u32, i32>(&*store, "load")?.call(store, addr)
}

fn store_i32(store: &mut Store<()>, instance: Instance, addr: u32, value: i32) -> Result<(), Error> {
    instance.get_typed_func::<(u32, i32), ()>(&*store, "store")?.call(store, (addr, value))
}

fn out_of_bounds(result: Result<impl std::fmt::Debug, Error>, what: &str) {
    match result {
        Err(Error::Trap(trap)) if trap.kind == TrapKind::MemoryOutOfBounds => {}
        other => panic!("{what}: expected an out-of-bounds trap, got {other:?}"),
    }
}

/// Instances in one store and in another, each with its own 1-page memory
/// (maximum 1 page): each sees only its own bytes, and loads and stores at
/// the distance from one memory's base to another's trap. With explicit
/// bounds checks the reservations are small and lie close together, so
/// such distances exist and are tried; with guard pages each memory's
/// reservation covers everything a 32-bit address and offset can reach,
/// so no other memory may lie within it.
#[test]
fn an_instance_cannot_read_or_write_another_instances_memory() {
    for guard in [false, true] {
        let engine = Engine::new(&Config::new().memory_guard(guard)).unwrap();
        neighbours_are_out_of_reach(&engine);
    }
}

fn neighbours_are_out_of_reach(engine: &Engine) {
    let module = Module::new(engine, wat::parse_str(MEMORY).unwrap()).unwrap();
    let mut stores = [Store::new(engine, ()), Store::new(engine, ())];
    let mut instances = Vec::new();
    for (s, store) in stores.iter_mut().enumerate() {
        for _ in 0..4 {
            instances.push((s, Instance::new(&mut *store, &module, &[]).unwrap()));
        }
    }
    let mut bases = Vec::new();
    for (k, (s, instance)) in instances.iter().enumerate() {
        let store = &mut stores[*s];
        store_i32(store, *instance, 16, 1000 + k as i32).unwrap();
        let memory = instance.get_memory(&*store, "mem").unwrap();
        bases.push(memory.data(&*store).unwrap().as_ptr() as usize);
    }
    let reach = onecopy_jit::memory_guard::RESERVATION_BYTES as usize;
    let mut in_reach = 0;
    for (k, (s, instance)) in instances.iter().enumerate() {
        let store = &mut stores[*s];
        assert_eq!(load(store, *instance, 16).unwrap(), 1000 + k as i32, "instance {k} sees its own bytes");
        out_of_bounds(load(store, *instance, 65536 - 3), "a load straddling the end");
        out_of_bounds(load(store, *instance, u32::MAX), "a load at 4 GiB - 1");
        out_of_bounds(store_i32(store, *instance, 65536, -1), "a store just past the end");
        // Where another memory lies within reach of a 32-bit address, that
        // exact address must trap rather than reach it.
        for (j, other) in bases.iter().enumerate().filter(|(j, _)| *j != k) {
            assert_ne!(bases[k], *other, "instances {k} and {j} share a memory base");
            if engine.memory_guard() {
                assert!(other.wrapping_sub(bases[k]) >= reach, "instance {j}'s memory lies in instance {k}'s guard reservation");
            }
            if let Some(distance) = other.checked_sub(bases[k]).and_then(|d| u32::try_from(d + 16).ok()) {
                out_of_bounds(load(store, *instance, distance), &format!("instance {k} loading instance {j}'s bytes"));
                out_of_bounds(store_i32(store, *instance, distance, -1), &format!("instance {k} storing to instance {j}'s bytes"));
                in_reach += 1;
            }
        }
    }
    // Small reservations are placed near each other: some pairs must have
    // been tried, or the test proved nothing about neighbours.
    assert!(engine.memory_guard() || in_reach > 0, "no memory lay within 4 GiB above another: bases {bases:x?}");
    for (k, (s, instance)) in instances.iter().enumerate() {
        assert_eq!(load(&mut stores[*s], *instance, 16).unwrap(), 1000 + k as i32, "instance {k}'s bytes after the others' traps");
    }
}

const PEEKER: &str = r#"(module
  (import "host" "peek" (func $peek (param i32) (result i32)))
  (memory (export "mem") 1)
  (func (export "set") (param i32) (i32.store (i32.const 0) (local.get 0)))
  (func (export "peek") (result i32) (call $peek (i32.const 0))))"#;

/// A host function reads address 0 of "its caller's memory": with two
/// instances in one store (one linker), each call must see its own caller.
#[test]
fn a_host_function_gets_only_its_callers_memory() {
    let engine = Engine::default();
    let module = Module::new(&engine, wat::parse_str(PEEKER).unwrap()).unwrap();
    let mut linker = Linker::new(&engine);
    linker
        .func_wrap("host", "peek", |caller: Caller<'_, Vec<Instance>>, addr: u32| -> Result<i32, Error> {
            let memory = caller.get_export("mem").and_then(Extern::into_memory).ok_or_else(|| Error::NotFound("mem".into()))?;
            let instance = caller.instance().ok_or_else(|| Error::NotFound("a calling instance".into()))?;
            // The caller is one of the store's instances, and its export is its own memory.
            let own = instance.get_memory(&caller, "mem").expect("the caller exports mem");
            assert!(own == memory, "Caller::get_export gave another instance's memory");
            assert!(caller.data().contains(&instance));
            let mut bytes = [0; 4];
            memory.read(&caller, addr as usize, &mut bytes)?;
            Ok(i32::from_le_bytes(bytes))
        })
        .unwrap();
    let mut store = Store::new(&engine, Vec::new());
    let instances: Vec<Instance> = (0..3).map(|_| linker.instantiate(&mut store, &module).unwrap()).collect();
    store.data_mut().extend(&instances);
    for (k, instance) in instances.iter().enumerate() {
        instance.get_typed_func::<i32, ()>(&store, "set").unwrap().call(&mut store, 7 * (k as i32 + 1)).unwrap();
    }
    for (k, instance) in instances.iter().enumerate().rev() {
        let peek = instance.get_typed_func::<(), i32>(&store, "peek").unwrap();
        assert_eq!(peek.call(&mut store, ()).unwrap(), 7 * (k as i32 + 1), "instance {k}'s host call saw another memory");
    }
    // Called by the host, the function has no calling instance and so no memory.
    let peek = linker.get(&mut store, "host", "peek").and_then(Extern::into_func).unwrap();
    let error = peek.typed::<u32, i32>(&store).unwrap().call(&mut store, 0).unwrap_err();
    assert!(error.to_string().contains("mem"), "{error}");
}
