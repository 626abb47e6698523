//! `thread` and `wait`: script threads on real OS threads.
//!
//! `(thread $t (shared (module $m)) directives...)` starts an OS thread, with
//! the same big stack as every script's thread, that runs the directives in a
//! script context of its own: its own store, and of its parent only the
//! named instance `$m` (a [`super::remote::Remote`]: the instance stays in
//! the parent's store, see `remote.rs` for why) plus the parent's compiled
//! module definitions. `(wait $t)` joins the thread; what its directives did
//! counts as the script's, its failures named for the thread. While a thread
//! runs, its parent answers the thread's requests for `$m` between its own
//! directives and while it waits, so a thread is never stuck for longer
//! than one of its parent's directives takes. A thread never waited for is
//! joined when its parent's directives end.

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::thread::{Scope, ScopedJoinHandle};

use crossbeam_channel::Receiver;
use wast::{WastDirective, WastThread};

use super::remote::Inbox;
use super::report::{fail, Check, FileReport, Verdict};
use super::script::Script;
use super::{panic_message, SCRIPT_STACK};

/// A script thread that has started and not been waited for.
struct Running<'scope> {
    /// Line of its `thread` directive.
    line: usize,
    handle: ScopedJoinHandle<'scope, FileReport>,
    /// Disconnects when the thread's directives are done (or it panicked),
    /// so that waiting can answer requests meanwhile.
    finished: Receiver<()>,
}

/// Run `directives` (of the script `text`) in `script`, on this thread, and
/// record each in `report`, the directives of the threads it starts included.
pub fn run(text: &str, directives: Vec<WastDirective<'_>>, mut script: Script, report: &mut FileReport) {
    let inbox = Inbox::new();
    std::thread::scope(|scope| {
        let mut threads = HashMap::new();
        for directive in directives {
            let line = directive.span().linecol_in(text).0 + 1;
            let check = match directive {
                WastDirective::Thread(thread) => start(scope, text, &script, &inbox, thread, line, &mut threads),
                WastDirective::Wait { thread, .. } => match threads.remove(thread.name()) {
                    Some(running) => wait(&mut script, &inbox, thread.name(), running, report),
                    None => fail(format!("wait: no thread ${} is running", thread.name())),
                },
                // A panic in the runtime fails this directive; the rest still run.
                other => catch_unwind(AssertUnwindSafe(|| script.run(other, line)))
                    .unwrap_or_else(|payload| Err(Verdict::Fail(panic_message(payload.as_ref())))),
            };
            report.record(line, check);
            script.answer_pending(&inbox);
        }
        let mut rest: Vec<_> = threads.into_iter().collect();
        rest.sort_by_key(|(_, running)| running.line);
        for (name, running) in rest {
            let line = running.line;
            // There is no `wait` directive to count as passed, only its failure.
            if let Err(verdict) = wait(&mut script, &inbox, &name, running, report) {
                report.record(line, Err(verdict));
            }
        }
    });
    report.add_handler_calls(script.handler_calls());
}

/// `thread`: start the thread on its own big stack.
fn start<'scope, 'env>(
    scope: &'scope Scope<'scope, 'env>,
    text: &'env str,
    script: &Script,
    inbox: &Inbox,
    thread: WastThread<'env>,
    line: usize,
    threads: &mut HashMap<String, Running<'scope>>,
) -> Check {
    let name = thread.name.name().to_string();
    if threads.contains_key(&name) {
        return fail(format!("thread ${name} is already running"));
    }
    let seed = script.share(thread.shared_module, inbox)?;
    let (done, finished) = crossbeam_channel::bounded::<()>(0);
    let directives = thread.directives;
    let handle = std::thread::Builder::new()
        .name(format!("wast thread ${name}"))
        .stack_size(SCRIPT_STACK)
        .spawn_scoped(scope, move || {
            let _done = done;
            let mut report = FileReport::new(String::new());
            match Script::from_seed(seed) {
                Ok(script) => run(text, directives, script, &mut report),
                Err(e) => report.record(line, Err(Verdict::Fail(format!("{e:#}")))),
            }
            report
        })
        .map_err(|e| Verdict::Fail(format!("cannot start thread ${name}: {e}")))?;
    threads.insert(name, Running { line, handle, finished });
    Ok(())
}

/// `wait`: answer the thread's requests until it is done, then count what it
/// found as the script's own.
fn wait(script: &mut Script, inbox: &Inbox, name: &str, running: Running, report: &mut FileReport) -> Check {
    loop {
        crossbeam_channel::select! {
            // The inbox keeps a sender of its own, so it never disconnects.
            recv(inbox.receiver()) -> request => if let Ok(request) = request { script.answer(request) },
            recv(running.finished) -> _ => break,
        }
    }
    match running.handle.join() {
        Ok(thread) => {
            report.merge_thread(name, thread);
            Ok(())
        }
        Err(payload) => fail(format!("thread ${name} {}", panic_message(payload.as_ref()))),
    }
}
