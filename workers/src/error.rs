//! What can go wrong: starting a pool ([`PoolError`]) and one call on it
//! ([`CallError`]). Both are `Send + Sync`, so they cross threads.

use onecopy_runtime::Trap;

/// Why [`WorkerPool::new`](crate::WorkerPool::new) could not start the pool.
/// When one worker fails, the workers that did start are shut down again.
#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    /// [`PoolConfig::workers`](crate::PoolConfig::workers) was 0.
    #[error("a worker pool needs at least one worker")]
    NoWorkers,
    /// The operating system refused to start a worker thread.
    #[error("worker {worker}: could not start its thread: {source}")]
    Spawn {
        /// Index of the worker.
        worker: usize,
        /// The error from `std::thread::Builder::spawn`.
        source: std::io::Error,
    },
    /// The worker could not make its store's data, build its linker or
    /// instantiate the module (a missing import, a trap in the start
    /// function, no memory).
    #[error("worker {worker}: could not instantiate the module: {source}")]
    Instantiate {
        /// Index of the worker.
        worker: usize,
        /// The runtime's error.
        source: onecopy_runtime::Error,
    },
    /// The linker factory or the `on_instance` hook panicked on the worker.
    #[error("worker {worker} panicked while starting: {message}")]
    Panicked {
        /// Index of the worker.
        worker: usize,
        /// The panic message.
        message: String,
    },
}

/// Why one call on the pool did not return results.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// Wasm trapped: what happened and where. The worker keeps serving.
    #[error("wasm trap: {0}")]
    Trap(Trap),
    /// Any other runtime error: no such export, arguments of the wrong type
    /// or count, a host function's error, a result that cannot leave the
    /// worker. The message says which.
    #[error("{0}")]
    Wasm(String),
    /// The call asked for a worker the pool does not have.
    #[error("no worker {worker}: the pool has {workers} workers")]
    NoSuchWorker {
        /// The index asked for.
        worker: usize,
        /// How many workers the pool has.
        workers: usize,
    },
    /// The worker thread ended before it answered: the pool was shut down
    /// and the worker is gone. `None` for [`Target::Any`](crate::Target::Any)
    /// when no worker was left at all.
    #[error("{}", gone_message(*.worker))]
    WorkerGone {
        /// The worker the call was sent to, if it was sent to one.
        worker: Option<usize>,
    },
    /// Host code on the worker panicked during the call (outside a host
    /// function: those panics are traps of kind `Host`). The worker keeps
    /// serving with the same instance.
    #[error("worker {worker} panicked: {message}")]
    Panicked {
        /// The worker that ran the call.
        worker: usize,
        /// The panic message.
        message: String,
    },
}

fn gone_message(worker: Option<usize>) -> String {
    match worker {
        Some(w) => format!("worker {w} is gone"),
        None => "no worker is left to take the call".to_string(),
    }
}

impl CallError {
    /// The trap, if this error is one.
    pub fn trap(&self) -> Option<&Trap> {
        match self {
            CallError::Trap(t) => Some(t),
            _ => None,
        }
    }
}

impl From<onecopy_runtime::Error> for CallError {
    fn from(e: onecopy_runtime::Error) -> CallError {
        match e {
            onecopy_runtime::Error::Trap(t) => CallError::Trap(t),
            other => CallError::Wasm(other.to_string()),
        }
    }
}

/// The message of a caught panic.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(a panic payload that is not a string)".to_string())
}

// Errors travel from worker threads to callers.
const _: () = {
    const fn send_sync<T: Send + Sync>() {}
    send_sync::<PoolError>();
    send_sync::<CallError>();
};
