//! Where each breakpoint guard ended up in a function's machine code.
//!
//! The translator marks every guard with a `sequence_point` carrying the
//! site's index as a debug tag. Cranelift gives back only the tag's code
//! offset (and, for a fault guard, its store's trap record), so this module
//! decodes forward from the tag and checks that the guard compiled to one of
//! the expected shapes:
//!
//! ```text
//! mov  rE32, dword [rV + d]       ; a fault guard (every site but exits),
//! mov  qword [rV + rE - 64], rE   ; first of its group: faults only if the
//!                                 ;   group's entry is armed
//!
//! mov  r32, dword [rV + d]        ; the exit guard, a branch to its cold
//! test r32, r32                   ; block (or `cmp dword [rV + d], 0`)
//! jne  <cold block>
//! ```
//!
//! with at most register-allocator moves in between; rV is the vmctx,
//! which the debug table follows. The entry a group's first guard reads
//! must be the site's own, and the faulting store writes that entry through
//! itself, displaced to the scratch line (`debug_table::STORE_DISP`). A fault guard stops at its faulting store
//! and resumes after it (the store never happened); linking retargets
//! the exit guard's `jne` to its site's byte of the trap tail, and it
//! resumes right after that branch. Any other shape is a compile error:
//! guards are never assumed, they are checked. Where the vmctx is at an exit
//! guard's stop comes from Cranelift's value locations first, these bytes
//! only where those say nothing (moves may have copied it).

use iced_x86::{Code, Decoder, DecoderOptions, Instruction, OpKind, Register};
use smallvec::{smallvec, SmallVec};

use crate::debug_info::Location;
use crate::debug_table::STORE_DISP;

/// One guard in a function's code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GuardCode {
    /// Offset of the entry load (where the guard's hot path starts).
    pub load: u32,
    /// Where a stopped guard's frame is described: the faulting store, or
    /// the exit guard's `jne`.
    pub stop: u32,
    /// Where execution continues after this guard.
    pub resume: u32,
    /// The exit guard's branch, which linking retargets.
    pub branch: Option<Branch>,
    /// A later site of a guard group: a point with no code, where a stop
    /// single-stepped from the group's first site lands (`load`, `stop` and
    /// `resume` are all its offset).
    pub point: bool,
}

/// A branch guard's `jne` (the exit guard's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Branch {
    /// Offset of the `jne`.
    pub jne: u32,
    /// Where the guard continues if Cranelift inverted its branch into
    /// `je <continuation>` falling into the cold block (see [`link`]).
    pub inverted: Option<u32>,
    /// Where the bytes say the vmctx is at the `jne`, if they do: the
    /// register the entry load read through, if nothing in between
    /// overwrites it, else the frame slot it was just reloaded from (the
    /// fallback where Cranelift's value locations say nothing).
    pub vmctx: Option<Location>,
}

/// Length of `jne rel32`.
pub const JNE_LEN: u32 = 6;

/// Length of `jmp rel32`; the exit guard's cold block is longer.
pub const JMP_LEN: u32 = 5;

impl GuardCode {
    /// The guard of a site the optimizer removed as unreachable (at
    /// `opt_level` speed a constant branch may skip a block): it has no code.
    pub const ABSENT: GuardCode = GuardCode { load: u32::MAX, stop: u32::MAX, resume: u32::MAX, branch: None, point: false };

    /// Whether the guard has code (see [`GuardCode::ABSENT`]).
    pub fn is_present(&self) -> bool {
        self.load != u32::MAX
    }

    /// Bytes of the guard's hot path (the loads, or load, test and branch).
    pub fn hot_bytes(&self) -> u32 {
        if self.is_present() {
            self.resume - self.load
        } else {
            0
        }
    }
}

/// What the translator and Cranelift say about one guard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expected {
    /// An instruction boundary at or before the guard's first instruction:
    /// the exit guard's debug tag, or the start of the code of a fault
    /// guard's wasm offset.
    pub tag: u32,
    /// Displacement of its entry from the vmctx.
    pub disp: i32,
    /// A fault guard's faulting store (its trap record); `None` for the exit
    /// guard and for points.
    pub fault: Option<u32>,
    /// Whether the site leads its group (a fault guard always does; an exit
    /// guard in an open group tests the group's entry instead of loading).
    pub leads: bool,
    /// A later site of a group: no code, only its tag's offset.
    pub point: bool,
    /// Whether the guard's code survived optimization (see [`GuardCode::ABSENT`]).
    pub present: bool,
}

