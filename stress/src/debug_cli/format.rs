//! How values, stops and call outcomes look on the wire: `6765:i32`, and
//! the `stopped`, `finished`, `trapped` and `failed` events.

use onecopy_runtime::{StopReason, Val, ValType};
use onecopy_workers::{CallError, DebugEvent, FrameValue, Value, Who};
use serde::Serialize;
use serde_json::{json, Value as Json};

use super::Obj;
use crate::values;

/// A frame of a backtrace, fields in this order; the source line only
/// where the module's DWARF has one.
#[derive(Serialize)]
pub(super) struct Frame<'a> {
    pub func: u32,
    pub name: Option<&'a str>,
    pub offset: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
}

pub(super) fn who_json(who: Who) -> Json {
    match who {
        Who::All => json!("all"),
        Who::Worker(w) => json!(w),
    }
}

pub(super) fn stopped_event(stop: &DebugEvent) -> Obj {
    let reason = match stop.kind {
        StopReason::Breakpoint => "breakpoint",
        StopReason::Step => "step",
        StopReason::Pause => "pause",
    };
    obj! {
        "event": "stopped", "worker": stop.worker, "func": stop.func, "name": stop.name,
        "offset": stop.wasm_offset, "reason": reason,
    }
}

/// The event for a finished call: results, a trap, or another error.
pub(super) fn outcome(worker: usize, result: Result<Vec<Value>, CallError>) -> Obj {
    match result {
        Ok(results) => obj! {"event": "finished", "worker": worker, "results": show_all(&results)},
        Err(CallError::Trap(trap)) => obj! {"event": "trapped", "worker": worker, "trap": trap.to_string()},
        Err(error) => obj! {"event": "failed", "worker": worker, "error": error.to_string()},
    }
}

/// `6765:i32`: the value as `onecopy run` prints it, without the spaces.
pub(super) fn show(value: &Value) -> String {
    let text = values::show(&Val::from(*value));
    match text.rsplit_once(" : ") {
        Some((value, ty)) => format!("{value}:{ty}"),
        None => text,
    }
}

pub(super) fn show_all(values: &[Value]) -> Vec<String> {
    values.iter().map(show).collect()
}

/// Each value as `show` prints it; `unavailable` where the program never
/// reads the value again.
pub(super) fn show_frame(values: &[FrameValue]) -> Vec<String> {
    values.iter().map(|v| v.value.as_ref().map_or_else(|| "unavailable".to_string(), show)).collect()
}

/// Parse `text` as a value of type `ty`, as `onecopy run` parses arguments.
pub(super) fn parse_value(text: &str, ty: ValType) -> Result<Value, String> {
    let val = values::parse(text, ty).map_err(|e| format!("{e:#}"))?;
    Value::try_from(&val).map_err(|e| e.to_string())
}
