//! Which `block`s' labels lead only to a trap: the code after the block's
//! `end` runs straight into `unreachable` (a panic's `call $panic;
//! unreachable`, which compilers put after a block that bounds checks
//! branch out of). A `br_if` to such a label leaves its guard group open
//! on its fall-through (see `control::SoleEdge`): the only other way on
//! traps. Found by one pass over the body before translating it, since a
//! branch comes before the code its label leads to.

use wasmparser::{FunctionBody, Operator};

/// The wasm offsets of the `block` operators whose labels lead only to a
/// trap, ascending.
pub(crate) fn trap_only_labels(body: &FunctionBody<'_>) -> wasmparser::Result<Vec<u32>> {
    let mut reader = body.get_operators_reader()?;
    // Open constructs: the offset of each `block` (None for others).
    let mut open: Vec<Option<u32>> = Vec::new();
    // The block just ended, while only straight-line code follows it.
    let mut ended: Option<u32> = None;
    let mut found = Vec::new();
    while !reader.eof() {
        let (op, offset) = reader.read_with_offset()?;
        match op {
            Operator::Block { .. } => open.push(Some(offset as u32)),
            Operator::Loop { .. } | Operator::If { .. } => open.push(None),
            Operator::End => {
                ended = open.pop().flatten();
                continue;
            }
            Operator::Unreachable => {
                found.extend(ended);
            }
            _ if !is_control(&op) => continue,
            _ => {}
        }
        ended = None;
    }
    found.sort_unstable();
    Ok(found)
}

/// Operators that branch, return or open or close a construct: what ends
/// straight-line code. (Calls do not: they return, or trap.)
fn is_control(op: &Operator<'_>) -> bool {
    use Operator::*;
    matches!(
        op,
        Block { .. }
            | Loop { .. }
            | If { .. }
            | Else
            | End
            | Br { .. }
            | BrIf { .. }
            | BrTable { .. }
            | Return
            | ReturnCall { .. }
            | ReturnCallIndirect { .. }
            | ReturnCallRef { .. }
            | BrOnNull { .. }
            | BrOnNonNull { .. }
            | BrOnCast { .. }
            | BrOnCastFail { .. }
            | Try { .. }
            | TryTable { .. }
            | Throw { .. }
            | ThrowRef
            | Rethrow { .. }
            | Delegate { .. }
            | Catch { .. }
            | CatchAll
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(wat: &str) -> Vec<u32> {
        let wasm = wat::parse_str(wat).unwrap();
        let mut bodies = Vec::new();
        for payload in wasmparser::Parser::new(0).parse_all(&wasm) {
            if let wasmparser::Payload::CodeSectionEntry(body) = payload.unwrap() {
                bodies.push(trap_only_labels(&body).unwrap().len());
            }
        }
        bodies.into_iter().map(|n| n as u32).collect()
    }

    #[test]
    fn a_block_followed_by_a_panic_leads_to_a_trap() {
        let wat = r#"(module (func $p) (func (param i32)
            (block (br_if 0 (local.get 0)) (return)) call $p unreachable))"#;
        assert_eq!(labels(wat), vec![0, 1]);
    }

    #[test]
    fn a_block_followed_by_anything_that_branches_or_ends_does_not() {
        let wat = r#"(module (func (param i32)
            (block (block (br_if 0 (local.get 0))) (br_if 0 (local.get 0))) (drop (i32.const 1)) unreachable)
          (func (param i32) (block (br_if 0 (local.get 0))) (nop)))"#;
        // The outer block's label leads to the trap; the inner one's goes on to a branch.
        assert_eq!(labels(wat), vec![1, 0]);
    }
}