/// Instructions decoded past a tag before giving up on finding its guard
/// (regalloc may put a few moves between the tag and the load).
const MAX_GUARD_INSTRUCTIONS: usize = 24;

/// Find each expected guard in `code`; `keep` is the offset of the exit
/// guard's cold block, if any.
pub fn locate(code: &[u8], expected: &[Expected], keep: Option<u32>) -> Result<Vec<GuardCode>, String> {
    // One decoder for the function, moved to each guard (making one is dearer than moving it).
    let mut decoder = Decoder::with_ip(64, code, 0, DecoderOptions::NONE);
    let mut cfa_above_sp = None;
    // One buffer for every fault guard's instructions (a module has tens of
    // thousands of guards: an allocation each shows in the compile time).
    let mut before = Vec::with_capacity(MAX_GUARD_INSTRUCTIONS + 1);
    expected
        .iter()
        .map(|e| match e.fault {
            _ if !e.present => Ok(GuardCode::ABSENT),
            _ if e.point => Ok(GuardCode { load: e.tag, stop: e.tag, resume: e.tag, branch: None, point: true }),
            Some(fault) => locate_fault(&mut decoder, &mut before, e, fault),
            None => {
                let cfa = *cfa_above_sp.get_or_insert_with(|| crate::debug_info::cfa_above_sp(code));
                locate_branch(&mut decoder, e, keep, cfa)
            }
        })
        .collect()
}

/// The instructions from `from` up to (not including) `to`, into `seen`,
/// and the one at `to`.
fn decode_between(decoder: &mut Decoder<'_>, seen: &mut Vec<Instruction>, from: u32, to: u32) -> Result<Instruction, String> {
    seek(decoder, from)?;
    seen.clear();
    while decoder.can_decode() && seen.len() <= MAX_GUARD_INSTRUCTIONS {
        let ins = decoder.decode();
        if ins.ip() == u64::from(to) {
            return Ok(ins);
        }
        if ins.ip() > u64::from(to) {
            break;
        }
        seen.push(ins);
    }
    Err(format!("guard tag at {from:#x}: no instruction boundary at its load at {to:#x} within {MAX_GUARD_INSTRUCTIONS} instructions"))
}

fn seek(decoder: &mut Decoder<'_>, at: u32) -> Result<(), String> {
    decoder.set_position(at as usize).map_err(|e| format!("guard tag at {at:#x} is outside the code: {e}"))?;
    decoder.set_ip(u64::from(at));
    Ok(())
}

/// Whether operand `operand` of `ins` is `[base + disp]` with no index.
fn reads_entry(ins: &Instruction, operand: u32, disp: i32) -> bool {
    ins.op_kind(operand) == OpKind::Memory && ins.memory_index() == Register::None && ins.memory_displacement64() as i64 == i64::from(disp)
}

/// A fault guard: `mov [rV + rE - 64], rE` at `fault`, after `mov rE32, [rV' +
/// disp]` and moves (rV' holding the same vmctx as rV, maybe reloaded).
fn locate_fault(decoder: &mut Decoder<'_>, before: &mut Vec<Instruction>, expected: &Expected, fault: u32) -> Result<GuardCode, String> {
    let (tag, disp) = (expected.tag, expected.disp);
    let store = decode_between(decoder, before, tag, fault)?;
    let (base, index) = (store.memory_base(), store.memory_index());
    let faults = store.code() == Code::Mov_rm64_r64
        && store.op0_kind() == OpKind::Memory
        && base != Register::None
        && index != Register::None
        && store.memory_index_scale() == 1
        && store.memory_displacement64() as i64 == i64::from(STORE_DISP);
    let entry = before.iter().rposition(|i| i.code() == Code::Mov_r32_rm32 && reads_entry(i, 1, disp));
    let start = entry
        .filter(|&e| {
            // The vmctx may be in another register by the faulting store
            // (the register allocator may reload or copy it); the entry may
            // be copied too, but not changed: only moves in between. The
            // store indexes the vmctx by the entry and writes the entry.
            let holders = entry_copies(before[e].op0_register().full_register(), &before[e + 1..]);
            let moves = before[e + 1..].iter().all(is_move);
            let shaped = |h: &Registers| h.contains(&base) != h.contains(&index) && h.contains(&store.op1_register());
            faults && moves && holders.as_ref().is_some_and(shaped)
        })
        .map(|e| before[e].ip() as u32);
    match start {
        Some(start) => Ok(GuardCode { load: start, stop: fault, resume: store.next_ip() as u32, branch: None, point: false }),
        None => Err(format!(
            "guard after tag {tag:#x} is not `mov rE32, [rV + {disp}]; mov [rV + rE - {}], rE` but `{}; {}`",
            -STORE_DISP,
            before.iter().map(show).collect::<Vec<_>>().join("; "),
            show(&store)
        )),
    }
}

