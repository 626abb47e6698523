//! The built-in workload of `onecopy stress`: a generated module of the
//! shape of real compiled programs. Thousands of functions of a few
//! signatures, most small and some large; loops over linear memory, branchy
//! integer code, `br_table` switches, globals, direct calls to nearby
//! functions, `call_indirect` through a table, and leaf helpers doing `i64`
//! and `f64` arithmetic.
//!
//! Calls only go to functions of lower index (directly or through the
//! table), and only while a `fuel` argument is positive, decreasing it by
//! one; so a call of `f_k` enters `f_k` exactly once and runs a bounded
//! call tree. Helpers are leaves.

use wasm_encoder::{
    BlockType, CodeSection, ConstExpr, ElementSection, Elements, ExportKind, ExportSection, Function, FunctionSection, GlobalSection,
    GlobalType, Ieee64, InstructionSink, MemArg, MemArgTarget, MemorySection, MemoryType, RefType, TableSection, TableType, TypeSection,
    ValType,
};

/// Functions in the default module (tuned so that one copy of its debug
/// code is about 60 MB: a few dozen copies exceed a 2 GiB arena).
pub const DEFAULT_FUNCS: u32 = 24000;

/// The entry points' signature: `(fuel: i32, x: i32) -> i32`.
const T_ENTRY: u32 = 0;
/// Integer helpers: `(i64, i64) -> i64`.
const T_INT: u32 = 1;
/// Float helpers: `(f64, i32) -> f64`.
const T_FLOAT: u32 = 2;
/// Linear memory: 4 pages, fixed.
const PAGES: u64 = 4;
/// Addresses are masked into the memory, 8-byte aligned.
const MASK: i32 = (PAGES as i32 * 65536 - 1) & !7;
/// Mutable i32 globals.
const GLOBALS: u32 = 8;

/// The generated module and how to drive it.
pub struct Generated {
    /// The binary.
    pub wasm: Vec<u8>,
    /// Table slot -> function index: the entry points `run(slot, fuel)` calls.
    pub slots: Vec<u32>,
}

/// The name of the export `run(slot: i32, fuel: i32) -> i32`, which calls
/// the entry point in table slot `slot` with `fuel`.
pub const RUN: &str = "run";

/// A small deterministic generator (splitmix64), so the module is the same
/// on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..hi`.
    fn range(&mut self, lo: u32, hi: u32) -> u32 {
        lo + (self.next() % u64::from(hi - lo)) as u32
    }

    fn i32(&mut self) -> i32 {
        self.next() as i32
    }
}

/// The signature of function `k` (three quarters are entry points).
fn type_of(k: u32) -> u32 {
    match k % 8 {
        3 => T_INT,
        6 => T_FLOAT,
        _ => T_ENTRY,
    }
}

fn mem(align: u32) -> MemArg {
    MemArg { offset: 0, align, target: MemArgTarget::Memory(0), ordering: None }
}

/// How reports name the module with `funcs` generated functions (and `run`).
pub fn name(funcs: u32) -> String {
    format!("built-in ({} functions)", funcs.max(1) + 1)
}

