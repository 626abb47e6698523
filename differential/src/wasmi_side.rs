//! The oracle: the same module and calls in `wasmi`, an interpreter that
//! shares no code with onecopy's translator or Cranelift.

use wasmi::errors::{ErrorKind, InstantiationError};
use wasmi::{Config, Engine, Extern, Instance, Linker, Module, Store, TrapCode, Val, ValType};

use crate::outcome::{hash, Observed, State, Step, TrapClass, Value};
use crate::plan::Call;

/// A wasmi engine with the features onecopy supports (Wasm 2.0 without SIMD).
pub struct Wasmi {
    engine: Engine,
}

impl Wasmi {
    /// The oracle's engine.
    pub fn new() -> Wasmi {
        let mut config = Config::default();
        config
            .wasm_multi_value(true)
            .wasm_bulk_memory(true)
            .wasm_reference_types(true)
            .wasm_sign_extension(true)
            .wasm_saturating_float_to_int(true)
            .wasm_mutable_global(true)
            .wasm_tail_call(false)
            .wasm_extended_const(false)
            .wasm_multi_memory(false)
            .wasm_custom_page_sizes(false)
            .wasm_wide_arithmetic(false);
        // SIMD and memory64 are cargo features of wasmi, left off here.
        Wasmi { engine: Engine::new(&config) }
    }

    /// The calls' exports with their parameter types, from the oracle's
    /// view of the module; `Err` if wasmi rejects it.
    pub fn exported_funcs(&self, wasm: &[u8]) -> Result<Vec<(String, Vec<ValType>)>, String> {
        let module = Module::new(&self.engine, wasm).map_err(|e| format!("wasmi compile: {e}"))?;
        Ok(module.exports().filter_map(|export| Some((export.name().to_string(), export.ty().func()?.params().to_vec()))).collect())
    }

    /// Instantiate `wasm` and make `calls`, as [`crate::Onecopy::run`] does.
    pub fn run(&self, wasm: &[u8], calls: &[Call]) -> Result<Vec<Observed>, String> {
        let module = Module::new(&self.engine, wasm).map_err(|e| format!("wasmi compile: {e}"))?;
        let mut store = Store::new(&self.engine, ());
        let linker = Linker::<()>::new(&self.engine);
        let mut observed = Vec::new();
        let instance = match linker.instantiate_and_start(&mut store, &module) {
            Ok(instance) => instance,
            Err(e) => {
                let class = instantiation_trap(&e).ok_or_else(|| format!("wasmi instantiate: {e}"))?;
                observed.push(Observed { what: "instantiate".into(), step: Step::Trapped(class), state: State::default() });
                return Ok(observed);
            }
        };
        observed.push(Observed { what: "instantiate".into(), step: Step::Returned(Vec::new()), state: state(&store, &instance) });
        for call in calls {
            let step = self::call(&mut store, &instance, call)?;
            let exhausted = step.is_exhaustion();
            observed.push(Observed { what: format!("call {}", call.export), step, state: state(&store, &instance) });
            if exhausted {
                break;
            }
        }
        Ok(observed)
    }
}

impl Default for Wasmi {
    fn default() -> Wasmi {
        Wasmi::new()
    }
}

fn call(store: &mut Store<()>, instance: &Instance, call: &Call) -> Result<Step, String> {
    let func = instance.get_func(&*store, &call.export).ok_or_else(|| format!("wasmi: no export `{}`", call.export))?;
    let ty = func.ty(&*store);
    let args: Vec<Val> = call.args.iter().map(to_val).collect();
    let mut results: Vec<Val> = ty.results().iter().map(|t| Val::default_for_ty(*t)).collect();
    match func.call(&mut *store, &args, &mut results) {
        Ok(()) => Ok(Step::Returned(results.iter().map(from_val).collect())),
        Err(e) => match e.as_trap_code() {
            Some(code) => Ok(Step::Trapped(trap_class(code))),
            None => Err(format!("wasmi call {}: {e}", call.export)),
        },
    }
}

fn state(store: &Store<()>, instance: &Instance) -> State {
    let mut state = State::default();
    for export in instance.exports(store) {
        let name = export.name().to_string();
        match export.into_extern() {
            Extern::Global(g) => state.globals.push((name, from_val(&g.get(store)))),
            Extern::Memory(m) => {
                let bytes = m.data(store);
                state.memories.push((name, bytes.len(), hash(bytes)));
            }
            Extern::Func(_) | Extern::Table(_) => {}
        }
    }
    state.sorted()
}

/// The trap an instantiation error amounts to: wasmi reports a segment
/// that does not fit its table or memory as an error of the table or the
/// memory rather than as a trap code, though the spec makes it a trap.
fn instantiation_trap(e: &wasmi::Error) -> Option<TrapClass> {
    match e.kind() {
        ErrorKind::TrapCode(code) => Some(trap_class(*code)),
        ErrorKind::Instantiation(InstantiationError::ElementSegmentDoesNotFit { .. }) | ErrorKind::Table(_) => {
            Some(TrapClass::TableOutOfBounds)
        }
        ErrorKind::Memory(_) => Some(TrapClass::MemoryOutOfBounds),
        _ => None,
    }
}

fn trap_class(code: TrapCode) -> TrapClass {
    match code {
        TrapCode::UnreachableCodeReached => TrapClass::Unreachable,
        TrapCode::MemoryOutOfBounds => TrapClass::MemoryOutOfBounds,
        TrapCode::TableOutOfBounds => TrapClass::TableOutOfBounds,
        TrapCode::IndirectCallToNull => TrapClass::IndirectCallToNull,
        TrapCode::BadSignature => TrapClass::BadSignature,
        TrapCode::IntegerOverflow => TrapClass::IntegerOverflow,
        TrapCode::IntegerDivisionByZero => TrapClass::IntegerDivisionByZero,
        TrapCode::BadConversionToInteger => TrapClass::BadConversionToInteger,
        TrapCode::StackOverflow => TrapClass::StackOverflow,
        _ => TrapClass::Other,
    }
}

fn to_val(v: &Value) -> Val {
    match *v {
        Value::I32(x) => Val::I32(x),
        Value::I64(x) => Val::I64(x),
        Value::F32(x) => Val::F32(wasmi::F32::from_bits(x)),
        Value::F64(x) => Val::F64(wasmi::F64::from_bits(x)),
        Value::FuncRef { .. } => Val::default_for_ty(ValType::FuncRef),
        Value::ExternRef { .. } => Val::default_for_ty(ValType::ExternRef),
    }
}

fn from_val(v: &Val) -> Value {
    match v {
        Val::I32(x) => Value::I32(*x),
        Val::I64(x) => Value::I64(*x),
        Val::F32(x) => Value::F32(x.to_bits()),
        Val::F64(x) => Value::F64(x.to_bits()),
        Val::FuncRef(f) => Value::FuncRef { null: f.is_null() },
        Val::ExternRef(r) => Value::ExternRef { null: r.is_null() },
        // The oracle's config leaves SIMD off, so validation rules v128 out.
        Val::V128(_) => unreachable!("v128 value with SIMD disabled"),
    }
}
