//! The `bench guard` kernels in every runtime, side by side: onecopy's
//! normal code against Wasmtime's Cranelift, Winch and wasmi; onecopy's
//! debug code against Wasmtime's guest debugging, idle and with a
//! breakpoint in a function that never runs.

use anyhow::Result;
use indicatif::ProgressBar;

use crate::kernels::{Kernel, Kernels};
use crate::report::{self, Pair, Row};
use crate::runtimes::{self, Peer};
use crate::timing;

/// Every configuration, in the order each round starts from.
pub const PEERS: [Peer; 8] = [
    Peer::Onecopy,
    Peer::Wasmtime,
    Peer::Winch,
    Peer::Wasmi,
    Peer::OnecopyDebug,
    Peer::WasmtimeDebug,
    Peer::OnecopyDebugBp,
    Peer::WasmtimeDebugBp,
];

/// The pairs reported: (section, onecopy's configuration, the peer's).
const PAIRS: [Pair; 5] = [
    ("kernels", Peer::Onecopy, Peer::Wasmtime),
    ("kernels", Peer::Onecopy, Peer::Winch),
    ("kernels", Peer::Onecopy, Peer::Wasmi),
    ("debug", Peer::OnecopyDebug, Peer::WasmtimeDebug),
    ("debug", Peer::OnecopyDebugBp, Peer::WasmtimeDebugBp),
];

/// Timed calls of one kernel: `rounds` per configuration.
pub fn runs(rounds: u32) -> u64 {
    u64::from(rounds) * PEERS.len() as u64
}

/// Time `kernel(arg)` in every configuration and compare. `command` is
/// the command line reproducing this kernel's rows.
pub fn measure(kernels: &Kernels, kernel: Kernel, arg: i32, rounds: u32, command: &str, progress: &ProgressBar) -> Result<Vec<Row>> {
    progress.set_message(format!("{}({arg}): compiling", kernel.name()));
    let mut runners = PEERS.iter().map(|&peer| runtimes::prepare(peer, kernels, kernel.name())).collect::<Result<Vec<_>>>()?;
    // One small untimed call each: first-call costs (lazy stubs, page
    // faults on the memory) stay out of the medians, and every instance's
    // memory keeps the same history, so all must agree in every round.
    for runner in &mut runners {
        runner.call(1)?;
    }
    progress.set_message(format!("{}({arg})", kernel.name()));
    let medians = timing::alternate(runners.len(), rounds, progress, |i, _| runners[i].call(arg))?;
    Ok(report::median_rows(&PAIRS, &PEERS, &medians, &format!("{}({arg})", kernel.name()), command))
}
