//! Where a compiled function saved its caller's callee-saved registers.
//!
//! A caller's locals may sit in callee-saved registers across a call; when
//! the callee (or one of its callees) reuses such a register, the caller's
//! value lives in the slot the callee's prologue saved it to. Reading a
//! caller's locals therefore needs, for every frame below it, the saved
//! registers and their frame-pointer-relative slots, which Cranelift's
//! unwind records give (`FP - offset_downward_to_clobbers + clobber_offset`).

use cranelift_codegen::isa::unwind::UnwindInst;
use cranelift_codegen::RegClass;

/// One saved register: x86-64 hardware number and its slot relative to the
/// frame pointer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SavedReg {
    /// Hardware register number (0 = rax ... 15 = r15).
    pub reg: u8,
    /// Offset of the save slot from the frame pointer.
    pub fp_offset: i32,
}

/// The registers a function's prologue saves, from its unwind records.
pub(crate) fn saved_registers(unwind: &[(u32, UnwindInst)]) -> Vec<SavedReg> {
    let mut downward = 0i64;
    let mut saved = Vec::new();
    for (_, inst) in unwind {
        match inst {
            UnwindInst::DefineNewFrame { offset_downward_to_clobbers, .. } => {
                downward = i64::from(*offset_downward_to_clobbers);
            }
            // SysV x86-64 saves no vector registers for its callers.
            UnwindInst::SaveReg { clobber_offset, reg } if reg.class() == RegClass::Int => {
                let fp_offset = (i64::from(*clobber_offset) - downward) as i32;
                saved.push(SavedReg { reg: reg.hw_enc(), fp_offset });
            }
            _ => {}
        }
    }
    saved
}
