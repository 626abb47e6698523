//! The breakpoint guard: debug code that never changes.
//!
//! At every breakable point the code loads the byte holding this site's bit
//! from the instance's debug table (one bit per byte of the code section,
//! indexed by the site's wasm offset; the table's address comes from the
//! vmctx, so the code holds nothing instance-specific), tests the bit, and
//! branches to a cold block only when it is set. A bit per site rather than
//! a byte per function means a breakpoint costs nothing at the sites of its
//! function that are not it.
//!
//! Cold path: a site with an empty operand stack jumps, with its site id, to
//! the function's one shared break block, which spills the wasm locals to
//! the frame-view slot, calls the debug handler through the vmctx with
//! (function, site, frame, frame pointer), reloads the locals and returns
//! to the site through a `br_table`; a site's own cold code is a constant
//! and a jump. Other sites (exit, or `Breakable::Instructions`) get a cold
//! block of their own that also spills the operand stack and reloads the
//! innermost block's operands (values of enclosing blocks are readable but
//! not writable: they may reach code after the block along paths that never
//! passed this site). Functions with more than [`MAX_SSA_DEBUG_LOCALS`]
//! locals keep them in the slot, so the cold paths (and compile time) do not
//! grow with locals x sites.
//!
//! Breakable points: function entry (the boundary before the first
//! operator), function exit (at the final `end`, with the results on the
//! operand stack), and reachable operators other than `block`, `loop`,
//! `else` and `end` (which only delimit structure): with
//! [`crate::Breakable::Statements`] (the default) those where the current
//! block's operand stack is empty, with `Instructions` all of them. Which
//! operators those are is decided in one place, the translator's
//! before-operator hook (`mod.rs`), which calls [`FuncTranslator::guard`].

use cranelift_codegen::ir::{types, Block, BlockArg, InstBuilder, JumpTableData, MemFlagsData, StackSlotData, StackSlotKind, Value};

use super::{ir_type, FuncTranslator, LocalSite};
use crate::trap::TrapKind;
use crate::vmctx::{builtin, header};

/// Index of the newest site (the one just recorded).
fn site_index(sites: &[LocalSite]) -> usize {
    sites.len() - 1
}

/// Functions with more locals keep them in memory in debug code.
pub const MAX_SSA_DEBUG_LOCALS: usize = 32;

/// Where in a function a breakable point sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SiteKind {
    /// Function entry, before the first operator.
    Entry,
    /// Before an operator.
    Instruction,
    /// Function exit, results on the stack.
    Exit,
}

impl FuncTranslator<'_, '_> {
    /// Return from the function with the top `n` values, after the exit guard.
    pub(super) fn emit_return(&mut self, n: usize) {
        if self.env.config.debug && self.reachable {
            self.guard(SiteKind::Exit);
        }
        let values = self.pop_n(n);
        self.b.ins().return_(&values);
    }

    /// Emit one guard and record its site.
    pub(crate) fn guard(&mut self, kind: SiteKind) {
        let site = self.sites.len() as u32;
        let height = self.control.last().map_or(0, |f| f.height);
        // With an empty operand stack, the cold path only jumps to the
        // function's shared break block. (Any value on the stack, even of an
        // enclosing block, would have to reach the code after the site along
        // the break block's paths from other sites, which it does not
        // dominate.)
        let shared = self.env.config.guard_cold_path && self.stack.is_empty();
        let stack = if shared { vec![] } else { self.stack_types.clone() };
        self.sites.push(LocalSite { wasm_offset: self.offset as u32, kind, stack });
        if self.env.config.legacy {
            return self.legacy_site_call(site as i64);
        }

        let table = match self.debug_table {
            Some(var) => self.b.use_var(var),
            None => self.load_field(types::I64, self.vmctx, header::DEBUG_TABLE),
        };
        let (byte, mask) = self.env.info.debug_bit(self.offset as u32);
        // Hot path on x86-64: movzx, test, jnz.
        let bits = self.b.ins().load(types::I8, MemFlagsData::trusted(), table, byte as i32);
        let flag = self.b.ins().band_imm_u(bits, mask as i64);
        let cold = self.b.create_block();
        let live_types = self.stack_types[height..].to_vec();
        let cont = self.block_with_params(&live_types);
        let live: Vec<BlockArg> = self.stack[height..].iter().map(|v| BlockArg::Value(*v)).collect();
        self.b.ins().brif(flag, cold, &[], cont, &live);

        self.b.switch_to_block(cold);
        self.b.set_cold_block(cold);
        self.b.seal_block(cold);
        if shared {
            let brk = self.shared_break_block();
            let site = self.b.ins().iconst(types::I32, site as i64);
            self.b.ins().jump(brk, &[BlockArg::Value(site)]);
            // Sealed once the break block's dispatch back here exists.
            self.break_conts.push((site_index(&self.sites), cont));
            self.b.switch_to_block(cont);
            return;
        }
        if self.env.config.guard_cold_path {
            let site = self.b.ins().iconst(types::I32, site as i64);
            let reloaded = self.call_handler(site, Some(height));
            let reloaded: Vec<BlockArg> = reloaded.into_iter().map(BlockArg::Value).collect();
            self.b.ins().jump(cont, &reloaded);
        } else {
            self.b.ins().trap(TrapKind::DebugAbort.code());
        }

        self.b.switch_to_block(cont);
        self.b.seal_block(cont);
        let params = self.b.block_params(cont).to_vec();
        self.stack[height..].copy_from_slice(&params);
    }

