//! Running parsed commands: the [`Debugger`] owns the pool, the session and
//! the threads that wait on started calls.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use onecopy_gdb::lines::LineTable;
use onecopy_gdb::sites::Sites;
use onecopy_runtime::{ExternType, Module, Site, SiteKind};
use onecopy_wasi::WasiCtx;
use onecopy_workers::{DebugSession, GlobalRef, Resume, ShutdownReport, Who, WorkerPool};
use serde_json::json;

use super::command::{Command, Location, USAGE};
use super::format::{outcome, parse_value, show, show_all, show_frame, stopped_event, who_json, Frame};
use super::{Obj, Out};

/// How long shutting the pool down waits for its workers at the end.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);
/// How often `wait` checks whether anything can still stop.
const WAIT_SLICE: Duration = Duration::from_millis(20);

/// A debug session over a pool, driven by [`Command`]s.
pub struct Debugger {
    module: Module,
    /// The module's source lines (empty without DWARF).
    lines: LineTable,
    sites: Sites,
    pool: WorkerPool<WasiCtx>,
    session: DebugSession,
    out: Arc<Out>,
    /// Calls started and not yet finished, by worker.
    running: Arc<Vec<AtomicUsize>>,
    waiters: Vec<JoinHandle<()>>,
    wait_timeout: Duration,
    detached: bool,
}

impl Debugger {
    /// A debugger for `pool`, whose workers joined `session`; `lines` is
    /// the module's line table.
    pub fn new(
        module: Module,
        lines: LineTable,
        pool: WorkerPool<WasiCtx>,
        session: DebugSession,
        out: Arc<Out>,
        wait_timeout: Duration,
    ) -> Debugger {
        let running = Arc::new((0..pool.workers()).map(|_| AtomicUsize::new(0)).collect());
        let sites = Sites::new(&module);
        Debugger { module, lines, sites, pool, session, out, running, waiters: Vec::new(), wait_timeout, detached: false }
    }

    /// Run one command: its reply or event (`None` if it printed its own),
    /// or an error message.
    pub fn execute(&mut self, command: Command) -> Result<Option<Obj>, String> {
        let reply = match command {
            Command::Break(who, Location::Line { file, line }) => {
                self.attached()?;
                let places = self.line_sites(&file, line)?;
                for (func, offset) in &places {
                    self.session.set_breakpoint(who, *func, *offset).map_err(|e| e.to_string())?;
                }
                let places: Vec<Frame> = places.iter().map(|(func, offset)| self.frame(*func, *offset)).collect();
                obj! {"reply": "break", "worker": who_json(who), "file": file, "line": line, "locations": places}
            }
            Command::Break(who, at) => {
                self.attached()?;
                let (func, offset) = self.location(&at)?;
                self.session.set_breakpoint(who, func, offset).map_err(|e| e.to_string())?;
                obj! {"reply": "break", "worker": who_json(who), "func": func, "offset": offset}
            }
            Command::Clear(who, None) => {
                self.session.clear_all(who).map_err(|e| e.to_string())?;
                obj! {"reply": "clear", "worker": who_json(who)}
            }
            Command::Clear(who, Some(Location::Line { file, line })) => {
                for (func, offset) in self.line_sites(&file, line)? {
                    self.session.clear_breakpoint(who, func, offset).map_err(|e| e.to_string())?;
                }
                obj! {"reply": "clear", "worker": who_json(who), "file": file, "line": line}
            }
            Command::Clear(who, Some(at)) => {
                let (func, offset) = self.location(&at)?;
                self.session.clear_breakpoint(who, func, offset).map_err(|e| e.to_string())?;
                obj! {"reply": "clear", "worker": who_json(who), "func": func, "offset": offset}
            }
            Command::Sites(func) => {
                let func = self.func(&func)?;
                let offsets: Vec<u32> = self.sites(func).iter().map(|s| s.wasm_offset).collect();
                obj! {"reply": "sites", "func": func, "name": self.name(func), "offsets": offsets}
            }
            Command::Run(export, args) => {
                self.run(&export, &args)?;
                return Ok(None);
            }
            Command::Wait(worker) => self.wait(worker)?,
            Command::Continue(Who::Worker(w)) => {
                self.session.resume(w, Resume::Continue).map_err(|e| e.to_string())?;
                obj! {"reply": "continue", "worker": w}
            }
            Command::Continue(Who::All) => {
                let resumed = self.session.stopped();
                self.session.resume_all(Resume::Continue);
                obj! {"reply": "continue", "worker": "all", "resumed": resumed}
            }
            Command::Step(w, how) => {
                self.session.resume(w, how).map_err(|e| e.to_string())?;
                let name = match how {
                    Resume::StepInto => "step-in",
                    Resume::StepOver => "step-over",
                    _ => "step-out",
                };
                obj! {"reply": name, "worker": w}
            }
            Command::Pause(who) => {
                self.attached()?;
                self.session.pause(who).map_err(|e| e.to_string())?;
                obj! {"reply": "pause", "worker": who_json(who)}
            }
            Command::Backtrace(w) => {
                let frames = self.session.backtrace(w).map_err(|e| e.to_string())?;
                let frames: Vec<Frame> = frames.iter().map(|f| self.frame(f.func, f.wasm_offset)).collect();
                obj! {"reply": "backtrace", "worker": w, "frames": frames}
            }
            Command::Locals(w, frame) => {
                let locals = self.session.frame_locals(w, frame as u32).map_err(|e| e.to_string())?;
                obj! {"reply": "locals", "worker": w, "frame": frame, "locals": show_frame(&locals)}
            }
            Command::SetLocal(w, index, text) => {
                let locals = self.session.frame_locals(w, 0).map_err(|e| e.to_string())?;
                let current =
                    locals.get(index as usize).ok_or_else(|| format!("no local {index}: the frame has {} locals", locals.len()))?;
                let value = parse_value(&text, current.ty)?;
                self.session.set_local(w, index, value).map_err(|e| e.to_string())?;
                obj! {"reply": "set-local", "worker": w, "index": index, "value": show(&value)}
            }
            Command::Stack(w) => {
                let stack = self.session.stack(w).map_err(|e| e.to_string())?;
                obj! {"reply": "stack", "worker": w, "stack": show_frame(&stack)}
            }
            Command::Global(w, global, text) => {
                let mut value = self.session.global(w, global.clone(), None).map_err(|e| e.to_string())?;
                if let Some(text) = text {
                    let new = parse_value(&text, value.ty())?;
                    value = self.session.global(w, global.clone(), Some(new)).map_err(|e| e.to_string())?;
                }
                let global = match global {
                    GlobalRef::Name(name) => json!(name),
                    GlobalRef::Index(index) => json!(index),
                };
                obj! {"reply": "global", "worker": w, "global": global, "value": show(&value)}
            }
            Command::Memory(w, addr, len) => {
                const MAX: u32 = 1 << 20;
                if len > MAX {
                    return Err(format!("at most {MAX} bytes at a time, not {len}"));
                }
                let bytes = self.session.memory(w, addr, len).map_err(|e| e.to_string())?;
                let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
                obj! {"reply": "memory", "worker": w, "addr": addr, "bytes": hex}
            }
            Command::Detach => {
                self.detach();
                obj! {"reply": "detach"}
            }
            Command::Help => obj! {"reply": "help", "commands": USAGE},
            Command::Quit => obj! {"reply": "quit"},
        };
        Ok(Some(reply))
    }

