//! All-stop over the workers: each worker is running, stopped at a
//! breakable point (its event kept), or finished. When one stops, the
//! others are paused through their own debug tables and waited for, so
//! LLDB sees every thread stopped, as it expects.

use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;
use onecopy_workers::{DebugEvent, DebugSession, Resume, Who};

/// Where one worker is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorkerState {
    /// Running wasm or host code.
    Running,
    /// Stopped at a breakable point, waiting for the session.
    Stopped(DebugEvent),
    /// Its program ended with this exit status (or could not run: `None`).
    Finished(Option<i32>),
}

/// A worker's program ended: its index and exit status (`None` when it
/// failed without one, e.g. a trap).
pub type Finish = (usize, Option<i32>);

/// How long a worker asked to pause may take to reach a breakable point
/// before the session reports the stop without it (a worker blocked in a
/// host call, e.g. reading stdin, cannot stop until the call returns).
const PAUSE_TIMEOUT: Duration = Duration::from_secs(5);

/// The workers of one debug session and where each one is.
pub struct Threads {
    session: DebugSession,
    finished: Receiver<Finish>,
    states: Vec<WorkerState>,
}

impl Threads {
    /// `workers` workers, all running, joined to `session`; their programs'
    /// ends arrive on `finished`.
    pub fn new(session: DebugSession, workers: usize, finished: Receiver<Finish>) -> Threads {
        Threads { session, finished, states: vec![WorkerState::Running; workers] }
    }

    /// The debug session (for requests to stopped workers).
    pub fn session(&self) -> &DebugSession {
        &self.session
    }

    /// How many workers there are (finished ones included).
    pub fn len(&self) -> usize {
        self.states.len()
    }

    /// Whether there are no workers at all.
    pub fn is_empty(&self) -> bool {
        self.states.is_empty()
    }

    /// Where worker `worker` is.
    pub fn state(&self, worker: usize) -> Option<&WorkerState> {
        self.states.get(worker)
    }

    /// The stop event of a stopped worker.
    pub fn stopped(&self, worker: usize) -> Option<&DebugEvent> {
        match self.states.get(worker)? {
            WorkerState::Stopped(event) => Some(event),
            _ => None,
        }
    }

    /// Workers that have not finished (LLDB's threads).
    pub fn alive(&self) -> impl Iterator<Item = usize> + '_ {
        self.states.iter().enumerate().filter(|(_, s)| !matches!(s, WorkerState::Finished(_))).map(|(w, _)| w)
    }

    /// Whether every worker's program has ended.
    pub fn all_finished(&self) -> bool {
        self.alive().next().is_none()
    }

    /// The programs' exit status: the first worker's, or 1 when they differ
    /// or one failed (as `onecopy run --workers` reports it).
    pub fn exit_status(&self) -> u8 {
        let statuses: Vec<Option<i32>> = self.states.iter().map(|s| if let WorkerState::Finished(s) = s { *s } else { None }).collect();
        match statuses.first().copied().flatten() {
            Some(first) if statuses.iter().all(|s| *s == Some(first)) => first as u8,
            _ => 1,
        }
    }

    /// Wait up to `timeout` for one worker to stop or finish; the worker
    /// that did, if any.
    pub fn poll(&mut self, timeout: Duration) -> Option<usize> {
        if let Ok((worker, status)) = self.finished.try_recv() {
            return self.finish(worker, status);
        }
        if let Some(event) = self.session.wait(None, timeout) {
            let worker = event.worker;
            tracing::debug!(worker, func = event.func, offset = event.wasm_offset, kind = ?event.kind, "worker stopped");
            if let Some(state) = self.states.get_mut(worker) {
                *state = WorkerState::Stopped(event);
            }
            return Some(worker);
        }
        let (worker, status) = self.finished.try_recv().ok()?;
        self.finish(worker, status)
    }

    fn finish(&mut self, worker: usize, status: Option<i32>) -> Option<usize> {
        tracing::debug!(worker, ?status, "worker finished");
        *self.states.get_mut(worker)? = WorkerState::Finished(status);
        Some(worker)
    }

    /// Pause every running worker and wait until each has stopped or
    /// finished (or [`PAUSE_TIMEOUT`] passed: it is then left running).
    pub fn stop_all(&mut self) {
        // Stops already sent need no pause (a pause would outlive them).
        while self.poll(Duration::ZERO).is_some() {}
        for worker in self.running() {
            if let Err(error) = self.session.pause(Who::Worker(worker)) {
                tracing::warn!(worker, %error, "cannot pause the worker");
            }
        }
        let deadline = Instant::now() + PAUSE_TIMEOUT;
        while !self.running().is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                tracing::warn!(running = ?self.running(), "workers did not reach a breakable point in time");
                break;
            }
            self.poll(left.min(Duration::from_millis(50)));
        }
    }

    /// Workers currently running.
    pub fn running(&self) -> Vec<usize> {
        self.states.iter().enumerate().filter(|(_, s)| **s == WorkerState::Running).map(|(w, _)| w).collect()
    }

    /// Let a stopped worker go on (a worker that is not stopped is left alone).
    pub fn resume(&mut self, worker: usize, how: Resume) {
        if self.stopped(worker).is_none() {
            return;
        }
        // A pause that raced with this stop must not stop the worker again
        // right after it resumes.
        if let Err(error) = self.session.cancel_pause(Who::Worker(worker)) {
            tracing::warn!(worker, %error, "cannot withdraw a pause");
        }
        match self.session.resume(worker, how) {
            Ok(()) => self.states[worker] = WorkerState::Running,
            Err(error) => tracing::warn!(worker, %error, "cannot resume the worker"),
        }
    }

    /// End debugging: clear every breakpoint and let every worker run to
    /// the end at full speed.
    pub fn detach(&mut self) {
        self.session.detach();
        for state in &mut self.states {
            if matches!(state, WorkerState::Stopped(_)) {
                *state = WorkerState::Running;
            }
        }
    }
}