/// The module with `funcs` generated functions (at least 1) plus `run`.
pub fn module(funcs: u32) -> Generated {
    let funcs = funcs.max(1);
    let mut types = TypeSection::new();
    types.ty().function([ValType::I32, ValType::I32], [ValType::I32]);
    types.ty().function([ValType::I64, ValType::I64], [ValType::I64]);
    types.ty().function([ValType::F64, ValType::I32], [ValType::F64]);
    types.ty().function([ValType::I32, ValType::I32], [ValType::I32]); // run

    // Function 0 is always an entry point, so the table is never empty.
    let kinds: Vec<u32> = (0..funcs).map(|k| if k == 0 { T_ENTRY } else { type_of(k) }).collect();
    let of = |ty: u32| -> Vec<u32> { (0..funcs).filter(|&k| kinds[k as usize] == ty).collect() };
    let (slots, ints, floats) = (of(T_ENTRY), of(T_INT), of(T_FLOAT));
    let mut slot_of = vec![u32::MAX; funcs as usize];
    for (slot, &k) in slots.iter().enumerate() {
        slot_of[k as usize] = slot as u32;
    }

    let mut functions = FunctionSection::new();
    for &ty in &kinds {
        functions.function(ty);
    }
    functions.function(3);

    let mut tables = TableSection::new();
    let n = slots.len() as u64;
    tables.table(TableType { element_type: RefType::FUNCREF, table64: false, minimum: n, maximum: Some(n), shared: false });
    let mut memories = MemorySection::new();
    memories.memory(MemoryType { minimum: PAGES, maximum: Some(PAGES), memory64: false, shared: false, page_size_log2: None });
    let mut globals = GlobalSection::new();
    for g in 0..GLOBALS {
        let ty = GlobalType { val_type: ValType::I32, mutable: true, shared: false };
        globals.global(ty, &ConstExpr::i32_const(g as i32 * 17));
    }
    let mut exports = ExportSection::new();
    exports.export(RUN, ExportKind::Func, funcs);
    exports.export("memory", ExportKind::Memory, 0);
    let mut elements = ElementSection::new();
    elements.active(None, &ConstExpr::i32_const(0), Elements::Functions(slots.clone().into()));

    let mut code = CodeSection::new();
    for k in 0..funcs {
        let mut rng = Rng(u64::from(k).wrapping_mul(0x2545_f491_4f6c_dd1d) ^ 0x5eed);
        let body = match kinds[k as usize] {
            T_ENTRY => entry(k, slot_of[k as usize], &slots, &ints, &floats, &mut rng),
            T_INT => int_helper(&mut rng),
            _ => float_helper(&mut rng),
        };
        code.function(&body);
    }
    let mut run = Function::new([]);
    run.instructions().local_get(1).local_get(0).local_get(0).call_indirect(0, T_ENTRY).end();
    code.function(&run);

    let mut module = wasm_encoder::Module::new();
    module
        .section(&types)
        .section(&functions)
        .section(&tables)
        .section(&memories)
        .section(&globals)
        .section(&exports)
        .section(&elements)
        .section(&code);
    Generated { wasm: module.finish(), slots }
}

// Locals of entry points: params fuel, x; then i, acc, t, p (i32), w (i64), d (f64).
const FUEL: u32 = 0;
const X: u32 = 1;
const I: u32 = 2;
const ACC: u32 = 3;
const T: u32 = 4;
const P: u32 = 5;
const W: u32 = 6;
const D: u32 = 7;

/// Push `(p + offset) & MASK`.
fn addr(f: &mut InstructionSink<'_>, offset: i32) {
    f.local_get(P).i32_const(offset).i32_add().i32_const(MASK).i32_and();
}

/// An entry point `f_k(fuel, x) -> i32`: a prologue, then a number of
/// statement groups drawn at random (most functions get a few, some many),
/// then `acc`.
fn entry(k: u32, slot: u32, slots: &[u32], ints: &[u32], floats: &[u32], rng: &mut Rng) -> Function {
    let mut func = Function::new([(4, ValType::I32), (1, ValType::I64), (1, ValType::F64)]);
    // Direct calls go to entry points among the 64 functions below this one.
    let lower = &slots[slots.partition_point(|&j| j + 64 <= k)..slots.partition_point(|&j| j < k)];
    let groups = match rng.range(0, 100) {
        0..70 => rng.range(4, 14),
        70..95 => rng.range(14, 40),
        _ => rng.range(40, 120),
    };
    let f = &mut func.instructions();
    // p = (x * 8 + k * 64) & MASK; acc = x + k; w = x; d = x
    f.local_get(X).i32_const(8).i32_mul().i32_const((k * 64) as i32).i32_add().i32_const(MASK).i32_and().local_set(P);
    f.local_get(X).i32_const(k as i32).i32_add().local_set(ACC);
    f.local_get(X).i64_extend_i32_s().local_set(W);
    f.local_get(X).f64_convert_i32_s().local_set(D);
    for _ in 0..groups {
        match rng.range(0, 15) {
            0..3 => memory_loop(f, rng),
            3..5 => if_else(f, rng),
            5..7 if !lower.is_empty() => {
                // if fuel > 0 { acc += f_j(fuel - 1, acc ^ c) }
                let j = lower[rng.range(0, lower.len() as u32) as usize];
                f.local_get(FUEL).i32_const(0).i32_gt_s().if_(BlockType::Empty);
                f.local_get(ACC).local_get(FUEL).i32_const(1).i32_sub();
                f.local_get(ACC).i32_const(rng.i32()).i32_xor().call(j).i32_add().local_set(ACC);
                f.end();
            }
            7 if slot > 0 => {
                // if fuel > 0 { acc += table[acc % slot](fuel - 1, acc) }: a lower entry point
                f.local_get(FUEL).i32_const(0).i32_gt_s().if_(BlockType::Empty);
                f.local_get(ACC).local_get(FUEL).i32_const(1).i32_sub().local_get(ACC);
                f.local_get(ACC).i32_const(slot as i32).i32_rem_u().call_indirect(0, T_ENTRY);
                f.i32_add().local_set(ACC);
                f.end();
            }
            8 if !ints.is_empty() => {
                // w = h(w, acc); acc += w >> 7
                let h = ints[rng.range(0, ints.len() as u32) as usize];
                f.local_get(W).local_get(ACC).i64_extend_i32_u().call(h).local_set(W);
                f.local_get(ACC).local_get(W).i64_const(7).i64_shr_u().i32_wrap_i64().i32_add().local_set(ACC);
            }
            9 if !floats.is_empty() => {
                // d = g(d, acc); acc ^= bits(d)
                let g = floats[rng.range(0, floats.len() as u32) as usize];
                f.local_get(D).local_get(ACC).call(g).local_set(D);
                f.local_get(ACC).local_get(D).i64_reinterpret_f64().i32_wrap_i64().i32_xor().local_set(ACC);
            }
            10 => switch(f, rng),
            11 => {
                // g_a += acc; acc ^= g_b
                let (a, b) = (rng.range(0, GLOBALS), rng.range(0, GLOBALS));
                f.global_get(a).local_get(ACC).i32_add().global_set(a);
                f.local_get(ACC).global_get(b).i32_xor().local_set(ACC);
            }
            _ => arithmetic(f, rng),
        }
    }
    f.local_get(ACC).end();
    func
}

