//! Running a module in onecopy, in one of its four ways of compiling and
//! debugging, and reporting what happened as [`Observed`] steps.

use std::cell::Cell;
use std::rc::Rc;

use onecopy_runtime::{Config, DebugAction, Engine, Error, Extern, Instance, Module, Store, TrapKind, Val, ValType};

use crate::outcome::{hash, Observed, State, Step, TrapClass, Value};
use crate::plan::Call;

/// How onecopy runs the module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Normal code, no guards.
    Normal,
    /// Debug code (guards at every breakable point), nothing armed.
    Debug,
    /// Debug code single-stepping every breakable point through a handler
    /// that reads every local and continues.
    Step,
    /// Legacy clone-and-patch debug code with a breakpoint at the first
    /// breakable point, so the instance runs its own patched clone.
    Legacy,
}

impl Mode {
    /// Every mode, in the order they are run.
    pub const ALL: [Mode; 4] = [Mode::Normal, Mode::Debug, Mode::Step, Mode::Legacy];

    /// The mode's name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Normal => "normal",
            Mode::Debug => "debug",
            Mode::Step => "step",
            Mode::Legacy => "legacy",
        }
    }
}

/// One engine per mode, kept for a whole campaign: engines reserve a code
/// arena, and dropping each module gives its room back.
pub struct Onecopy {
    engines: Vec<(Mode, Engine)>,
    counts: Rc<DebugCounts>,
}

/// What the step and legacy handlers did over a campaign: evidence that
/// stepping really stopped and read locals.
#[derive(Debug, Default)]
pub struct DebugCounts {
    /// Handler calls.
    pub stops: Cell<u64>,
    /// Locals read that had a value at their stop.
    pub locals_read: Cell<u64>,
}

