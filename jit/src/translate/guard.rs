//! The breakpoint guard: debug code that never changes.
//!
//! Breakable points come in guard groups: the sites of one Cranelift block
//! up to the next call, at most [`MAX_GROUP_SITES`]. The group's first site
//! reads the group's 4-byte entry of the running instance's debug table and
//! loads through it; every later site of the group is a *point*: a tagged
//! `sequence_point`, no machine code at all.
//!
//! ```text
//! mov  rE32, dword [rT + d0]       ; the group's first site: rT, the table
//! mov  r32, dword [rT + rE]        ;   pointer; rE = 0 reads the table;
//!                                  ;   armed, it faults
//! ...                              ; site 1, site 2: points, no code
//! ```
//!
//! An armed entry holds the table's alignment, which puts the load in the
//! PROT_NONE half of the table's reservation; the runtime's signal handler
//! turns that fault into a call that clobbers nothing, saves every register
//! and stops there (or, if the first site itself is not armed, goes on at
//! once), then resumes after the load. If a later point of the group may
//! stop (a breakpoint, a step, a pause), the stop resumes with the CPU's
//! trap flag set and the points' addresses given to the signal handler,
//! which single-steps the thread to the first of them and stops there as a
//! fault would (the runtime's `debug_stop.rs`). A group runs its sites in
//! order (it ends at each call, builtin and block; the other ways out of it
//! trap), so the step always reaches them, and [`MAX_GROUP_SITES`] bounds
//! how far. No branch, no cold code and no trap island per site: one
//! 4-5 byte load and a 3-4 byte entry load per group, nothing per point. A
//! stop can only be asked for while the thread is elsewhere or stopped
//! itself: a group ends at each call (the callee may stop, and a debugger
//! arm sites after the call) and at each block (so a loop reads the entry
//! on every iteration and a running loop sees a breakpoint set from another
//! thread), and which later points a thread stopped in a group steps to is
//! decided as that stop resumes.
//!
//! The exit guard, where the results are on the operand stack, is a branch
//! instead (it also keeps the parameters alive to the end, see
//! [`FuncTranslator::exit_branch`]): on the open group's entry, `test rE,
//! rE; jne`, where the function's last block has a group (the exit is then
//! one of its sites), else on its own, `mov r32, [rT + d8]; test r32, r32;
//! jne`; the `jne` retargeted at link time to the site's byte of the
//! module's PROT_NONE trap tail, where the fetch faults (see
//! `guard_code.rs`). The debugger finds locals where the code keeps them
//! anyway (`debug_info`), so no site moves a value anywhere, and what a
//! debugger writes into a register or slot is what the code after the site
//! reads.
//!
//! The table pointer: the vmctx holds the table's base, aligned so that
//! `base | K == base + K` for every offset K the code uses. The pointer is
//! a `Variable` holding `base | K(c)`, biased at a "centre" entry `c` so the
//! next 64 entries are within a one-byte displacement; Cranelift would fold
//! an `iadd` into every load's address as a 4-byte displacement, an `or`
//! it does not. Where a site's entry is out of reach the pointer is rebased
//! (`xor` with the change of K when the bias is known, else reloaded). The
//! translator knows the bias statically: it follows it along branches and
//! merges (`ControlFrame::label_bias`), keeps it fixed around each loop (a
//! back edge with another bias rebases first), and forgets it where
//! different biases meet.
//!
//! Breakable points: function entry (the boundary before the first
//! operator), function exit (at the final `end`, with the results on the
//! operand stack), and reachable operators other than `block`, `loop`,
//! `else` and `end` (which only delimit structure): with
//! [`crate::Breakable::Statements`] (the default) those where the current
//! block's operand stack is empty, with `Instructions` all of them. Which
//! operators those are is decided in one place, the translator's
//! before-operator hook (`mod.rs`), which calls [`FuncTranslator::guard`].

use cranelift_codegen::ir::{types, Block, BlockArg, DebugTag, Inst, InstBuilder, MemFlags, MemFlagsData, Opcode, Type, Value};
use cranelift_frontend::Variable;

use super::{FuncTranslator, LocalSite};
use crate::debug_table::{table_offset, ENTRY_BYTES};
use crate::trap::TrapKind;
use crate::vmctx::header;

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

/// Entries reachable from the table pointer with a one-byte displacement:
/// `c - REACH ..= c + REACH - 1` for a pointer biased at `c`.
const REACH: i64 = 128 / ENTRY_BYTES as i64;