/// `for i in 0..(x & 3) + 2 { t = mem[p + 8i]; acc = acc + t * c ^ (i << s); mem[p + 8i] = acc + i }`
fn memory_loop(f: &mut InstructionSink<'_>, rng: &mut Rng) {
    let (c, s, o) = (rng.i32() | 1, rng.range(0, 31) as i32, rng.range(0, 512) as i32 * 8);
    f.i32_const(0).local_set(I);
    f.block(BlockType::Empty).loop_(BlockType::Empty);
    f.local_get(I).local_get(X).i32_const(3).i32_and().i32_const(2).i32_add().i32_ge_u().br_if(1);
    let cell = |f: &mut InstructionSink<'_>| {
        f.local_get(P).i32_const(o).i32_add().local_get(I).i32_const(8).i32_mul().i32_add();
        f.i32_const(MASK).i32_and();
    };
    cell(f);
    f.i32_load(mem(2)).local_set(T);
    f.local_get(ACC).local_get(T).i32_const(c).i32_mul().i32_add();
    f.local_get(I).i32_const(s).i32_shl().i32_xor().local_set(ACC);
    cell(f);
    f.local_get(ACC).local_get(I).i32_add().i32_store(mem(2));
    f.local_get(I).i32_const(1).i32_add().local_set(I);
    f.br(0).end().end();
}

/// `if acc & m { acc = acc * c + x; mem[p + o] = acc } else { acc ^= mem[p + o2] >> 3 }`
fn if_else(f: &mut InstructionSink<'_>, rng: &mut Rng) {
    let (m, c) = (1 << rng.range(0, 16), rng.i32());
    f.local_get(ACC).i32_const(m).i32_and().if_(BlockType::Empty);
    f.local_get(ACC).i32_const(c).i32_mul().local_get(X).i32_add().local_set(ACC);
    addr(f, rng.range(0, 4096) as i32 * 8);
    f.local_get(ACC).i32_store(mem(2));
    f.else_();
    f.local_get(ACC);
    addr(f, rng.range(0, 4096) as i32 * 8);
    f.i32_load(mem(2)).i32_const(3).i32_shr_u().i32_xor().local_set(ACC);
    f.end();
}

