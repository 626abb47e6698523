//! Driving `gdbstub`'s state machine over one LLDB connection: packets
//! while the workers are stopped; while they run, LLDB's interrupts and the
//! workers' stops, each reported with the stopped thread's PC (LLDB's wasm
//! plug-in reads the PC only from the stop reply).

use std::io::{ErrorKind, Write};
use std::net::TcpStream;
use std::time::Duration;

use gdbstub::common::Signal;
use gdbstub::conn::ConnectionExt;
use gdbstub::stub::state_machine::GdbStubStateMachine;
use gdbstub::stub::{DisconnectReason, GdbStub, GdbStubError, MultiThreadStopReason};
use gdbstub_arch::wasm::reg::id::WasmRegId;
use onecopy_runtime::StopReason;

use crate::conn::{Pcs, StopPcs};
use crate::target::WasmTarget;
use crate::threads::WorkerState;
use crate::GdbError;

/// How long one wait for a worker's stop lasts before LLDB's input is
/// checked again (the latency of an interrupt).
const POLL: Duration = Duration::from_millis(20);

/// How a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// Every worker's program ended; LLDB was told the exit status.
    Exited(u8),
    /// LLDB detached, killed or disconnected; the workers were let go.
    Disconnected,
}

type Reason = MultiThreadStopReason<u64>;

/// Serve LLDB on `conn` until the program ends or LLDB goes away. When it
/// goes away the workers are detached: breakpoints cleared, all running.
pub fn serve(conn: TcpStream, target: &mut WasmTarget) -> Result<Ending, GdbError> {
    let ending = loop {
        match serve_once(conn.try_clone()?, target) {
            Ok(ending) => break ending,
            Err(Restart::Malformed(what)) => {
                // gdbstub cannot go on after a packet it cannot parse; a
                // fresh stub on the same connection answers the next one.
                tracing::warn!(%what, "malformed packet: replied with an error");
                if (&conn).write_all(b"$E01#a6").is_err() {
                    break Ending::Disconnected;
                }
            }
            Err(Restart::Gone(what)) => {
                tracing::info!(%what, "LLDB disconnected");
                break Ending::Disconnected;
            }
        }
    };
    if ending == Ending::Disconnected {
        target.threads.detach();
    }
    Ok(ending)
}

/// Why one stub's run ended without an ending.
enum Restart {
    Malformed(String),
    Gone(String),
}

impl<C: std::fmt::Debug> From<GdbStubError<GdbError, C>> for Restart {
    fn from(error: GdbStubError<GdbError, C>) -> Restart {
        if error.is_connection_error() || error.is_target_error() {
            Restart::Gone(format!("{error:?}"))
        } else {
            Restart::Malformed(format!("{error:?}"))
        }
    }
}

fn serve_once(conn: TcpStream, target: &mut WasmTarget) -> Result<Ending, Restart> {
    let pcs = Pcs::default();
    let mut gdb = GdbStub::new(StopPcs::new(conn, pcs.clone(), target.focus.clone())).run_state_machine(target)?;
    loop {
        refresh(&pcs, target);
        gdb = match gdb {
            GdbStubStateMachine::Idle(mut idle) => {
                let byte = idle.borrow_conn().read().map_err(|e| Restart::Gone(e.to_string()))?;
                idle.incoming_data(target, byte)?
            }
            GdbStubStateMachine::Running(mut running) => match running.borrow_conn().peek() {
                Ok(Some(_)) => {
                    let byte = running.borrow_conn().read().map_err(|e| Restart::Gone(e.to_string()))?;
                    running.incoming_data(target, byte)?
                }
                Ok(None) => match next_stop(target) {
                    Some((reason, pc)) => {
                        refresh(&pcs, target);
                        let pc = pc.to_le_bytes();
                        running.report_stop_with_regs(target, reason, &mut std::iter::once((WasmRegId::Pc, &pc[..])))?
                    }
                    None => running.into(),
                },
                Err(e) if e.kind() == ErrorKind::Interrupted => running.into(),
                Err(e) => return Err(Restart::Gone(e.to_string())),
            },
            GdbStubStateMachine::CtrlCInterrupt(interrupt) => {
                target.threads.stop_all();
                refresh(&pcs, target);
                match stop_of(target, None, Signal::SIGINT) {
                    Some((reason, pc)) => {
                        let pc = pc.to_le_bytes();
                        let running = interrupt.interrupt_handled(target, None::<Reason>)?;
                        match running {
                            GdbStubStateMachine::Running(running) => {
                                running.report_stop_with_regs(target, reason, &mut std::iter::once((WasmRegId::Pc, &pc[..])))?
                            }
                            // Interrupted while idle: gdbstub reports a
                            // deferred stop itself when LLDB resumes.
                            other => other,
                        }
                    }
                    None => interrupt.interrupt_handled(target, Some(Reason::Exited(target.threads.exit_status())))?,
                }
            }
            GdbStubStateMachine::Disconnected(gone) => {
                return Ok(match gone.get_reason() {
                    DisconnectReason::TargetExited(status) => Ending::Exited(status),
                    _ => Ending::Disconnected,
                });
            }
        }
    }
}

/// Record every stopped thread's PC for the next reply (stops change them
/// only while the workers run, so before each reply is enough).
fn refresh(pcs: &Pcs, target: &WasmTarget) {
    *pcs.borrow_mut() = target.threads.alive().filter_map(|w| Some((WasmTarget::tid(w).get(), target.pc(w)?))).collect();
}

/// Wait one [`POLL`] for the workers: a stop to report (all others
/// stopped too), the exit when the last program ended, or nothing yet.
fn next_stop(target: &mut WasmTarget) -> Option<(Reason, u64)> {
    let worker = target.threads.poll(POLL)?;
    match target.threads.state(worker)? {
        WorkerState::Stopped(_) => {
            target.threads.stop_all();
            stop_of(target, Some(worker), Signal::SIGTRAP)
        }
        WorkerState::Finished(_) if target.threads.all_finished() => Some((Reason::Exited(target.threads.exit_status()), 0)),
        // A worker that ended while the others are held stopped (a step
        // that left the program): report the first stopped one, so LLDB
        // is not left waiting for workers that will not run.
        WorkerState::Finished(_) if target.threads.running().is_empty() => stop_of(target, None, Signal::SIGTRAP),
        _ => None,
    }
}

/// The stop reply for `worker` (or the first stopped worker), with its PC.
fn stop_of(target: &WasmTarget, worker: Option<usize>, signal: Signal) -> Option<(Reason, u64)> {
    let worker = worker.or_else(|| target.threads.alive().find(|w| target.threads.stopped(*w).is_some()))?;
    let event = target.threads.stopped(worker)?;
    let tid = WasmTarget::tid(worker);
    let reason = match event.kind {
        StopReason::Breakpoint => Reason::SwBreak(tid),
        StopReason::Step | StopReason::Pause => Reason::SignalWithThread { tid, signal },
    };
    Some((reason, target.pc(worker)?))
}
