//! Debugging some workers of a pool while the others run: breakpoints in
//! one worker, stepping, pause-all, traps, globals and memory, through the
//! coordinator's session.

mod common;

use std::time::Duration;

use common::sites;
use onecopy_runtime::{Config, Engine, Module, StopReason};
use onecopy_workers::{DebugSession, GlobalRef, PoolConfig, Resume, Value, Who, WorkerPool};

/// The program both debugger tests (this crate's and `onecopy debug`'s) drive.
const PROGRAM: &str = include_str!("data/debugger.wat");

const WAIT: Duration = Duration::from_secs(20);

fn setup(workers: usize) -> (Engine, Module, WorkerPool, DebugSession) {
    let engine = Engine::new(&Config::new().debug(true)).unwrap();
    let module = Module::new(&engine, wat::parse_str(PROGRAM).unwrap()).unwrap();
    let session = DebugSession::new();
    let config = PoolConfig::new(workers).on_instance(session.hook()).on_trap(session.trap_hook());
    let pool = WorkerPool::new(&module, config).unwrap();
    (engine, module, pool, session)
}

#[test]
fn one_worker_stops_while_thirty_one_finish() {
    let (engine, module, pool, mut session) = setup(32);
    let used = engine.code_memory().used;
    let fib_entry = sites(&module, 0)[0];
    session.set_breakpoint(Who::Worker(7), 0, fib_entry).unwrap();
    let calls = pool.call_all("fib", vec![Value::I32(15)]);
    let stop = session.wait(None, WAIT).expect("worker 7 stops");
    assert_eq!((stop.worker, stop.func, stop.wasm_offset, stop.kind), (7, 0, fib_entry, StopReason::Breakpoint));
    assert_eq!(stop.name.as_deref(), Some("fib"));
    assert_eq!(session.locals(7).unwrap(), [Some(Value::I32(15))]);
    assert_eq!(session.backtrace(7).unwrap().len(), 1);
    // The other 31 finish their calls, and more (recursive and loop-heavy),
    // while worker 7 is stopped.
    let seventh = calls.into_iter().enumerate().fold(None, |seventh, (w, handle)| {
        if w == 7 {
            return Some(handle);
        }
        assert_eq!(handle.wait().unwrap(), [Value::I32(610)]);
        let target = onecopy_workers::Target::Worker(w);
        assert_eq!(pool.call(target, "sum", vec![Value::I32(100_000)]).wait().unwrap(), [Value::I32(705_082_704)]);
        assert_eq!(pool.call(target, "fib", vec![Value::I32(10)]).wait().unwrap(), [Value::I32(55)]);
        seventh
    });
    let seventh = seventh.unwrap();
    assert_eq!(session.stopped(), [7]);
    // Change the argument: fib(15) becomes fib(10) for worker 7.
    session.set_local(7, 0, Value::I32(10)).unwrap();
    session.clear_breakpoint(Who::Worker(7), 0, fib_entry).unwrap();
    session.resume(7, Resume::Continue).unwrap();
    assert_eq!(seventh.wait().unwrap(), [Value::I32(55)]);
    assert_eq!(engine.code_memory().used, used, "one copy of code throughout");
}

#[test]
fn stepping_lands_on_the_next_statements_and_the_callers() {
    let (_, module, pool, mut session) = setup(2);
    let fib = sites(&module, 0);
    session.set_breakpoint(Who::Worker(1), 0, fib[0]).unwrap();
    let call = pool.call(onecopy_workers::Target::Worker(1), "fib", vec![Value::I32(3)]);
    let first = session.wait(Some(1), WAIT).unwrap();
    assert_eq!(first.wasm_offset, fib[0]);
    session.clear_breakpoint(Who::Worker(1), 0, fib[0]).unwrap();
    // Step over from the entry: the next statement of the same frame.
    session.resume(1, Resume::StepOver).unwrap();
    let next = session.wait(Some(1), WAIT).unwrap();
    assert_eq!((next.func, next.wasm_offset, next.kind), (0, fib[1], StopReason::Step));
    assert_eq!(session.backtrace(1).unwrap().len(), 1);
    // Step into until we are one call deeper.
    let mut depth = 1;
    while depth < 2 {
        session.resume(1, Resume::StepInto).unwrap();
        session.wait(Some(1), WAIT).unwrap();
        depth = session.backtrace(1).unwrap().len();
    }
    assert_eq!(session.locals(1).unwrap(), [Some(Value::I32(2))]);
    // Step out: back in the outer frame.
    session.resume(1, Resume::StepOut).unwrap();
    session.wait(Some(1), WAIT).unwrap();
    assert_eq!(session.backtrace(1).unwrap().len(), 1);
    assert_eq!(session.locals(1).unwrap(), [Some(Value::I32(3))]);
    session.resume(1, Resume::Continue).unwrap();
    assert_eq!(call.wait().unwrap(), [Value::I32(2)]);
}

