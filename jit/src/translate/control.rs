//! Structured control flow: blocks, loops, ifs, branches, returns, the
//! parametric operators (`drop`, `select`), and the skipping of dead code.

use cranelift_codegen::ir::{Block, BlockArg, InstBuilder, JumpTableData, Value};
use wasmparser::{BlockType, Operator};

use super::guard::Group;
use super::{ir_type, FuncTranslator};
use crate::types::ValType;
use crate::CompileError;

/// What kind of construct a control frame is.
pub(crate) enum FrameKind {
    /// The function body; its exit is the return block.
    Function,
    /// `block`.
    Block,
    /// `loop`: branches go back to `header`.
    Loop { header: Block },
    /// `if`: `else_block` takes the block's params when the condition is 0.
    If { else_block: Block, has_else: bool },
}

/// One open construct on the control stack.
pub(crate) struct ControlFrame {
    /// What it is.
    pub kind: FrameKind,
    /// Where control goes after `end`; its block params are the results.
    pub next: Block,
    /// Parameter types of the construct.
    pub params: Vec<ValType>,
    /// Result types of the construct.
    pub results: Vec<ValType>,
    /// Operand stack height below the construct's params.
    pub height: usize,
    /// Whether any branch targets `next`, so the code after `end` is live.
    pub next_reached: bool,
    /// Branches to `next` (an `if`'s own edge to its `else` not counted).
    pub edges: u32,
    /// Debug code: the first edge to `next` (an `if`'s: its edge to its
    /// `else`), if a guard group was open in the block it left.
    pub sole: Option<SoleEdge>,
}

/// The one edge to a label, as it left its block. If every other path out
/// of that block up to the label traps (no branch or jump at all was made
/// since: the `if` arm or `br_if` fall-through is a panic's `call;
/// unreachable`), the label's block runs whenever the group's block does,
/// and the group goes on there: a breakpoint after the label then costs the
/// sites before it a fault each, as it would in one block, and the block
/// after the label loads no entry of its own. A path that may leave some
/// other way (a `return`, a branch elsewhere) would make those faults a
/// cost of code the breakpoint is not on, so it ends the group, as blocks do.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SoleEdge {
    /// The group open in the block the edge left.
    group: Group,
    /// `FuncTranslator::branches` just after the edge.
    branches: u32,
}

impl ControlFrame {
    /// Where a branch to this frame goes, and how many values it carries.
    fn branch_target(&self) -> (Block, usize) {
        match self.kind {
            FrameKind::Loop { header } => (header, self.params.len()),
            _ => (self.next, self.results.len()),
        }
    }
}

fn args(values: &[Value]) -> Vec<BlockArg> {
    values.iter().map(|v| BlockArg::Value(*v)).collect()
}

impl FuncTranslator<'_, '_> {
    /// A new block whose params carry values of `tys`.
    pub(super) fn block_with_params(&mut self, tys: &[ValType]) -> Block {
        let block = self.b.create_block();
        for ty in tys {
            let p = self.b.append_block_param(block, ir_type(*ty));
            self.record_explicit(p);
        }
        block
    }

    /// Open the function-body frame; its `next` is the return block.
    pub(crate) fn open_function_frame(&mut self, results: Vec<ValType>) {
        let next = self.block_with_params(&results);
        self.control.push(ControlFrame {
            kind: FrameKind::Function,
            next,
            params: vec![],
            results,
            height: 0,
            next_reached: false,
            edges: 0,
            sole: None,
        });
    }

    /// In dead code: track block nesting, and tell whether `op` is the
    /// `else` or `end` of the innermost live frame, which is translated.
    pub(super) fn ends_unreachable_code(&mut self, op: &Operator<'_>) -> bool {
        match op {
            Operator::Block { .. } | Operator::Loop { .. } | Operator::If { .. } => self.unreachable_depth += 1,
            Operator::End if self.unreachable_depth > 0 => self.unreachable_depth -= 1,
            Operator::Else | Operator::End => return self.unreachable_depth == 0,
            _ => {}
        }
        false
    }