impl Onecopy {
    /// An engine for each mode.
    pub fn new() -> anyhow::Result<Onecopy> {
        let engines = Mode::ALL
            .iter()
            .map(|&mode| {
                let config = Config::new().debug(mode != Mode::Normal).legacy(mode == Mode::Legacy);
                Ok((mode, Engine::new(&config)?))
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(Onecopy { engines, counts: Rc::default() })
    }

    /// The handlers' counts so far.
    pub fn counts(&self) -> (u64, u64) {
        (self.counts.stops.get(), self.counts.locals_read.get())
    }

    /// Compile and instantiate `wasm` in `mode`, then make `calls` in order,
    /// stopping after a trap in instantiation or a stack exhaustion.
    /// `Err` is a compile or link error: onecopy refused the module.
    pub fn run(&self, mode: Mode, wasm: &[u8], calls: &[Call]) -> Result<Vec<Observed>, String> {
        let engine = &self.engines.iter().find(|(m, _)| *m == mode).expect("an engine per mode").1;
        let module = Module::new(engine, wasm).map_err(|e| format!("compile: {e}"))?;
        let mut store = Store::new(engine, ());
        let mut observed = Vec::new();
        let instance = match Instance::new(&mut store, &module, &[]) {
            Ok(instance) => instance,
            Err(e) => {
                let step = Step::Trapped(trap_class(&e).ok_or_else(|| format!("instantiate: {e}"))?);
                observed.push(Observed { what: "instantiate".into(), step, state: State::default() });
                return Ok(observed);
            }
        };
        arm(mode, &mut store, &module, instance, self.counts.clone()).map_err(|e| format!("debugger: {e}"))?;
        observed.push(Observed { what: "instantiate".into(), step: Step::Returned(Vec::new()), state: state(&store, instance) });
        for call in calls {
            let step = self::call(&mut store, instance, call)?;
            let exhausted = step.is_exhaustion();
            observed.push(Observed { what: format!("call {}", call.export), step, state: state(&store, instance) });
            if exhausted {
                break;
            }
        }
        Ok(observed)
    }
}

/// Set up the debugger for `mode`: in step mode a handler that reads every
/// local of every stop and steps on; in legacy mode a breakpoint at the
/// module's first breakable point with a handler that continues.
fn arm(mode: Mode, store: &mut Store<()>, module: &Module, instance: Instance, counts: Rc<DebugCounts>) -> onecopy_runtime::Result<()> {
    if !matches!(mode, Mode::Step | Mode::Legacy) {
        return Ok(());
    }
    let debug = instance.debug(&mut *store)?;
    let action = if mode == Mode::Step { DebugAction::Step } else { DebugAction::Continue };
    debug.set_handler(move |frame| {
        // Reading every local exercises the location tables at every site;
        // the values themselves have no oracle here.
        let available = frame.locals().iter().filter(|l| l.is_some()).count() as u64;
        counts.stops.set(counts.stops.get() + 1);
        counts.locals_read.set(counts.locals_read.get() + available);
        action
    });
    if mode == Mode::Step {
        debug.set_stepping(true);
    } else if let Some(site) = module.sites().first() {
        debug.set_breakpoint(site.func, site.wasm_offset)?;
    }
    Ok(())
}

/// Call one export; a missing export or a type error is onecopy's fault.
fn call(store: &mut Store<()>, instance: Instance, call: &Call) -> Result<Step, String> {
    let func = instance.get_func(&*store, &call.export).ok_or_else(|| format!("no export `{}`", call.export))?;
    let ty = func.ty(&*store).map_err(|e| e.to_string())?;
    let args: Vec<Val> = call.args.iter().map(to_val).collect();
    let mut results: Vec<Val> = ty.results.iter().map(|t| Val::default_for(*t)).collect();
    match func.call(&mut *store, &args, &mut results) {
        Ok(()) => Ok(Step::Returned(results.iter().map(from_val).collect())),
        Err(e) => Ok(Step::Trapped(trap_class(&e).ok_or_else(|| format!("call {}: {e}", call.export))?)),
    }
}

/// The exported globals and memories now.
fn state(store: &Store<()>, instance: Instance) -> State {
    let mut state = State::default();
    for (name, item) in instance.exports(store) {
        match item {
            Extern::Global(g) => {
                if let Ok(v) = g.get(store) {
                    state.globals.push((name, from_val(&v)));
                }
            }
            Extern::Memory(m) => {
                if let Ok(bytes) = m.data(store) {
                    state.memories.push((name, bytes.len(), hash(bytes)));
                }
            }
            Extern::Func(_) | Extern::Table(_) => {}
        }
    }
    state.sorted()
}

/// A trap's class; `None` for an error that is not a trap.
fn trap_class(e: &Error) -> Option<TrapClass> {
    Some(match e.trap()?.kind {
        TrapKind::Unreachable => TrapClass::Unreachable,
        TrapKind::MemoryOutOfBounds => TrapClass::MemoryOutOfBounds,
        TrapKind::TableOutOfBounds | TrapKind::UndefinedElement => TrapClass::TableOutOfBounds,
        TrapKind::IndirectCallToNull => TrapClass::IndirectCallToNull,
        TrapKind::BadSignature => TrapClass::BadSignature,
        TrapKind::IntegerOverflow => TrapClass::IntegerOverflow,
        TrapKind::IntegerDivisionByZero => TrapClass::IntegerDivisionByZero,
        TrapKind::BadConversionToInteger => TrapClass::BadConversionToInteger,
        TrapKind::NullReference => TrapClass::NullReference,
        TrapKind::StackOverflow => TrapClass::StackOverflow,
        _ => TrapClass::Other,
    })
}

fn to_val(v: &Value) -> Val {
    match *v {
        Value::I32(x) => Val::I32(x),
        Value::I64(x) => Val::I64(x),
        Value::F32(x) => Val::F32(x),
        Value::F64(x) => Val::F64(x),
        Value::FuncRef { .. } => Val::default_for(ValType::FuncRef),
        Value::ExternRef { .. } => Val::default_for(ValType::ExternRef),
    }
}

fn from_val(v: &Val) -> Value {
    match v {
        Val::I32(x) => Value::I32(*x),
        Val::I64(x) => Value::I64(*x),
        Val::F32(x) => Value::F32(*x),
        Val::F64(x) => Value::F64(*x),
        Val::FuncRef(f) => Value::FuncRef { null: f.is_none() },
        Val::ExternRef(r) => Value::ExternRef { null: r.is_none() },
    }
}
