//! What the coordinator asks of a stopped worker. The worker's own thread
//! answers (it owns the instance), so no lock is shared while it waits.

use crossbeam_channel::Sender;
use onecopy_runtime::FrameInfo;

use crate::Value;

/// How a stopped worker goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resume {
    /// Run until the next breakpoint or pause.
    Continue,
    /// Stop at the next breakable point anywhere.
    StepInto,
    /// Stop at the next breakable point of this frame or a caller.
    StepOver,
    /// Stop at the next breakable point of a caller.
    StepOut,
    /// Clear this worker's breakpoints and stepping, and run at full speed.
    Detach,
}

/// A global, by export name or index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GlobalRef {
    /// An exported global's name.
    Name(String),
    /// An index in the module's global index space.
    Index(u32),
}

/// A local or operand of a stopped frame: its type, and its value unless
/// the program never reads it again there (then it is unavailable).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameValue {
    /// The wasm type.
    pub ty: onecopy_runtime::ValType,
    /// The value, `None` where unavailable.
    pub value: Option<Value>,
}

/// Replies carry `Err(message)` for a request that cannot be served.
pub(crate) type Reply<T> = Sender<Result<T, String>>;

/// A request served by a stopped worker.
pub(crate) enum Request {
    Backtrace(Reply<Vec<FrameInfo>>),
    /// Locals of frame N (0 = the stopped one, 1 its caller, ...).
    Locals(u32, Reply<Vec<FrameValue>>),
    SetLocal(u32, Value, Reply<()>),
    Stack(Reply<Vec<FrameValue>>),
    SetStack(u32, Value, Reply<()>),
    Global(GlobalRef, Option<Value>, Reply<Value>),
    Memory(u32, u32, Reply<Vec<u8>>),
    WriteMemory(u32, Vec<u8>, Reply<()>),
    Resume(Resume),
}