    pub(super) fn block(&mut self, blockty: BlockType) {
        let (params, results) = self.block_signature(blockty);
        self.open(FrameKind::Block, params, results, None);
    }

    pub(super) fn loop_(&mut self, blockty: BlockType) {
        let (params, results) = self.block_signature(blockty);
        let header = self.block_with_params(&params);
        let entry = args(self.peek_n(params.len()));
        self.count_branch();
        self.b.ins().jump(header, &entry);
        self.b.switch_to_block(header);
        self.interrupt_check();
        self.pop_n(params.len());
        for (v, ty) in self.b.block_params(header).to_vec().into_iter().zip(&params) {
            self.push(v, *ty);
        }
        self.open(FrameKind::Loop { header }, params, results, None);
        self.site_pending = true;
    }

    pub(super) fn if_(&mut self, blockty: BlockType) {
        let cond = self.pop();
        let (params, results) = self.block_signature(blockty);
        let then = self.b.create_block();
        let else_block = self.block_with_params(&params);
        let values = self.peek_n(params.len()).to_vec();
        let sole = self.count_branch();
        self.b.ins().brif(cond, then, &[], else_block, &args(&values));
        self.b.switch_to_block(then);
        self.b.seal_block(then);
        self.open(FrameKind::If { else_block, has_else: false }, params, results, sole);
    }

    /// `return` is a branch to the function-body frame.
    pub(super) fn return_(&mut self) {
        self.br(self.control.len() as u32 - 1);
    }

    pub(super) fn drop_(&mut self) {
        self.pop();
    }

    /// `select`, typed or not: the operand types are known from the stack.
    pub(super) fn select(&mut self) {
        let ty = self.stack_types[self.stack_types.len() - 3];
        let (x, y, cond) = self.pop3();
        let v = self.b.ins().select(cond, x, y);
        self.push(v, ty);
    }

    fn open(&mut self, kind: FrameKind, params: Vec<ValType>, results: Vec<ValType>, sole: Option<SoleEdge>) {
        let next = self.block_with_params(&results);
        let height = self.stack.len() - params.len();
        self.control.push(ControlFrame { kind, next, params, results, height, next_reached: false, edges: 0, sole });
    }

    /// Count a branch or jump; the edge it makes, if a guard group is open
    /// here (call before switching blocks).
    fn count_branch(&mut self) -> Option<SoleEdge> {
        self.branches += 1;
        self.group_here().map(|group| SoleEdge { group, branches: self.branches })
    }

    /// Jump to the frame's `next` with the results on top of the stack.
    fn fall_through(&mut self) {
        self.count_branch();
        let frame = self.control.last_mut().expect("open frame");
        frame.next_reached = true;
        let (next, n) = (frame.next, frame.results.len());
        let values = args(self.peek_n(n));
        self.b.ins().jump(next, &values);
    }

    pub(super) fn else_(&mut self) {
        if self.reachable {
            self.fall_through();
        }
        let frame = self.control.last_mut().expect("if frame");
        let height = frame.height;
        let FrameKind::If { else_block, ref mut has_else, .. } = frame.kind else { unreachable!("validated: else closes an if") };
        *has_else = true;
        let params = frame.params.clone();
        self.stack.truncate(height);
        self.stack_types.truncate(height);
        self.b.switch_to_block(else_block);
        self.b.seal_block(else_block);
        for (v, ty) in self.b.block_params(else_block).to_vec().into_iter().zip(params) {
            self.push(v, ty);
        }
        self.reachable = true;
    }