/// Where the entry loaded into `entry` is after `moves`: registers and
/// stack slots (`[base + disp]`) that copies put it in (the register
/// allocator may copy, spill and reload it); `None` if it is lost.
fn entry_copies(entry: Register, moves: &[Instruction]) -> Option<Registers> {
    let mut holders: SmallVec<[Holder; 4]> = smallvec![Holder::Reg(entry)];
    for m in moves {
        let (dest, src) = (Holder::of(m, 0), Holder::of(m, 1));
        let copied = m.op_count() == 2 && src.is_some_and(|s| holders.contains(&s));
        if let Some(dest) = dest {
            holders.retain(|h| *h != dest);
            if copied {
                holders.push(dest);
            }
        }
    }
    let registers: Registers = holders.iter().filter_map(|h| if let Holder::Reg(r) = h { Some(*r) } else { None }).collect();
    (!registers.is_empty()).then_some(registers)
}

/// The registers holding a value (rarely more than two).
type Registers = SmallVec<[Register; 4]>;

/// A place a move reads or writes: a register, or a slot `[base + disp]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Holder {
    Reg(Register),
    Slot(Register, u64),
}

impl Holder {
    fn of(ins: &Instruction, operand: u32) -> Option<Holder> {
        match ins.op_kind(operand) {
            OpKind::Register => Some(Holder::Reg(ins.op_register(operand).full_register())),
            OpKind::Memory if ins.memory_index() == Register::None => Some(Holder::Slot(ins.memory_base(), ins.memory_displacement64())),
            _ => None,
        }
    }
}

/// The exit guard: the first forward `jne` after the tag (or the `je` that
/// falls into the cold block at `keep`), after a test of the entry.
fn locate_branch(decoder: &mut Decoder<'_>, expected: &Expected, keep: Option<u32>, cfa_above_sp: i64) -> Result<GuardCode, String> {
    let (tag, disp) = (expected.tag, expected.disp);
    seek(decoder, tag)?;
    let mut seen: Vec<Instruction> = Vec::new();
    for _ in 0..MAX_GUARD_INSTRUCTIONS {
        if !decoder.can_decode() {
            break;
        }
        let ins = decoder.decode();
        let forward = ins.code() == Code::Jne_rel32_64 && ins.near_branch_target() > ins.ip();
        // An exit guard Cranelift inverted: `je <cont>` falling into its cold block.
        let inverted = ins.code() == Code::Je_rel32_64 && Some(ins.next_ip() as u32) == keep;
        if forward || inverted {
            let (load, vmctx) = match expected.leads {
                true => branch_shape(&seen, tag, disp, cfa_above_sp)?,
                false => (tests_entry(&seen, tag)?, None),
            };
            let jne = ins.ip() as u32;
            if inverted {
                let cold = keep.expect("an inverted branch falls into the cold block");
                cold_block_holds_jump(decoder, cold)?;
            }
            let inverted = inverted.then(|| ins.near_branch_target() as u32);
            return Ok(GuardCode { load, stop: jne, resume: jne + JNE_LEN, branch: Some(Branch { jne, inverted, vmctx }), point: false });
        }
        seen.push(ins);
    }
    let seen: Vec<String> = seen.iter().map(show).collect();
    Err(format!("no forward guard branch after tag {tag:#x}: `{}`", seen.join("; ")))
}

