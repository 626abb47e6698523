//! The coordinator's side of a debug session: owns the session on one
//! thread, receives [`DebugEvent`]s from stopped workers over a channel and
//! answers with commands, while the other workers keep running.
//!
//! Breakpoints and pauses reach running workers through each instance's
//! [`DebugRemote`] (atomic table bits, no lock the worker takes); requests
//! to a stopped worker (backtrace, locals, globals, memory) are served by
//! that worker's own thread.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use onecopy_runtime::{DebugRemote, FrameInfo, Instance, Module, Store, Trap};
use parking_lot::Mutex;

use crate::command::{FrameValue, GlobalRef, Reply, Request, Resume};
use crate::event::DebugEvent;
use crate::mailbox;
use crate::stop::{self, Stop};
use crate::Value;

/// Which workers a command applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    /// Every worker.
    All,
    /// One worker, by index.
    Worker(usize),
}

/// Why a debugger command failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DebugError {
    /// No worker with that index has joined the session.
    #[error("no worker {0}")]
    NoWorker(usize),
    /// The command needs a stopped worker.
    #[error("worker {0} is not stopped")]
    NotStopped(usize),
    /// The worker could not serve the request (message from the runtime).
    #[error("worker {worker}: {message}")]
    Worker {
        /// Worker index.
        worker: usize,
        /// What went wrong.
        message: String,
    },
}

/// How long the coordinator waits for a stopped worker to answer a request.
const REPLY_TIMEOUT: Duration = Duration::from_secs(10);

/// One debug session over the workers of a pool.
pub struct DebugSession {
    stops: mailbox::Receiver<Stop>,
    stops_tx: mailbox::Sender<Stop>,
    remotes: Arc<Mutex<HashMap<usize, DebugRemote>>>,
    module: Arc<Mutex<Option<Module>>>,
    detached: Arc<AtomicBool>,
    stopped: HashMap<usize, mailbox::Sender<Request>>,
    pending: VecDeque<Stop>,
    traps: Receiver<(usize, Trap)>,
    traps_tx: Sender<(usize, Trap)>,
}

impl Default for DebugSession {
    fn default() -> Self {
        DebugSession::new()
    }
}

impl DebugSession {
    /// A session no worker has joined yet; give [`Self::hook`] to the pool.
    pub fn new() -> DebugSession {
        let (stops_tx, stops) = mailbox::channel();
        let (traps_tx, traps) = crossbeam_channel::unbounded();
        DebugSession {
            traps,
            traps_tx,
            stops,
            stops_tx,
            remotes: Arc::default(),
            module: Arc::default(),
            detached: Arc::default(),
            stopped: HashMap::new(),
            pending: VecDeque::new(),
        }
    }

    /// The instance hook that makes each worker join this session (for
    /// `PoolConfig::on_instance`); it runs on the worker's thread.
    pub fn hook<T: 'static>(&self) -> impl Fn(usize, &mut Store<T>, Instance) + Send + Sync + 'static {
        let (stops, remotes, module, detached) = (self.stops_tx.clone(), self.remotes.clone(), self.module.clone(), self.detached.clone());
        move |worker, store, instance| {
            let joined = instance.module(&*store).and_then(|m| {
                let debug = instance.debug(&mut *store)?;
                module.lock().get_or_insert(m);
                remotes.lock().insert(worker, debug.remote());
                stop::install(worker, &debug, stops.clone(), detached.clone());
                Ok(())
            });
            if let Err(error) = joined {
                tracing::error!(worker, %error, "the worker could not join the debug session");
            }
        }
    }

