//! The interrupt check: how a host thread stops wasm that runs too long.
//!
//! Every function entry and every loop header checks whether the running
//! thread's call was interrupted: any wasm execution that does not end
//! passes one of them again and again (a loop's back edge, or a call), and
//! straight-line code between them is bounded by the function's size. The
//! state checked is per thread (`VMLimits`, reached through the vmctx like
//! the stack limit), so one store flips every instance the thread runs.
//!
//! Two checks, measured against each other (`onecopy bench guard` reports
//! both; see the report in issue 12):
//!
//! - [`Interrupts::Probe`], branch-free: load the probe pointer, then load
//!   through it. The pointer normally points at readable memory; the
//!   interrupter swaps in a PROT_NONE page, so the second load faults and
//!   its trap record makes the fault an [`TrapKind::Interrupt`] trap.
//!   `mov rL, [vmctx+16]; mov rP, [rL+8]; movzx r, byte [rP]`.
//! - [`Interrupts::Flag`], Wasmtime's epoch check in shape: load a flag and
//!   trap if it is set. `mov rL, [vmctx+16]; mov r, [rL+16]; test; jne`.
//!
//! The word that changes (the probe pointer, the flag) is read with an
//! `atomic_load`: with `opt_level` speed, Cranelift's alias analysis would
//! otherwise take a plain load in a store-free loop as redundant with the
//! one at the function's entry and remove it, and the loop would never see
//! the interrupt. On x86-64 the atomic load is the same plain `mov`.

use cranelift_codegen::ir::{types, InstBuilder, MemFlagsData};

use super::FuncTranslator;
use crate::trap::TrapKind;
use crate::vmctx::{header, LIMITS_INTERRUPT, LIMITS_PROBE};

/// Which interrupt check compiled code carries at function entries and
/// loop headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Interrupts {
    /// No check: a call runs until it returns or traps by itself.
    Off,
    /// Two loads, no branch: the second faults once interrupted (default).
    #[default]
    Probe,
    /// A load, a test and a branch to a trap.
    Flag,
}

impl FuncTranslator<'_, '_> {
    /// Emit the configured interrupt check here.
    pub(crate) fn interrupt_check(&mut self) {
        let word = match self.env.config.interrupts {
            Interrupts::Off => return,
            Interrupts::Probe => LIMITS_PROBE,
            Interrupts::Flag => LIMITS_INTERRUPT,
        };
        let limits = self.vmctx_load(header::LIMITS);
        let at = self.b.ins().iadd_imm_s(limits, i64::from(word));
        if self.env.config.interrupts == Interrupts::Probe {
            let probe = self.b.ins().atomic_load(types::I64, MemFlagsData::trusted(), at);
            // The trap code makes the load an effect Cranelift keeps though
            // nothing reads its value, and records the trap site.
            let faults = MemFlagsData::new().with_trap_code(Some(TrapKind::Interrupt.code()));
            self.b.ins().load(types::I8, faults, probe, 0);
        } else {
            let flag = self.b.ins().atomic_load(types::I32, MemFlagsData::trusted(), at);
            self.trap_if(flag, TrapKind::Interrupt);
        }
    }
}