#[test]
fn pause_all_stops_every_worker_and_resume_all_finishes() {
    let (_, module, pool, mut session) = setup(8);
    // Loops far too long to finish before the pause, however the threads
    // are scheduled; each is shortened at its stop instead.
    let calls = pool.call_all("sum", vec![Value::I32(i32::MAX)]);
    std::thread::sleep(Duration::from_millis(20));
    session.pause(Who::All).unwrap();
    let sites = sites(&module, 1);
    let mut expected = [0; 8];
    for _ in 0..8 {
        let stop = session.wait(None, WAIT).expect("every worker pauses");
        assert_eq!(stop.kind, StopReason::Pause);
        // `sum` adds local 0 to local 1, then counts local 0 down to zero:
        // with local 0 set to 1, one more addition happens unless the stop
        // is already past it (at the store or the `br_if` statement).
        let total = session.locals(stop.worker).unwrap()[1].and_then(|v| v.i32()).unwrap();
        session.set_local(stop.worker, 0, Value::I32(1)).unwrap();
        let before_add = stop.wasm_offset == sites[0] || stop.wasm_offset == sites[1];
        expected[stop.worker] = total.wrapping_add(before_add as i32);
    }
    assert_eq!(session.stopped(), (0..8).collect::<Vec<_>>());
    session.resume_all(Resume::Continue);
    for (worker, call) in calls.into_iter().enumerate() {
        assert_eq!(call.wait().unwrap(), [Value::I32(expected[worker])], "worker {worker}");
    }
}

#[test]
fn a_trap_while_debugged_reaches_the_caller_and_the_session_goes_on() {
    let (_, module, pool, mut session) = setup(2);
    let crash = sites(&module, 2)[0];
    session.set_breakpoint(Who::All, 2, crash).unwrap();
    let call = pool.call(onecopy_workers::Target::Worker(0), "crash", vec![Value::I32(0)]);
    let stop = session.wait(Some(0), WAIT).unwrap();
    assert_eq!(stop.func, 2);
    session.resume(0, Resume::Continue).unwrap();
    let err = call.wait().unwrap_err();
    assert!(err.to_string().contains("divide by zero"), "{err}");
    // The coordinator hears of it too.
    let (worker, trap) = session.next_trap(WAIT).expect("the session is told of the trap");
    assert_eq!((worker, trap.kind), (0, onecopy_runtime::TrapKind::IntegerDivisionByZero));
    // Globals and memory read through the debugger match what the program wrote.
    let fib = pool.call(onecopy_workers::Target::Worker(1), "fib", vec![Value::I32(5)]);
    assert_eq!(fib.wait().unwrap(), [Value::I32(5)]);
    session.set_breakpoint(Who::Worker(1), 0, sites(&module, 0)[0]).unwrap();
    let again = pool.call(onecopy_workers::Target::Worker(1), "fib", vec![Value::I32(1)]);
    session.wait(Some(1), WAIT).unwrap();
    assert_eq!(session.global(1, GlobalRef::Name("calls".into()), None).unwrap(), Value::I32(15));
    assert_eq!(session.global(1, GlobalRef::Index(0), Some(Value::I32(100))).unwrap(), Value::I32(100));
    session.clear_all(Who::All).unwrap();
    session.resume(1, Resume::Continue).unwrap();
    assert_eq!(again.wait().unwrap(), [Value::I32(1)]);
    // `sum` stores its running total at address 16 before the `br_if` statement.
    let br_if = sites(&module, 1)[3];
    session.set_breakpoint(Who::Worker(1), 1, br_if).unwrap();
    let sum = pool.call(onecopy_workers::Target::Worker(1), "sum", vec![Value::I32(4)]);
    session.wait(Some(1), WAIT).unwrap();
    let stored = i32::from_le_bytes(session.memory(1, 16, 4).unwrap().try_into().unwrap());
    assert_eq!(Some(Value::I32(stored)), session.locals(1).unwrap()[1]);
    assert_eq!(stored, 4);
    session.detach();
    assert_eq!(sum.wait().unwrap(), [Value::I32(10)]);
}

#[test]
fn dropping_the_session_resumes_stopped_workers() {
    let (_, module, pool, session) = setup(2);
    let mut session = session;
    session.set_breakpoint(Who::All, 0, sites(&module, 0)[0]).unwrap();
    let call = pool.call(onecopy_workers::Target::Worker(0), "fib", vec![Value::I32(6)]);
    session.wait(Some(0), WAIT).unwrap();
    drop(session);
    assert_eq!(call.wait().unwrap(), [Value::I32(8)]);
}
