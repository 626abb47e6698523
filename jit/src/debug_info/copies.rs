//! Which locations hold the same bits as a value's own location at a point
//! in the middle of a block, so that a debugger's write there is seen by
//! all the code that follows.
//!
//! Regalloc2 elides a move when it knows, from the moves it placed earlier
//! in the same block, that the destination already holds the source's bits
//! (a spilled value reloaded into a register keeps its slot valid; moving
//! it back is skipped). A guard stops in the middle of a block, so a write
//! to a value's current location alone could leave such a copy stale, and
//! a later elided move would bring the old value back. This module decodes
//! the block from its start to the stop and tracks copies made by moves,
//! spills and reloads; every other write to a register or a stack slot
//! starts a fresh value there. The writer then updates every copy of the
//! value's location that no other live value owns (see `FunctionDebugInfo`).
//! Tracking every `mov`, not only the allocator's, finds a superset of the
//! copies it relies on, which costs at most an extra, harmless write.

use std::collections::HashMap;

use iced_x86::{Code, Decoder, DecoderOptions, Instruction, InstructionInfoFactory, OpAccess, OpKind, Register};

use super::Location;

/// A tracked location: a register, or a stack slot `[rsp + d]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Loc {
    Gpr(u8),
    Xmm(u8),
    Sp(i64),
}

/// Copy classes at the point decoding stopped: locations in one class hold
/// the same bits.
pub(crate) struct Copies {
    class: HashMap<Loc, u32>,
    /// `CFA - rsp` in the function's body (frame pointer + 16 - rsp).
    cfa_above_sp: i64,
}

impl Copies {
    /// Track copies over `code[start..end)` (one block's prefix); the body's
    /// stack pointer is `cfa_above_sp` below the canonical frame address.
    pub(crate) fn track(code: &[u8], start: u32, end: u32, cfa_above_sp: i64) -> Copies {
        let mut tracker = Tracker { class: HashMap::new(), next: 0, info: InstructionInfoFactory::new() };
        let bytes = &code[start as usize..end as usize];
        for ins in Decoder::with_ip(64, bytes, u64::from(start), DecoderOptions::NONE) {
            tracker.step(&ins);
        }
        Copies { class: tracker.class, cfa_above_sp }
    }

    /// The other locations holding the same bits as `at`.
    pub(crate) fn of(&self, at: Location) -> Vec<Location> {
        let Some(class) = self.class.get(&self.loc(at)) else { return vec![] };
        self.class.iter().filter(|(l, c)| *c == class && **l != self.loc(at)).map(|(l, _)| self.location(*l)).collect()
    }

    fn loc(&self, at: Location) -> Loc {
        match at {
            Location::Gpr(r) => Loc::Gpr(r),
            Location::Xmm(x) => Loc::Xmm(x),
            Location::Frame(off) => Loc::Sp(i64::from(off) + self.cfa_above_sp),
        }
    }

    fn location(&self, l: Loc) -> Location {
        match l {
            Loc::Gpr(r) => Location::Gpr(r),
            Loc::Xmm(x) => Location::Xmm(x),
            Loc::Sp(d) => Location::Frame((d - self.cfa_above_sp) as i32),
        }
    }
}

/// Bytes the prologue allocates below the saved frame pointer (`sub rsp, N`
/// after `mov rbp, rsp`; Cranelift's x86-64 unwind records leave it out,
/// as frames are found through the frame pointer). Zero without one.
pub(crate) fn frame_size(code: &[u8]) -> i64 {
    const PROLOGUE: usize = 16;
    Decoder::with_ip(64, code, 0, DecoderOptions::NONE)
        .into_iter()
        .take(PROLOGUE)
        .find(|i| {
            matches!(i.code(), Code::Sub_rm64_imm32 | Code::Sub_rm64_imm8)
                && i.op0_kind() == OpKind::Register
                && i.op0_register() == Register::RSP
        })
        .map_or(0, |i| i.immediate(1) as i64)
}

struct Tracker {
    class: HashMap<Loc, u32>,
    next: u32,
    info: InstructionInfoFactory,
}

impl Tracker {
    fn fresh(&mut self) -> u32 {
        self.next += 1;
        self.next
    }

    fn class_of(&mut self, l: Loc) -> u32 {
        if let Some(c) = self.class.get(&l) {
            return *c;
        }
        let c = self.fresh();
        self.class.insert(l, c);
        c
    }

