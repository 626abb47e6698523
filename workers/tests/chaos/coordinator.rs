//! The coordinator: owns the debug session and, at random, sets and clears
//! breakpoints, pauses, steps, holds workers stopped, and reads and writes
//! what a debugger can, checking what it reads back.

use std::fmt;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use onecopy_workers::runtime::{Module, StopReason};
use onecopy_workers::{CallHandle, DebugEvent, DebugSession, GlobalRef, Resume, Target, Value, Who, WorkerPool};

use crate::common::{sites, Rng};
use crate::{Progress, FUNCS, SCRATCH, WAIT, WORKERS};

/// A breakpoint the coordinator set.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Breakpoint {
    who: Who,
    func: u32,
    offset: u32,
}

/// Stops seen, by reason.
#[derive(Debug, Default)]
pub struct Stops {
    pub breakpoint: usize,
    pub step: usize,
    pub pause: usize,
}

/// The coordinator: owns the session and does random things to the workers.
pub struct Coordinator<'a> {
    session: DebugSession,
    rng: Rng,
    progress: &'a Progress,
    /// Breakable points of each function of `FUNCS`.
    sites: Vec<Vec<u32>>,
    breakpoints: Vec<Breakpoint>,
    /// What each worker's scratch bytes hold (the coordinator is the only writer).
    scratch: Vec<[u8; SCRATCH]>,
    /// Workers asked to pause whose pause no stop has consumed yet.
    pause_owed: Vec<bool>,
    /// Workers kept stopped for a while (several stopped at once).
    held: Vec<usize>,
    stops: Stops,
}

