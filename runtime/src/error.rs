//! Errors and traps.

use std::fmt;

pub use onecopy_jit::TrapKind;

/// Wasm execution stopped abnormally: what happened and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trap {
    /// What happened.
    pub kind: TrapKind,
    /// The wasm function (module index space) that trapped, if known.
    pub func: Option<u32>,
    /// Byte offset in the module binary of the trapping instruction, if known.
    pub wasm_offset: Option<u32>,
    /// Extra detail (a host function's error message).
    pub detail: Option<String>,
}

impl Trap {
    /// A trap with no location.
    pub fn new(kind: TrapKind) -> Trap {
        Trap { kind, func: None, wasm_offset: None, detail: None }
    }
}

impl fmt::Display for Trap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.kind)?;
        if let Some(detail) = &self.detail {
            write!(f, ": {detail}")?;
        }
        match (self.func, self.wasm_offset) {
            (Some(func), Some(offset)) => write!(f, " (in function {func} at wasm offset {offset:#x})"),
            (Some(func), None) => write!(f, " (in function {func})"),
            _ => Ok(()),
        }
    }
}

impl std::error::Error for Trap {}

/// Everything that can go wrong in the embedding API.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The module is malformed, invalid or uses an unsupported feature.
    #[error(transparent)]
    Compile(onecopy_jit::CompileError),
    /// The engine's code arena has no room for the module's code; modules
    /// compiled earlier keep running, and dropping modules frees room.
    #[error(transparent)]
    CodeArenaExhausted(onecopy_jit::CodeArenaExhausted),
    /// An import is missing or has the wrong type.
    #[error("link error: {0}")]
    Link(String),
    /// Wasm trapped (in a call or while instantiating).
    #[error("wasm trap: {0}")]
    Trap(Trap),
    /// Arguments or values of the wrong type or count.
    #[error("type mismatch: {0}")]
    Type(String),
    /// Instantiating or creating a memory or table would exceed one of the
    /// store's limits ([`crate::Store::limiter`]); the store is unchanged.
    #[error(transparent)]
    LimitExceeded(crate::limits::LimitExceeded),
    /// The system refused memory (a reservation, a mapping).
    #[error("resource exhausted: {0}")]
    Resource(String),
    /// No export or item of that name.
    #[error("not found: {0}")]
    NotFound(String),
    /// A handle (an instance, function, memory, table or global) used with
    /// a store that does not own it.
    #[error("{0} used with a store that does not own it")]
    WrongStore(String),
    /// A host function's own error, kept whole so the embedder can look at
    /// it again ([`Error::downcast_ref`]): how WASI's `proc_exit` ends a
    /// program with its exit status.
    #[error("{0}")]
    Host(Box<dyn std::error::Error + Send + Sync>),
}

impl From<onecopy_jit::CompileError> for Error {
    fn from(e: onecopy_jit::CompileError) -> Error {
        match e {
            onecopy_jit::CompileError::Arena(exhausted) => Error::CodeArenaExhausted(exhausted),
            other => Error::Compile(other),
        }
    }
}

impl From<crate::limits::LimitExceeded> for Error {
    fn from(e: crate::limits::LimitExceeded) -> Error {
        Error::LimitExceeded(e)
    }
}

impl From<Trap> for Error {
    fn from(t: Trap) -> Error {
        Error::Trap(t)
    }
}

impl Error {
    /// A host function's own error (see [`Error::Host`]).
    pub fn host(error: impl std::error::Error + Send + Sync + 'static) -> Error {
        Error::Host(Box::new(error))
    }

    /// The host function's error, if this is one of type `E`.
    pub fn downcast_ref<E: std::error::Error + 'static>(&self) -> Option<&E> {
        match self {
            Error::Host(error) => error.downcast_ref::<E>(),
            _ => None,
        }
    }

    /// The trap, if this error is one.
    pub fn trap(&self) -> Option<&Trap> {
        match self {
            Error::Trap(t) => Some(t),
            _ => None,
        }
    }
}

/// Shorthand for results of the embedding API.
pub type Result<T, E = Error> = std::result::Result<T, E>;