/// A four-way `br_table` on `acc & 3`.
fn switch(f: &mut InstructionSink<'_>, rng: &mut Rng) {
    f.block(BlockType::Empty).block(BlockType::Empty).block(BlockType::Empty).block(BlockType::Empty);
    f.local_get(ACC).i32_const(3).i32_and().br_table([0, 1, 2], 3);
    f.end();
    // case 0: acc += mem[p + o]
    f.local_get(ACC);
    addr(f, rng.range(0, 4096) as i32 * 8);
    f.i32_load(mem(2)).i32_add().local_set(ACC).br(2);
    f.end();
    // case 1: mem[p + o] = acc
    addr(f, rng.range(0, 4096) as i32 * 8);
    f.local_get(ACC).i32_store(mem(2)).br(1);
    f.end();
    // case 2: acc = acc * 3 + 1
    f.local_get(ACC).i32_const(3).i32_mul().i32_const(1).i32_add().local_set(ACC);
    f.end();
}

/// Straight-line integer code.
fn arithmetic(f: &mut InstructionSink<'_>, rng: &mut Rng) {
    f.local_get(ACC).i32_const(rng.i32()).i32_mul().local_get(X).i32_add().local_set(T);
    f.local_get(T).i32_const(rng.range(1, 31) as i32).i32_rotl();
    f.local_get(T).i32_const(rng.range(1, 31) as i32).i32_shr_u().i32_xor().local_set(ACC);
    f.local_get(ACC).local_get(T).local_get(ACC).local_get(T).i32_lt_u().select();
    f.i32_const(rng.i32()).i32_sub().local_get(ACC).i32_add().local_set(ACC);
}

/// A leaf `h(a: i64, b: i64) -> i64`: a loop of `i64` memory traffic.
fn int_helper(rng: &mut Rng) -> Function {
    let (i, acc, p) = (2, 3, 4);
    let mut func = Function::new([(1, ValType::I32), (1, ValType::I64), (1, ValType::I32)]);
    let f = &mut func.instructions();
    f.local_get(1).i32_wrap_i64().i32_const(8).i32_mul().i32_const(MASK).i32_and().local_set(p);
    f.local_get(0).local_set(acc);
    f.block(BlockType::Empty).loop_(BlockType::Empty);
    f.local_get(i).local_get(0).i32_wrap_i64().i32_const(3).i32_and().i32_const(1).i32_add().i32_ge_u().br_if(1);
    let cell = |f: &mut InstructionSink<'_>| {
        f.local_get(p).local_get(i).i32_const(8).i32_mul().i32_add().i32_const(MASK).i32_and();
    };
    cell(f);
    f.local_get(acc).i64_const(i64::from(rng.i32() | 1)).i64_mul();
    cell(f);
    f.i64_load(mem(3)).i64_add().local_tee(acc).i64_store(mem(3));
    f.local_get(acc).i64_const(i64::from(rng.range(1, 63))).i64_rotl().local_set(acc);
    f.local_get(i).i32_const(1).i32_add().local_set(i);
    f.br(0).end().end();
    f.local_get(acc).local_get(1).i64_xor().end();
    func
}

/// A leaf `g(d: f64, n: i32) -> f64`: a loop of `f64` memory traffic.
fn float_helper(rng: &mut Rng) -> Function {
    let (i, acc, p) = (2, 3, 4);
    let mut func = Function::new([(1, ValType::I32), (1, ValType::F64), (1, ValType::I32)]);
    let f = &mut func.instructions();
    f.local_get(1).i32_const(16).i32_mul().i32_const(MASK).i32_and().local_set(p);
    f.local_get(0).local_set(acc);
    f.block(BlockType::Empty).loop_(BlockType::Empty);
    f.local_get(i).local_get(1).i32_const(3).i32_and().i32_const(1).i32_add().i32_ge_u().br_if(1);
    let cell = |f: &mut InstructionSink<'_>| {
        f.local_get(p).local_get(i).i32_const(8).i32_mul().i32_add().i32_const(MASK).i32_and();
    };
    cell(f);
    f.local_get(acc).f64_const(Ieee64::from(0.5 + f64::from(rng.range(0, 100)) / 64.0)).f64_mul();
    cell(f);
    f.f64_load(mem(3)).f64_add().local_get(0).f64_add().local_tee(acc).f64_store(mem(3));
    f.local_get(i).i32_const(1).i32_add().local_set(i);
    f.br(0).end().end();
    f.local_get(acc).f64_sqrt().local_get(0).f64_min().end();
    func
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_module_is_valid_and_deterministic() {
        let a = module(200);
        wasmparser::Validator::new().validate_all(&a.wasm).expect("valid wasm");
        assert_eq!(a.wasm, module(200).wasm);
        assert!(a.slots.len() > 100 && a.slots[0] == 0);
    }
}