/// An exit guard in an open group: `test rE, rE` (moves aside) on the
/// group's entry, already loaded; returns the test's offset. The register
/// allocator may reload a spilled entry into two registers and test one
/// against the other.
fn tests_entry(before: &[Instruction], tag: u32) -> Result<u32, String> {
    let at = before.iter().rposition(|i| !is_move(i));
    let entry = |&t: &usize| {
        let test = &before[t];
        matches!(test.code(), Code::Test_rm64_r64 | Code::Test_rm32_r32)
            && test.op0_kind() == OpKind::Register
            && same_value(&before[..t], test.op0_register().full_register(), test.op1_register().full_register())
    };
    at.filter(entry).map(|t| before[t].ip() as u32).ok_or_else(|| {
        format!(
            "exit guard after tag {tag:#x} is not `test rE, rE; jne` but `{}; jne`",
            before.iter().map(show).collect::<Vec<_>>().join("; ")
        )
    })
}

/// Whether registers `a` and `b` hold one value after `before`: one
/// register, a copy of the other, or both loaded from one place by the
/// moves that end `before`.
fn same_value(before: &[Instruction], a: Register, b: Register) -> bool {
    let moves = before.iter().rev().take_while(|i| is_move(i));
    let source = |r: Register| moves.clone().find(|m| Holder::of(m, 0) == Some(Holder::Reg(r))).and_then(|m| Holder::of(m, 1));
    let (from_a, from_b) = (source(a), source(b));
    a == b || from_a == Some(Holder::Reg(b)) || from_b == Some(Holder::Reg(a)) || (from_a.is_some() && from_a == from_b)
}

/// An inverted exit guard's cold block, which linking starts with `jmp
/// <continuation>`, must be at least that long up to its `ud2`. Cranelift
/// sinks the cold block to the function's end, so it does not invert these
/// branches in the code it makes today; should that change, a short block
/// is an error here rather than bad code.
fn cold_block_holds_jump(decoder: &mut Decoder<'_>, cold: u32) -> Result<(), String> {
    seek(decoder, cold)?;
    let end = decoder.iter().take(MAX_GUARD_INSTRUCTIONS).find(|i| i.code() == Code::Ud2).map(|i| i.next_ip() as u32);
    match end {
        Some(end) if end - cold >= JMP_LEN => Ok(()),
        _ => Err(format!("the exit guard's cold block at {cold:#x} is too short for the jump linking writes over an inverted branch")),
    }
}

/// Check the test before the branch (moves aside); returns the load's
/// offset and, if the bytes tell, where the vmctx it read through is at
/// the branch.
fn branch_shape(before: &[Instruction], tag: u32, disp: i32, cfa_above_sp: i64) -> Result<(u32, Option<Location>), String> {
    let test_at = before.iter().rposition(|i| !is_move(i));
    let load = test_at.and_then(|t| {
        let test = &before[t];
        match test.code() {
            // The load folded into a compare with zero.
            Code::Cmp_rm32_imm8 if reads_entry(test, 0, disp) && test.immediate(1) == 0 => Some(t),
            Code::Test_rm32_r32 if test.op0_kind() == OpKind::Register && test.op0_register() == test.op1_register() => {
                let tested = test.op0_register();
                let moves = before[..t].iter().rev().take_while(|i| is_move(i)).count();
                (t - moves..t).rev().find(|&l| {
                    let i = &before[l];
                    i.code() == Code::Mov_r32_rm32 && i.op0_register() == tested && reads_entry(i, 1, disp)
                })
            }
            _ => None,
        }
    });
    load.map(|l| (before[l].ip() as u32, vmctx_at_branch(before, l, cfa_above_sp))).ok_or_else(|| {
        format!(
            "exit guard after tag {tag:#x} is not `mov r32, [rV + {disp}]; test r32, r32; jne` or `cmp [rV + {disp}], 0; jne` but `{}; jne`",
            before.iter().map(show).collect::<Vec<_>>().join("; ")
        )
    })
}

/// Where the vmctx that `before[load]` read through is after `before`:
/// its register, if nothing after the load writes it; else the stack slot
/// a reload before the load took it from, if nothing after writes that.
fn vmctx_at_branch(before: &[Instruction], load: usize, cfa_above_sp: i64) -> Option<Location> {
    let base = before[load].memory_base();
    let untouched = |place: Holder, from: usize| before[from..].iter().all(|i| Holder::of(i, 0) != Some(place));
    if !base.is_gpr64() {
        return None;
    }
    if untouched(Holder::Reg(base), load + 1) {
        return Some(Location::Gpr(base.number() as u8));
    }
    let reload = before[..load].iter().rposition(|i| Holder::of(i, 0) == Some(Holder::Reg(base)))?;
    let slot = Holder::of(&before[reload], 1).filter(|_| before[reload].code() == Code::Mov_r64_rm64)?;
    match slot {
        Holder::Slot(Register::RSP, disp) if untouched(slot, reload + 1) => {
            i32::try_from(disp as i64 - cfa_above_sp).ok().map(Location::Frame)
        }
        _ => None,
    }
}

