//! Translation of one function body to Cranelift IR, in one pass over its
//! operators. This file holds the translator state, its shared helpers and
//! the body loop; `visit.rs` dispatches each operator (wasmparser's
//! `VisitOperator`) to the emitters, which live in one file per concern.
//!
//! Before each operator, one hook ([`FuncTranslator::before_operator`])
//! skips dead code and, in debug code, places the breakpoint guard.

mod calls;
mod control;
mod convert;
mod guard;
mod interrupt;
mod locals;
mod memory;
mod numeric;
mod record;
mod tables;
mod unsupported;
mod visit;

use cranelift_codegen::ir::{self, types, InstBuilder, MemFlagsData, Value};
use cranelift_frontend::{FunctionBuilder, Variable};
use wasmparser::{BlockType, FunctionBody, Operator, VisitOperator};

use crate::env::ModuleEnv;
use crate::trap::TrapKind;
use crate::types::ValType;
use crate::CompileError;

pub(crate) use control::ControlFrame;
pub use guard::SiteKind;
pub(crate) use guard::{Guards, KEEP_TAG};
pub use interrupt::Interrupts;

/// A breakable point found while translating one function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalSite {
    /// Byte offset in the module binary.
    pub wasm_offset: u32,
    /// Entry, instruction or exit.
    pub kind: SiteKind,
    /// Types of the operand-stack values at the site.
    pub stack: Vec<ValType>,
    /// Guarded debug code: the displacement of the site's entry from the
    /// vmctx.
    pub disp: i32,
    /// Guarded debug code: the guard's faulting store, the exit guard's
    /// entry load, or a point's `sequence_point` (gone after compiling if
    /// the optimizer found the site unreachable).
    pub load: Option<cranelift_codegen::ir::Inst>,
    /// Guarded debug code: the index (in this function) of the site whose
    /// entry this site's guard reads, the first of its guard group (see
    /// `guard.rs`); a site's own index if it leads its group.
    pub group: u32,
}

/// Everything the visitor tracks while translating one function.
pub(crate) struct FuncTranslator<'a, 'f> {
    /// The IR builder.
    pub b: FunctionBuilder<'f>,
    /// Module-wide facts (types, layout, config).
    pub env: &'a ModuleEnv<'a>,
    /// Index of the function being translated (in the wasm function space).
    pub func_index: u32,
    /// The vmctx argument.
    pub vmctx: Value,
    /// The wasm operand stack.
    pub stack: Vec<Value>,
    /// Types of the values on `stack`, kept in step for debug frame views.
    pub stack_types: Vec<ValType>,
    /// Open blocks, loops and ifs; `control[0]` is the function body.
    pub control: Vec<ControlFrame>,
    /// Wasm locals (parameters first) as SSA variables.
    pub locals: Vec<(Variable, ValType)>,
    /// False after an unconditional branch until the next reachable label.
    pub reachable: bool,
    /// Blocks opened while unreachable, so their `end`s can be skipped.
    pub unreachable_depth: u32,
    /// Branches and jumps made so far (see `control::SoleEdge`).
    pub branches: u32,
    /// With `Breakable::Lines`: the next operator that is not structure is
    /// a breakable point (a loop's first; a statement's whose line-table
    /// row is at the `block` or `loop` before it).
    pub site_pending: bool,
    /// Byte offset of the operator being translated.
    pub offset: usize,
    /// Breakable points of this function (debug code only).
    pub sites: Vec<LocalSite>,
    /// Guarded debug code: the guards' flags, region and open group.
    pub guards: Option<Guards>,
    /// Guarded debug code: the local owning each value assigned to one
    /// (`u32::MAX`: none; dense by value number, as values are).
    pub owners: cranelift_codegen::entity::SecondaryMap<Value, u32>,
    /// What `debug_info` asked to be recorded, if anything.
    pub record: Option<crate::debug_info::Recording>,
    /// What interrupt checks load through, once loaded (see `interrupt.rs`).
    pub interrupt_base: Option<Value>,
    /// Guarded debug code: the latest loop header's probe and its block,
    /// until a guard group starts there and takes its place.
    pub probe: Option<(cranelift_codegen::ir::Block, cranelift_codegen::ir::Inst)>,
    /// Loop-header probes kept, and the loads they read through.
    pub probes: interrupt::Probes,
    /// Each memory's base, loaded once in the entry block when first used.
    pub heap_bases: memory::HeapBases,
}

