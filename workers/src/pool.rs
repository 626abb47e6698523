//! [`WorkerPool`]: worker threads that each make their own [`Store`],
//! instantiate one shared [`Module`] in it, and serve calls from their own
//! queue and a shared one.

use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crossbeam_channel::{select, Receiver, Sender};
use onecopy_runtime::{Error, Instance, InterruptHandle, Linker, Module, Store, StoreLimits, Trap};

use crate::call::{invoke, CallHandle, Job, Target};
use crate::error::{panic_message, CallError, PoolError};
use crate::value::Value;

/// Makes the user data of a worker's [`Store`], on the worker's own thread
/// (the data need not be `Send`). Called with the worker's index.
pub type DataFactory<T> = Arc<dyn Fn(usize) -> Result<T, Error> + Send + Sync>;

/// Builds a worker's [`Linker`] on the worker's own thread (so each worker
/// may define imports of its own). Called with the worker's index and the
/// module.
pub type LinkerFactory<T> = Arc<dyn Fn(usize, &Module) -> Result<Linker<T>, Error> + Send + Sync>;

/// Runs on each worker's thread right after it instantiated the module,
/// with the worker's index, its store and its instance: the place to
/// install debug handlers or read per-instance facts.
pub type InstanceHook<T> = Arc<dyn Fn(usize, &mut Store<T>, Instance) + Send + Sync>;

/// Runs on a worker's thread when one of its calls traps, with the worker's
/// index and the trap (the caller also gets the trap through its handle):
/// how a debugger hears of traps.
pub type TrapHook = Arc<dyn Fn(usize, &Trap) + Send + Sync>;

/// How long dropping a [`WorkerPool`] waits for its workers before it
/// leaves the ones still running detached.
pub const DROP_TIMEOUT: Duration = Duration::from_secs(5);

/// How to start a [`WorkerPool`] whose stores hold user data `T`.
pub struct PoolConfig<T = ()> {
    /// Number of worker threads (at least 1). Default: the number of cores.
    pub workers: usize,
    /// Stack size of each worker thread in bytes. Default: 8 MiB.
    pub stack_size: usize,
    /// Thread name prefix: worker `i` is named `{name}-{i}`. Default:
    /// `onecopy-worker`.
    pub name: String,
    /// Makes each worker's store data.
    pub data: DataFactory<T>,
    /// Supplies each worker's imports. Default (`None`): no imports, an
    /// empty [`Linker`].
    pub linker: Option<LinkerFactory<T>>,
    /// Called on each worker with its new instance before it serves calls.
    pub on_instance: Option<InstanceHook<T>>,
    /// Called on a worker whose call trapped.
    pub on_trap: Option<TrapHook>,
    /// Each worker's store limits (its memories' and tables' sizes, how
    /// many it may hold), so one worker's wasm cannot take the host's
    /// memory. Default (`None`): the store's defaults.
    pub limits: Option<StoreLimits>,
}

impl<T> Clone for PoolConfig<T> {
    fn clone(&self) -> Self {
        PoolConfig {
            workers: self.workers,
            stack_size: self.stack_size,
            name: self.name.clone(),
            data: self.data.clone(),
            linker: self.linker.clone(),
            on_instance: self.on_instance.clone(),
            on_trap: self.on_trap.clone(),
            limits: self.limits,
        }
    }
}

impl Default for PoolConfig<()> {
    fn default() -> PoolConfig<()> {
        PoolConfig::with_data(thread::available_parallelism().map_or(1, |n| n.get()), |_| Ok(()))
    }
}

impl PoolConfig<()> {
    /// `workers` threads whose stores hold no data, everything else default.
    pub fn new(workers: usize) -> PoolConfig<()> {
        PoolConfig::with_data(workers, |_| Ok(()))
    }
}

