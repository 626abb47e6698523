//! Running one script's directives against the runtime.

use std::cell::Cell;
use std::collections::HashMap;
use std::rc::Rc;

use onecopy_runtime::{Config, DebugAction, Engine, Error, Instance, Linker, Module, Store, TrapKind, Val};
use wast::token::Id;
use wast::{QuoteWat, WastDirective, WastExecute, WastInvoke, WastRet, Wat};

use super::expect;
use super::report::{fail, Check, Verdict};
use crate::values::show_all;

/// A module the script defined: its instance, or why there is none (a skip
/// for an unsupported feature, or the failure), which every directive that
/// uses the module then reports again.
type Slot = Result<Instance, Verdict>;

/// A script's state: the engine, the store every instance of the script
/// lives in, the linker with `spectest` and registered instances, the last
/// module and the named ones.
pub struct Script {
    engine: Engine,
    store: Store<()>,
    linker: Linker<()>,
    current: Option<Slot>,
    named: HashMap<String, Slot>,
    /// `(module definition ...)`: compiled, not yet instantiated.
    definitions: HashMap<Option<String>, Module>,
    /// With `--step` or `--legacy`: calls of the debug handler over every
    /// instance of the script (shared by their handlers; instances stay on
    /// this thread).
    handler_calls: Option<Rc<Cell<u64>>>,
    /// Single-step every instance.
    step: bool,
    /// Register each named module's instance under its name (Wasmtime's convention).
    wasmtime_compat: bool,
}

impl Script {
    /// A fresh script state for `options`: `debug` compiles with breakpoint
    /// guards, `step` single-steps every instance it creates, `legacy` gives
    /// every instance a breakpoint in legacy (cloned) debug code.
    pub fn new(options: super::Options) -> anyhow::Result<Script> {
        let engine = Engine::new(&Config::default().debug(options.debug).legacy(options.legacy))?;
        let mut store = Store::new(&engine, ());
        let mut linker = Linker::new(&engine);
        crate::spectest::define(&mut store, &mut linker)?;
        let handler_calls = (options.step || options.legacy).then(|| Rc::new(Cell::new(0)));
        Ok(Script {
            engine,
            store,
            linker,
            current: None,
            named: HashMap::new(),
            definitions: HashMap::new(),
            handler_calls,
            step: options.step,
            wasmtime_compat: options.wasmtime_compat,
        })
    }

    /// How often the stepping handler ran, if the script steps.
    pub fn handler_calls(&self) -> Option<u64> {
        self.handler_calls.as_ref().map(|calls| calls.get())
    }

    /// Instantiate `module` through the linker; when stepping, the new
    /// instance stops at every breakable point from then on, and in legacy
    /// mode it gets a breakpoint (and so a clone) at the module's first one
    /// (its start function, run inside instantiation, is neither).
    fn instantiate(&mut self, module: &Module) -> Result<Instance, Error> {
        let instance = self.linker.instantiate(&mut self.store, module)?;
        if let Some(calls) = &self.handler_calls {
            let calls = calls.clone();
            let action = if self.step { DebugAction::Step } else { DebugAction::Continue };
            let debug = instance.debug(&mut self.store)?;
            debug.set_handler(move |_| {
                calls.set(calls.get() + 1);
                action
            });
            if self.step {
                debug.set_stepping(true);
            } else if let Some(site) = module.sites().first() {
                debug.set_breakpoint(site.func, site.wasm_offset)?;
            }
        }
        Ok(instance)
    }

