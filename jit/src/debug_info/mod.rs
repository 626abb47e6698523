//! Where a debug-code function keeps its wasm locals and operands at its
//! breakable points and calls.
//!
//! Shared debug code carries no per-site description of its frame: the
//! guards only test an entry and branch. The description is built when a
//! debugger first needs it, by translating and compiling the one function
//! again with every SSA value labelled (Cranelift then reports where each
//! labelled value lives over each code range) and with the translator
//! recording every definition of a local. Labels do not change what
//! Cranelift emits; the recompiled bytes are checked against the shared
//! code's (a hash per function), so the description is of the very code
//! that runs. Cost: one function compile at the first stop in a function.
//!
//! A local is then found by its SSA value at the point ([`reaching`]) and
//! that value's location there: a register, a frame slot, a constant the
//! code folded in, or nothing if the program never reads it again.
//!
//! Points in cold blocks (blocks that end in a trap, such as the path to an
//! `unreachable`, and the exit guard's keep block) show constants only:
//! Cranelift records no code offsets for cold instructions, so its value
//! ranges say nothing true about them (a range that ends where the hot code
//! ends is stretched over all the cold code). Little is lost: past a trap's
//! block nothing reads a local again, so in such a block locals are dead
//! anyway, apart from values the block itself still uses (a call's
//! arguments before the call).

mod copies;
pub(crate) mod reaching;
pub mod unwind;

use std::collections::{HashMap, HashSet};

use cranelift_codegen::ir::{self, Block, InstructionData, Opcode, Value, ValueLabel};
use cranelift_codegen::{LabelValueLoc, RegClass, ValueLocRange};

use reaching::{Def, Reaching, ReachingDefs};
pub use unwind::SavedReg;

/// Where a value is at a point of the code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location {
    /// General register (x86-64 hardware number, 0 = rax).
    Gpr(u8),
    /// Vector register (low 64 bits).
    Xmm(u8),
    /// Frame slot at this offset from the canonical frame address (the
    /// caller's stack pointer; frame pointer + 16 on x86-64).
    Frame(i32),
}

/// What a debugger can do with a local or operand at a point.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Slot {
    /// The value is at `at`; `shared` when the same SSA value is also
    /// another local or operand there, so writing it would change both.
    Located {
        /// Where it is.
        at: Location,
        /// Also held by another local or operand.
        shared: bool,
    },
    /// A constant the code folded in (readable, has no storage to write).
    Constant(u64),
    /// No value here: the program never reads it again.
    Dead,
}

/// What the translator recorded while translating a function for
/// [`FunctionDebugInfo`] (nothing is recorded in ordinary compiles).
#[derive(Debug, Default)]
pub(crate) struct Recording {
    /// Every definition of a local, in translation order.
    pub defs: Vec<Def>,
    /// Each breakable point: its block, position and operand stack.
    pub sites: Vec<PointRecord>,
    /// Each call: its block, position, and the wasm offset of the `call`.
    pub calls: Vec<(u32, PointRecord)>,
    /// Block parameters the translator made itself (the rest are the
    /// frontend's SSA parameters, one per local).
    pub explicit_params: HashSet<Value>,
    /// Next position.
    pub clock: u32,
}

/// A point of the translation.
#[derive(Debug, Clone)]
pub(crate) struct PointRecord {
    pub block: Block,
    pub at: u32,
    /// The operand stack there, bottom first.
    pub stack: Vec<Value>,
    /// The function's exit: locals are dead past it, so results may be
    /// written even where a local holds the same value.
    pub exit: bool,
}

impl Recording {
    /// A new position, after every one handed out before.
    pub(crate) fn tick(&mut self) -> u32 {
        self.clock += 1;
        self.clock
    }
}

/// Locations of a function's locals and operands at its breakable points
/// and calls (see the module doc).
pub struct FunctionDebugInfo {
    reaching: ReachingDefs,
    sites: Vec<PointRecord>,
    /// Code offset (in the function) of each site's guard branch.
    site_pcs: Vec<u32>,
    /// Calls by the code offset of their return address.
    calls: HashMap<u32, PointRecord>,
    /// Owner local of each value that is some local's definition.
    owners: HashMap<Value, u32>,
    /// Blocks Cranelift emits out of line (see the module doc).
    cold: HashSet<Block>,
    constants: HashMap<Value, u64>,
    locations: HashMap<Value, Vec<ValueLocRange>>,
    saved: Vec<SavedReg>,
    resolve: HashMap<Value, Value>,
    /// The function's code and where its machine blocks start, to find the
    /// copies a write must also update (see [`copies`]).
    code: Vec<u8>,
    block_starts: Vec<u32>,
    cfa_above_sp: i64,
}

