//! Which SSA value a wasm local holds at a point of a translated function.
//!
//! The translator gives each local a Cranelift `Variable`; the frontend's
//! SSA construction adds block parameters where a local's definitions meet,
//! and keeps no record of which local each parameter belongs to. This
//! module recovers it after translation from what the translator recorded
//! (every definition of a local, in order, per block) and the finished IR:
//!
//! - A parameter the frontend added for local `i` receives, from every
//!   predecessor, the value `i` holds there. Debug code keeps every value
//!   owned by at most one local (a value assigned to a second local is
//!   copied first), so the owner of any argument is the parameter's owner.
//! - The value of `i` just before a point is the last definition of `i`
//!   earlier in the point's block, else the block's parameter for `i`, else
//!   (the frontend added none, so every predecessor agrees, or `i` is dead)
//!   the value all predecessors hold at their ends. When predecessors
//!   disagree the local is dead here and has no value.

use std::collections::{HashMap, HashSet};

use cranelift_codegen::ir::{Block, BlockArg, Function, Value};

/// A local's definition: `local` holds `value` from this point of `block` on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Def {
    pub block: Block,
    /// Position in the translation order (comparable with other positions).
    pub at: u32,
    pub local: u32,
    pub value: Value,
}

/// What a local holds at a point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reaching {
    /// This SSA value.
    Value(Value),
    /// Different values along different paths: the local is dead here.
    Dead,
}

/// Per-function tables answering [`Reaching`] queries.
pub(crate) struct ReachingDefs {
    /// Definitions per block, in translation order.
    defs: HashMap<Block, Vec<Def>>,
    /// The parameter the frontend added for (block, local).
    params: HashMap<(Block, u32), Value>,
    preds: HashMap<Block, Vec<Block>>,
}

impl ReachingDefs {
    /// Build from the finished IR, the recorded definitions, the block
    /// parameters the translator created itself (all others are the
    /// frontend's, one per local) and what each alias of the IR as built
    /// resolved to (the compiled IR has no aliases left).
    pub(crate) fn new(func: &Function, defs: &[Def], explicit: &HashSet<Value>, aliases: &HashMap<Value, Value>) -> ReachingDefs {
        let resolve = |v: Value| aliases.get(&v).copied().unwrap_or(v);
        let mut owner: HashMap<Value, u32> = HashMap::new();
        let mut by_block: HashMap<Block, Vec<Def>> = HashMap::new();
        for d in defs {
            let d = Def { value: resolve(d.value), ..*d };
            owner.entry(d.value).or_insert(d.local);
            by_block.entry(d.block).or_default().push(d);
        }
        let (preds, incoming) = edges(func);
        // Owners of the frontend's parameters, propagated from their
        // arguments until nothing changes (parameters feed parameters).
        let mut pending: Vec<(Block, usize, Value)> = Vec::new();
        for block in func.layout.blocks() {
            for (i, &p) in func.dfg.block_params(block).iter().enumerate() {
                if !explicit.contains(&p) && !owner.contains_key(&p) {
                    pending.push((block, i, p));
                }
            }
        }
        loop {
            let before = pending.len();
            pending.retain(|&(block, i, p)| {
                let found = incoming
                    .get(&block)
                    .into_iter()
                    .flatten()
                    .find_map(|args| args.get(i).copied().flatten().and_then(|a| owner.get(&resolve(a)).copied()));
                found.map(|local| owner.insert(p, local)).is_none()
            });
            if pending.len() == before {
                break;
            }
        }
        let mut params = HashMap::new();
        for block in func.layout.blocks() {
            for &p in func.dfg.block_params(block) {
                if let (false, Some(local)) = (explicit.contains(&p), owner.get(&p)) {
                    params.insert((block, *local), p);
                }
            }
        }
        ReachingDefs { defs: by_block, params, preds }
    }

    /// The value `local` holds just before position `at` of `block`, or
    /// `None` if nothing defines it on any path (a translator bug).
    pub(crate) fn before(&self, block: Block, at: u32, local: u32) -> Option<Reaching> {
        // Search backwards for every definition that reaches the point; a
        // block is entered once, so loops end the search.
        let mut found: Option<Value> = None;
        let mut seen: HashSet<Block> = HashSet::new();
        let mut work = vec![(block, at)];
        while let Some((b, at)) = work.pop() {
            let def = self.last_def(b, at, local).or_else(|| self.params.get(&(b, local)).copied());
            match (def, found) {
                (Some(v), None) => found = Some(v),
                (Some(v), Some(f)) if v != f => return Some(Reaching::Dead),
                (Some(_), Some(_)) => {}
                (None, _) => {
                    for pred in self.preds.get(&b).into_iter().flatten() {
                        if seen.insert(*pred) {
                            work.push((*pred, u32::MAX));
                        }
                    }
                }
            }
        }
        found.map(Reaching::Value)
    }

    fn last_def(&self, block: Block, at: u32, local: u32) -> Option<Value> {
        let defs = self.defs.get(&block)?;
        defs.iter().rev().find(|d| d.at < at && d.local == local).map(|d| d.value)
    }
}

/// The argument lists a block receives, one per incoming edge (`None` for
/// an argument that is no plain value).
type Incoming = HashMap<Block, Vec<Vec<Option<Value>>>>;

/// Predecessors of every block, and the argument lists each block receives.
fn edges(func: &Function) -> (HashMap<Block, Vec<Block>>, Incoming) {
    let mut preds: HashMap<Block, Vec<Block>> = HashMap::new();
    let mut incoming: Incoming = HashMap::new();
    for block in func.layout.blocks() {
        let Some(last) = func.layout.last_inst(block) else { continue };
        for call in func.dfg.insts[last].branch_destination(&func.dfg.jump_tables, &func.dfg.exception_tables) {
            let target = call.block(&func.dfg.value_lists);
            // Only plain values carry locals (try_call results never do).
            let args = call
                .args(&func.dfg.value_lists)
                .map(|a| match a {
                    BlockArg::Value(v) => Some(v),
                    _ => None,
                })
                .collect();
            preds.entry(target).or_default().push(block);
            incoming.entry(target).or_default().push(args);
        }
    }
    (preds, incoming)
}