impl<'a, 'f> FuncTranslator<'a, 'f> {
    /// A translator for function `func_index`, positioned in its entry
    /// block; with `record`, it records what `debug_info` needs.
    pub(crate) fn new(env: &'a ModuleEnv<'a>, mut b: FunctionBuilder<'f>, func_index: u32, record: bool) -> Self {
        let entry = b.create_block();
        b.append_block_params_for_function_params(entry);
        b.switch_to_block(entry);
        b.seal_block(entry);
        let vmctx = b.block_params(entry)[0];
        let defined = (func_index - env.info.imported_funcs) as usize;
        let guards = env.table.as_ref().map(|table| Guards {
            trusted: crate::env::mem_flags(b.func, MemFlagsData::trusted()),
            faults: crate::env::mem_flags(b.func, MemFlagsData::new().with_trap_code(Some(crate::trap::TrapKind::DebugStop.code()))),
            region: table.regions[defined],
            group: None,
        });
        FuncTranslator {
            b,
            env,
            func_index,
            vmctx,
            stack: Vec::new(),
            stack_types: Vec::new(),
            control: Vec::new(),
            locals: Vec::new(),
            reachable: true,
            unreachable_depth: 0,
            branches: 0,
            site_pending: false,
            offset: 0,
            sites: Vec::new(),
            guards,
            owners: cranelift_codegen::entity::SecondaryMap::with_default(u32::MAX),
            record: record.then(crate::debug_info::Recording::default),
            interrupt_base: None,
            probe: None,
            probes: interrupt::Probes::default(),
            heap_bases: memory::HeapBases::default(),
        }
    }

    /// Push a value and its wasm type.
    pub fn push(&mut self, value: Value, ty: ValType) {
        self.stack.push(value);
        self.stack_types.push(ty);
    }

    /// Push a value whose wasm type follows from its IR type (numbers only).
    pub fn push_num(&mut self, value: Value) {
        let ty = match self.b.func.dfg.value_type(value) {
            types::I32 => ValType::I32,
            types::I64 => ValType::I64,
            types::F32 => ValType::F32,
            types::F64 => ValType::F64,
            other => unreachable!("not a wasm number type: {other}"),
        };
        self.push(value, ty);
    }

    /// Pop one value.
    pub fn pop(&mut self) -> Value {
        self.stack_types.pop();
        self.stack.pop().expect("validated wasm never underflows the operand stack")
    }

    /// Pop two values, returning them in push order.
    pub fn pop2(&mut self) -> (Value, Value) {
        let y = self.pop();
        let x = self.pop();
        (x, y)
    }

    /// Pop three values, returning them in push order.
    pub fn pop3(&mut self) -> (Value, Value, Value) {
        let z = self.pop();
        let (x, y) = self.pop2();
        (x, y, z)
    }

    /// Pop `n` values, returning them in push order.
    pub fn pop_n(&mut self, n: usize) -> Vec<Value> {
        let at = self.stack.len() - n;
        self.stack_types.truncate(at);
        self.stack.split_off(at)
    }

    /// The top `n` values, in push order, left on the stack.
    pub fn peek_n(&self, n: usize) -> &[Value] {
        &self.stack[self.stack.len() - n..]
    }

    /// Emit an unconditional trap; the rest of the block is unreachable.
    pub fn trap(&mut self, kind: TrapKind) {
        self.b.ins().trap(kind.code());
        self.reachable = false;
    }

    /// Trap with `kind` when `cond` is non-zero.
    pub fn trap_if(&mut self, cond: Value, kind: TrapKind) {
        self.b.ins().trapnz(cond, kind.code());
    }

    /// Load a pointer-sized field of the vmctx that never changes for an
    /// instance's lifetime.
    pub fn vmctx_load(&mut self, offset: i32) -> Value {
        let flags = MemFlagsData::trusted().with_readonly();
        self.b.ins().load(types::I64, flags, self.vmctx, offset)
    }

    /// Load a field through a pointer known to be valid and aligned.
    pub fn load_field(&mut self, ty: ir::Type, base: Value, offset: i32) -> Value {
        let flags = MemFlagsData::trusted();
        self.b.ins().load(ty, flags, base, offset)
    }