/// A loop keeps its entry bias only if that leaves this many entries of
/// room for the loop's sites (else the pointer is rebased before the loop).
const LOOP_ROOM: i64 = 16;

/// Sites of one guard group at most: a stop at a later site of a group is
/// reached by single-stepping from the group's first (see the module doc),
/// which this bounds; a longer run of sites starts a new group.
const MAX_GROUP_SITES: u32 = 16;

/// The debug tag of the exit guard's cold block (site tags are site numbers).
pub(crate) const KEEP_TAG: u32 = u32::MAX;

/// Debug code's guard state for one function.
pub(crate) struct Guards {
    /// Flags of the loads of entries (interned once: Cranelift hashes
    /// flags data on every load built from it).
    pub trusted: MemFlags,
    /// Flags of the faulting loads (their trap code marks them).
    pub faults: MemFlags,
    /// The table pointer (`base | K(bias)`).
    pub table: Variable,
    /// The centre entry of the pointer's current value, where known.
    pub bias: Option<u32>,
    /// The function's first entry in the table.
    pub region: u32,
    /// Whether the pointer has been set yet (by the first guard).
    pub defined: bool,
    /// The open guard group, if any.
    pub group: Option<Group>,
}

/// A guard group: sites of one block with no call between them, which
/// share the first one's entry (see the module doc), and of the block
/// after a label that only an edge from that block reaches, every other
/// way out of it trapping (`control::SoleEdge`), or that only its
/// fall-through reaches (a `block` no branch targets, the function's end).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Group {
    /// The block its sites are in.
    block: Block,
    /// The entry, as the first site loaded it.
    entry: Value,
    /// The first site's index in the function.
    leader: u32,
    /// Its sites so far (a group holds at most [`MAX_GROUP_SITES`]).
    sites: u32,
}

/// What the branches to a label agree on about the table pointer's bias.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum LabelBias {
    /// No branch yet.
    #[default]
    Unset,
    /// Every branch so far comes with this bias.
    Known(u32),
    /// Branches disagree (or one came with none).
    Unknown,
}

impl LabelBias {
    /// Merge one more branch's bias.
    pub(crate) fn merge(self, bias: Option<u32>) -> LabelBias {
        match (self, bias) {
            (LabelBias::Unset, Some(b)) => LabelBias::Known(b),
            (LabelBias::Known(a), Some(b)) if a == b => self,
            _ => LabelBias::Unknown,
        }
    }