impl FunctionDebugInfo {
    /// Assemble from a recompile (see [`crate::compile::Described`]), the
    /// code offset of each site's guard branch, and the function's code.
    pub(crate) fn new(described: crate::compile::Described, site_pcs: Vec<u32>, code: Vec<u8>) -> FunctionDebugInfo {
        let func = &described.ir;
        let recording = described.recording;
        let resolve = described.aliases;
        let reaching = ReachingDefs::new(func, &recording.defs, &recording.explicit_params, &resolve);
        let mut owners = HashMap::new();
        for d in &recording.defs {
            owners.entry(resolve.get(&d.value).copied().unwrap_or(d.value)).or_insert(d.local);
        }
        let mut constants = HashMap::new();
        for v in func.dfg.values().filter(|v| func.dfg.value_is_real(*v)) {
            if let Some(bits) = constant_bits(func, v) {
                constants.insert(v, bits);
            }
        }
        let locations = described.labels.iter().map(|(label, ranges)| (Value::from_u32(label.as_u32()), ranges.clone())).collect();
        let calls = recording
            .calls
            .into_iter()
            .filter_map(|(wasm_offset, point)| described.call_returns.get(&wasm_offset).map(|ret| (*ret, point)))
            .collect();
        let cold = func.layout.blocks().filter(|b| func.is_effectively_cold(*b)).collect();
        let cfa_above_sp = cfa_above_sp(&code);
        FunctionDebugInfo {
            reaching,
            sites: recording.sites,
            site_pcs,
            calls,
            owners,
            cold,
            constants,
            locations,
            saved: unwind::saved_registers(&described.unwind),
            resolve,
            code,
            block_starts: described.block_starts,
            cfa_above_sp,
        }
    }

    fn real(&self, v: Value) -> Value {
        self.resolve.get(&v).copied().unwrap_or(v)
    }

    /// Local `local` at breakable point `site` (the function's own numbering).
    pub fn local_at_site(&self, site: u32, local: u32) -> Slot {
        let (Some(point), Some(pc)) = (self.sites.get(site as usize), self.site_pcs.get(site as usize)) else {
            return Slot::Dead;
        };
        self.local_at(point, *pc, local)
    }

    /// Local `local` in a frame suspended at the call whose return address
    /// is at `return_offset` in the function's code.
    pub fn local_at_call(&self, return_offset: u32, local: u32) -> Slot {
        match self.calls.get(&return_offset) {
            // Inside the call instruction: values live across the call.
            Some(point) => self.local_at(point, return_offset - 1, local),
            None => Slot::Dead,
        }
    }

    fn local_at(&self, point: &PointRecord, pc: u32, local: u32) -> Slot {
        let Some(Reaching::Value(v)) = self.reaching.before(point.block, point.at, local) else { return Slot::Dead };
        let v = self.real(v);
        let shared = point.stack.iter().any(|s| self.real(*s) == v);
        self.slot(v, point, pc, shared)
    }

    /// The operand stack at breakable point `site`, bottom first.
    pub fn stack_at_site(&self, site: u32) -> Vec<Slot> {
        let (Some(point), Some(pc)) = (self.sites.get(site as usize), self.site_pcs.get(site as usize)) else {
            return vec![];
        };
        let values: Vec<Value> = point.stack.iter().map(|v| self.real(*v)).collect();
        values
            .iter()
            .map(|&v| {
                let twice = values.iter().filter(|&&w| w == v).count() > 1;
                // The value is also a local's if that local still holds it here.
                let local = !point.exit
                    && self.owners.get(&v).is_some_and(|&l| self.reaching.before(point.block, point.at, l) == Some(Reaching::Value(v)));
                self.slot(v, point, *pc, twice || local)
            })
            .collect()
    }