    /// Run one directive, found at `line`.
    pub fn run(&mut self, directive: WastDirective, line: usize) -> Check {
        match directive {
            WastDirective::Module(mut module) => {
                let name = module.name();
                let compiled = self.compile(&encode(&mut module)?);
                let slot = compiled.and_then(|m| self.instantiate(&m).map_err(|e| failure("instantiation", &e)));
                self.set_current(name, later_uses(&slot, line));
                slot.map(drop)
            }
            WastDirective::ModuleDefinition(mut module) => {
                let name = module.name().map(|id| id.name().to_string());
                let compiled = self.compile(&encode(&mut module)?)?;
                self.definitions.insert(name, compiled);
                Ok(())
            }
            WastDirective::ModuleInstance { instance, module, .. } => {
                let key = module.map(|id| id.name().to_string());
                let Some(definition) = self.definitions.get(&key).cloned() else { return fail("unknown module definition") };
                let slot = self.instantiate(&definition).map_err(|e| failure("instantiation", &e));
                self.set_current(instance, later_uses(&slot, line));
                slot.map(drop)
            }
            WastDirective::Register { name, module, .. } => {
                let instance = *ready(self.slot(module)?)?;
                self.linker.instance(&self.store, name, instance).map(drop).or_else(|e| fail(format!("register: {e}")))
            }
            WastDirective::Invoke(invoke) => self.invoke(&invoke)?.map(drop).or_else(|e| fail(format!("invoke: {e}"))),
            WastDirective::AssertReturn { exec, results, .. } => match self.execute(exec)? {
                Ok(actual) => compare(&results, &actual),
                Err(e) => fail(format!("expected {}, got error: {e}", describe_all(&results))),
            },
            WastDirective::AssertTrap { exec, message, .. } => {
                let outcome = self.execute(exec)?;
                expect_trap(outcome, message, |kind| trap_text_matches(kind, message))
            }
            WastDirective::AssertExhaustion { call, message, .. } => {
                let outcome = self.invoke(&call)?;
                expect_trap(outcome, message, |kind| kind == TrapKind::StackOverflow)
            }
            WastDirective::AssertInvalid { mut module, message, .. }
            | WastDirective::AssertMalformed { mut module, message, .. } => self.expect_rejected(&mut module, message),
            WastDirective::AssertUnlinkable { mut module, message, .. } => {
                let compiled = self.compile(&wat_bytes(&mut module)?)?;
                match self.instantiate(&compiled) {
                    Ok(_) => fail(format!("expected link error `{message}`, instantiation succeeded")),
                    Err(e) if e.trap().is_none() && e.to_string().contains(message) => Ok(()),
                    Err(e) => fail(format!("expected link error `{message}`, got: {e}")),
                }
            }
            WastDirective::AssertException { .. } => Err(Verdict::Skip("exceptions".into())),
            WastDirective::AssertSuspension { .. } => Err(Verdict::Skip("stack switching".into())),
            WastDirective::Thread(_) | WastDirective::Wait { .. } => Err(Verdict::Skip("threads".into())),
            WastDirective::AssertInvalidCustom { .. } | WastDirective::AssertMalformedCustom { .. } => {
                Err(Verdict::Skip("custom section validation".into()))
            }
        }
    }

    /// Compile `bytes`; an unsupported feature makes the directive a skip.
    fn compile(&self, bytes: &[u8]) -> Result<Module, Verdict> {
        Module::new(&self.engine, bytes).map_err(|e| match unsupported(&e) {
            Some(feature) => Verdict::Skip(feature),
            None => Verdict::Fail(format!("module failed to compile: {e}")),
        })
    }

    /// `assert_invalid` / `assert_malformed`: the module must not compile.
    /// Text that does not even parse counts as rejected. A rejection for an
    /// unsupported feature is a skip, unless it gives the expected reason.
    fn expect_rejected(&self, module: &mut QuoteWat, message: &str) -> Check {
        let Ok(bytes) = module.encode() else { return Ok(()) };
        match Module::new(&self.engine, &bytes) {
            Ok(_) => fail(format!("expected the module to be rejected: {message}")),
            Err(e) if e.to_string().contains(message) => Ok(()),
            Err(e) => unsupported(&e).map_or(Ok(()), |feature| Err(Verdict::Skip(feature))),
        }
    }

    fn set_current(&mut self, name: Option<Id>, slot: Slot) {
        if let (true, Some(id), Ok(instance)) = (self.wasmtime_compat, name, &slot) {
            // Later modules import it by its name, as after `(register "name")`;
            // a later module of the same name shadows it.
            if let Err(e) = self.linker.instance(&self.store, id.name(), *instance) {
                tracing::warn!("cannot make module ${} importable: {e}", id.name());
            }
        }
        if let Some(id) = name {
            self.named.insert(id.name().to_string(), slot.clone());
        }
        self.current = Some(slot);
    }

    /// The named module, or the last one.
    fn slot(&self, name: Option<Id>) -> Result<&Slot, Verdict> {
        let slot = match name {
            Some(id) => self.named.get(id.name()),
            None => self.current.as_ref(),
        };
        slot.ok_or_else(|| Verdict::Fail(format!("no module {}", name.map_or("defined yet", |id| id.name()))))
    }

    /// Call an export. The outer error is a script problem (no such module or
    /// export, a skipped module); the inner one is the call's own outcome.
    fn invoke(&mut self, invoke: &WastInvoke) -> Result<Result<Vec<Val>, Error>, Verdict> {
        let instance = *ready(self.slot(invoke.module)?)?;
        let Some(func) = instance.get_func(&self.store, invoke.name) else { return fail(format!("no export `{}`", invoke.name)) };
        let args = invoke.args.iter().map(expect::arg).collect::<Result<Vec<_>, _>>().map_err(Verdict::Fail)?;
        let ty = func.ty(&self.store).map_err(|e| Verdict::Fail(e.to_string()))?;
        let mut results: Vec<Val> = ty.results.iter().map(|t| Val::default_for(*t)).collect();
        Ok(func.call(&mut self.store, &args, &mut results).map(|()| results))
    }