impl<T: 'static> PoolConfig<T> {
    /// `workers` threads whose stores hold what `data` makes for each
    /// worker (called on the worker's thread with its index), everything
    /// else default.
    pub fn with_data(workers: usize, data: impl Fn(usize) -> Result<T, Error> + Send + Sync + 'static) -> PoolConfig<T> {
        PoolConfig {
            workers,
            stack_size: 8 << 20,
            name: "onecopy-worker".to_string(),
            data: Arc::new(data),
            linker: None,
            on_instance: None,
            on_trap: None,
            limits: None,
        }
    }

    /// Set the worker threads' stack size in bytes.
    pub fn stack_size(mut self, bytes: usize) -> PoolConfig<T> {
        self.stack_size = bytes;
        self
    }

    /// Set the thread name prefix.
    pub fn name(mut self, name: impl Into<String>) -> PoolConfig<T> {
        self.name = name.into();
        self
    }

    /// Supply imports: `factory` runs on each worker's thread and returns
    /// the linker that worker instantiates the module with.
    pub fn linker(mut self, factory: impl Fn(usize, &Module) -> Result<Linker<T>, Error> + Send + Sync + 'static) -> PoolConfig<T> {
        self.linker = Some(Arc::new(factory));
        self
    }

    /// Run `hook` on each worker's thread with its new store and instance.
    pub fn on_instance(mut self, hook: impl Fn(usize, &mut Store<T>, Instance) + Send + Sync + 'static) -> PoolConfig<T> {
        self.on_instance = Some(Arc::new(hook));
        self
    }

    /// Give every worker's store `limits` ([`Store::limiter`]): a module
    /// whose memory starts over them fails to start the pool, and growing
    /// past them returns -1 on that worker.
    pub fn limits(mut self, limits: StoreLimits) -> PoolConfig<T> {
        self.limits = Some(limits);
        self
    }

    /// Set [`PoolConfig::on_trap`].
    pub fn on_trap(mut self, hook: impl Fn(usize, &Trap) + Send + Sync + 'static) -> PoolConfig<T> {
        self.on_trap = Some(Arc::new(hook));
        self
    }
}

impl<T> fmt::Debug for PoolConfig<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PoolConfig")
            .field("workers", &self.workers)
            .field("stack_size", &self.stack_size)
            .field("name", &self.name)
            .field("linker", &self.linker.as_ref().map(|_| "<factory>"))
            .field("on_instance", &self.on_instance.as_ref().map(|_| "<hook>"))
            .field("on_trap", &self.on_trap.as_ref().map(|_| "<hook>"))
            .field("limits", &self.limits)
            .finish()
    }
}

/// What [`WorkerPool::shutdown`] found, by worker index (ascending).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShutdownReport {
    /// Workers that finished their queued calls and ended.
    pub joined: Vec<usize>,
    /// Workers still running at the deadline, left detached: they finish
    /// their current and queued calls on their own and then end.
    pub timed_out: Vec<usize>,
    /// Workers whose thread ended in a panic, with its message.
    pub panicked: Vec<(usize, String)>,
}

impl ShutdownReport {
    /// Whether every worker ended normally before the deadline.
    pub fn is_clean(&self) -> bool {
        self.timed_out.is_empty() && self.panicked.is_empty()
    }
}

/// Worker threads, each with its own [`Store`] (of user data `T`) and
/// [`Instance`] of one shared [`Module`]: the module's code exists once,
/// whatever the number of workers. `Send + Sync`, so calls can come from
/// any thread.
pub struct WorkerPool<T: 'static = ()> {
    module: Module,
    /// Each worker's own queue.
    queues: Vec<Sender<Job<T>>>,
    /// The queue all workers read ([`Target::Any`]).
    shared: Option<Sender<Job<T>>>,
    threads: Vec<(usize, JoinHandle<()>)>,
    /// Each worker thread's interrupt handle, by index.
    interrupts: Vec<InterruptHandle>,
    workers: usize,
    on_trap: Option<TrapHook>,
}

