//! One copy of debug code for every thread: 64 threads debug 64 instances
//! of one module at once, each with a breakpoint in its own function, and
//! (a) nobody gets a copy of the code (same addresses, same arena bytes,
//! never writable), (b) nobody stops where another instance's breakpoint is,
//! not even while that instance is being single-stepped at the same moment.

mod common;

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Barrier;

use onecopy_runtime::{CodeMemory, Config, DebugAction, Engine, Instance, Module, Store, Val};

use common::{check_run, create_stubs, entry_offset, loops_module};

/// Threads, and functions: thread `i` debugs function `f_i`.
const THREADS: u32 = 64;
/// Times each thread calls every function; its breakpoint must fire this often.
const ROUNDS: u32 = 2;
/// Loop length of each call.
const N: i32 = 50;

fn debug_module(funcs: u32) -> (Engine, Module) {
    let engine = Engine::new(&Config::new().debug(true)).expect("engine");
    let module = Module::new(&engine, loops_module(funcs)).expect("compile");
    (engine, module)
}

/// One stop of a handler: function, site id, and local 0 (the loop length).
type Stop = (u32, u32, Option<i32>);

/// What one thread saw.
struct ThreadReport {
    /// `func_address(k)` of its instance for every function.
    addresses: Vec<usize>,
    /// Each stop of its handler.
    stops: Vec<Stop>,
}

/// `[start, end)` of every /proc/self/maps line overlapping `range`, with its
/// permissions (`r-xp`...).
#[cfg(target_os = "linux")]
fn mappings(range: (usize, usize)) -> Vec<(usize, usize, String)> {
    let maps = std::fs::read_to_string("/proc/self/maps").expect("read /proc/self/maps");
    maps.lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let (start, end) = fields.next()?.split_once('-')?;
            let (start, end) = (usize::from_str_radix(start, 16).ok()?, usize::from_str_radix(end, 16).ok()?);
            let perms = fields.next()?.to_string();
            (start < range.1 && range.0 < end).then_some((start, end, perms))
        })
        .collect()
}

/// Problems with the arena's mappings: any writable one, or no executable
/// one at all (which would mean the parse found nothing to check).
#[cfg(target_os = "linux")]
fn mapping_problems(engine: &Engine, when: &str) -> Vec<String> {
    let maps = mappings(engine.code_range());
    let mut problems: Vec<String> = maps
        .iter()
        .filter(|(_, _, perms)| perms.contains('w'))
        .map(|(s, e, perms)| format!("{when}: code arena mapping {s:#x}-{e:#x} is {perms}"))
        .collect();
    if !maps.iter().any(|(_, _, perms)| perms.starts_with("r-x")) {
        problems.push(format!("{when}: no executable mapping in the code arena: {maps:x?}"));
    }
    problems
}

/// Without /proc/self/maps there is nothing to check.
#[cfg(not(target_os = "linux"))]
fn mapping_problems(_engine: &Engine, _when: &str) -> Vec<String> {
    Vec::new()
}

/// A thread's instance, armed at the entry of its own function.
struct Armed {
    store: Store<()>,
    instance: Instance,
    /// Filled by the handler.
    stops: Rc<RefCell<Vec<Stop>>>,
    /// `func_address(k)` for every function.
    addresses: Vec<usize>,
}

impl Armed {
    fn new(module: &Module, func: u32) -> Result<Armed, String> {
        let mut store = Store::new(module.engine(), ());
        let instance = Instance::new(&mut store, module, &[]).map_err(|e| format!("instantiate: {e}"))?;
        let addresses = (0..=THREADS).map(|k| instance.func_address(&store, k).map_or(0, |p| p as usize)).collect();
        let debug = instance.debug(&mut store).map_err(|e| e.to_string())?;
        debug.set_breakpoint(func, entry_offset(module, func)).map_err(|e| e.to_string())?;
        let stops = Rc::new(RefCell::new(Vec::new()));
        let log = stops.clone();
        debug.set_handler(move |frame| {
            let n = match frame.local(0) {
                Some(Val::I32(n)) => Some(n),
                _ => None,
            };
            log.borrow_mut().push((frame.site.func, frame.site.id, n));
            DebugAction::Continue
        });
        Ok(Armed { store, instance, stops, addresses })
    }
}

/// Thread `i`'s life: instantiate, break at the entry of `f_i`, wait while
/// the main thread looks (`barrier` twice), call every function `ROUNDS`
/// times, wait while the main thread looks again (twice). Errors are
/// returned, not panicked, so that every thread reaches every barrier.
fn debug_own_function(module: &Module, i: u32, barrier: &Barrier) -> Result<ThreadReport, String> {
    let ready = Armed::new(module, i);
    barrier.wait(); // all instances alive, breakpoints set
    barrier.wait(); // the main thread has looked
    let ran = ready.and_then(|mut armed| {
        for _ in 0..ROUNDS {
            for k in 0..THREADS {
                check_run(&mut armed.store, armed.instance, k, N).map_err(|e| format!("thread {i}: {e}"))?;
            }
        }
        Ok(armed)
    });
    barrier.wait(); // all have run, instances still alive
    barrier.wait(); // the main thread has looked again
    let armed = ran?;
    let stops = armed.stops.borrow().clone();
    Ok(ThreadReport { addresses: armed.addresses, stops })
}

