//! The capped code arena seen through the embedding API: compiling past the
//! cap is an ordinary error that says how full the arena is, code compiled
//! earlier keeps working, and dropping modules gives their space back for
//! good (a long-running engine can keep replacing modules).

mod common;

use std::collections::VecDeque;

use onecopy_runtime::{CodeArenaExhausted, Config, Engine, Error, Instance, Module, Store};

use common::{check_run, create_stubs, loops_module};

/// The arena's cap: room for a handful of modules only.
const CAP: usize = 256 << 10;
/// Functions of the test module: about 30 KiB of debug code.
const FUNCS: u32 = 48;

fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(1) as usize
}

/// Instantiate `module` and check a few of its functions.
fn runs_correctly(module: &Module) -> Result<(), String> {
    let mut store = Store::new(module.engine(), ());
    let instance = Instance::new(&mut store, module, &[]).map_err(|e| format!("instantiate: {e}"))?;
    [0, FUNCS / 2, FUNCS - 1].into_iter().try_for_each(|k| check_run(&mut store, instance, k, 10))
}

#[test]
fn compiling_past_the_cap_fails_cleanly_and_freed_space_is_reused() {
    let engine = Engine::new(&Config::new().debug(true).arena_cap(CAP)).expect("engine");
    let wasm = loops_module(FUNCS);
    let first = Module::new(&engine, &wasm).expect("the first module fits");
    let size = first.code_size();
    assert!(size * 4 <= CAP, "module code ({size} bytes) too big for the test to fill the arena gradually");
    // Stubs are compiled on a signature's first call: make them now, while
    // there is room, or the calls below would need arena space too.
    create_stubs(&first);

    let mut modules = vec![first];
    let error = loop {
        match Module::new(&engine, &wasm) {
            Ok(module) => modules.push(module),
            Err(e) => break e,
        }
        assert!(modules.len() * size <= CAP, "{} modules of {size} bytes fit in a {CAP}-byte arena", modules.len());
    };
    let full = engine.code_memory();
    let Error::CodeArenaExhausted(CodeArenaExhausted { requested, used, cap }) = error else {
        panic!("expected CodeArenaExhausted, got {error:?}");
    };
    assert_eq!(cap, full.reserved, "the error reports the page-rounded cap");
    assert!(full.reserved >= CAP && full.reserved - CAP < page_size(), "reserved {} for a cap of {CAP}", full.reserved);
    assert_eq!(used, full.used, "the error reports the arena's use at that moment");
    assert!(requested >= size, "requested {requested} bytes, one module's code is {size}");
    // The failure is genuine: the request's pages did not fit beside the live
    // ones (code pages and the debug code's trap tails).
    let pages = requested.div_ceil(page_size()) * page_size();
    assert!(full.committed + full.trap_tails + pages > full.reserved, "{full:?} had room for {requested} bytes");
    assert_eq!((full.modules, full.used), (modules.len(), modules.len() * size + full.stub_bytes));

    for (i, module) in modules.iter().enumerate() {
        runs_correctly(module).unwrap_or_else(|e| panic!("module {i} after exhaustion: {e}"));
    }
    drop(modules);
    let empty = engine.code_memory();
    assert_eq!((empty.used, empty.modules), (empty.stub_bytes, 0), "{empty:?}");

    // Churn ten caps' worth of code, a few modules alive at a time, so that
    // freed holes are reused between live neighbours.
    let mut live = VecDeque::new();
    let mut compiled = 0;
    while compiled < 10 * CAP {
        let module = Module::new(&engine, &wasm).unwrap_or_else(|e| panic!("after {compiled} bytes compiled, {} live: {e}", live.len()));
        runs_correctly(&module).unwrap_or_else(|e| panic!("after {compiled} bytes compiled: {e}"));
        compiled += module.code_size();
        live.push_back(module);
        if live.len() > 3 {
            live.pop_front();
        }
    }
    drop(live);
    let end = engine.code_memory();
    assert_eq!((end.used, end.modules), (end.stub_bytes, 0), "{end:?}");
}