    /// The trap hook that reports workers' traps to this session (for
    /// `PoolConfig::on_trap`); see [`Self::next_trap`].
    pub fn trap_hook(&self) -> impl Fn(usize, &Trap) + Send + Sync + 'static {
        let traps = self.traps_tx.clone();
        move |worker, trap| {
            // A session that went away has nobody to tell.
            let _ = traps.send((worker, trap.clone()));
        }
    }

    /// The next trap of a debugged worker's call, waiting up to `timeout`.
    pub fn next_trap(&self, timeout: Duration) -> Option<(usize, Trap)> {
        self.traps.recv_timeout(timeout).ok()
    }

    /// Worker indices that joined, sorted.
    pub fn workers(&self) -> Vec<usize> {
        let mut w: Vec<usize> = self.remotes.lock().keys().copied().collect();
        w.sort_unstable();
        w
    }

    /// The function index of an export or name-section name.
    pub fn func_index(&self, name: &str) -> Option<u32> {
        let module = self.module.lock();
        let info = module.as_ref()?.info();
        (0..info.funcs.len() as u32).find(|f| info.func_name(*f) == Some(name))
    }

    fn each(&self, who: Who, mut f: impl FnMut(&DebugRemote) -> Result<(), String>) -> Result<(), DebugError> {
        let remotes = self.remotes.lock();
        let selected: Vec<(usize, &DebugRemote)> = match who {
            Who::All => remotes.iter().map(|(w, r)| (*w, r)).collect(),
            Who::Worker(w) => vec![(w, remotes.get(&w).ok_or(DebugError::NoWorker(w))?)],
        };
        for (worker, remote) in selected {
            f(remote).map_err(|message| DebugError::Worker { worker, message })?;
        }
        Ok(())
    }

    /// Set a breakpoint at `wasm_offset` of function `func` (its entry site's
    /// offset for the entry).
    pub fn set_breakpoint(&self, who: Who, func: u32, wasm_offset: u32) -> Result<(), DebugError> {
        self.each(who, |r| r.set_breakpoint(func, wasm_offset).map(drop).map_err(|e| e.to_string()))
    }

    /// Clear a breakpoint.
    pub fn clear_breakpoint(&self, who: Who, func: u32, wasm_offset: u32) -> Result<(), DebugError> {
        self.each(who, |r| {
            r.clear_breakpoint(func, wasm_offset);
            Ok(())
        })
    }

    /// Clear every breakpoint.
    pub fn clear_all(&self, who: Who) -> Result<(), DebugError> {
        self.each(who, |r| {
            r.clear_all();
            Ok(())
        })
    }

    /// Stop workers at their next breakable point (delivered by the guard).
    pub fn pause(&self, who: Who) -> Result<(), DebugError> {
        self.each(who, |r| {
            r.pause();
            Ok(())
        })
    }

    /// Withdraw pauses not yet delivered, so a worker paused just as it
    /// stopped for another reason does not stop again as soon as it resumes.
    pub fn cancel_pause(&self, who: Who) -> Result<(), DebugError> {
        self.each(who, |r| {
            r.cancel_pause();
            Ok(())
        })
    }

    /// The next stop of `worker` (or of any worker), waiting up to `timeout`.
    /// Stops of other workers that arrive meanwhile are kept for later.
    pub fn wait(&mut self, worker: Option<usize>, timeout: Duration) -> Option<DebugEvent> {
        let wanted = |s: &Stop| worker.is_none_or(|w| s.0.worker == w);
        let stop = match self.pending.iter().position(wanted) {
            Some(i) => self.pending.remove(i),
            None => {
                let deadline = Instant::now() + timeout;
                loop {
                    match self.stops.recv_deadline(deadline) {
                        Ok(stop) if wanted(&stop) => break Some(stop),
                        Ok(stop) => self.pending.push_back(stop),
                        Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => break None,
                    }
                }
            }
        }?;
        self.stopped.insert(stop.0.worker, stop.1);
        Some(stop.0)
    }

    /// Workers currently stopped (their events were returned by [`Self::wait`]).
    pub fn stopped(&self) -> Vec<usize> {
        let mut w: Vec<usize> = self.stopped.keys().copied().collect();
        w.sort_unstable();
        w
    }

    /// Let a stopped worker go on.
    pub fn resume(&mut self, worker: usize, how: Resume) -> Result<(), DebugError> {
        let requests = self.stopped.remove(&worker).ok_or(DebugError::NotStopped(worker))?;
        // A worker that already went away needs no resume.
        let _ = requests.send(Request::Resume(how));
        Ok(())
    }

    /// Let every stopped worker go on.
    pub fn resume_all(&mut self, how: Resume) {
        for worker in self.stopped() {
            let _ = self.resume(worker, how);
        }
    }

    fn ask<T>(&self, worker: usize, request: impl FnOnce(Reply<T>) -> Request) -> Result<T, DebugError> {
        let requests = self.stopped.get(&worker).ok_or(DebugError::NotStopped(worker))?;
        let (reply, answer) = crossbeam_channel::bounded(1);
        let gone = |_| DebugError::Worker { worker, message: "the worker did not answer".into() };
        requests.send(request(reply)).map_err(|_| gone(()))?;
        answer.recv_timeout(REPLY_TIMEOUT).map_err(|_| gone(()))?.map_err(|message| DebugError::Worker { worker, message })
    }

    /// The stopped worker's wasm frames, innermost first.
    pub fn backtrace(&self, worker: usize) -> Result<Vec<FrameInfo>, DebugError> {
        self.ask(worker, Request::Backtrace)
    }

    /// The locals of the stopped frame, `None` where unavailable (the
    /// program never reads that value again).
    pub fn locals(&self, worker: usize) -> Result<Vec<Option<Value>>, DebugError> {
        Ok(self.frame_locals(worker, 0)?.into_iter().map(|l| l.value).collect())
    }

    /// The locals of frame `frame` of the stopped worker (0 = the stopped
    /// frame, 1 its caller, ...; callers are read at their calls), with
    /// their types.
    pub fn frame_locals(&self, worker: usize, frame: u32) -> Result<Vec<FrameValue>, DebugError> {
        self.ask(worker, |r| Request::Locals(frame, r))
    }

    /// Change a local of the stopped frame (seen when it resumes).
    pub fn set_local(&self, worker: usize, index: u32, value: Value) -> Result<(), DebugError> {
        self.ask(worker, |r| Request::SetLocal(index, value, r))
    }

    /// The operand stack of the stopped frame, bottom first, with types.
    pub fn stack(&self, worker: usize) -> Result<Vec<FrameValue>, DebugError> {
        self.ask(worker, Request::Stack)
    }

    /// Change an operand-stack value of the stopped frame.
    pub fn set_stack(&self, worker: usize, index: u32, value: Value) -> Result<(), DebugError> {
        self.ask(worker, |r| Request::SetStack(index, value, r))
    }

    /// Read (and with `value`, first write) a global of the stopped worker's instance.
    pub fn global(&self, worker: usize, global: GlobalRef, value: Option<Value>) -> Result<Value, DebugError> {
        self.ask(worker, |r| Request::Global(global, value, r))
    }

    /// Read `len` bytes of the stopped worker's memory 0 at `addr`.
    pub fn memory(&self, worker: usize, addr: u32, len: u32) -> Result<Vec<u8>, DebugError> {
        self.ask(worker, |r| Request::Memory(addr, len, r))
    }

    /// Write `bytes` at `addr` of the stopped worker's memory 0 (seen by
    /// the program when it resumes).
    pub fn write_memory(&self, worker: usize, addr: u32, bytes: Vec<u8>) -> Result<(), DebugError> {
        self.ask(worker, |r| Request::WriteMemory(addr, bytes, r))
    }

    /// End debugging: clear every breakpoint, resume every stopped worker;
    /// workers run at full speed again.
    pub fn detach(&mut self) {
        self.detached.store(true, Ordering::Release);
        let _ = self.clear_all(Who::All);
        self.resume_all(Resume::Detach);
        for (_, requests) in self.pending.drain(..) {
            let _ = requests.send(Request::Resume(Resume::Detach));
        }
    }
}

impl Drop for DebugSession {
    /// A session that goes away resumes everyone instead of leaving workers blocked.
    fn drop(&mut self) {
        self.detach();
    }
}
