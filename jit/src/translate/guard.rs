//! The breakpoint guard: debug code that never changes.
//!
//! Breakable points come in guard groups: the sites of one Cranelift block
//! up to the next call, at most [`MAX_GROUP_SITES`]. The group's first site
//! reads the group's 4-byte entry of the running instance's debug table and
//! stores it through itself; every later site of the group is a *point*: a
//! tagged `sequence_point`, no machine code at all.
//!
//! ```text
//! mov  rE32, dword [rV + d0]       ; the group's first site: rV, the vmctx,
//! mov  qword [rV + rE - 64], rE    ;   which the table follows; rE = 0
//!                                  ;   writes 0 to the scratch line
//!                                  ;   before the vmctx; armed, it faults
//! ...                              ; site 1, site 2: points, no code
//! ```
//!
//! A store and not a load: it defines no value, so the register allocator
//! has one vreg less per group to allocate (about 0.15 G instructions of
//! sql.js's debug compile, 10% of what debug code adds). An armed entry
//! holds the table's alignment, which puts the store in the PROT_NONE half
//! of the reservation the vmctx and its table share (see
//! `debug_table.rs`); the runtime's signal handler
//! turns that fault into a call that clobbers nothing, saves every register
//! and stops there (or, if the first site itself is not armed, goes on at
//! once), then resumes after the store, which never happened. If a later point of the group may
//! stop (a breakpoint, a step, a pause), the stop resumes with the CPU's
//! trap flag set and the points' addresses given to the signal handler,
//! which single-steps the thread to the first of them and stops there as a
//! fault would (the runtime's `debug_stop.rs`). A group runs its sites in
//! order (it ends at each call, builtin and block; the other ways out of it
//! trap), so the step always reaches them, and [`MAX_GROUP_SITES`] bounds
//! how far. No branch, no cold code and no trap island per site: one
//! 5-6 byte store and a 3-8 byte entry load per group, nothing per point. A
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
//! one of its sites), else on its own, `mov r32, [rV + d32]; test r32, r32;
//! jne`; the `jne` retargeted at link time to the site's byte of the
//! module's PROT_NONE trap tail, where the fetch faults (see
//! `guard_code.rs`). The debugger finds locals where the code keeps them
//! anyway (`debug_info`), so no site moves a value anywhere, and what a
//! debugger writes into a register or slot is what the code after the site
//! reads.
//!
//! No table pointer: the vmctx is already in a register or a slot through
//! the function (every access to memory, globals and tables reads it), so
//! the guards add no long-lived value, no register saved around calls and
//! no block parameter at merges; each entry is a fixed `disp32` from it.
//!
//! Breakable points: function entry (the boundary before the first
//! operator), function exit (at the final `end`, with the results on the
//! operand stack), and reachable operators other than `block`, `loop`,
//! `else` and `end` (which only delimit structure): with
//! [`crate::Breakable::Statements`] (the default) those where the current
//! block's operand stack is empty, with `Instructions` all of them. Which
//! operators those are is decided in one place, the translator's
//! before-operator hook (`mod.rs`), which calls [`FuncTranslator::guard`].

use cranelift_codegen::ir::{types, Block, DebugTag, Inst, InstBuilder, MemFlags, MemFlagsData, Opcode, Type, Value};

use super::{FuncTranslator, LocalSite};
use crate::debug_table::STORE_DISP;
use crate::trap::TrapKind;

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
    /// Flags of the faulting stores (their trap code marks them).
    pub faults: MemFlags,
    /// The function's first entry in the table.
    pub region: u32,
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
        self.sites.push(LocalSite { wasm_offset: self.offset as u32, kind, stack, disp: 0, load: None, group: site });
        self.record_site(kind == SiteKind::Exit);
        if self.env.config.legacy {
            return self.legacy_site_call(site as i64);
        }
        let (Some(guards), Some(table)) = (self.guards.as_ref(), self.env.table.as_ref()) else { return };
        let disp = table.disp(guards.region + site);
        let pointer = self.vmctx;
        self.sites.last_mut().expect("just pushed").disp = disp;
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
            // The group's first site: one store and no branch. It writes
            // `[vmctx + entry - 64]`, the scratch line before the vmctx
            // while the entry is zero, the reservation's PROT_NONE guard half once it is armed
            // (the entry then holds the table's alignment). No block split
            // (with a block per site the register allocator's liveness would
            // cost sites x live values), no cold code, and nothing but the
            // group's entry that must stay live past the site. Its trap
            // record says where it is (no tag: see compile.rs), and the
            // faulting address where its vmctx is. A later site of the group
            // is a tagged point with no code at all: the runtime single-steps
            // from a stop in the group to the later sites that want to stop
            // (see the module doc).
            let (armed, leader) = self.group_entry(pointer, disp, site);
            let access = if leader == site {
                let at = self.b.ins().iadd(pointer, armed);
                let faults = self.guards.as_ref().expect("guarded").faults;
                self.b.ins().Store(Opcode::Store, types::I64, faults, STORE_DISP.into(), armed, at).0
            } else {
                let point = self.b.ins().sequence_point();
                self.b.func.debug_tags.set(point, [DebugTag::User(site)]);
                point
            };
            let site_record = self.sites.last_mut().expect("just pushed");
            site_record.group = leader;
            site_record.load = Some(access);
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

    /// The exit guard's branch on its entry: its cold target uses every
    /// parameter's value, which keeps the parameters alive to the exit
    /// (arguments stay readable at every site, and in callers' frames).
    /// It uses them directly, as block arguments they would be one more
    /// vreg and a move each for the register allocator. Each is stored
    /// through the vmctx, 2-5 bytes a value and no stack slot (a slot gives
    /// a leaf function a frame and a stack check it otherwise does
    /// without). That target never runs (linking retargets the branch to
    /// the trap tail), so nothing is written, and it costs the hot path
    /// nothing. A stop there finds its instance from the vmctx, which
    /// debug code keeps alive to every return (see `compile.rs`).
    fn exit_branch(&mut self, armed: Value, cont: Block) {
        let params = self.env.info.func_type(self.func_index).params.len() as u32;
        let kept: Vec<Value> = (0..params).map(|i| self.read_local(i)).collect();
        let keep = self.b.create_block();
        self.b.set_cold_block(keep);
        self.b.ins().brif(armed, keep, &[], cont, &[]);
        self.b.switch_to_block(keep);
        // Tagged: if Cranelift inverts this branch into `je <cont>` falling
        // into this block, linking writes `jmp <cont>` over its start, and
        // the guard checker refuses a block shorter than that jump (it may
        // be a lone `ud2`; see `guard_code::cold_block_holds_jump`).
        let tag = self.b.ins().sequence_point();
        self.b.func.debug_tags.set(tag, [DebugTag::User(KEEP_TAG)]);
        self.b.seal_block(keep);
        for v in kept {
            self.b.ins().store(MemFlagsData::trusted(), v, self.vmctx, 0);
        }
        self.b.ins().trap(TrapKind::DebugAbort.code());
    }
}