/// A register allocator's move, spill or reload (leaves the flags alone).
fn is_move(ins: &Instruction) -> bool {
    use iced_x86::Mnemonic::*;
    matches!(ins.mnemonic(), Mov | Movss | Movsd | Movaps | Movapd | Movups | Movupd | Movdqa | Movdqu | Movq | Movd)
}

/// The instructions of `code` at offset `ip` and on, one `offset: text` line each.
pub fn listing(code: &[u8], ip: u64) -> Vec<(u64, String)> {
    Decoder::with_ip(64, code, ip, DecoderOptions::NONE).into_iter().map(|i| (i.ip(), show(&i))).collect()
}

fn show(ins: &Instruction) -> String {
    use iced_x86::Formatter;
    let mut out = String::new();
    iced_x86::IntelFormatter::new().format(ins, &mut out);
    out
}

/// Point a branch guard's `jne` at `target` (offsets in the linked code; the
/// function starts at `start`, its exit guard's cold block at `keep`). An
/// inverted guard's `je <continuation>` becomes `jne <target>`, and the cold
/// block it falls into starts with `jmp <continuation>` instead, so the
/// guard resumes, as every branch guard does, right after its branch.
pub fn link(code: &mut [u8], branch: &Branch, start: u32, target: u32, keep: Option<u32>) {
    let jne = start + branch.jne;
    let at = jne as usize;
    if let (Some(continuation), Some(cold)) = (branch.inverted, keep) {
        code[at + 1] = 0x85;
        let from = cold + JMP_LEN;
        let rel = (i64::from(start + continuation) - i64::from(from)) as i32;
        let c = cold as usize;
        code[c] = 0xe9;
        code[c + 1..c + 5].copy_from_slice(&rel.to_le_bytes());
    }
    let rel = (i64::from(target) - i64::from(jne + JNE_LEN)) as i32;
    debug_assert_eq!(&code[at..at + 2], &[0x0f, 0x85]);
    code[at + 2..at + 6].copy_from_slice(&rel.to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exit(tag: u32, disp: i32) -> Expected {
        Expected { tag, disp, fault: None, leads: true, point: false, present: true }
    }

    /// A fault guard at `fault`, first of its group.
    fn leader(disp: i32, fault: u32) -> Expected {
        Expected { tag: 0, disp, fault: Some(fault), leads: true, point: false, present: true }
    }

    /// `mov r10d, [r9 - 0x80]; test r10d, r10d; jne +0x20` after a two-byte prefix.
    fn sample() -> Vec<u8> {
        let mut code = vec![0x90, 0x90];
        code.extend_from_slice(&[0x45, 0x8b, 0x51, 0x80]);
        code.extend_from_slice(&[0x45, 0x85, 0xd2]);
        code.extend_from_slice(&[0x0f, 0x85, 0x20, 0, 0, 0]);
        code.extend_from_slice(&[0xc3; 0x30]);
        code
    }

    /// An exit guard reading through r9 (hardware number 9).
    fn branch_guard(load: u32, jne: u32, inverted: Option<u32>) -> GuardCode {
        GuardCode {
            load,
            stop: jne,
            resume: jne + JNE_LEN,
            branch: Some(Branch { jne, inverted, vmctx: Some(Location::Gpr(9)) }),
            point: false,
        }
    }

    #[test]
    fn finds_the_exit_guard() {
        let code = sample();
        let guards = locate(&code, &[exit(0, -0x80)], None).unwrap();
        assert_eq!(guards, vec![branch_guard(2, 9, None)]);
        assert_eq!(guards[0].hot_bytes(), 13);
    }

    #[test]
    fn finds_an_exit_guard_that_tests_its_groups_entry() {
        // test r9, r9; jne +0x20
        let mut code = vec![0x4d, 0x85, 0xc9, 0x0f, 0x85, 0x20, 0, 0, 0];
        code.extend_from_slice(&[0xc3; 0x30]);
        let in_group = Expected { leads: false, ..exit(0, -0x80) };
        let guards = locate(&code, &[in_group], None).unwrap();
        assert_eq!(
            guards,
            vec![GuardCode { load: 0, stop: 3, resume: 9, branch: Some(Branch { jne: 3, inverted: None, vmctx: None }), point: false }]
        );
        assert!(locate(&code, &[exit(0, -0x80)], None).is_err(), "a group's first site loads its entry");
        // mov rax, [rsp+0x90]; mov r8, [rsp+0x90]; test r8, rax; jne +0x20:
        // a spilled entry reloaded twice.
        let mut reloaded = vec![0x48, 0x8b, 0x84, 0x24, 0x90, 0, 0, 0, 0x4c, 0x8b, 0x84, 0x24, 0x90, 0, 0, 0];
        reloaded.extend_from_slice(&[0x49, 0x85, 0xc0, 0x0f, 0x85, 0x20, 0, 0, 0]);
        reloaded.extend_from_slice(&[0xc3; 0x30]);
        assert_eq!(locate(&reloaded, &[in_group], None).unwrap()[0].load, 16);
        // The same, but the second reload reads another slot.
        reloaded[12] = 0x98;
        assert!(locate(&reloaded, &[in_group], None).is_err(), "two values tested");
    }

    #[test]
    fn finds_an_exit_guard_that_compares_with_zero() {
        // cmp dword [r9 - 0x80], 0; jne +0x20
        let mut code = vec![0x41, 0x83, 0x79, 0x80, 0x00, 0x0f, 0x85, 0x20, 0, 0, 0];
        code.extend_from_slice(&[0xc3; 0x30]);
        let guards = locate(&code, &[exit(0, -0x80)], None).unwrap();
        assert_eq!(guards, vec![branch_guard(0, 5, None)]);
    }

    /// `mov eax, [rbx - 0x78]; mov [rbx + rax - 0x40], rax` after a one-byte prefix.
    fn fault_sample() -> Vec<u8> {
        let mut code = vec![0x90, 0x8b, 0x43, 0x88, 0x48, 0x89, 0x44, 0x03, 0xc0];
        code.extend_from_slice(&[0xc3; 8]);
        code
    }

    #[test]
    fn finds_a_fault_guard() {
        let code = fault_sample();
        let guards = locate(&code, &[leader(-0x78, 4)], None).unwrap();
        assert_eq!(guards, vec![GuardCode { load: 1, stop: 4, resume: 9, branch: None, point: false }]);
        assert_eq!(guards[0].hot_bytes(), 8);
    }

    #[test]
    fn a_later_site_of_a_group_is_a_point_with_no_code() {
        let code = fault_sample();
        let point = Expected { tag: 9, disp: 0, fault: None, leads: false, point: true, present: true };
        let guards = locate(&code, &[leader(-0x78, 4), point], None).unwrap();
        assert_eq!(guards[1], GuardCode { load: 9, stop: 9, resume: 9, branch: None, point: true });
        assert_eq!(guards[1].hot_bytes(), 0);
    }

    #[test]
    fn a_fault_guard_with_another_displacement_is_rejected() {
        // mov eax, [rbx - 0x78]; mov [rbx + rax - 0x74], rax: not the scratch line
        let mut code = vec![0x8b, 0x43, 0x88, 0x48, 0x89, 0x44, 0x03, 0x8c];
        code.extend_from_slice(&[0xc3; 8]);
        assert!(locate(&code, &[leader(-0x78, 3)], None).is_err());
        // mov eax, [rbx - 0x78]; mov [rbx + rax], rax: the vmctx's first word
        let mut code = vec![0x8b, 0x43, 0x88, 0x48, 0x89, 0x04, 0x03];
        code.extend_from_slice(&[0xc3; 8]);
        assert!(locate(&code, &[leader(-0x78, 3)], None).is_err());
    }

    #[test]
    fn a_fault_guard_indexed_by_another_register_is_rejected() {
        // mov eax, [rbx - 0x78]; mov [rbx + rcx - 0x40], rax
        let mut code = vec![0x8b, 0x43, 0x88, 0x48, 0x89, 0x44, 0x0b, 0xc0];
        code.extend_from_slice(&[0xc3; 8]);
        assert!(locate(&code, &[leader(-0x78, 3)], None).is_err());
    }

    #[test]
    fn a_fault_guard_storing_another_register_is_rejected() {
        // mov eax, [rbx - 0x78]; mov [rbx + rax - 0x40], rcx
        let mut code = vec![0x8b, 0x43, 0x88, 0x48, 0x89, 0x4c, 0x03, 0xc0];
        code.extend_from_slice(&[0xc3; 8]);
        assert!(locate(&code, &[leader(-0x78, 3)], None).is_err());
    }

    #[test]
    fn a_fault_guard_that_loads_is_rejected() {
        // mov eax, [rbx - 0x78]; mov eax, [rbx + rax - 0x40]: it would define a value
        let mut code = vec![0x8b, 0x43, 0x88, 0x8b, 0x44, 0x03, 0xc0];
        code.extend_from_slice(&[0xc3; 8]);
        assert!(locate(&code, &[leader(-0x78, 3)], None).is_err());
    }

    #[test]
    fn a_fault_guard_may_find_its_pointer_reloaded() {
        // mov edx, [rdx + 0x38]; mov rax, [rsp + 0x78]; mov [rax + rdx - 0x40], rdx
        let mut code = vec![0x8b, 0x52, 0x38, 0x48, 0x8b, 0x44, 0x24, 0x78, 0x48, 0x89, 0x54, 0x10, 0xc0];
        code.extend_from_slice(&[0xc3; 8]);
        let guards = locate(&code, &[leader(0x38, 8)], None).unwrap();
        assert_eq!(guards, vec![GuardCode { load: 0, stop: 8, resume: 13, branch: None, point: false }]);
    }

    #[test]
    fn a_fault_guard_may_find_its_entry_copied() {
        // mov eax, [r10 - 0x1c]; mov rdi, rax; mov [r10 + rdi - 0x40], rdi
        let mut code = vec![0x41, 0x8b, 0x42, 0xe4, 0x48, 0x89, 0xc7, 0x49, 0x89, 0x7c, 0x3a, 0xc0];
        code.extend_from_slice(&[0xc3; 8]);
        let guards = locate(&code, &[leader(-0x1c, 7)], None).unwrap();
        assert_eq!(guards, vec![GuardCode { load: 0, stop: 7, resume: 12, branch: None, point: false }]);
    }

    #[test]
    fn a_fault_guard_may_find_its_entry_spilled_and_reloaded() {
        // mov eax, [r10 - 0x1c]; mov [rsp + 8], rax; mov rdi, [rsp + 8]; mov [r10 + rdi - 0x40], rdi
        let mut code = vec![0x41, 0x8b, 0x42, 0xe4, 0x48, 0x89, 0x44, 0x24, 0x08, 0x48, 0x8b, 0x7c, 0x24, 0x08];
        code.extend_from_slice(&[0x49, 0x89, 0x7c, 0x3a, 0xc0, 0xc3, 0xc3]);
        let guards = locate(&code, &[leader(-0x1c, 14)], None).unwrap();
        assert_eq!(guards, vec![GuardCode { load: 0, stop: 14, resume: 19, branch: None, point: false }]);
    }

    #[test]
    fn a_fault_guard_whose_entry_register_is_overwritten_is_rejected() {
        // mov eax, [rbx - 0x78]; mov rax, rcx; mov [rbx + rax - 0x40], rax
        let mut code = vec![0x8b, 0x43, 0x88, 0x48, 0x89, 0xc8, 0x48, 0x89, 0x44, 0x03, 0xc0];
        code.extend_from_slice(&[0xc3; 8]);
        assert!(locate(&code, &[leader(-0x78, 6)], None).is_err());
    }

    #[test]
    fn moves_between_the_guard_instructions_are_allowed() {
        // Insert `mov [rsp+8], rsi` between the test and the branch.
        let mut code = sample();
        code.splice(9..9, [0x48, 0x89, 0x74, 0x24, 0x08]);
        let guards = locate(&code, &[exit(0, -0x80)], None).unwrap();
        assert_eq!(guards, vec![branch_guard(2, 14, None)]);
        // And `mov [rsp+8], rsi` between a fault guard's load and store.
        let mut code = fault_sample();
        code.splice(4..4, [0x48, 0x89, 0x74, 0x24, 0x08]);
        let guards = locate(&code, &[leader(-0x78, 9)], None).unwrap();
        assert_eq!(guards, vec![GuardCode { load: 1, stop: 9, resume: 14, branch: None, point: false }]);
    }

    #[test]
    fn a_load_of_another_entry_is_not_this_guard() {
        assert!(locate(&sample(), &[exit(0, -0x7c)], None).is_err());
        assert!(locate(&fault_sample(), &[leader(-0x7c, 4)], None).is_err());
    }

    #[test]
    fn linking_rewrites_only_the_displacement() {
        let mut code = sample();
        let guard = locate(&code, &[exit(0, -0x80)], None).unwrap()[0];
        link(&mut code, &guard.branch.unwrap(), 0, 0x1000, None);
        assert_eq!(&code[9..11], &[0x0f, 0x85]);
        let rel = i32::from_le_bytes(code[11..15].try_into().unwrap());
        assert_eq!(15 + rel as i64, 0x1000);
        assert_eq!(code[0x2f], 0xc3, "the cold block is left alone");
    }

    #[test]
    fn an_exit_guard_whose_pointer_was_reloaded_finds_it_in_its_slot() {
        // mov rax, [rsp + 0xd8]; mov eax, [rax - 0x70]; test eax, eax; jne +0x20
        let mut code = vec![0x48, 0x8b, 0x84, 0x24, 0xd8, 0, 0, 0, 0x8b, 0x40, 0x90, 0x85, 0xc0, 0x0f, 0x85, 0x20, 0, 0, 0];
        code.extend_from_slice(&[0xc3; 0x30]);
        let guard = locate(&code, &[exit(0, -0x70)], None).unwrap()[0];
        // No prologue: the body's stack pointer is 16 below the frame address.
        assert_eq!(guard.branch.unwrap().vmctx, Some(Location::Frame(0xd8 - 16)));
        // Overwritten before the load without a reload the bytes show: unknown.
        let mut code = vec![0x8b, 0x40, 0x90, 0x85, 0xc0, 0x0f, 0x85, 0x20, 0, 0, 0];
        code.extend_from_slice(&[0xc3; 0x30]);
        assert_eq!(locate(&code, &[exit(0, -0x70)], None).unwrap()[0].branch.unwrap().vmctx, None);
    }

    #[test]
    fn an_inverted_guard_branches_to_the_tail_and_its_fall_through_jumps_back() {
        // mov r10d, [r9 - 0x80]; test r10d, r10d; je 0 (back to the start);
        // then the cold block (at 13): eight bytes of store, ud2.
        let mut code = vec![0x45, 0x8b, 0x51, 0x80, 0x45, 0x85, 0xd2, 0x0f, 0x84];
        code.extend_from_slice(&(-13i32).to_le_bytes());
        code.extend_from_slice(&[0x48, 0xc7, 0x04, 0x24, 0, 0, 0, 0, 0x0f, 0x0b]);
        let guard = locate(&code, &[exit(0, -0x80)], Some(13)).unwrap()[0];
        assert_eq!(guard, branch_guard(0, 7, Some(0)));
        link(&mut code, &guard.branch.unwrap(), 0, 0x1000, Some(13));
        assert_eq!(&code[7..9], &[0x0f, 0x85], "now a jne");
        assert_eq!(13 + i32::from_le_bytes(code[9..13].try_into().unwrap()) as i64, 0x1000);
        assert_eq!(code[13], 0xe9);
        assert_eq!(18 + i32::from_le_bytes(code[14..18].try_into().unwrap()) as i64, 0, "resumes at the continuation");
    }

    #[test]
    fn an_inverted_guard_whose_cold_block_cannot_hold_the_jump_is_an_error() {
        // As above, but the cold block is `mov [rdi], edx; ud2`: 4 bytes.
        let mut code = vec![0x45, 0x8b, 0x51, 0x80, 0x45, 0x85, 0xd2, 0x0f, 0x84];
        code.extend_from_slice(&(-13i32).to_le_bytes());
        code.extend_from_slice(&[0x89, 0x17, 0x0f, 0x0b]);
        let error = locate(&code, &[exit(0, -0x80)], Some(13)).unwrap_err();
        assert!(error.contains("too short"), "{error}");
    }
}