impl<T: 'static> WorkerPool<T> {
    /// Start `config.workers` threads; each makes its store (with data from
    /// [`PoolConfig::data`]), instantiates `module` in it (with the linker
    /// from [`PoolConfig::linker`]) and runs [`PoolConfig::on_instance`].
    /// Returns once every worker is ready, or the error of the
    /// lowest-numbered worker that failed (the others are shut down again).
    pub fn new(module: &Module, config: PoolConfig<T>) -> Result<WorkerPool<T>, PoolError> {
        if config.workers == 0 {
            return Err(PoolError::NoWorkers);
        }
        let (shared_tx, shared_rx) = crossbeam_channel::unbounded::<Job<T>>();
        let (ready_tx, ready_rx) = crossbeam_channel::unbounded::<(usize, Result<InterruptHandle, PoolError>)>();
        let mut pool = WorkerPool {
            module: module.clone(),
            queues: Vec::with_capacity(config.workers),
            shared: Some(shared_tx),
            threads: Vec::with_capacity(config.workers),
            interrupts: Vec::with_capacity(config.workers),
            workers: config.workers,
            on_trap: config.on_trap.clone(),
        };
        for index in 0..config.workers {
            let (own_tx, own_rx) = crossbeam_channel::unbounded::<Job<T>>();
            let start = WorkerStart {
                index,
                module: module.clone(),
                data: config.data.clone(),
                linker: config.linker.clone(),
                on_instance: config.on_instance.clone(),
                limits: config.limits,
                own: own_rx,
                shared: shared_rx.clone(),
                ready: ready_tx.clone(),
            };
            let spawned =
                thread::Builder::new().name(format!("{}-{index}", config.name)).stack_size(config.stack_size).spawn(move || start.run());
            match spawned {
                Ok(handle) => {
                    pool.queues.push(own_tx);
                    pool.threads.push((index, handle));
                }
                Err(source) => {
                    pool.close(DROP_TIMEOUT);
                    return Err(PoolError::Spawn { worker: index, source });
                }
            }
        }
        drop((ready_tx, shared_rx));
        let mut ready = vec![false; config.workers];
        let mut handles: Vec<Option<InterruptHandle>> = vec![None; config.workers];
        let mut failures = Vec::new();
        for (index, outcome) in ready_rx.iter() {
            ready[index] = true;
            match outcome {
                Ok(handle) => handles[index] = Some(handle),
                Err(e) => failures.push((index, e)),
            }
        }
        // A worker that ended without a word (it cannot, short of a bug).
        for (index, _) in ready.iter().enumerate().filter(|(_, r)| !**r) {
            let message = "the worker thread ended before it was ready".to_string();
            failures.push((index, PoolError::Panicked { worker: index, message }));
        }
        if let Some((_, error)) = failures.into_iter().min_by_key(|(index, _)| *index) {
            pool.close(DROP_TIMEOUT);
            return Err(error);
        }
        pool.interrupts = handles.into_iter().flatten().collect();
        tracing::debug!(workers = pool.workers, "worker pool ready");
        Ok(pool)
    }

    /// Number of workers.
    pub fn workers(&self) -> usize {
        self.workers
    }

    /// The module every worker instantiated.
    pub fn module(&self) -> &Module {
        &self.module
    }

    /// Call export `export` with `args` on `target`. Returns at once; the
    /// handle gives the results, or the trap or error.
    pub fn call(&self, target: Target, export: &str, args: Vec<Value>) -> CallHandle {
        self.call_within(target, export, args, None)
    }

    /// Like [`call`](Self::call), but the call is interrupted once it has
    /// run for `deadline` (counted from its start on the worker, not from
    /// now): it then fails with a [`onecopy_runtime::TrapKind::Interrupt`]
    /// trap and the worker serves its next call as usual. Calls without a
    /// deadline of their own run under the worker store's
    /// ([`Store::set_deadline`], none by default).
    pub fn call_with_deadline(&self, target: Target, export: &str, args: Vec<Value>, deadline: Duration) -> CallHandle {
        self.call_within(target, export, args, Some(deadline))
    }

    /// Interrupt worker `worker`'s running call: it fails with a
    /// [`onecopy_runtime::TrapKind::Interrupt`] trap at its next function
    /// entry or loop header, and the worker goes on with its queue, its
    /// instance as the call left it. Returns whether a call was running; an
    /// idle worker is left alone (nothing is kept for its next call), and
    /// so is a worker between two calls or running a [`run`](Self::run)
    /// closure outside wasm. A worker stopped in a debugger stops at its
    /// next check after it resumes.
    pub fn interrupt(&self, worker: usize) -> Result<bool, CallError> {
        let handle = self.interrupts.get(worker).ok_or(CallError::NoSuchWorker { worker, workers: self.workers })?;
        Ok(handle.interrupt())
    }

    fn call_within(&self, target: Target, export: &str, args: Vec<Value>, deadline: Option<Duration>) -> CallHandle {
        let export = export.to_string();
        let on_trap = self.on_trap.clone();
        self.run(target, move |worker, store, instance| {
            let _span = tracing::debug_span!("call", worker, export = %export).entered();
            let result = match deadline {
                Some(deadline) => {
                    let before = store.deadline();
                    store.set_deadline(Some(deadline));
                    let result = invoke(store, instance, &export, &args);
                    store.set_deadline(before);
                    result
                }
                None => invoke(store, instance, &export, &args),
            };
            if let Err(error) = &result {
                tracing::debug!(%error, "call failed");
                if let (Some(hook), CallError::Trap(trap)) = (&on_trap, error) {
                    hook(worker, trap);
                }
            }
            result
        })
    }

    /// The same call on every worker at once (a long job such as `_start`);
    /// handle `i` is worker `i`'s.
    pub fn call_all(&self, export: &str, args: Vec<Value>) -> Vec<CallHandle> {
        (0..self.workers).map(|i| self.call(Target::Worker(i), export, args.clone())).collect()
    }

    /// Run `f` on `target`'s thread with the worker's index, store and
    /// instance (anything the call API does not cover: typed calls, reading
    /// memory, setting breakpoints). A panic in `f` comes back as
    /// [`CallError::Panicked`].
    pub fn run<R: Send + 'static>(
        &self,
        target: Target,
        f: impl FnOnce(usize, &mut Store<T>, Instance) -> Result<R, CallError> + Send + 'static,
    ) -> CallHandle<R> {
        let queue = match target {
            Target::Any => self.shared.as_ref(),
            Target::Worker(i) => match self.queues.get(i) {
                Some(queue) => Some(queue),
                None => {
                    let error = CallError::NoSuchWorker { worker: i, workers: self.workers };
                    return CallHandle::failed(target, error);
                }
            },
        };
        let (job, handle) = CallHandle::new(target, f);
        // If the worker has ended, the job is dropped here, and with it the
        // reply channel: the handle then reports WorkerGone.
        if let Some(queue) = queue {
            let _ = queue.send(job);
        }
        handle
    }

    /// Close the queues, let the workers finish the calls already queued,
    /// and join them, waiting at most `timeout` in all. Never blocks longer:
    /// workers still running then are listed as timed out and left
    /// detached.
    pub fn shutdown(mut self, timeout: Duration) -> ShutdownReport {
        self.close(timeout)
    }

    fn close(&mut self, timeout: Duration) -> ShutdownReport {
        let deadline = Instant::now() + timeout;
        // Dropping the senders closes the queues; workers drain them first.
        self.queues.clear();
        self.shared = None;
        let mut report = ShutdownReport::default();
        let mut running = std::mem::take(&mut self.threads);
        loop {
            let (finished, still): (Vec<_>, Vec<_>) = running.into_iter().partition(|(_, h)| h.is_finished());
            running = still;
            for (index, handle) in finished {
                match handle.join() {
                    Ok(()) => report.joined.push(index),
                    Err(payload) => report.panicked.push((index, panic_message(payload.as_ref()))),
                }
            }
            let now = Instant::now();
            if running.is_empty() || now >= deadline {
                break;
            }
            thread::sleep((deadline - now).min(Duration::from_millis(1)));
        }
        // Dropping a JoinHandle detaches its thread.
        report.timed_out = running.into_iter().map(|(index, _)| index).collect();
        report.joined.sort_unstable();
        report.panicked.sort_unstable();
        if !report.is_clean() {
            tracing::warn!(timed_out = ?report.timed_out, panicked = ?report.panicked, "worker pool shut down uncleanly");
        } else {
            tracing::debug!(joined = report.joined.len(), "worker pool shut down");
        }
        report
    }
}

