//! The channel a debug stop travels on (worker -> coordinator, and the
//! coordinator's requests back): an unbounded queue whose receiver blocks
//! on a condition variable as soon as it finds the queue empty.
//!
//! crossbeam's channels spin and then call `sched_yield` four times before
//! they park. On idle cores that shaves a wake-up; with more runnable
//! threads than cores (64 workers on 2) every yield hands the core to a
//! thread running wasm, and under EEVDF each one puts the waiter's deadline
//! a slice further back, so a stopped worker or the coordinator waits
//! several slices before it even sees its message. A stop waits for a
//! person or a program to answer, never for a few nanoseconds: parking at
//! once costs the quiet case nothing that matters.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crossbeam_channel::RecvTimeoutError;

struct State<T> {
    queue: VecDeque<T>,
    senders: usize,
    receiver: bool,
}

struct Shared<T> {
    state: Mutex<State<T>>,
    ready: Condvar,
}

impl<T> Shared<T> {
    /// No code panics while holding the lock, so a poisoned one holds
    /// consistent state.
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The sending side; clone it for more senders.
pub(crate) struct Sender<T>(Arc<Shared<T>>);

/// The one receiving side.
pub(crate) struct Receiver<T>(Arc<Shared<T>>);

/// A new empty mailbox.
pub(crate) fn channel<T>() -> (Sender<T>, Receiver<T>) {
    let shared =
        Arc::new(Shared { state: Mutex::new(State { queue: VecDeque::new(), senders: 1, receiver: true }), ready: Condvar::new() });
    (Sender(shared.clone()), Receiver(shared))
}

impl<T> Sender<T> {
    /// Queue `value`; gives it back if the receiver is gone.
    pub(crate) fn send(&self, value: T) -> Result<(), T> {
        {
            let mut state = self.0.lock();
            if !state.receiver {
                return Err(value);
            }
            state.queue.push_back(value);
        }
        // Notified after unlocking, so the receiver does not wake into a held lock.
        self.0.ready.notify_one();
        Ok(())
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.0.lock().senders += 1;
        Sender(self.0.clone())
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let last = {
            let mut state = self.0.lock();
            state.senders -= 1;
            state.senders == 0
        };
        if last {
            self.0.ready.notify_all();
        }
    }
}

impl<T> Receiver<T> {
    /// The next value, waiting until `deadline`; `Disconnected` once the
    /// queue is empty and every sender is gone.
    pub(crate) fn recv_deadline(&self, deadline: Instant) -> Result<T, RecvTimeoutError> {
        let mut state = self.0.lock();
        loop {
            if let Some(value) = state.queue.pop_front() {
                return Ok(value);
            }
            if state.senders == 0 {
                return Err(RecvTimeoutError::Disconnected);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(RecvTimeoutError::Timeout);
            }
            state = self.0.ready.wait_timeout(state, left).unwrap_or_else(PoisonError::into_inner).0;
        }
    }

    /// [`Self::recv_deadline`] with a timeout.
    pub(crate) fn recv_timeout(&self, timeout: Duration) -> Result<T, RecvTimeoutError> {
        self.recv_deadline(Instant::now() + timeout)
    }
}

impl<T> Drop for Receiver<T> {
    /// Drops what is still queued, as crossbeam does: a queued stop's
    /// request sender goes with it, so its worker sees the coordinator gone.
    fn drop(&mut self) {
        let queued = {
            let mut state = self.0.lock();
            state.receiver = false;
            std::mem::take(&mut state.queue)
        };
        drop(queued);
    }
}

#[cfg(test)]
mod tests {
    use std::thread;

    use super::*;

    #[test]
    fn values_arrive_in_order_across_threads() {
        let (tx, rx) = channel();
        let sender = thread::spawn(move || (0..1000).for_each(|i| tx.send(i).unwrap()));
        let got: Vec<i32> = (0..1000).map(|_| rx.recv_timeout(Duration::from_secs(10)).unwrap()).collect();
        sender.join().unwrap();
        assert_eq!(got, (0..1000).collect::<Vec<_>>());
        assert_eq!(rx.recv_timeout(Duration::from_secs(10)), Err(RecvTimeoutError::Disconnected));
    }

    #[test]
    fn an_empty_mailbox_times_out_while_a_sender_lives() {
        let (tx, rx) = channel::<()>();
        let _also = tx.clone();
        drop(tx);
        assert_eq!(rx.recv_timeout(Duration::from_millis(5)), Err(RecvTimeoutError::Timeout));
    }

    #[test]
    fn a_gone_receiver_refuses_values_and_drops_the_queued_ones() {
        let (tx, rx) = channel();
        let (inner_tx, inner_rx) = channel::<()>();
        tx.send(inner_tx).map_err(drop).unwrap();
        drop(rx);
        assert_eq!(inner_rx.recv_timeout(Duration::from_secs(10)), Err(RecvTimeoutError::Disconnected));
        assert!(tx.send(channel().0).is_err());
    }
}
