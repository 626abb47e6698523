//! Instances that another script thread owns: the handle a thread gets for a
//! module shared with it (`(thread $t (shared (module $m)) ...)`), and the
//! requests that handle sends to the owning thread.
//!
//! A [`Store`] never leaves the thread that made it (compiled code finds that
//! thread's stack limit through its instances), so a shared instance cannot
//! simply be used from a second thread, not even behind a mutex. Nor does the
//! thread get a fresh instance of the same [`onecopy_runtime::Module`]: that
//! would have its own globals, memory and tables and would run its start
//! function again, so a script could tell the difference. Instead the
//! instance stays where it is and the thread asks its owner to use it: every
//! call or `get` becomes a [`Request`] that the owner answers on its own
//! thread between its directives and while it waits for its threads. The
//! instance's state is then exactly one state seen by every thread, and calls
//! into it run one at a time, which is all a module without shared memory
//! can ask for.
//!
//! What cannot cross: a thread's module may import the shared instance's
//! functions (each becomes a host function that makes the request) and its
//! immutable globals (a copy of the value cannot be told from the original),
//! but not its memories, tables or mutable globals, which compiled code would
//! have to reach directly in the other store. Importing one of those is a
//! skip ([`Unshareable`]); the threads proposal shares memories only when
//! they are `shared`, which onecopy does not support either.

use std::sync::Arc;

use crossbeam_channel::{Receiver, Sender};
use onecopy_runtime::{Error, Extern, FuncType, Global, GlobalType, Instance, Linker, Store, Val};

use super::report::Verdict;
use super::script::{call_export, get_global, Outcome};

/// A request for the owner of an instance, answered with [`Request::answer`].
pub struct Request {
    instance: Instance,
    op: Op,
    reply: Sender<Outcome>,
}

enum Op {
    Call { export: String, args: Vec<Val> },
    Get { global: String },
}

impl Request {
    /// Do what was asked with the owner's `store`, and send the outcome back.
    pub fn answer(self, store: &mut Store<()>) {
        let outcome = match &self.op {
            Op::Call { export, args } => call_export(store, self.instance, export, args),
            Op::Get { global } => get_global(store, self.instance, global),
        };
        // The asking thread may have given up (its script ended in a panic).
        let _ = self.reply.send(outcome);
    }
}

/// The requests that reach one script thread, and the address other threads
/// send them to.
pub struct Inbox {
    sender: Sender<Request>,
    receiver: Receiver<Request>,
}

impl Inbox {
    /// An empty inbox.
    pub fn new() -> Inbox {
        let (sender, receiver) = crossbeam_channel::unbounded();
        Inbox { sender, receiver }
    }

    /// Where requests arrive, to wait on them beside other events.
    pub fn receiver(&self) -> &Receiver<Request> {
        &self.receiver
    }

    /// Answer every request that has arrived, without waiting for more.
    pub fn answer_pending(&self, store: &mut Store<()>) {
        while let Ok(request) = self.receiver.try_recv() {
            request.answer(store);
        }
    }
}

/// An export of a shared instance, as a thread that does not own it sees it.
enum Export {
    Func(FuncType),
    /// An immutable global: its value never changes, so a copy is as good.
    Constant(GlobalType, Val),
    /// A memory, table or mutable global, named for the skip message.
    Unshareable(&'static str),
}

/// What a thread's module may not import from an instance another thread
/// owns: the kind of item, for the skip message.
pub type Unshareable = &'static str;

/// An instance owned by another script thread (see the module docs). Cheap
/// to clone; threads pass it on to their own threads unchanged, so requests
/// always go straight to the owner.
#[derive(Clone)]
pub struct Remote {
    instance: Instance,
    owner: Sender<Request>,
    exports: Arc<[(String, Export)]>,
}

impl Remote {
    /// A handle on `instance` of `store` (the caller's own), whose requests
    /// reach `inbox`. Export types and constant values are read now, on
    /// the owner's thread.
    pub fn new(store: &Store<()>, instance: Instance, inbox: &Inbox) -> Result<Remote, Error> {
        let exports = instance
            .exports(store)
            .into_iter()
            .map(|(name, item)| Ok((name, describe(store, item)?)))
            .collect::<Result<Vec<_>, Error>>()?;
        Ok(Remote { instance, owner: inbox.sender.clone(), exports: exports.into() })
    }

    /// Call the export `name` on the owner's thread and wait for the outcome.
    pub fn call(&self, name: &str, args: &[Val]) -> Outcome {
        self.ask(Op::Call { export: name.to_string(), args: args.to_vec() })
    }

    /// The value of the exported global `name`, read on the owner's thread.
    pub fn get(&self, name: &str) -> Outcome {
        self.ask(Op::Get { global: name.to_string() })
    }

    fn ask(&self, op: Op) -> Outcome {
        let (reply, answer) = crossbeam_channel::bounded(1);
        let gone = || Verdict::Fail("the thread that owns the shared instance has ended".into());
        self.owner.send(Request { instance: self.instance, op, reply }).map_err(|_| gone())?;
        answer.recv().map_err(|_| gone())?
    }

    /// Define the exports under `module` in `linker`, for instances of
    /// `store` (the caller's own); returns the names that cannot be
    /// imported, with what they are.
    pub fn define(&self, store: &mut Store<()>, linker: &mut Linker<()>, module: &str) -> Result<Vec<(String, Unshareable)>, Error> {
        let mut unshareable = Vec::new();
        for (name, export) in self.exports.iter() {
            match export {
                Export::Func(ty) => {
                    let remote = self.clone();
                    let export = name.clone();
                    linker.func_new(module, name, ty.clone(), move |_, args, results| {
                        let values = remote.call(&export, args).map_err(|v| Error::Host(verdict_text(v).into()))??;
                        results.copy_from_slice(&values);
                        Ok(())
                    })?;
                }
                Export::Constant(ty, value) => {
                    let global = Global::new(&mut *store, *ty, *value)?;
                    linker.define(module, name, global)?;
                }
                Export::Unshareable(what) => unshareable.push((name.clone(), *what)),
            }
        }
        Ok(unshareable)
    }
}

/// How a thread that does not own `item` (of `store`) can see it.
fn describe(store: &Store<()>, item: Extern) -> Result<Export, Error> {
    Ok(match item {
        Extern::Func(func) => Export::Func(func.ty(store)?),
        Extern::Global(global) => {
            let ty = global.ty(store)?;
            match global.get(store)? {
                _ if ty.mutable => Export::Unshareable("mutable global"),
                // A function reference names a function of the owner's store.
                Val::FuncRef(Some(_)) => Export::Unshareable("global holding a function reference"),
                value => Export::Constant(ty, value),
            }
        }
        Extern::Memory(_) => Export::Unshareable("memory"),
        Extern::Table(_) => Export::Unshareable("table"),
    })
}

fn verdict_text(verdict: Verdict) -> String {
    match verdict {
        Verdict::Fail(message) | Verdict::Skip(message) => message,
    }
}
