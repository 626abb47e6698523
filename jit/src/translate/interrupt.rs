//! The interrupt check: how a host thread stops wasm that runs too long.
//!
//! Any wasm execution that does not end passes a loop header or a function
//! entry again and again; straight-line code between them is bounded by the
//! function's size. The state checked is per thread (`VMLimits`, reached
//! through the vmctx like the stack limit), so one store stops every
//! instance the thread runs.
//!
//! Function entries need no code of their own: every function that calls
//! (the only ones that can recurse) checks the stack limit in its prologue,
//! and the interrupter also moves the thread's stack limit above every
//! stack, so the next prologue traps; the runtime reports that trap as
//! [`TrapKind::Interrupt`] when the thread is interrupted.
//!
//! Loop headers get the check, in one of two forms:
//!
//! - [`Interrupts::Probe`], one load and no branch: read a byte of the
//!   thread's probe page, which the interrupter makes PROT_NONE; the
//!   fault's trap record makes it an interrupt. `movzx r, byte [rP]`, the
//!   page's address `rP` loaded once at the function's entry.
//! - [`Interrupts::Flag`], Wasmtime's epoch check in shape: load a flag and
//!   trap if it is set: `mov r, dword [rL+16]; test r, r; jne <trap>`, the
//!   limits pointer `rL` loaded once at the function's entry.
//!
//! Guarded debug code needs no check of its own where a guard group starts
//! in the loop header's block (see `guard.rs`): the group's load runs on
//! every iteration, and an interrupt arms the debug tables of the thread's
//! instances, so it faults there and the runtime ends the call as
//! interrupted. The probe is emitted, then removed when such a group starts.
//!
//! The loop's load is an `atomic_load`: with `opt_level` speed, Cranelift's
//! alias analysis would take a plain load in a store-free inner loop as
//! redundant with the one in its outer loop's header and remove it. On
//! x86-64 the atomic load is the same plain `mov`.

use cranelift_codegen::cursor::{Cursor, FuncCursor};
use cranelift_codegen::ir::{types, InstBuilder, MemFlagsData, Value};

use super::FuncTranslator;
use crate::trap::TrapKind;
use crate::vmctx::{header, LIMITS_INTERRUPT, LIMITS_PROBE_PAGE};

/// The loop-header probes a function keeps, and the entry block's loads of
/// the probe page's address (removed with the last probe).
#[derive(Debug, Default)]
pub(crate) struct Probes {
    /// Probes emitted and not removed.
    kept: u32,
    /// The entry block's loads the probes read through.
    base_loads: Vec<cranelift_codegen::ir::Inst>,
}

/// Which interrupt check compiled code carries at function entries and
/// loop headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Interrupts {
    /// No check: a call runs until it returns or traps by itself.
    Off,
    /// One load, no branch, that faults once interrupted (default).
    #[default]
    Probe,
    /// A load, a test and a branch to a trap.
    Flag,
}

impl FuncTranslator<'_, '_> {
    /// Emit the configured interrupt check at a loop header.
    pub(crate) fn interrupt_check(&mut self) {
        let (field, ty) = match self.env.config.interrupts {
            Interrupts::Off => return,
            Interrupts::Probe => (0, types::I8),
            Interrupts::Flag => (LIMITS_INTERRUPT, types::I32),
        };
        let base = self.interrupt_base();
        let at = if field == 0 { base } else { self.b.ins().iadd_imm_s(base, i64::from(field)) };
        // The trap code records the trap site of a faulting probe.
        let faults = MemFlagsData::new().with_trap_code(Some(TrapKind::Interrupt.code()));
        let value = self.b.ins().atomic_load(ty, faults, at);
        if self.env.config.interrupts == Interrupts::Flag {
            self.trap_if(value, TrapKind::Interrupt);
        } else if self.guards.is_some() {
            let inst = self.b.func.dfg.value_def(value).unwrap_inst();
            self.probe = self.b.current_block().map(|block| (block, inst));
        }
        self.probes.kept += 1;
    }

    /// A guard group starts in `block`: a probe there is not needed.
    pub(crate) fn group_replaces_probe(&mut self, block: cranelift_codegen::ir::Block) {
        if let Some((_, inst)) = self.probe.take_if(|(b, _)| *b == block) {
            self.b.func.layout.remove_inst(inst);
            self.probes.kept -= 1;
            if self.probes.kept == 0 {
                // No check reads the probe page's address any more.
                for load in std::mem::take(&mut self.probes.base_loads) {
                    self.b.func.layout.remove_inst(load);
                }
                self.interrupt_base = None;
            }
        }
    }

    /// What the checks load through (the probe page, or the limits),
    /// loaded once in the entry block, which dominates every loop.
    fn interrupt_base(&mut self) -> Value {
        if let Some(base) = self.interrupt_base {
            return base;
        }
        let entry = self.b.func.layout.entry_block().expect("the entry block exists");
        let readonly = MemFlagsData::trusted().with_readonly();
        let mut pos = FuncCursor::new(self.b.func).at_first_insertion_point(entry);
        let mut base = pos.ins().load(types::I64, readonly, self.vmctx, header::LIMITS);
        self.probes.base_loads.push(pos.func.dfg.value_def(base).unwrap_inst());
        if self.env.config.interrupts == Interrupts::Probe {
            base = pos.ins().load(types::I64, readonly, base, LIMITS_PROBE_PAGE);
            self.probes.base_loads.push(pos.func.dfg.value_def(base).unwrap_inst());
        }
        self.interrupt_base = Some(base);
        base
    }
}