impl Coordinator<'_> {
    /// A coordinator over `session`, whose workers run `module`.
    pub fn new<'a>(session: DebugSession, seed: u64, progress: &'a Progress, module: &Module) -> Coordinator<'a> {
        Coordinator {
            session,
            rng: Rng::new(seed),
            progress,
            sites: FUNCS.iter().map(|(_, f)| sites(module, *f)).collect(),
            breakpoints: Vec::new(),
            scratch: vec![[0; SCRATCH]; WORKERS],
            pause_owed: vec![false; WORKERS],
            held: Vec::new(),
            stops: Stops::default(),
        }
    }

    fn note(&self, action: impl Into<String>) {
        *self.progress.last.lock().unwrap() = action.into();
    }

    fn random_worker(&mut self) -> usize {
        self.rng.below(WORKERS as u64) as usize
    }

    fn random_who(&mut self, all_percent: u64) -> Who {
        if self.rng.chance(all_percent) {
            Who::All
        } else {
            Who::Worker(self.random_worker())
        }
    }

    /// Forget what `who` no longer has after `clear_all`: breakpoints and a pending pause.
    fn cleared(&mut self, who: Who) {
        match who {
            Who::All => {
                self.breakpoints.clear();
                self.pause_owed.fill(false);
            }
            Who::Worker(w) => {
                self.breakpoints.retain(|b| b.who != Who::Worker(w));
                self.pause_owed[w] = false;
            }
        }
    }

    /// One random change to breakpoints or pauses.
    fn act(&mut self) -> Result<(), String> {
        let roll = self.rng.below(100);
        let fail = |what: &str, e: onecopy_workers::DebugError| format!("{what}: {e}");
        match roll {
            0..=24 if self.breakpoints.len() < 6 => {
                let f = self.rng.below(FUNCS.len() as u64) as usize;
                let offset = *self.rng.pick(&self.sites[f]);
                let who = self.random_who(5);
                let bp = Breakpoint { who, func: FUNCS[f].1, offset };
                self.note(format!("set {bp:?}"));
                self.session.set_breakpoint(who, bp.func, offset).map_err(|e| fail("set_breakpoint", e))?;
                self.breakpoints.push(bp);
            }
            25..=44 if !self.breakpoints.is_empty() => {
                let i = self.rng.below(self.breakpoints.len() as u64) as usize;
                let bp = self.breakpoints.swap_remove(i);
                self.note(format!("clear {bp:?}"));
                self.session.clear_breakpoint(bp.who, bp.func, bp.offset).map_err(|e| fail("clear_breakpoint", e))?;
            }
            45..=47 => {
                let who = self.random_who(20);
                self.note(format!("clear_all {who:?}"));
                self.session.clear_all(who).map_err(|e| fail("clear_all", e))?;
                self.cleared(who);
            }
            48..=59 => {
                let who = self.random_who(3);
                self.note(format!("pause {who:?}"));
                self.session.pause(who).map_err(|e| fail("pause", e))?;
                match who {
                    Who::All => self.pause_owed.fill(true),
                    Who::Worker(w) => self.pause_owed[w] = true,
                }
            }
            60..=62 => {
                let w = self.random_worker();
                self.note(format!("cancel_pause {w}"));
                self.session.cancel_pause(Who::Worker(w)).map_err(|e| fail("cancel_pause", e))?;
                self.pause_owed[w] = false;
            }
            _ => {}
        }
        Ok(())
    }

    /// Look at a stopped worker the way a debugger does, writing only
    /// values that leave the program's results as they were.
    fn inspect(&mut self, stop: &DebugEvent) -> Result<(), String> {
        let w = stop.worker;
        let at = format!("worker {w} stopped in {:?} at {:#x} ({:?})", stop.name, stop.wasm_offset, stop.kind);
        let fail = |what: &str, e: &dyn fmt::Display| format!("{at}: {what}: {e}");
        self.note(format!("inspect: {at}"));
        let (name, _) = FUNCS.iter().find(|(_, f)| *f == stop.func).ok_or_else(|| format!("{at}: not a kernel"))?;
        if stop.name.as_deref() != Some(*name) {
            return Err(format!("{at}: function {} is {name}", stop.func));
        }
        let frames = self.session.backtrace(w).map_err(|e| fail("backtrace", &e))?;
        match frames.first() {
            Some(top) if (top.func, top.wasm_offset) == (stop.func, stop.wasm_offset) => {}
            _ => return Err(format!("{at}: backtrace {frames:?} does not start at the stop")),
        }
        let locals = self.session.frame_locals(w, 0).map_err(|e| fail("locals", &e))?;
        for (i, local) in locals.iter().enumerate() {
            if let Some(value) = local.value {
                if value.ty() != local.ty {
                    return Err(format!("{at}: local {i} is a {:?} holding {value:?}", local.ty));
                }
                self.session.set_local(w, i as u32, value).map_err(|e| fail("set_local", &e))?;
            }
        }
        let again = self.session.frame_locals(w, 0).map_err(|e| fail("locals again", &e))?;
        if again != locals {
            return Err(format!("{at}: locals {locals:?} read back as {again:?}"));
        }
        if frames.len() > 1 {
            self.session.frame_locals(w, 1).map_err(|e| fail("the caller's locals", &e))?;
        }
        if self.rng.chance(40) {
            let stack = self.session.stack(w).map_err(|e| fail("stack", &e))?;
            for (i, operand) in stack.iter().enumerate() {
                if let Some(value) = operand.value {
                    self.session.set_stack(w, i as u32, value).map_err(|e| fail("set_stack", &e))?;
                }
            }
            let again = self.session.stack(w).map_err(|e| fail("stack again", &e))?;
            if again != stack {
                return Err(format!("{at}: operands {stack:?} read back as {again:?}"));
            }
        }
        let scratch = self.session.memory(w, 0, SCRATCH as u32).map_err(|e| fail("read scratch", &e))?;
        if scratch != self.scratch[w] {
            return Err(format!("{at}: scratch memory is {scratch:?}, the debugger last wrote {:?}", self.scratch[w]));
        }
        if self.rng.chance(50) {
            let mut bytes = [0u8; SCRATCH];
            bytes.iter_mut().for_each(|b| *b = self.rng.next() as u8);
            self.session.write_memory(w, 0, bytes.to_vec()).map_err(|e| fail("write scratch", &e))?;
            let back = self.session.memory(w, 0, SCRATCH as u32).map_err(|e| fail("read scratch back", &e))?;
            if back != bytes {
                return Err(format!("{at}: wrote {bytes:?} to scratch, read back {back:?}"));
            }
            self.scratch[w] = bytes;
        }
        let calls = GlobalRef::Name("calls".into());
        let count = self.session.global(w, calls.clone(), None).map_err(|e| fail("read global", &e))?;
        let written = self.session.global(w, calls, Some(count)).map_err(|e| fail("write global", &e))?;
        if written != count {
            return Err(format!("{at}: global `calls` written as {count:?} reads {written:?}"));
        }
        Ok(())
    }

    /// Let a stopped worker go on, in a random way.
    fn resume(&mut self, w: usize) -> Result<(), String> {
        let how = match self.rng.below(100) {
            0..=54 => Resume::Continue,
            55..=69 => Resume::StepInto,
            70..=83 => Resume::StepOver,
            84..=97 => Resume::StepOut,
            _ => Resume::Detach,
        };
        // A pause asked of a stopped worker must outlive the resume's
        // change of stepping (the runtime once lost it there).
        if how != Resume::Detach && self.rng.chance(15) {
            self.note(format!("pause the stopped worker {w}"));
            self.session.pause(Who::Worker(w)).map_err(|e| format!("pause {w}: {e}"))?;
            self.pause_owed[w] = true;
        }
        self.note(format!("resume {w} {how:?}"));
        self.session.resume(w, how).map_err(|e| format!("resume {w}: {e}"))?;
        if how == Resume::Detach {
            // A worker's own detach clears its breakpoints and pause.
            self.cleared(Who::Worker(w));
        }
        Ok(())
    }

    /// Take one stop, if one comes soon: inspect it, then resume it or hold it.
    fn take_stop(&mut self) -> Result<(), String> {
        let Some(stop) = self.session.wait(None, Duration::from_millis(2)) else { return Ok(()) };
        self.progress.stops.fetch_add(1, Ordering::Relaxed);
        // Any stop takes the worker's pending pause with it.
        self.pause_owed[stop.worker] = false;
        match stop.kind {
            StopReason::Breakpoint => self.stops.breakpoint += 1,
            StopReason::Step => self.stops.step += 1,
            StopReason::Pause => self.stops.pause += 1,
        }
        self.inspect(&stop)?;
        if self.held.len() < 4 && self.rng.chance(25) {
            self.held.push(stop.worker);
            Ok(())
        } else {
            self.resume(stop.worker)
        }
    }

    /// Resume some of the held workers, after another look at them.
    fn release_held(&mut self) -> Result<(), String> {
        let mut i = 0;
        while i < self.held.len() {
            if self.rng.chance(30) {
                let w = self.held.swap_remove(i);
                self.session.locals(w).map_err(|e| format!("held worker {w}: locals: {e}"))?;
                self.resume(w)?;
            } else {
                i += 1;
            }
        }
        Ok(())
    }

    /// Until the driver is done: act, take stops, release held workers.
    pub fn run(&mut self) -> Result<(), String> {
        while !self.progress.done.load(Ordering::Relaxed) {
            self.act()?;
            self.take_stop()?;
            self.release_held()?;
        }
        Ok(())
    }

    /// With the driver done and every worker idle: clear the breakpoints
    /// (not the pauses), then run one call on every worker; a worker still
    /// owed a pause must stop for it. Then detach.
    pub fn finish(mut self, pool: &WorkerPool) -> Result<Stops, String> {
        self.note("finish: clear breakpoints");
        for bp in std::mem::take(&mut self.breakpoints) {
            self.session.clear_breakpoint(bp.who, bp.func, bp.offset).map_err(|e| format!("clear {bp:?}: {e}"))?;
        }
        if !self.held.is_empty() || !self.session.stopped().is_empty() {
            return Err(format!("workers {:?} are stopped though every call returned", self.session.stopped()));
        }
        let owed = self.pause_owed.clone();
        self.note(format!("finish: deliver the pauses owed to {:?}", (0..WORKERS).filter(|w| owed[*w]).collect::<Vec<_>>()));
        let mut calls: Vec<Option<CallHandle>> =
            (0..WORKERS).map(|w| Some(pool.call(Target::Worker(w), "fib", vec![Value::I32(6)]))).collect();
        let mut first_stop: Vec<Option<StopReason>> = vec![None; WORKERS];
        let deadline = Instant::now() + WAIT;
        while calls.iter().any(Option::is_some) {
            if Instant::now() > deadline {
                return Err(format!(
                    "finish: calls on workers {:?} did not return",
                    (0..WORKERS).filter(|w| calls[*w].is_some()).collect::<Vec<_>>()
                ));
            }
            if let Some(stop) = self.session.wait(None, Duration::from_millis(1)) {
                first_stop[stop.worker].get_or_insert(stop.kind);
                self.session.resume(stop.worker, Resume::Continue).map_err(|e| format!("finish: resume: {e}"))?;
            }
            for (w, slot) in calls.iter_mut().enumerate() {
                if let Some(handle) = slot.take() {
                    match handle.wait_timeout(Duration::ZERO) {
                        Ok(Ok(r)) if r == [Value::I32(8)] => {}
                        Ok(other) => return Err(format!("finish: fib(6) on worker {w} gave {other:?}")),
                        Err(handle) => *slot = Some(handle),
                    }
                }
            }
        }
        for w in (0..WORKERS).filter(|w| owed[*w]) {
            if first_stop[w] != Some(StopReason::Pause) {
                return Err(format!("worker {w} was asked to pause, but its next call stopped {:?}", first_stop[w]));
            }
        }
        self.note("finish: detach");
        self.session.detach();
        Ok(self.stops)
    }
}