    /// What an assertion checks: a call, a global's value, or instantiating a
    /// module (no values).
    fn execute(&mut self, exec: WastExecute) -> Result<Result<Vec<Val>, Error>, Verdict> {
        match exec {
            WastExecute::Invoke(invoke) => self.invoke(&invoke),
            WastExecute::Get { module, global, .. } => {
                let instance = *ready(self.slot(module)?)?;
                let Some(g) = instance.get_global(&self.store, global) else { return fail(format!("no global `{global}`")) };
                Ok(g.get(&self.store).map(|v| vec![v]))
            }
            WastExecute::Wat(mut module) => {
                let compiled = self.compile(&wat_bytes(&mut module)?)?;
                Ok(self.instantiate(&compiled).map(|_| Vec::new()))
            }
        }
    }
}

/// What directives that use a module get: its instance, the same skip, or a
/// short pointer to the failure already reported at `line`.
fn later_uses(slot: &Slot, line: usize) -> Slot {
    match slot {
        Err(Verdict::Fail(_)) => Err(Verdict::Fail(format!("uses the module of line {line}, which failed"))),
        other => other.clone(),
    }
}

/// The instance in `slot`, or why there is none.
fn ready(slot: &Slot) -> Result<&Instance, Verdict> {
    slot.as_ref().map_err(Clone::clone)
}

fn encode(module: &mut QuoteWat) -> Result<Vec<u8>, Verdict> {
    module.encode().map_err(|e| Verdict::Fail(format!("module text: {e}")))
}

fn wat_bytes(module: &mut Wat) -> Result<Vec<u8>, Verdict> {
    module.encode().map_err(|e| Verdict::Fail(format!("module text: {e}")))
}

fn failure(what: &str, e: &Error) -> Verdict {
    Verdict::Fail(format!("{what} failed: {e}"))
}

/// The feature named by an error for a module onecopy cannot run, from the
/// wording of the runtime ("... is not supported") or of wasmparser.
fn unsupported(e: &Error) -> Option<String> {
    let Error::Compile(_) = e else { return None };
    let message = e.to_string();
    if let Some((_, feature)) = UNNAMED.iter().find(|(needle, _)| message.contains(needle)) {
        return Some(feature.to_string());
    }
    if let Some((_, rest)) = message.split_once("not supported without the ") {
        return Some(rest.split(" feature").next().unwrap_or(rest).to_string());
    }
    let markers = [" is not supported", " are not supported", " support is not enabled", " proposal not enabled", " must be enabled"];
    let (head, _) = markers.iter().find_map(|m| message.split_once(m))?;
    // The feature is the clause just before the marker, after any location prefix.
    Some(head.rsplit(": ").next().unwrap_or(head).trim().to_string())
}

/// Wordings that do not name the feature they lack (or not as a user
/// would look it up).
const UNNAMED: [(&str, &str); 3] = [
    ("multiple memories", "multi-memory"),
    ("threads must be enabled for shared memories", "threads proposal: shared memory"),
    ("threads support is not enabled", "threads proposal: atomics"),
];

/// A trap's wording matches the script's when it contains it (the scripts
/// give prefixes), or when the script's is the kind's wording plus a detail
/// such as an index ("uninitialized element 2").
fn trap_text_matches(kind: TrapKind, expected: &str) -> bool {
    let ours = kind.to_string();
    ours.contains(expected) || expected.starts_with(&ours)
}

/// `assert_trap` / `assert_exhaustion`: `outcome` must be a trap whose kind passes `accept`.
fn expect_trap(outcome: Result<Vec<Val>, Error>, expected: &str, accept: impl Fn(TrapKind) -> bool) -> Check {
    match outcome {
        Ok(values) => fail(format!("expected trap `{expected}`, got [{}]", show_all(&values))),
        Err(e) => match e.trap() {
            Some(trap) if accept(trap.kind) => Ok(()),
            Some(trap) => fail(format!("expected trap `{expected}`, got trap `{trap}`")),
            None => fail(format!("expected trap `{expected}`, got error: {e}")),
        },
    }
}

fn compare(expected: &[WastRet], actual: &[Val]) -> Check {
    let same = expected.len() == actual.len() && expected.iter().zip(actual).all(|(e, a)| expect::matches(e, a));
    if same {
        return Ok(());
    }
    fail(format!("expected [{}], got [{}]", describe_all(expected), show_all(actual)))
}

fn describe_all(expected: &[WastRet]) -> String {
    expected.iter().map(expect::describe).collect::<Vec<_>>().join(", ")
}
