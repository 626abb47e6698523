//! Differential fuzzing of onecopy against `wasmi`.
//!
//! A seed gives a valid module (wasm-smith, limited to Wasm 2.0 without
//! SIMD, every function bounded by fuel) and a call of each exported
//! function with arguments drawn from the same seed. The module runs in
//! onecopy four ways ([`Mode`]: normal code, debug code, debug code
//! single-stepped by a handler that reads every local, legacy cloned code)
//! and in wasmi, the oracle. After instantiation and after every call the
//! results or trap class, every exported global and every exported memory
//! (size and a hash of its bytes) must agree; a stack exhaustion on either
//! side ends the comparison, as the engines' stack limits differ.
//!
//! [`campaign::run`] does this for a while and saves each module that
//! disagrees; [`check`] runs one module, for regression tests.

pub mod campaign;
pub mod compare;
pub mod generate;
pub mod onecopy_side;
pub mod outcome;
pub mod plan;
pub mod rng;
pub mod wasmi_side;

pub use campaign::{Campaign, Failure, Report};
pub use onecopy_side::{Mode, Onecopy};
pub use wasmi_side::Wasmi;

/// The engines of a campaign, made once.
pub struct Engines {
    /// onecopy, one engine per mode.
    pub onecopy: Onecopy,
    /// The oracle.
    pub wasmi: Wasmi,
}

impl Engines {
    /// onecopy's four engines and wasmi's.
    pub fn new() -> anyhow::Result<Engines> {
        Ok(Engines { onecopy: Onecopy::new()?, wasmi: Wasmi::new() })
    }
}

/// What one module's check found.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// All four modes agreed with the oracle, over this many calls.
    Agreed {
        /// Calls made (per engine).
        calls: usize,
    },
    /// The oracle itself refused the module: nothing to compare.
    OracleRefused(String),
    /// A mode disagreed with the oracle.
    Disagreed {
        /// The mode.
        mode: Mode,
        /// The first difference.
        message: String,
    },
}

/// Run `wasm` in the oracle and in every mode, calling each exported
/// function once with arguments from `seed`.
pub fn check(engines: &Engines, wasm: &[u8], seed: u64) -> Verdict {
    let funcs = match engines.wasmi.exported_funcs(wasm) {
        Ok(funcs) => funcs,
        Err(e) => return Verdict::OracleRefused(e),
    };
    let calls = plan::calls(&funcs, &mut rng::Rng::new(seed ^ 0x5eed_ca11));
    let oracle = engines.wasmi.run(wasm, &calls);
    for mode in Mode::ALL {
        let ours = engines.onecopy.run(mode, wasm, &calls);
        if let Some(message) = compare::first_difference(&oracle, &ours) {
            return Verdict::Disagreed { mode, message };
        }
    }
    Verdict::Agreed { calls: oracle.map_or(0, |steps| steps.len().saturating_sub(1)) }
}