impl<T: 'static> Drop for WorkerPool<T> {
    /// Shut down with [`DROP_TIMEOUT`] (a no-op after [`WorkerPool::shutdown`]).
    fn drop(&mut self) {
        if !self.threads.is_empty() {
            self.close(DROP_TIMEOUT);
        }
    }
}

impl<T: 'static> fmt::Debug for WorkerPool<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkerPool").field("workers", &self.workers).finish_non_exhaustive()
    }
}

/// Everything a worker thread starts with.
struct WorkerStart<T> {
    index: usize,
    module: Module,
    data: DataFactory<T>,
    linker: Option<LinkerFactory<T>>,
    on_instance: Option<InstanceHook<T>>,
    limits: Option<StoreLimits>,
    own: Receiver<Job<T>>,
    shared: Receiver<Job<T>>,
    ready: Sender<(usize, Result<InterruptHandle, PoolError>)>,
}

impl<T: 'static> WorkerStart<T> {
    /// The worker thread: instantiate, report, serve until the queues close.
    fn run(self) {
        let index = self.index;
        let _span = tracing::info_span!("worker", worker = index).entered();
        let started = catch_unwind(AssertUnwindSafe(|| {
            let mut store = Store::new(self.module.engine(), (self.data)(index)?);
            if let Some(limits) = self.limits {
                store.limiter(limits);
            }
            let linker = match &self.linker {
                Some(factory) => factory(index, &self.module)?,
                None => Linker::new(self.module.engine()),
            };
            let instance = linker.instantiate(&mut store, &self.module)?;
            if let Some(hook) = &self.on_instance {
                hook(index, &mut store, instance);
            }
            Ok::<_, Error>((store, instance))
        }));
        let (mut store, instance) = match started {
            Ok(Ok(started)) => started,
            Ok(Err(source)) => {
                tracing::warn!(error = %source, "instantiation failed");
                let _ = self.ready.send((index, Err(PoolError::Instantiate { worker: index, source })));
                return;
            }
            Err(payload) => {
                let message = panic_message(payload.as_ref());
                tracing::warn!(%message, "panicked while starting");
                let _ = self.ready.send((index, Err(PoolError::Panicked { worker: index, message })));
                return;
            }
        };
        let _ = self.ready.send((index, Ok(InterruptHandle::current())));
        drop(self.ready);
        tracing::debug!("worker ready");
        serve(index, &mut store, instance, &self.own, &self.shared);
        tracing::debug!("queues closed, worker ends");
    }
}

/// Run jobs from the worker's own queue and the shared one until both are
/// closed and empty.
fn serve<T>(index: usize, store: &mut Store<T>, instance: Instance, own: &Receiver<Job<T>>, shared: &Receiver<Job<T>>) {
    let never = crossbeam_channel::never::<Job<T>>();
    let (mut own_open, mut shared_open) = (true, true);
    while own_open || shared_open {
        let own_rx = if own_open { own } else { &never };
        let shared_rx = if shared_open { shared } else { &never };
        let job = select! {
            recv(own_rx) -> job => job.map_err(|_| own_open = false),
            recv(shared_rx) -> job => job.map_err(|_| shared_open = false),
        };
        if let Ok(job) = job {
            job(index, store, instance);
        }
    }
}

// Calls can come from any thread.
const _: () = {
    const fn send_sync<T: Send + Sync>() {}
    send_sync::<WorkerPool>();
    send_sync::<PoolConfig>();
    send_sync::<WorkerPool<std::rc::Rc<()>>>();
    send_sync::<PoolConfig<std::rc::Rc<()>>>();
};