#[test]
fn sixty_four_threads_debug_one_copy_of_code() {
    let (engine, module) = debug_module(THREADS);
    let mut problems = mapping_problems(&engine, "after compiling");
    create_stubs(&module);
    let before = engine.code_memory();

    let barrier = Barrier::new(THREADS as usize + 1);
    let mut during: Vec<(&str, CodeMemory)> = Vec::new();
    let reports: Vec<Result<ThreadReport, String>> = std::thread::scope(|s| {
        let threads: Vec<_> = (0..THREADS)
            .map(|i| {
                let (module, barrier) = (module.clone(), &barrier);
                s.spawn(move || debug_own_function(&module, i, barrier))
            })
            .collect();
        // The main thread must not panic here: the workers would wait forever.
        for when in ["64 instances with breakpoints set", "after all 64 ran"] {
            barrier.wait();
            during.push((when, engine.code_memory()));
            problems.extend(mapping_problems(&engine, when));
            barrier.wait();
        }
        threads.into_iter().map(|t| t.join().unwrap_or_else(|_| Err("thread panicked".into()))).collect()
    });
    let after = engine.code_memory();

    assert!(problems.is_empty(), "{problems:#?}");
    let reports: Vec<ThreadReport> = reports.into_iter().collect::<Result<_, _>>().unwrap();
    for (when, memory) in &during {
        assert_eq!(memory.used, before.used, "code bytes {when} (before: {before:?}, then: {memory:?})");
        assert_eq!(memory.modules, 1, "{when}");
    }
    assert_eq!(after, before);
    assert_eq!(before.used, module.code_size() + before.stub_bytes, "{before:?}");

    let shared: Vec<usize> = (0..=THREADS).map(|k| module.func_address(k).map_or(0, |p| p as usize)).collect();
    let (start, end) = engine.code_range();
    assert!(shared.iter().all(|&a| start <= a && a < end), "code outside the arena: {shared:x?}");
    for (i, report) in reports.iter().enumerate() {
        assert_eq!(report.addresses, shared, "thread {i} runs other code");
        let entry = module.sites().iter().find(|s| s.wasm_offset == entry_offset(&module, i as u32)).unwrap();
        let expected = vec![(i as u32, entry.id, Some(N)); ROUNDS as usize];
        assert_eq!(report.stops, expected, "thread {i} must stop at its own breakpoint only");
    }
}

/// Handler calls of one instance, counted on its own thread.
fn count_stops(store: &mut Store<()>, instance: Instance, action: DebugAction) -> Rc<Cell<u64>> {
    let count = Rc::new(Cell::new(0));
    let counter = count.clone();
    instance.debug(store).expect("the store's instance").set_handler(move |_| {
        counter.set(counter.get() + 1);
        action
    });
    count
}

#[test]
fn stepping_one_thread_never_stops_another_running_the_same_function() {
    /// Long enough that the stepped thread is busy for many milliseconds.
    const STEPPED_N: i32 = 20_000;
    let (_engine, module) = debug_module(2);
    let entry = entry_offset(&module, 0);
    let barrier = Barrier::new(2);
    let stepped_done = AtomicBool::new(false);
    let (stepped, free) = std::thread::scope(|s| {
        let a = s.spawn(|| {
            let setup = || -> Result<_, String> {
                let mut store = Store::new(module.engine(), ());
                let instance = Instance::new(&mut store, &module, &[]).map_err(|e| e.to_string())?;
                let debug = instance.debug(&mut store).map_err(|e| e.to_string())?;
                debug.set_breakpoint(0, entry).map_err(|e| e.to_string())?;
                debug.set_stepping(true);
                let stops = count_stops(&mut store, instance, DebugAction::Step);
                Ok((store, instance, stops))
            };
            let ready = setup();
            barrier.wait();
            let ran = ready.and_then(|(mut store, instance, stops)| check_run(&mut store, instance, 0, STEPPED_N).map(|()| stops.get()));
            stepped_done.store(true, Ordering::Release);
            ran
        });
        let b = s.spawn(|| {
            let mut store = Store::new(module.engine(), ());
            let instance = Instance::new(&mut store, &module, &[]).map_err(|e| e.to_string());
            let stops = instance.as_ref().ok().map(|instance| count_stops(&mut store, *instance, DebugAction::Continue));
            barrier.wait();
            let instance = instance?;
            // Keep running the same code for as long as the other thread steps through it.
            let mut calls = 0u64;
            while calls == 0 || !stepped_done.load(Ordering::Acquire) {
                check_run(&mut store, instance, 0, STEPPED_N)?;
                calls += 1;
            }
            assert!(!instance.debug(&mut store).unwrap().is_armed(entry));
            Ok::<_, String>((stops.map_or(0, |s| s.get()), calls))
        });
        (a.join().expect("stepped thread"), b.join().expect("free thread"))
    });
    let stepped = stepped.unwrap();
    let (free_stops, free_calls) = free.unwrap();
    assert_eq!(free_stops, 0, "the free thread stopped ({free_calls} calls)");
    assert!(stepped >= STEPPED_N as u64, "stepping stopped only {stepped} times in {STEPPED_N} iterations");
}
