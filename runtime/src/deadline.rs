//! Call deadlines ([`crate::Store::set_deadline`]): one timer thread per
//! engine, started with the first deadline, interrupts each call whose
//! deadline passes. A thread per call would cost a spawn per call; one
//! thread sleeping until the earliest deadline costs a lock and, when the
//! new deadline is the earliest, a wake-up.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use crate::error::{Error, Result};
use crate::interrupt::InterruptHandle;

/// Identifies one scheduled deadline, to cancel it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct DeadlineKey(Instant, u64);

/// What the timer thread works on.
#[derive(Default)]
struct State {
    /// Pending deadlines, earliest first: whom to interrupt, and which call.
    due: BTreeMap<DeadlineKey, (InterruptHandle, u64)>,
    /// Tie-breaker for deadlines at the same instant.
    next: u64,
    /// The engine is gone: the thread ends.
    closed: bool,
    /// The thread, once started.
    thread: Option<JoinHandle<()>>,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    wake: Condvar,
}

/// The engine's deadline timer.
#[derive(Default)]
pub(crate) struct Timer {
    shared: Arc<Shared>,
}

impl Timer {
    /// Interrupt `call` of `target` once `after` has passed.
    pub(crate) fn schedule(&self, after: Duration, target: InterruptHandle, call: u64) -> Result<DeadlineKey> {
        let at = Instant::now().checked_add(after).unwrap_or_else(|| Instant::now() + Duration::from_secs(1 << 40));
        let mut state = self.shared.state.lock();
        if state.thread.is_none() {
            let shared = self.shared.clone();
            let thread = std::thread::Builder::new()
                .name("onecopy-deadlines".into())
                .spawn(move || run(&shared))
                .map_err(|e| Error::Resource(format!("deadline timer thread: {e}")))?;
            state.thread = Some(thread);
        }
        let key = DeadlineKey(at, state.next);
        state.next += 1;
        let earliest = state.due.keys().next().is_none_or(|first| key < *first);
        state.due.insert(key, (target, call));
        if earliest {
            self.shared.wake.notify_one();
        }
        Ok(key)
    }

    /// Forget a deadline (its call ended first); a no-op once it fired.
    pub(crate) fn cancel(&self, key: DeadlineKey) {
        // No wake-up: the thread finds nothing due when it wakes anyway.
        self.shared.state.lock().due.remove(&key);
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        let thread = {
            let mut state = self.shared.state.lock();
            state.closed = true;
            state.thread.take()
        };
        self.shared.wake.notify_one();
        if let Some(thread) = thread {
            let _ = thread.join();
        }
    }
}

/// The timer thread: fire what is due, sleep until the next deadline.
fn run(shared: &Shared) {
    let mut state = shared.state.lock();
    while !state.closed {
        let now = Instant::now();
        while let Some(entry) = state.due.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let (target, call) = entry.remove();
            let fired = target.interrupt_call(call);
            tracing::debug!(call, fired, "call deadline passed");
        }
        match state.due.keys().next().map(|k| k.0) {
            Some(at) => {
                shared.wake.wait_until(&mut state, at);
            }
            None => shared.wake.wait(&mut state),
        }
    }
}