    /// End the session: resume stopped workers, print the outcome of every
    /// started call, shut the pool down.
    pub fn finish(mut self) -> ShutdownReport {
        self.detach();
        // Dropping the session also resumes a worker whose stop raced with
        // the detach (its request channel closes).
        drop(self.session);
        for waiter in self.waiters {
            let _ = waiter.join();
        }
        self.pool.shutdown(SHUTDOWN_TIMEOUT)
    }

    fn attached(&self) -> Result<(), String> {
        if self.detached {
            Err("the session is detached: workers no longer stop".into())
        } else {
            Ok(())
        }
    }

    fn detach(&mut self) {
        self.session.detach();
        self.detached = true;
        // A worker that stopped just before the detach sent its event after
        // the session looked: let it go too.
        while let Some(stop) = self.session.wait(None, Duration::from_millis(10)) {
            let _ = self.session.resume(stop.worker, Resume::Detach);
        }
    }

    /// Start `export` on every worker; a thread per call prints its outcome.
    fn run(&mut self, export: &str, args: &[String]) -> Result<(), String> {
        let ty = self
            .module
            .exports()
            .into_iter()
            .find_map(|(name, ty)| match ty {
                ExternType::Func(ty) if name == export => Some(ty),
                _ => None,
            })
            .ok_or_else(|| format!("the module exports no function `{export}`"))?;
        if ty.params.len() != args.len() {
            return Err(format!("`{export}` takes {} argument(s), {} given", ty.params.len(), args.len()));
        }
        let args = args.iter().zip(&ty.params).map(|(text, ty)| parse_value(text, *ty)).collect::<Result<Vec<_>, _>>()?;
        let handles = self.pool.call_all(export, args.clone());
        for counter in self.running.iter() {
            counter.fetch_add(1, Ordering::SeqCst);
        }
        let workers: Vec<usize> = (0..handles.len()).collect();
        self.out.line(&obj! {"reply": "run", "export": export, "args": show_all(&args), "workers": workers});
        for (worker, handle) in handles.into_iter().enumerate() {
            let (out, running) = (self.out.clone(), self.running.clone());
            let waiter = thread::Builder::new().name(format!("onecopy-debug-wait-{worker}")).spawn(move || {
                out.line(&outcome(worker, handle.wait()));
                running[worker].fetch_sub(1, Ordering::SeqCst);
            });
            self.waiters.push(waiter.map_err(|e| format!("cannot start a thread: {e}"))?);
        }
        Ok(())
    }