    fn slot(&self, v: Value, point: &PointRecord, pc: u32, shared: bool) -> Slot {
        let ranges = self.locations.get(&v).filter(|_| !self.cold.contains(&point.block));
        let located = ranges.and_then(|ranges| ranges.iter().find(|r| r.start <= pc && pc < r.end).and_then(|r| location(&r.loc)));
        match (located, self.constants.get(&v)) {
            (Some(at), _) => Slot::Located { at, shared },
            (None, Some(bits)) => Slot::Constant(*bits),
            (None, None) => Slot::Dead,
        }
    }

    /// Every location a write of `slot` at breakable point `site` must
    /// update: the value's own, and the copies of it the code after the
    /// site may still read (see [`copies`]). Refused, with the reason, where
    /// the value has no storage of its own there.
    pub fn write_targets(&self, site: u32, slot: &Slot) -> Result<Vec<Location>, &'static str> {
        let at = match slot {
            Slot::Dead => return Err("its value is never read again here (unavailable)"),
            Slot::Constant(_) => return Err("its value is a constant compiled into the code"),
            Slot::Located { shared: true, .. } => return Err("the same value is also held by another local or operand here"),
            Slot::Located { at, shared: false } => *at,
        };
        let Some(&pc) = self.site_pcs.get(site as usize) else { return Err("no such breakable point") };
        let start = self.block_starts.iter().copied().filter(|s| *s <= pc).max().unwrap_or(0);
        let copies = copies::Copies::track(&self.code, start, pc, self.cfa_above_sp).of(at);
        // A copy that is another live value's own location cannot change
        // without changing that value.
        let owned: Vec<Location> = self
            .locations
            .values()
            .filter_map(|ranges| ranges.iter().find(|r| r.start <= pc && pc < r.end).and_then(|r| location(&r.loc)))
            .filter(|l| *l != at)
            .collect();
        if copies.iter().any(|c| owned.contains(c)) {
            return Err("a copy of its value is another value's storage here");
        }
        Ok(std::iter::once(at).chain(copies).collect())
    }

    /// The callee-saved registers the function's prologue saves.
    pub fn saved_registers(&self) -> &[SavedReg] {
        &self.saved
    }
}

/// Where labelled value `v` is at code offset `pc`, from Cranelift's
/// value-label ranges (labels are value numbers).
pub(crate) fn location_at(labels: &cranelift_codegen::ValueLabelsRanges, v: Value, pc: u32) -> Option<Location> {
    let ranges = labels.get(&ValueLabel::from_u32(v.as_u32()))?;
    ranges.iter().find(|r| r.start <= pc && pc < r.end).and_then(|r| location(&r.loc))
}

/// How far the canonical frame address is above the stack pointer in the
/// body of the function whose code is `code`: the return address and the
/// saved frame pointer lie between them, and the prologue's frame.
pub(crate) fn cfa_above_sp(code: &[u8]) -> i64 {
    copies::frame_size(code) + 16
}

fn location(loc: &LabelValueLoc) -> Option<Location> {
    match loc {
        LabelValueLoc::Reg(reg) => {
            let real = reg.to_real_reg()?;
            match real.class() {
                RegClass::Int => Some(Location::Gpr(real.hw_enc())),
                RegClass::Float | RegClass::Vector => Some(Location::Xmm(real.hw_enc())),
            }
        }
        LabelValueLoc::CFAOffset(off) => i32::try_from(*off).ok().map(Location::Frame),
    }
}

/// The bits of `v` if it is a constant.
fn constant_bits(func: &ir::Function, v: Value) -> Option<u64> {
    let inst = func.dfg.value_def(v).inst()?;
    match func.dfg.insts[inst] {
        InstructionData::UnaryImm { opcode: Opcode::Iconst, imm } => {
            let bits = imm.bits() as u64;
            Some(if func.dfg.value_type(v) == ir::types::I32 { bits & 0xffff_ffff } else { bits })
        }
        InstructionData::UnaryIeee32 { opcode: Opcode::F32const, imm } => Some(u64::from(imm.bits())),
        InstructionData::UnaryIeee64 { opcode: Opcode::F64const, imm } => Some(imm.bits()),
        _ => None,
    }
}
