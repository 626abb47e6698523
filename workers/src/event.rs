//! What a stopped worker tells the coordinator.

use onecopy_runtime::StopReason;

/// A worker stopped at a breakable point and waits for the coordinator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DebugEvent {
    /// Worker index in the pool.
    pub worker: usize,
    /// Process-unique id of the worker's instance.
    pub instance: u64,
    /// Function index (the module's index space).
    pub func: u32,
    /// The function's export or name-section name, if any.
    pub name: Option<String>,
    /// Byte offset of the stop in the module binary.
    pub wasm_offset: u32,
    /// Module-wide site id.
    pub site: u32,
    /// Breakpoint, step or pause.
    pub kind: StopReason,
}
