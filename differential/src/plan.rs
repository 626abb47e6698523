//! What to do with a generated module: which exports to call with which
//! arguments, drawn from the same seed as the module.

use wasmi::ValType;

use crate::outcome::Value;
use crate::rng::Rng;

/// One call of an exported function.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// The export's name.
    pub export: String,
    /// The arguments.
    pub args: Vec<Value>,
}

/// Rounds of calls: the second round runs on the state (globals, memory,
/// tables, fuel) the first left behind.
const ROUNDS: usize = 2;

/// [`ROUNDS`] calls of every exported function in export order, each with
/// arguments drawn from `rng`: small integers (where interesting edges are)
/// as often as arbitrary bits, and null references.
pub fn calls(funcs: &[(String, Vec<ValType>)], rng: &mut Rng) -> Vec<Call> {
    (0..ROUNDS)
        .flat_map(|_| funcs.iter())
        .map(|(export, params)| Call { export: export.clone(), args: params.iter().map(|t| arg(*t, rng)).collect() })
        .collect()
}

fn arg(ty: ValType, rng: &mut Rng) -> Value {
    let bits = if rng.next().is_multiple_of(2) { rng.next() % 16 } else { rng.next() };
    match ty {
        ValType::I32 => Value::I32(bits as i32),
        ValType::I64 => Value::I64(bits as i64),
        ValType::F32 => Value::F32(if bits < 16 { (bits as f32).to_bits() } else { bits as u32 }),
        ValType::F64 => Value::F64(if bits < 16 { (bits as f64).to_bits() } else { bits }),
        ValType::FuncRef => Value::FuncRef { null: true },
        // ExternRef, and V128 which the generator never produces.
        _ => Value::ExternRef { null: true },
    }
}
