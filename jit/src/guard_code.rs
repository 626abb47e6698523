//! Where each breakpoint guard ended up in a function's machine code.
//!
//! The translator marks every guard with a `sequence_point` carrying the
//! site's index as a debug tag. Cranelift gives back only the tag's code
//! offset, so this module decodes forward from it and checks that the guard
//! compiled to one of the two expected shapes:
//!
//! ```text
//! test dword [rT + d], rT32  ; a conditional trap: the entry load folds in
//! jne  <trap island>         ; 0f 85 rel32
//!
//! mov  r32, dword [rT + d]   ; the exit guard, a branch to its cold block
//! test r32, rT32             ; (either operand order)
//! jne  <cold block>
//! ```
//!
//! with at most register-allocator moves in between (they leave the flags
//! alone). The first forward `jne` after the tag is the guard's, and the
//! entry it reads must be the site's own (the displacement the translator
//! chose). Linking retargets that `jne` to the site's byte of the trap tail;
//! the guard resumes right after it. Any other shape is a compile error:
//! guards are never assumed, they are checked. Where the table pointer is
//! at the branch comes from Cranelift's value locations, not from these
//! bytes (moves may have copied it).

use iced_x86::{Code, Decoder, DecoderOptions, Instruction, OpKind, Register};

/// One guard in a function's code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GuardCode {
    /// Offset of the entry load (where the guard's hot path starts).
    pub load: u32,
    /// Offset of the `jne`; the guard resumes at `jne + JNE_LEN`.
    pub jne: u32,
    /// Where the guard continues if Cranelift inverted its branch into
    /// `je <continuation>` falling into the cold block (see [`link`]).
    pub inverted: Option<u32>,
}

/// Length of `jne rel32`.
pub const JNE_LEN: u32 = 6;

impl GuardCode {
    /// Where execution continues after this guard.
    pub fn resume(&self) -> u32 {
        self.jne + JNE_LEN
    }

    /// Bytes of the guard's hot path (load, test, branch).
    pub fn hot_bytes(&self) -> u32 {
        self.resume() - self.load
    }
}

/// Instructions decoded past a tag before giving up on finding its `jne`
/// (regalloc may put a few moves between the tag and the load).
const MAX_GUARD_INSTRUCTIONS: usize = 24;

/// Find the guard after each `(tag offset, entry displacement)` in `code`;
/// `keep` is the offset of the exit guard's cold block, if any.
pub fn locate(code: &[u8], tags: &[(u32, i32)], keep: Option<u32>) -> Result<Vec<GuardCode>, String> {
    tags.iter().map(|&(tag, disp)| locate_one(code, tag, disp, keep)).collect()
}

fn locate_one(code: &[u8], tag: u32, disp: i32, keep: Option<u32>) -> Result<GuardCode, String> {
    let mut decoder = Decoder::with_ip(64, code, 0, DecoderOptions::NONE);
    decoder
        .set_position(tag as usize)
        .map_err(|e| format!("guard tag at {tag:#x} is outside the code: {e}"))?;
    decoder.set_ip(u64::from(tag));
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
            let mut guard = guard_shape(&seen, &ins, tag, disp)?;
            guard.inverted = inverted.then(|| ins.near_branch_target() as u32);
            return Ok(guard);
        }
        seen.push(ins);
    }
    let seen: Vec<String> = seen.iter().map(show).collect();
    Err(format!("no forward guard branch after tag {tag:#x}: `{}`", seen.join("; ")))
}