    pub(super) fn end(&mut self) {
        let go_on = self.group_going_on();
        if self.reachable {
            self.fall_through();
        }
        let mut frame = self.control.pop().expect("validated: end closes a frame");
        match frame.kind {
            FrameKind::If { else_block, has_else: false, .. } => {
                // An `if` without `else` passes its params through as results.
                self.b.switch_to_block(else_block);
                self.b.seal_block(else_block);
                let values = args(self.b.block_params(else_block));
                self.b.ins().jump(frame.next, &values);
                frame.next_reached = true;
            }
            FrameKind::Loop { header } => self.b.seal_block(header),
            _ => {}
        }
        self.stack.truncate(frame.height);
        self.stack_types.truncate(frame.height);
        self.b.switch_to_block(frame.next);
        self.b.seal_block(frame.next);
        for (v, ty) in self.b.block_params(frame.next).to_vec().into_iter().zip(&frame.results) {
            self.push(v, *ty);
        }
        self.reachable = frame.next_reached;
        if let Some(group) = go_on {
            self.continue_group(group);
        }
        if let FrameKind::Function = frame.kind {
            self.emit_return(frame.results.len());
        }
    }

    /// At the innermost frame's `end`: the guard group that goes on after
    /// it, if its label is reached by one edge only and nothing but traps
    /// followed that edge (see [`SoleEdge`]).
    fn group_going_on(&self) -> Option<Group> {
        let frame = self.control.last()?;
        // A label no branch reaches: only the fall-through does, so its
        // block runs whenever the group's block ends.
        if matches!(frame.kind, FrameKind::Block | FrameKind::Function) && frame.edges == 0 && self.reachable {
            return self.group_here();
        }
        let one_edge = match frame.kind {
            FrameKind::If { has_else: false, .. } => frame.edges == 0,
            FrameKind::Block => frame.edges == 1,
            _ => false,
        };
        let sole = frame.sole.filter(|s| one_edge && !self.reachable && s.branches == self.branches)?;
        Some(sole.group)
    }

    /// The frame `depth` levels out, marked as branched to (before the
    /// branch is made: this counts it).
    fn target(&mut self, depth: u32) -> (Block, usize) {
        let edge = self.count_branch();
        let index = self.control.len() - 1 - depth as usize;
        let frame = &mut self.control[index];
        if !matches!(frame.kind, FrameKind::Loop { .. }) {
            frame.next_reached = true;
            frame.edges += 1;
            if frame.edges == 1 && matches!(frame.kind, FrameKind::Block) {
                frame.sole = edge;
            }
        }
        frame.branch_target()
    }

    pub(super) fn br(&mut self, depth: u32) {
        let (block, n) = self.target(depth);
        let values = args(self.peek_n(n));
        self.b.ins().jump(block, &values);
        self.reachable = false;
    }

    pub(super) fn br_if(&mut self, depth: u32) {
        let cond = self.pop();
        let (block, n) = self.target(depth);
        let values = args(self.peek_n(n));
        let cont = self.b.create_block();
        self.b.ins().brif(cond, block, &values, cont, &[]);
        self.b.switch_to_block(cont);
        self.b.seal_block(cont);
    }

    pub(super) fn br_table(&mut self, targets: &wasmparser::BrTable<'_>) -> Result<(), CompileError> {
        let index = self.pop();
        let mut depths = targets.targets().collect::<Result<Vec<u32>, _>>()?;
        depths.push(targets.default());
        let mut calls = Vec::with_capacity(depths.len());
        let frames = self.control.len() - 1;
        for depth in depths.iter().copied() {
            let (block, n) = self.target(depth);
            let values = args(self.peek_n(n));
            calls.push(self.b.func.dfg.block_call(block, &values));
        }
        // Its other targets leave too: no target's label has a sole edge.
        for depth in depths {
            self.control[frames - depth as usize].sole = None;
        }
        let default = calls.pop().expect("the default target");
        let table = JumpTableData::new(default, &calls);
        let table = self.b.create_jump_table(table);
        self.b.ins().br_table(index, table);
        self.reachable = false;
        Ok(())
    }
}