    /// The next stop of `worker` (or any), as an event; an error when
    /// nothing can stop any more or after the wait timeout.
    fn wait(&mut self, worker: Option<usize>) -> Result<Obj, String> {
        let workers = self.pool.workers();
        if let Some(w) = worker {
            if w >= workers {
                return Err(format!("no worker {w}: the pool has {workers}"));
            }
            if self.session.stopped().contains(&w) {
                return Err(format!("worker {w} is already stopped"));
            }
        }
        let who = worker.map_or("any worker".to_string(), |w| format!("worker {w}"));
        let deadline = Instant::now() + self.wait_timeout;
        loop {
            let now = Instant::now();
            if let Some(stop) = self.session.wait(worker, WAIT_SLICE.min(deadline.saturating_duration_since(now))) {
                return Ok(self.stopped_event(&stop));
            }
            // A worker can stop only while it runs a call and is not stopped already.
            let stopped = self.session.stopped();
            let can_stop = (0..workers)
                .filter(|w| worker.is_none_or(|x| x == *w))
                .any(|w| self.running[w].load(Ordering::SeqCst) > 0 && !stopped.contains(&w));
            if !can_stop || self.detached {
                // A stop sent just before its call finished counting is still due.
                if let Some(stop) = self.session.wait(worker, Duration::from_millis(1)) {
                    return Ok(self.stopped_event(&stop));
                }
                return Err(match (worker, self.detached) {
                    (_, true) => format!("{who} cannot stop: the session is detached"),
                    (Some(w), false) => format!("worker {w} cannot stop: it runs no call"),
                    (None, false) => "no worker can stop: none runs a call without being stopped already".into(),
                });
            }
            if Instant::now() >= deadline {
                return Err(format!("{who} did not stop within {} ms", self.wait_timeout.as_millis()));
            }
        }
    }

    /// A function index, from an index or a name.
    fn func(&self, text: &str) -> Result<u32, String> {
        let info = self.module.info();
        let count = info.funcs.len() as u32;
        if let Ok(index) = text.parse::<u32>() {
            return if index < count { Ok(index) } else { Err(format!("no function {index}: the module has {count}")) };
        }
        (0..count)
            .find(|f| info.func_name(*f) == Some(text))
            .or_else(|| info.func_names.iter().find(|(_, name)| *name == text).map(|(f, _)| *f))
            .ok_or_else(|| format!("no function named `{text}`"))
    }

    fn name(&self, func: u32) -> Option<&str> {
        self.module.info().func_name(func)
    }

    fn sites(&self, func: u32) -> Vec<&Site> {
        self.module.sites().iter().filter(|s| s.func == func).collect()
    }

    /// A stop as an event, with its source line when the module has DWARF.
    fn stopped_event(&self, stop: &onecopy_workers::DebugEvent) -> Obj {
        let event = stopped_event(stop);
        match self.lines.location(stop.wasm_offset) {
            Some(row) => event.with("file", &row.file).with("line", &row.line),
            None => event,
        }
    }

    /// A frame (or breakpoint location) as the replies show it.
    fn frame(&self, func: u32, offset: u32) -> Frame<'_> {
        let row = self.lines.location(offset);
        Frame { func, name: self.name(func), offset, file: row.map(|r| r.file.as_str()), line: row.map(|r| r.line) }
    }

    /// The breakable points where the code of `line` of `file` starts.
    fn line_sites(&self, file: &str, line: u32) -> Result<Vec<(u32, u32)>, String> {
        if self.lines.is_empty() {
            return Err("the module has no line table (.debug_line): build it with -g".into());
        }
        let mut places: Vec<(u32, u32)> = self.lines.offsets(file, line).into_iter().filter_map(|o| self.sites.at_or_after(o)).collect();
        places.dedup();
        if places.is_empty() {
            return Err(format!("no code for {file}:{line}"));
        }
        Ok(places)
    }

    /// The function and offset of a location; no offset: the entry site.
    fn location(&self, at: &Location) -> Result<(u32, u32), String> {
        let (func, offset) = match at {
            Location::Code { func, offset } => (func, offset),
            Location::Line { file, line } => {
                return self.line_sites(file, *line).map(|places| places[0]);
            }
        };
        let func = self.func(func)?;
        if let Some(offset) = *offset {
            return Ok((func, offset));
        }
        let sites = self.sites(func);
        let entry = sites.iter().find(|s| s.kind == SiteKind::Entry).or(sites.first());
        let entry = entry.ok_or_else(|| format!("function {func} has no breakable points (an import?)"))?;
        Ok((func, entry.wasm_offset))
    }
}