    fn step(&mut self, ins: &Instruction) {
        if let Some((dst, src)) = copy_of(ins) {
            let c = self.class_of(src);
            self.class.insert(dst, c);
            return;
        }
        let info = self.info.info(ins);
        let written: Vec<Loc> = info
            .used_registers()
            .iter()
            .filter(|u| writes(u.access()))
            .filter_map(|u| register(u.register()))
            .chain(
                info.used_memory()
                    .iter()
                    .filter(|m| writes(m.access()) && m.base() == Register::RSP && m.index() == Register::None)
                    .map(|m| Loc::Sp(m.displacement() as i64)),
            )
            .collect();
        for l in written {
            let c = self.fresh();
            self.class.insert(l, c);
        }
    }
}

fn writes(access: OpAccess) -> bool {
    matches!(access, OpAccess::Write | OpAccess::CondWrite | OpAccess::ReadWrite | OpAccess::ReadCondWrite)
}

/// `dst <- src` if `ins` copies a whole register or stack slot.
fn copy_of(ins: &Instruction) -> Option<(Loc, Loc)> {
    let operand = |n: u32| match ins.op_kind(n) {
        OpKind::Register => register(ins.op_register(n)),
        OpKind::Memory if ins.memory_base() == Register::RSP && ins.memory_index() == Register::None => {
            Some(Loc::Sp(ins.memory_displacement64() as i64))
        }
        _ => None,
    };
    let is_copy = matches!(
        ins.code(),
        Code::Mov_rm64_r64
            | Code::Mov_r64_rm64
            | Code::Mov_rm32_r32
            | Code::Mov_r32_rm32
            | Code::Movaps_xmm_xmmm128
            | Code::Movaps_xmmm128_xmm
            | Code::Movapd_xmm_xmmm128
            | Code::Movapd_xmmm128_xmm
            | Code::Movups_xmm_xmmm128
            | Code::Movups_xmmm128_xmm
            | Code::Movupd_xmm_xmmm128
            | Code::Movupd_xmmm128_xmm
            | Code::Movdqa_xmm_xmmm128
            | Code::Movdqa_xmmm128_xmm
            | Code::Movdqu_xmm_xmmm128
            | Code::Movdqu_xmmm128_xmm
            | Code::Movsd_xmm_xmmm64
            | Code::Movsd_xmmm64_xmm
            | Code::Movss_xmm_xmmm32
            | Code::Movss_xmmm32_xmm
    );
    if !is_copy {
        return None;
    }
    Some((operand(0)?, operand(1)?))
}

/// The tracked location of a register (partial registers as their whole).
fn register(reg: Register) -> Option<Loc> {
    let full = reg.full_register();
    if full.is_gpr64() {
        return Some(Loc::Gpr(full.number() as u8)).filter(|_| full != Register::RSP);
    }
    if reg.is_xmm() || reg.is_ymm() || reg.is_zmm() {
        return Some(Loc::Xmm(reg.number() as u8));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn copies(code: &[u8]) -> Copies {
        Copies::track(code, 0, code.len() as u32, 0x40)
    }

    #[test]
    fn a_reload_keeps_the_slot_a_copy_until_either_is_written() {
        // mov rax, [rsp+8]; mov rcx, rax
        let code = [0x48, 0x8b, 0x44, 0x24, 0x08, 0x48, 0x89, 0xc1];
        let c = copies(&code);
        let mut of_rax = c.of(Location::Gpr(0));
        of_rax.sort_by_key(|l| format!("{l:?}"));
        assert_eq!(of_rax, vec![Location::Frame(8 - 0x40), Location::Gpr(1)]);
        // ...; add rax, 1: rax is a value of its own now.
        let code = [0x48, 0x8b, 0x44, 0x24, 0x08, 0x48, 0x89, 0xc1, 0x48, 0x83, 0xc0, 0x01];
        let c = copies(&code);
        assert!(c.of(Location::Gpr(0)).is_empty());
        assert_eq!(c.of(Location::Gpr(1)), vec![Location::Frame(8 - 0x40)]);
    }

    #[test]
    fn the_frame_size_comes_from_the_prologue() {
        // push rbp; mov rbp, rsp; sub rsp, 0xc0
        let code = [0x55, 0x48, 0x89, 0xe5, 0x48, 0x81, 0xec, 0xc0, 0, 0, 0];
        assert_eq!(frame_size(&code), 0xc0);
        assert_eq!(frame_size(&[0x55, 0x48, 0x89, 0xe5, 0xc3]), 0);
    }

    #[test]
    fn a_store_that_is_no_move_starts_a_fresh_slot() {
        // mov [rsp+8], rax; add qword [rsp+8], 1
        let code = [0x48, 0x89, 0x44, 0x24, 0x08, 0x48, 0x83, 0x44, 0x24, 0x08, 0x01];
        assert!(copies(&code).of(Location::Gpr(0)).is_empty());
    }
}
