//! Running one script's directives against the runtime.

use std::cell::Cell;
use std::collections::HashMap;
use std::rc::Rc;

use onecopy_runtime::{Config, DebugAction, Engine, Error, Instance, Linker, Module, Store, TrapKind, Val};
use wast::token::Id;
use wast::{QuoteWat, WastDirective, WastExecute, WastInvoke, WastRet, Wat};

use super::expect;
use super::remote::{Inbox, Remote, Request, Unshareable};
use super::report::{fail, Check, Verdict};
use super::Options;
use crate::values::show_all;

/// An instance a script context can use: one of its own store, or one that
/// another script thread owns and shared with it.
#[derive(Clone)]
enum Target {
    Local(Instance),
    Remote(Remote),
}

/// A module the script defined: its instance, or why there is none (a skip
/// for an unsupported feature, or the failure), which every directive that
/// uses the module then reports again.
type Slot = Result<Target, Verdict>;

/// What running something gave: the outer error is a script problem (no
/// such module or export, a skipped module); the inner one is the run's own
/// outcome (a trap, a link error).
pub type Outcome = Result<Result<Vec<Val>, Error>, Verdict>;

/// What a script thread starts from: the parent's engine and module
/// definitions (compiled code holds no state, so sharing it cannot be
/// observed; Wasmtime's runner shares them too) and the one named instance
/// the `thread` directive shares, as a [`Remote`] (or why it has none).
pub struct Seed {
    engine: Engine,
    options: Options,
    definitions: HashMap<Option<String>, Module>,
    shared: Option<(String, Slot)>,
}

/// A script context's state (the file's, or one script thread's): the
/// engine, the store every instance of the context lives in, the linker
/// with `spectest` and registered instances, the last module and the named
/// ones.
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
    /// Imports no instance of this store can have: items of a [`Remote`]
    /// registered here that only exist in the owner's store.
    unshareable: HashMap<(String, String), Unshareable>,
    /// Stepping, and Wasmtime's convention of registering each named
    /// module's instance under its name.
    options: Options,
}

impl Script {
    /// A fresh script state for `options`: `debug` compiles with breakpoint
    /// guards, `step` single-steps every instance it creates, `legacy` gives
    /// every instance a breakpoint in legacy (cloned) debug code.
    pub fn new(options: Options) -> anyhow::Result<Script> {
        let mut config = Config::default().debug(options.debug).legacy(options.legacy);
        if options.explicit_checks {
            config = config.memory_guard(false);
        }
        if options.speed {
            config = config.opt_level(onecopy_runtime::OptLevel::Speed);
        }
        let engine = Engine::new(&config)?;
        Script::in_engine(engine, options)
    }

    /// A script thread's state: an empty store of its own (the parent's
    /// stays on the parent's thread) that sees the seed's shared instance
    /// under its name.
    pub fn from_seed(seed: Seed) -> anyhow::Result<Script> {
        let mut script = Script::in_engine(seed.engine, seed.options)?;
        script.definitions = seed.definitions;
        if let Some((name, slot)) = seed.shared {
            if let (true, Ok(target)) = (script.options.wasmtime_compat, &slot) {
                // Wasmtime's thread sees the module under its name as the parent did.
                script.register(&name, target)?;
            }
            script.named.insert(name, slot);
        }
        Ok(script)
    }