/// Check one of the two shapes (moves aside) against the expected entry.
fn guard_shape(before: &[Instruction], jne: &Instruction, tag: u32, disp: i32) -> Result<GuardCode, String> {
    let reads_entry = |ins: &Instruction, operand: u32| {
        ins.op_kind(operand) == OpKind::Memory
            && ins.memory_index() == Register::None
            && ins.memory_displacement64() as i64 == i64::from(disp)
    };
    let test_at = before.iter().rposition(|i| !is_move(i));
    let test = test_at.map(|t| &before[t]);
    let shape = match test {
        // The conditional trap: the test reads the entry itself.
        Some(test) if test.code() == Code::Test_rm32_r32 && reads_entry(test, 0) => Some(test.ip()),
        // The exit guard: the load is a `mov` itself, the nearest of its shape.
        Some(test) if test.code() == Code::Test_rm32_r32 => {
            let t = test_at.expect("found");
            let load = before[..t]
                .iter()
                .rev()
                .take_while(|i| is_move(i))
                .find(|i| i.code() == Code::Mov_r32_rm32 && reads_entry(i, 1));
            let tested = |load: &Instruction| {
                test.op0_kind() == OpKind::Register
                    && (test.op0_register() == load.op0_register() || test.op1_register() == load.op0_register())
            };
            load.filter(|l| tested(l)).map(|l| l.ip())
        }
        _ => None,
    };
    match shape {
        Some(load) => Ok(GuardCode { load: load as u32, jne: jne.ip() as u32, inverted: None }),
        None => Err(format!(
            "guard after tag {tag:#x} is not `test [rT + {disp}], rT32; jne` or `mov r32, [rT + {disp}]; test r32, rT32; jne` but `{}; jne`",
            before.iter().map(show).collect::<Vec<_>>().join("; ")
        )),
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

/// Point the guard's branch at `target` (offsets in the linked code; the
/// function starts at `start`, its exit guard's cold block at `keep`). An
/// inverted guard's `je <continuation>` becomes `jne <target>`, and the cold
/// block it falls into starts with `jmp <continuation>` instead, so the
/// guard resumes, as every guard does, right after its branch.
pub fn link(code: &mut [u8], guard: &GuardCode, start: u32, target: u32, keep: Option<u32>) {
    let jne = start + guard.jne;
    let at = jne as usize;
    if let (Some(continuation), Some(cold)) = (guard.inverted, keep) {
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

/// Length of `jmp rel32`; the exit guard's cold block is longer.
pub const JMP_LEN: u32 = 5;

#[cfg(test)]
mod tests {
    use super::*;

    /// `mov r10d, [r9 - 0x80]; test r10d, r9d; jne +0x20` after a two-byte prefix.
    fn sample() -> Vec<u8> {
        let mut code = vec![0x90, 0x90];
        code.extend_from_slice(&[0x45, 0x8b, 0x51, 0x80]);
        code.extend_from_slice(&[0x45, 0x85, 0xca]);
        code.extend_from_slice(&[0x0f, 0x85, 0x20, 0, 0, 0]);
        code.extend_from_slice(&[0xc3; 0x30]);
        code
    }

    #[test]
    fn finds_the_guard() {
        let code = sample();
        let guards = locate(&code, &[(0, -0x80)], None).unwrap();
        assert_eq!(guards, vec![GuardCode { load: 2, jne: 9, inverted: None }]);
        assert_eq!(guards[0].hot_bytes(), 13);
        assert_eq!(guards[0].resume(), 15);
    }

    #[test]
    fn finds_a_conditional_trap_guard() {
        // test [r9 - 0x80], r9d; jne +0x20
        let mut code = vec![0x45, 0x85, 0x49, 0x80, 0x0f, 0x85, 0x20, 0, 0, 0];
        code.extend_from_slice(&[0xc3; 0x30]);
        let guards = locate(&code, &[(0, -0x80)], None).unwrap();
        assert_eq!(guards, vec![GuardCode { load: 0, jne: 4, inverted: None }]);
        assert_eq!(guards[0].hot_bytes(), 10);
    }

    #[test]
    fn moves_between_the_guard_instructions_are_allowed() {
        // Insert `mov [rsp+8], rsi` between the test and the branch.
        let mut code = sample();
        code.splice(9..9, [0x48, 0x89, 0x74, 0x24, 0x08]);
        let guards = locate(&code, &[(0, -0x80)], None).unwrap();
        assert_eq!(guards, vec![GuardCode { load: 2, jne: 14, inverted: None }]);
    }

    #[test]
    fn a_load_of_another_entry_is_not_this_guard() {
        let code = sample();
        assert!(locate(&code, &[(0, -0x7c)], None).is_err());
    }

    #[test]
    fn linking_rewrites_only_the_displacement() {
        let mut code = sample();
        let guard = locate(&code, &[(0, -0x80)], None).unwrap()[0];
        link(&mut code, &guard, 0, 0x1000, None);
        assert_eq!(&code[9..11], &[0x0f, 0x85]);
        let rel = i32::from_le_bytes(code[11..15].try_into().unwrap());
        assert_eq!(15 + rel as i64, 0x1000);
        assert_eq!(code[0x2f], 0xc3, "the cold block is left alone");
    }

    #[test]
    fn an_inverted_guard_branches_to_the_tail_and_its_fall_through_jumps_back() {
        // mov r10d, [r9 - 0x80]; test r10d, r9d; je 0 (back to the start);
        // then the cold block (at 15): eight bytes of store, ud2.
        let mut code = vec![0x45, 0x8b, 0x51, 0x80, 0x45, 0x85, 0xca, 0x0f, 0x84];
        code.extend_from_slice(&(-13i32).to_le_bytes());
        code.extend_from_slice(&[0x48, 0xc7, 0x04, 0x24, 0, 0, 0, 0, 0x0f, 0x0b]);
        let guard = locate(&code, &[(0, -0x80)], Some(13)).unwrap()[0];
        assert_eq!(guard, GuardCode { load: 0, jne: 7, inverted: Some(0) });
        link(&mut code, &guard, 0, 0x1000, Some(13));
        assert_eq!(&code[7..9], &[0x0f, 0x85], "now a jne");
        assert_eq!(13 + i32::from_le_bytes(code[9..13].try_into().unwrap()) as i64, 0x1000);
        assert_eq!(code[13], 0xe9);
        assert_eq!(18 + i32::from_le_bytes(code[14..18].try_into().unwrap()) as i64, 0, "resumes at the continuation");
    }
}