    /// The bias after the label.
    pub(crate) fn after(self) -> Option<u32> {
        match self {
            LabelBias::Known(b) => Some(b),
            _ => None,
        }
    }
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
        let stack = self.stack_types.clone();
        self.sites.push(LocalSite { wasm_offset: self.offset as u32, kind, stack, disp: 0, pointer: None, load: None, group: site });
        self.record_site(kind == SiteKind::Exit);
        if self.env.config.legacy {
            return self.legacy_site_call(site as i64);
        }
        let entry = self.reach_entry(site);
        let Some(guards) = self.guards.as_ref() else { return };
        let (table, bias) = (guards.table, guards.bias.expect("reach_entry set the bias"));
        let pointer = self.b.use_var(table);
        let disp = (i64::from(entry) - i64::from(bias)) as i32 * ENTRY_BYTES as i32;
        let site_record = self.sites.last_mut().expect("just pushed");
        site_record.disp = disp;
        site_record.pointer = Some(pointer);
        if kind == SiteKind::Exit {
            // The tag marks the guard's start in the machine code (guard_code.rs).
            let tag = self.b.ins().sequence_point();
            self.b.func.debug_tags.set(tag, [DebugTag::User(site)]);
            // In an open group the exit tests the group's entry, already in
            // a register (`test rE, rE; jne`: no load); a breakpoint on it
            // then costs the group's earlier sites one fault each, as on
            // any later site of a group.
            let armed = match self.group_here() {
                Some(group) => {
                    self.sites.last_mut().expect("just pushed").group = group.leader;
                    group.entry
                }
                None => {
                    let trusted = self.guards.as_ref().expect("guarded").trusted;
                    let (load, entry) = self.guard_load(Opcode::Load, types::I32, trusted, pointer, disp);
                    self.sites.last_mut().expect("just pushed").load = Some(load);
                    entry
                }
            };
            self.end_guard_group();
            let cont = self.b.create_block();
            self.exit_branch(armed, cont);
            self.b.switch_to_block(cont);
            self.b.seal_block(cont);
        } else {
            // The group's first site: one load and no branch. It reads
            // `[pointer + entry]`, the table itself while the entry is zero,
            // the table's PROT_NONE guard half once it is armed (the entry
            // then holds the table's alignment). No block split (with a
            // block per site the register allocator's liveness would cost
            // sites x live values), no cold code, and nothing but the
            // group's entry that must stay live past the site. Its trap
            // record says where it is (no tag: see compile.rs), and the
            // faulting address where its table is. A later site of the group
            // is a tagged point with no code at all: the runtime single-steps
            // from a stop in the group to the later sites that want to stop
            // (see the module doc).
            let (armed, leader) = self.group_entry(pointer, disp, site);
            let load = if leader == site {
                let at = self.b.ins().iadd(pointer, armed);
                let faults = self.guards.as_ref().expect("guarded").faults;
                self.guard_load(Opcode::Load, types::I32, faults, at, 0).0
            } else {
                let point = self.b.ins().sequence_point();
                self.b.func.debug_tags.set(point, [DebugTag::User(site)]);
                point
            };
            let site_record = self.sites.last_mut().expect("just pushed");
            site_record.group = leader;
            site_record.load = Some(load);
        }
    }

    /// The open guard group's entry and first site, or a new group's led
    /// by `site`, whose entry is at `pointer + disp`.
    fn group_entry(&mut self, pointer: Value, disp: i32, site: u32) -> (Value, u32) {
        if let Some(group) = self.group_here().filter(|g| g.sites < MAX_GROUP_SITES) {
            if let Some(open) = self.guards.as_mut().and_then(|g| g.group.as_mut()) {
                open.sites += 1;
            }
            return (group.entry, group.leader);
        }
        let block = self.b.current_block().expect("guards are emitted in a block");
        let trusted = self.guards.as_ref().expect("guarded").trusted;
        let (_, entry) = self.guard_load(Opcode::Uload32, types::I64, trusted, pointer, disp);
        if let Some(guards) = self.guards.as_mut() {
            guards.group = Some(Group { block, entry, leader: site, sites: 1 });
        }
        self.group_replaces_probe(block);
        (entry, site)
    }

    /// A load of `ty` (`opcode`: a load or an extending one, to `ty`) with
    /// flags already interned.
    fn guard_load(&mut self, opcode: Opcode, ty: Type, flags: MemFlags, p: Value, disp: i32) -> (Inst, Value) {
        let (inst, dfg) = self.b.ins().Load(opcode, ty, flags, disp.into(), p);
        (inst, dfg.first_result(inst))
    }

    /// The open guard group, if it is in the current block.
    pub(super) fn group_here(&self) -> Option<Group> {
        let block = self.b.current_block()?;
        self.guards.as_ref()?.group.filter(|g| g.block == block)
    }

    /// Go on with `group` in the current block, which only an edge out of
    /// the group's block reaches (see `control::SoleEdge`).
    pub(super) fn continue_group(&mut self, group: Group) {
        let block = self.b.current_block().expect("just switched to the label's block");
        if let Some(guards) = self.guards.as_mut() {
            guards.group = Some(Group { block, ..group });
        }
    }

    /// Close the open guard group: the next site reads its own entry
    /// (after a call, whose callee may stop and a debugger arm later sites).
    pub(super) fn end_guard_group(&mut self) {
        if let Some(guards) = self.guards.as_mut() {
            guards.group = None;
        }
    }

    /// The exit guard's branch on its entry: its cold target takes every
    /// parameter's value and uses it, which keeps the parameters alive to
    /// the exit (arguments stay readable at every site, and in callers'
    /// frames). That target never runs (linking retargets the branch to
    /// the trap tail) and costs the hot path nothing. A stop there finds
    /// its instance from the vmctx, which debug code keeps alive to every
    /// return (see `compile.rs`), where the table pointer is gone.
    fn exit_branch(&mut self, armed: Value, cont: Block) {
        let params = self.env.info.func_type(self.func_index).params.len() as u32;
        let kept: Vec<Value> = (0..params).map(|i| self.read_local(i)).collect();
        let keep = self.kept_alive_by(&kept);
        let args: Vec<BlockArg> = kept.iter().map(|v| BlockArg::Value(*v)).collect();
        self.b.ins().brif(armed, keep, &args, cont, &[]);
        self.b.switch_to_block(keep);
        // Tagged: if Cranelift inverts this branch into `je <cont>` falling
        // into this block, linking writes `jmp <cont>` over its start, and
        // the guard checker refuses a block shorter than that jump (it may
        // be a lone `ud2`; see `guard_code::cold_block_holds_jump`).
        let tag = self.b.ins().sequence_point();
        self.b.func.debug_tags.set(tag, [DebugTag::User(KEEP_TAG)]);
        self.use_block_params(keep);
        self.b.ins().trap(TrapKind::DebugAbort.code());
    }

    /// A cold block taking `values` as parameters.
    fn kept_alive_by(&mut self, values: &[Value]) -> Block {
        let keep = self.b.create_block();
        for v in values {
            let ty = self.b.func.dfg.value_type(*v);
            let p = self.b.append_block_param(keep, ty);
            self.record_explicit(p);
        }
        self.b.set_cold_block(keep);
        keep
    }

    /// Give `block`'s parameters a use, sealing it: each is stored through
    /// the vmctx, 2-5 bytes a value and no stack slot (a slot gives a leaf
    /// function a frame and a stack check it otherwise does without). The
    /// block never runs, so nothing is written.
    fn use_block_params(&mut self, block: Block) {
        self.b.seal_block(block);
        let params = self.b.block_params(block).to_vec();
        for p in params {
            self.b.ins().store(MemFlagsData::trusted(), p, self.vmctx, 0);
        }
    }

    /// Site `site`'s table entry, rebasing the pointer first if it is out
    /// of reach.
    fn reach_entry(&mut self, site: u32) -> u32 {
        let Some(guards) = self.guards.as_ref() else { return 0 };
        let entry = guards.region + site;
        let within = |c: u32| (-REACH..REACH).contains(&(i64::from(entry) - i64::from(c)));
        if !guards.bias.is_some_and(within) {
            self.rebase(entry + REACH as u32);
        }
        entry
    }

    /// Point the table pointer at centre `centre`. Every rebase but the
    /// first reads the old pointer (so it lives past the last guard that
    /// used it, which a stop needs): with the bias known, `xor` with the
    /// change of K; where branches with different biases meet, clear the
    /// offset bits and `or` in the new K. The first loads the base.
    pub(super) fn rebase(&mut self, centre: u32) {
        let Some(guards) = self.guards.as_ref() else { return };
        let (table, bias, defined) = (guards.table, guards.bias, guards.defined);
        if bias == Some(centre) {
            return;
        }
        let k = |c: u32| i64::from(table_offset(c));
        let pointer = match (bias, defined) {
            (Some(old), _) => {
                let p = self.b.use_var(table);
                self.b.ins().bxor_imm_u(p, k(old) ^ k(centre))
            }
            (None, true) => {
                let align = self.env.table.as_ref().map_or(1, |t| t.align) as i64;
                let p = self.b.use_var(table);
                let base = self.b.ins().band_imm_s(p, !(align - 1));
                self.b.ins().bor_imm_u(base, k(centre))
            }
            (None, false) => {
                let base = self.vmctx_load(header::DEBUG_TABLE);
                self.b.ins().bor_imm_u(base, k(centre))
            }
        };
        self.b.def_var(table, pointer);
        if let Some(guards) = self.guards.as_mut() {
            guards.bias = Some(centre);
            guards.defined = true;
        }
    }

    /// The pointer's bias here (none outside guarded debug code).
    pub(super) fn bias(&self) -> Option<u32> {
        self.guards.as_ref().and_then(|g| g.bias)
    }

    /// Forget or set the bias (at labels, from what the branches agreed on).
    pub(super) fn set_bias(&mut self, bias: Option<u32>) {
        if let Some(guards) = self.guards.as_mut() {
            guards.bias = bias;
        }
    }

    /// Before a loop's header: keep the bias if the loop's first sites are
    /// comfortably in reach, else rebase, so the header's bias is known and
    /// no site inside has to rebase on every iteration.
    pub(super) fn bias_for_loop(&mut self) -> Option<u32> {
        let next = self.guards.as_ref().map(|g| i64::from(g.region) + self.sites.len() as i64)?;
        let roomy = |c: u32| (-REACH..REACH - LOOP_ROOM).contains(&(next - i64::from(c)));
        if !self.bias().is_some_and(roomy) {
            self.rebase(next as u32 + REACH as u32);
        }
        self.bias()
    }
}