    fn in_engine(engine: Engine, options: Options) -> anyhow::Result<Script> {
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
            unshareable: HashMap::new(),
            options,
        })
    }

    /// The seed of a script thread that shares the named instance `shared`
    /// (if any); the thread's requests for it will reach `inbox`, which this
    /// thread must answer ([`Script::answer`]) until the thread ends.
    pub fn share(&self, shared: Option<Id>, inbox: &Inbox) -> Result<Seed, Verdict> {
        let shared = match shared {
            None => None,
            Some(id) => {
                let slot = match self.slot(Some(id))? {
                    Ok(Target::Local(instance)) => Remote::new(&self.store, *instance, inbox)
                        .map(Target::Remote)
                        .map_err(|e| Verdict::Fail(format!("cannot share ${}: {e}", id.name()))),
                    other => other.clone(),
                };
                Some((id.name().to_string(), slot))
            }
        };
        Ok(Seed { engine: self.engine.clone(), options: self.options, definitions: self.definitions.clone(), shared })
    }

    /// Answer a script thread's request for an instance of this context.
    pub fn answer(&mut self, request: Request) {
        request.answer(&mut self.store);
    }

    /// Answer every request that has reached `inbox` so far.
    pub fn answer_pending(&mut self, inbox: &Inbox) {
        inbox.answer_pending(&mut self.store);
    }

    /// How often the stepping handler ran, if the script steps.
    pub fn handler_calls(&self) -> Option<u64> {
        self.handler_calls.as_ref().map(|calls| calls.get())
    }

    /// Instantiate `module` through the linker; when stepping, the new
    /// instance stops at every breakable point from then on, and in legacy
    /// mode it gets a breakpoint (and so a clone) at the module's first one
    /// (its start function, run inside instantiation, is neither). Importing
    /// what only another thread's store holds is a skip.
    fn instantiate(&mut self, module: &Module) -> Result<Result<Instance, Error>, Verdict> {
        let imports = module.imports();
        if let Some(what) = imports.into_iter().find_map(|i| self.unshareable.get(&(i.module, i.name))) {
            return Err(Verdict::Skip(format!("threads: importing another thread's {what}")));
        }
        Ok(self.instantiate_linked(module))
    }

    fn instantiate_linked(&mut self, module: &Module) -> Result<Instance, Error> {
        let instance = self.linker.instantiate(&mut self.store, module)?;
        if let Some(calls) = &self.handler_calls {
            let calls = calls.clone();
            let action = if self.options.step { DebugAction::Step } else { DebugAction::Continue };
            let debug = instance.debug(&mut self.store)?;
            debug.set_handler(move |_| {
                calls.set(calls.get() + 1);
                action
            });
            if self.options.step {
                debug.set_stepping(true);
            } else if let Some(site) = module.sites().first() {
                debug.set_breakpoint(site.func, site.wasm_offset)?;
            }
        }
        Ok(instance)
    }

    /// Make `target`'s exports importable under `name`.
    fn register(&mut self, name: &str, target: &Target) -> Result<(), Error> {
        self.unshareable.retain(|(module, _), _| module != name);
        match target {
            Target::Local(instance) => self.linker.instance(&self.store, name, *instance).map(drop),
            Target::Remote(remote) => {
                for (item, what) in remote.define(&mut self.store, &mut self.linker, name)? {
                    self.unshareable.insert((name.to_string(), item), what);
                }
                Ok(())
            }
        }
    }

    /// Run one directive, found at `line`.
    pub fn run(&mut self, directive: WastDirective, line: usize) -> Check {
        match directive {
            WastDirective::Module(mut module) => {
                let name = module.name();
                let compiled = self.compile(&encode(&mut module)?);
                let slot = compiled.and_then(|m| self.instantiate_target(&m));
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
                let slot = self.instantiate_target(&definition);
                self.set_current(instance, later_uses(&slot, line));
                slot.map(drop)
            }
            WastDirective::Register { name, module, .. } => {
                let target = ready(self.slot(module)?)?.clone();
                self.register(name, &target).or_else(|e| fail(format!("register: {e}")))
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
            WastDirective::AssertInvalid { mut module, message, .. } | WastDirective::AssertMalformed { mut module, message, .. } => {
                self.expect_rejected(&mut module, message)
            }
            WastDirective::AssertUnlinkable { mut module, message, .. } => {
                let compiled = self.compile(&wat_bytes(&mut module)?)?;
                match self.instantiate(&compiled)? {
                    Ok(_) => fail(format!("expected link error `{message}`, instantiation succeeded")),
                    Err(e) if e.trap().is_none() && e.to_string().contains(message) => Ok(()),
                    Err(e) => fail(format!("expected link error `{message}`, got: {e}")),
                }
            }
            WastDirective::AssertException { .. } => Err(Verdict::Skip("exceptions".into())),
            WastDirective::AssertSuspension { .. } => Err(Verdict::Skip("stack switching".into())),
            // They need the thread that runs the script's directives (threads.rs).
            WastDirective::Thread(_) | WastDirective::Wait { .. } => fail("thread directives run in the directive loop"),
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

    /// A module directive's instance, or why there is none.
    fn instantiate_target(&mut self, module: &Module) -> Slot {
        self.instantiate(module)?.map(Target::Local).map_err(|e| failure("instantiation", &e))
    }

    fn set_current(&mut self, name: Option<Id>, slot: Slot) {
        if let (true, Some(id), Ok(target)) = (self.options.wasmtime_compat, name, &slot) {
            // Later modules import it by its name, as after `(register "name")`;
            // a later module of the same name shadows it.
            if let Err(e) = self.register(id.name(), &target.clone()) {
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

    /// Call an export, of this store's instance or on its owner's thread.
    fn invoke(&mut self, invoke: &WastInvoke) -> Outcome {
        let target = ready(self.slot(invoke.module)?)?.clone();
        let args = invoke.args.iter().map(expect::arg).collect::<Result<Vec<_>, _>>().map_err(Verdict::Fail)?;
        match target {
            Target::Local(instance) => call_export(&mut self.store, instance, invoke.name, &args),
            Target::Remote(remote) => remote.call(invoke.name, &args),
        }
    }

    /// What an assertion checks: a call, a global's value, or instantiating a
    /// module (no values).
    fn execute(&mut self, exec: WastExecute) -> Outcome {
        match exec {
            WastExecute::Invoke(invoke) => self.invoke(&invoke),
            WastExecute::Get { module, global, .. } => match ready(self.slot(module)?)? {
                Target::Local(instance) => get_global(&self.store, *instance, global),
                Target::Remote(remote) => remote.get(global),
            },
            WastExecute::Wat(mut module) => {
                let compiled = self.compile(&wat_bytes(&mut module)?)?;
                Ok(self.instantiate(&compiled)?.map(|_| Vec::new()))
            }
        }
    }
}

/// Call the export `name` of `instance` (of `store`) with `args`.
pub fn call_export(store: &mut Store<()>, instance: Instance, name: &str, args: &[Val]) -> Outcome {
    let Some(func) = instance.get_func(&*store, name) else { return fail(format!("no export `{name}`")) };
    let ty = func.ty(&*store).map_err(|e| Verdict::Fail(e.to_string()))?;
    let mut results: Vec<Val> = ty.results.iter().map(|t| Val::default_for(*t)).collect();
    Ok(func.call(store, args, &mut results).map(|()| results))
}

/// The value of the exported global `name` of `instance` (of `store`).
pub fn get_global(store: &Store<()>, instance: Instance, name: &str) -> Outcome {
    let Some(global) = instance.get_global(store, name) else { return fail(format!("no global `{name}`")) };
    Ok(global.get(store).map(|v| vec![v]))
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
fn ready(slot: &Slot) -> Result<&Target, Verdict> {
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
