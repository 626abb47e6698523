//! One unit of work for a worker ([`Job`]), where it goes ([`Target`]), and
//! how its caller gets the outcome back ([`CallHandle`]).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError};
use onecopy_runtime::{Instance, Store, Val};

use crate::error::{panic_message, CallError};
use crate::value::Value;

/// Which worker runs a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Target {
    /// Whichever worker is idle first (all workers read one shared queue).
    Any,
    /// Worker `i` (0-based), after the calls already queued for it.
    Worker(usize),
}

/// Work for a worker thread: runs with the worker's index, store and
/// instance and sends its own outcome back.
pub(crate) type Job<T> = Box<dyn FnOnce(usize, &mut Store<T>, Instance) + Send>;

/// What a job sends back: the worker that ran it (none if the call never
/// reached one) and the outcome.
type Reply<T> = (Option<usize>, Result<T, CallError>);

/// A call in flight. The outcome arrives once the worker has run it;
/// dropping the handle does not cancel the call.
#[must_use = "a call's outcome (results or a trap) is only seen through its handle"]
#[derive(Debug)]
pub struct CallHandle<T = Vec<Value>> {
    rx: Receiver<Reply<T>>,
    target: Target,
}

impl<T> CallHandle<T> {
    /// A job that runs `f` on a worker, catching its panics, and the handle
    /// that receives its outcome.
    pub(crate) fn new<D: 'static>(
        target: Target,
        f: impl FnOnce(usize, &mut Store<D>, Instance) -> Result<T, CallError> + Send + 'static,
    ) -> (Job<D>, CallHandle<T>)
    where
        T: Send + 'static,
    {
        let (tx, rx) = crossbeam_channel::bounded(1);
        let job: Job<D> = Box::new(move |worker, store, instance| {
            let result = catch_unwind(AssertUnwindSafe(|| f(worker, store, instance))).unwrap_or_else(|payload| {
                let message = panic_message(payload.as_ref());
                tracing::warn!(worker, %message, "call panicked on the worker");
                Err(CallError::Panicked { worker, message })
            });
            // The caller may have dropped its handle: nobody to tell.
            let _ = tx.send((Some(worker), result));
        });
        (job, CallHandle { rx, target })
    }

    /// A handle that already holds `error` (the call never reached a worker).
    pub(crate) fn failed(target: Target, error: CallError) -> CallHandle<T> {
        let (tx, rx) = crossbeam_channel::bounded(1);
        tx.send((None, Err(error))).expect("the receiver is alive");
        CallHandle { rx, target }
    }

    /// Where the call was sent.
    pub fn target(&self) -> Target {
        self.target
    }

    /// Block until the call is done; its results or why there are none.
    pub fn wait(self) -> Result<T, CallError> {
        self.wait_with_worker().1
    }

    /// Like [`wait`](Self::wait), also saying which worker ran the call
    /// (`None` if none did).
    pub fn wait_with_worker(self) -> (Option<usize>, Result<T, CallError>) {
        match self.rx.recv() {
            Ok(reply) => reply,
            Err(_) => (None, Err(self.gone())),
        }
    }

    /// Wait at most `timeout`. `Ok` holds the call's outcome; `Err` gives
    /// the handle back while the call is still queued or running, to wait
    /// again later.
    pub fn wait_timeout(self, timeout: Duration) -> Result<Result<T, CallError>, CallHandle<T>> {
        match self.rx.recv_timeout(timeout) {
            Ok((_, result)) => Ok(result),
            Err(RecvTimeoutError::Timeout) => Err(self),
            Err(RecvTimeoutError::Disconnected) => Ok(Err(self.gone())),
        }
    }

    /// The job was dropped unrun: its worker (or every worker) ended.
    fn gone(&self) -> CallError {
        let worker = match self.target {
            Target::Worker(i) => Some(i),
            Target::Any => None,
        };
        CallError::WorkerGone { worker }
    }
}

/// Call export `name` of `instance` with `args`: what a worker runs for
/// [`WorkerPool::call`](crate::WorkerPool::call).
pub(crate) fn invoke<T>(store: &mut Store<T>, instance: Instance, name: &str, args: &[Value]) -> Result<Vec<Value>, CallError> {
    let func = instance.get_func(&*store, name).ok_or_else(|| missing_export(store, instance, name))?;
    let args: Vec<Val> = args.iter().map(|&v| Val::from(v)).collect();
    let in_call = |e: onecopy_runtime::Error| match CallError::from(e) {
        CallError::Wasm(message) => CallError::Wasm(format!("calling {name:?}: {message}")),
        other => other,
    };
    let ty = func.ty(&*store).map_err(in_call)?;
    let mut results: Vec<Val> = ty.results.iter().map(|t| Val::default_for(*t)).collect();
    func.call(&mut *store, &args, &mut results).map_err(in_call)?;
    results
        .iter()
        .enumerate()
        .map(|(i, v)| Value::try_from(v).map_err(|e| CallError::Wasm(format!("calling {name:?}: result {i}: {e}"))))
        .collect()
}

/// A readable error for a call to an export that is not a function.
fn missing_export<T>(store: &Store<T>, instance: Instance, name: &str) -> CallError {
    let Ok(module) = instance.module(store) else { return CallError::Wasm("the worker's instance is not in its store".into()) };
    let funcs: Vec<String> = module
        .exports()
        .into_iter()
        .filter(|(_, ty)| matches!(ty, onecopy_runtime::ExternType::Func(_)))
        .map(|(n, _)| format!("{n:?}"))
        .collect();
    let what = if instance.get_export(store, name).is_some() { "is not a function" } else { "does not exist" };
    let known = if funcs.is_empty() { "none".to_string() } else { funcs.join(", ") };
    CallError::Wasm(format!("export {name:?} {what} (function exports: {known})"))
}