    /// Call builtin `index` (see `vmctx::builtin`) with the C convention.
    pub fn call_builtin(&mut self, index: u32, args: &[Value], results: &[ir::Type]) -> Vec<Value> {
        let builtins = self.vmctx_load(crate::vmctx::header::BUILTINS);
        let flags = MemFlagsData::trusted().with_readonly();
        let callee = self.b.ins().load(types::I64, flags, builtins, 8 * index as i32);
        let mut sig = ir::Signature::new(self.env.isa.default_call_conv());
        sig.params.push(ir::AbiParam::new(types::I64));
        for arg in args {
            sig.params.push(ir::AbiParam::new(self.b.func.dfg.value_type(*arg)));
        }
        sig.returns.extend(results.iter().map(|t| ir::AbiParam::new(*t)));
        let sig = self.b.import_signature(sig);
        let mut all = vec![self.vmctx];
        all.extend_from_slice(args);
        let call = self.b.ins().call_indirect(sig, callee, &all);
        // Stepping to a group's later points stops where the thread leaves
        // compiled code: a builtin ends the group as a call does.
        self.end_guard_group();
        self.b.inst_results(call).to_vec()
    }

    /// A bulk memory or table builtin: `immediates` as i32 constants, then
    /// the three popped operands; traps with `kind` on a non-zero status.
    pub fn bulk(&mut self, index: u32, immediates: &[u32], kind: TrapKind) {
        let (a, b, c) = self.pop3();
        let mut args: Vec<Value> = immediates.iter().map(|i| self.b.ins().iconst(types::I32, *i as i64)).collect();
        args.extend([a, b, c]);
        let status = self.call_builtin(index, &args, &[types::I32])[0];
        self.trap_if(status, kind);
    }

    /// Parameter and result types of a block type.
    pub fn block_signature(&self, ty: BlockType) -> (Vec<ValType>, Vec<ValType>) {
        match ty {
            BlockType::Empty => (vec![], vec![]),
            BlockType::Type(t) => (vec![], vec![ValType::from_wasmparser(t).expect("validated")]),
            BlockType::FuncType(index) => {
                let ty = &self.env.info.types[index as usize];
                (ty.params.clone(), ty.results.clone())
            }
        }
    }

    /// Translate a whole function body.
    pub fn translate_body(&mut self, body: &FunctionBody<'_>) -> Result<(), CompileError> {
        let mut reader = body.get_operators_reader()?;
        while !reader.eof() {
            let (op, offset) = reader.read_with_offset()?;
            self.offset = offset as usize;
            self.b.set_srcloc(ir::SourceLoc::new(self.offset as u32));
            if self.before_operator(&op) {
                self.visit_operator(&op)?;
            }
        }
        Ok(())
    }

    /// The one hook before every operator; false if `op` is to be skipped.
    ///
    /// Dead code is skipped except for the `else` or `end` that makes code
    /// live again. Live debug code gets the breakpoint guard here, and only
    /// here, so one place decides which operator boundaries are breakable.
    fn before_operator(&mut self, op: &Operator<'_>) -> bool {
        if !self.reachable {
            return self.ends_unreachable_code(op);
        }
        if self.env.config.debug && self.is_breakable(op) {
            self.guard(SiteKind::Instruction);
        }
        if !is_structure(op) {
            self.site_pending = false;
        } else if self.line_statement() && matches!(op, Operator::Block { .. } | Operator::Loop { .. }) {
            // A statement's row at a `block` or `loop`: its first instruction.
            self.site_pending = true;
        }
        true
    }

    /// Whether the boundary before `op` is a breakable point (see the
    /// policy in `guard.rs`).
    fn is_breakable(&self, op: &Operator<'_>) -> bool {
        // The entry site already guards the first operator's boundary.
        let at_entry = self.sites.last().is_some_and(|s| s.wasm_offset == self.offset as u32);
        let height = self.control.last().map_or(0, |f| f.height);
        let boundary = match (self.env.config.breakable, &self.env.lines) {
            (crate::Breakable::Lines, Some(_)) => self.site_pending || self.line_statement(),
            (crate::Breakable::Statements | crate::Breakable::Lines, _) => self.stack.len() == height,
            (crate::Breakable::Instructions, _) => true,
        };
        boundary && !at_entry && !is_structure(op)
    }

    /// Whether the line table marks a statement at the current operator.
    fn line_statement(&self) -> bool {
        self.env.lines.as_ref().is_some_and(|lines| lines.binary_search(&(self.offset as u32)).is_ok())
    }
}

/// The IR type that carries values of a wasm type.
pub fn ir_type(ty: ValType) -> ir::Type {
    match ty {
        ValType::I32 => types::I32,
        ValType::I64 => types::I64,
        ValType::F32 => types::F32,
        ValType::F64 => types::F64,
        ValType::FuncRef | ValType::ExternRef => types::I64,
    }
}

/// Operators that only delimit structure: never a breakable point.
fn is_structure(op: &Operator<'_>) -> bool {
    matches!(op, Operator::Block { .. } | Operator::Loop { .. } | Operator::Else | Operator::End)
}