    /// The function's shared break block (created on first use; its body is
    /// emitted by [`Self::finish_break_block`]).
    fn shared_break_block(&mut self) -> Block {
        if let Some(block) = self.break_block {
            return block;
        }
        let block = self.b.create_block();
        self.b.append_block_param(block, types::I32);
        self.break_block = Some(block);
        block
    }

    /// Emit the shared break block: spill the locals, call the handler with
    /// the site id it was entered with, reload the locals, and go back to
    /// that site's continuation. One per function keeps each site's cold
    /// path to a constant and a jump.
    pub(crate) fn finish_break_block(&mut self) {
        let Some(block) = self.break_block else { return };
        self.b.switch_to_block(block);
        self.b.set_cold_block(block);
        self.b.seal_block(block);
        let site = self.b.block_params(block)[0];
        self.call_handler(site, None);
        let conts = std::mem::take(&mut self.break_conts);
        let unreachable = self.b.create_block();
        let default = self.b.func.dfg.block_call(unreachable, &[]);
        let mut table = vec![default; self.sites.len()];
        for (index, cont) in &conts {
            table[*index] = self.b.func.dfg.block_call(*cont, &[]);
        }
        let table = self.b.create_jump_table(JumpTableData::new(default, &table));
        self.b.ins().br_table(site, table);
        for (_, cont) in conts {
            self.b.seal_block(cont);
        }
        self.b.switch_to_block(unreachable);
        self.b.set_cold_block(unreachable);
        self.b.seal_block(unreachable);
        self.b.ins().trap(TrapKind::Fault.code());
    }

    /// Reload the debug table's address: at entry, at loop headers (so a
    /// spinning loop sees a step or pause request within one iteration) and
    /// after calls (a callee's handler may have started stepping).
    pub(crate) fn reload_debug_table(&mut self) {
        if let Some(var) = self.debug_table {
            let table = self.load_field(types::I64, self.vmctx, header::DEBUG_TABLE);
            self.b.def_var(var, table);
        }
    }

    /// The cold path: spill the locals (and, for a site of its own, the
    /// operand stack), call the handler, reload the locals and the operand
    /// values from `height` up.
    fn call_handler(&mut self, site: Value, height: Option<usize>) -> Vec<Value> {
        let cells = (self.locals.len() + self.stack.len()) as u32;
        let slot = self.frame_slot(cells);
        let base = self.locals.len();
        let ssa_locals = if self.locals_in_frame { vec![] } else { self.locals.clone() };
        for (i, (var, _)) in ssa_locals.iter().enumerate() {
            let v = self.b.use_var(*var);
            self.b.ins().stack_store(types::I64, v, slot, 8 * i as i32);
        }
        let spilled = if height.is_some() { self.stack.clone() } else { vec![] };
        for (i, v) in spilled.into_iter().enumerate() {
            self.b.ins().stack_store(types::I64, v, slot, 8 * (base + i) as i32);
        }
        let frame = self.b.ins().stack_addr(types::I64, slot, 0);
        let func = self.b.ins().iconst(types::I32, self.func_index as i64);
        let fp = self.b.ins().get_frame_pointer(types::I64);
        let status = self.call_builtin(builtin::DEBUG_BREAK, &[func, site, frame, fp], &[types::I32])[0];
        self.trap_if(status, TrapKind::DebugAbort);
        self.reload_debug_table();
        for (i, (var, ty)) in ssa_locals.into_iter().enumerate() {
            let v = self.b.ins().stack_load(types::I64, ir_type(ty), slot, 8 * i as i32);
            self.b.def_var(var, v);
        }
        let tys = self.stack_types.clone();
        (height.unwrap_or(tys.len())..tys.len())
            .map(|i| self.b.ins().stack_load(types::I64, ir_type(tys[i]), slot, 8 * (base + i) as i32))
            .collect()
    }

    /// The function's one frame-view slot, grown to hold `cells` values.
    pub(crate) fn frame_slot(&mut self, cells: u32) -> cranelift_codegen::ir::StackSlot {
        let size = 8 * cells.max(1);
        match self.frame_view {
            Some(slot) => {
                let data = &mut self.b.func.sized_stack_slots[slot];
                data.size = data.size.max(size);
                slot
            }
            None => {
                let slot = self.b.create_sized_stack_slot(StackSlotData::new(StackSlotKind::ExplicitSlot, size, 3));
                self.frame_view = Some(slot);
                slot
            }
        }
    }
}
