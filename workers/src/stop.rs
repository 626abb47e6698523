//! The worker side of a debug session: the handler installed on each
//! worker's instance. At a stop it sends a [`DebugEvent`] and then serves the
//! coordinator's requests on its own thread until told to resume; a
//! coordinator that went away resumes it.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::RecvTimeoutError;
use onecopy_runtime::{DebugAction, DebugFrame, Debugger, Val, ValType};

use crate::command::{FrameValue, GlobalRef, Request, Resume};
use crate::event::DebugEvent;
use crate::mailbox::{self, Receiver, Sender};
use crate::Value;

/// A stop as it reaches the coordinator: the event and where to send requests.
pub(crate) type Stop = (DebugEvent, Sender<Request>);

static NEXT_INSTANCE: AtomicU64 = AtomicU64::new(1);

/// Install the session's handler through `debug`, the debugger of
/// `worker`'s instance.
pub(crate) fn install<T: 'static>(worker: usize, debug: &Debugger<'_, T>, stops: Sender<Stop>, detached: Arc<AtomicBool>) {
    let id = NEXT_INSTANCE.fetch_add(1, Ordering::Relaxed);
    debug.set_handler(move |frame| {
        if detached.load(Ordering::Acquire) {
            return detach(frame);
        }
        let Ok(module) = frame.instance().module(&*frame) else { return detach(frame) };
        let event = DebugEvent {
            worker,
            instance: id,
            func: frame.site.func,
            name: module.info().func_name(frame.site.func).map(str::to_string),
            wasm_offset: frame.site.wasm_offset,
            site: frame.site.id,
            kind: frame.reason,
        };
        let _span = tracing::debug_span!("stopped", worker, func = event.func, offset = event.wasm_offset).entered();
        let (requests_tx, requests) = mailbox::channel();
        if stops.send((event, requests_tx)).is_err() {
            return detach(frame);
        }
        serve(frame, &requests, &detached)
    });
}

fn detach<T: 'static>(frame: &mut DebugFrame<'_, T>) -> DebugAction {
    let instance = frame.instance();
    if let Ok(debug) = instance.debug(frame) {
        debug.clear_all();
    }
    DebugAction::Continue
}

/// How often a waiting worker checks whether the session detached (a stop
/// that raced with `detach` is then released without the coordinator).
const DETACH_POLL: Duration = Duration::from_millis(20);

/// Answer requests until a resume, a detach, or the coordinator's disappearance.
fn serve<T: 'static>(frame: &mut DebugFrame<'_, T>, requests: &Receiver<Request>, detached: &AtomicBool) -> DebugAction {
    loop {
        let request = match requests.recv_timeout(DETACH_POLL) {
            Ok(request) => request,
            Err(RecvTimeoutError::Timeout) if !detached.load(Ordering::Acquire) => continue,
            Err(_) => return detach(frame),
        };
        match request {
            Request::Resume(resume) => {
                return match resume {
                    Resume::Continue => DebugAction::Continue,
                    Resume::StepInto => DebugAction::Step,
                    Resume::StepOver => DebugAction::StepOver,
                    Resume::StepOut => DebugAction::StepOut,
                    Resume::Detach => detach(frame),
                }
            }
            Request::Backtrace(reply) => drop(reply.send(Ok(frame.backtrace()))),
            Request::Locals(0, reply) => {
                let values = frame.local_types.iter().zip(frame.locals()).map(|(t, v)| frame_value(*t, v)).collect();
                drop(reply.send(values))
            }
            Request::Locals(n, reply) => {
                let callers = frame.callers();
                let found = callers
                    .get(n as usize - 1)
                    .ok_or_else(|| format!("no frame {n}: {} calling frames are in this module's code", callers.len()));
                let values = found.and_then(|c| c.local_types.iter().zip(c.locals()).map(|(t, v)| frame_value(*t, v)).collect());
                drop(reply.send(values))
            }
            Request::SetLocal(i, v, reply) => drop(reply.send(frame.set_local(i as usize, v.into()).map_err(|e| e.to_string()))),
            Request::Stack(reply) => {
                let stack = frame.stack_types.iter().enumerate().map(|(i, t)| frame_value(*t, frame.stack(i))).collect();
                drop(reply.send(stack))
            }
            Request::SetStack(i, v, reply) => drop(reply.send(frame.set_stack(i as usize, v.into()).map_err(|e| e.to_string()))),
            Request::Global(global, value, reply) => drop(reply.send(global_access(frame, &global, value))),
            Request::Memory(addr, len, reply) => drop(reply.send(memory_read(frame, addr, len))),
            Request::WriteMemory(addr, bytes, reply) => drop(reply.send(memory_write(frame, addr, &bytes))),
        }
    }
}

/// A local or operand as it crosses to the coordinator.
fn frame_value(ty: ValType, value: Option<Val>) -> Result<FrameValue, String> {
    let value = value.map(|v| Value::try_from(&v).map_err(|e| e.to_string())).transpose()?;
    Ok(FrameValue { ty, value })
}

/// Read (and with `value`, first write) a global of the stopped instance.
fn global_access<T>(frame: &mut DebugFrame<'_, T>, global: &GlobalRef, value: Option<Value>) -> Result<Value, String> {
    let instance = frame.instance();
    let found = match global {
        GlobalRef::Name(name) => instance.get_global(&*frame, name),
        GlobalRef::Index(i) => instance.global(&*frame, *i),
    };
    let global = found.ok_or_else(|| format!("no global {global:?}"))?;
    if let Some(v) = value {
        global.set(&mut *frame, v.into()).map_err(|e| e.to_string())?;
    }
    Value::try_from(&global.get(&*frame).map_err(|e| e.to_string())?).map_err(|e| e.to_string())
}

/// Read `len` bytes at `addr` of the stopped instance's memory 0.
fn memory_read<T>(frame: &DebugFrame<'_, T>, addr: u32, len: u32) -> Result<Vec<u8>, String> {
    let memory = frame.instance().memory(frame, 0).ok_or("the module has no memory")?;
    let mut buf = vec![0; len as usize];
    memory.read(frame, addr as usize, &mut buf).map_err(|e| e.to_string())?;
    Ok(buf)
}

/// Write `bytes` at `addr` of the stopped instance's memory 0.
fn memory_write<T>(frame: &mut DebugFrame<'_, T>, addr: u32, bytes: &[u8]) -> Result<(), String> {
    let memory = frame.instance().memory(&*frame, 0).ok_or("the module has no memory")?;
    memory.write(&mut *frame, addr as usize, bytes).map_err(|e| e.to_string())
}
