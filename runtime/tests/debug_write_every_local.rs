//! Step mode, writing every local at every stop: a handler single-steps a
//! function (and the helper it calls) and at each stop reads every local
//! and writes it back changed by a key (never zero) of that stop and
//! local. The function's result is a checksum of all its locals.
//!
//! The expected result comes from a twin of the program written in Rust,
//! stopping at the same breakable points, which replays the handler's log:
//! at each stop the twin checks that the debugger read exactly the twin's
//! value of each local, then applies the same write. So a write that is
//! lost, lands in another local, or reaches some copies of a value and not
//! others shows up as a wrong read at a later stop or a wrong checksum,
//! and the stops must come in the twin's order (branches taken on written
//! values go the same way).
//!
//! Some locals are unavailable at some stops (their value is never read
//! again): those must be refused as such, and each must really be dead:
//! the twin, replayed with that one local changed at that one stop, must
//! still stop in the same places and return the same result. At the exit,
//! with the results on the stack, every declared local is dead and the
//! parameters are kept alive (they stay readable to the end).

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use onecopy_runtime::{Config, DebugAction, Engine, Instance, Module, SiteKind, Store, Val};

const PROGRAM: &str = r#"(module
  (func $mix (param $x i64) (param $y i32) (result i64) (local $t i64)
    (local.set $t (i64.mul (local.get $x) (i64.const 6364136223846793005)))
    (i64.add (local.get $t) (i64.extend_i32_s (local.get $y))))
  (func (export "f") (param $p i32) (param $q i64) (param $r f32) (param $s f64) (result i64)
    (local $a i32) (local $b i64) (local $c f32) (local $d f64) (local $i i32) (local $e i32) (local $g i64)
    (local.set $a (i32.add (local.get $p) (i32.const 7)))
    (local.set $b (i64.mul (local.get $q) (i64.extend_i32_s (local.get $a))))
    (local.set $c (f32.add (local.get $r) (f32.convert_i32_s (local.get $a))))
    (local.set $d (f64.mul (local.get $s) (f64.promote_f32 (local.get $c))))
    (loop $l
      (local.set $e (i32.xor (local.get $a) (local.get $i)))
      (if (i32.and (local.get $e) (i32.const 1))
        (then (local.set $b (i64.add (local.get $b) (i64.extend_i32_u (local.get $e)))))
        (else (local.set $d (f64.add (local.get $d) (f64.convert_i32_s (local.get $e))))))
      (local.set $c (f32.mul (local.get $c) (f32.const 0.5)))
      (local.set $g (call $mix (local.get $b) (local.get $a)))
      (local.set $a (i32.add (local.get $a) (i32.wrap_i64 (local.get $g))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const 100))))
    ;; FNV-style: (h ^ x) * prime over every local, each step a bijection
    ;; of x, so a change to any one local changes the result.
    i64.const FNV_OFFSET
    CHECKSUM))"#;

/// Each of f's locals in order, and the conversion the checksum makes of
/// it to 64 bits.
const CHECKSUMMED: [(&str, &str); 11] = [
    ("$p", "i64.extend_i32_u"),
    ("$q", ""),
    ("$r", "i32.reinterpret_f32 i64.extend_i32_u"),
    ("$s", "i64.reinterpret_f64"),
    ("$a", "i64.extend_i32_u"),
    ("$b", ""),
    ("$c", "i32.reinterpret_f32 i64.extend_i32_u"),
    ("$d", "i64.reinterpret_f64"),
    ("$i", "i64.extend_i32_u"),
    ("$e", "i64.extend_i32_u"),
    ("$g", ""),
];

/// The program's text, its checksum filled in (the twin uses the same
/// constants).
fn program() -> String {
    let steps: Vec<String> =
        CHECKSUMMED.iter().map(|(local, to_i64)| format!("local.get {local} {to_i64} i64.xor i64.const {FNV_PRIME} i64.mul")).collect();
    PROGRAM.replace("FNV_OFFSET", &(FNV_OFFSET as i64).to_string()).replace("CHECKSUM", &steps.join("\n    "))
}

/// Function indices.
const MIX: u32 = 0;
const F: u32 = 1;
/// Parameters of `f` and of `$mix` (their first locals).
const F_PARAMS: usize = 4;
const MIX_PARAMS: usize = 2;

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 1_099_511_628_211;

/// What the handler saw and did with one local at one stop.
#[derive(Debug, Clone)]
enum Seen {
    /// Read `read`, wrote `wrote`.
    Written { read: Val, wrote: Val },
    /// Read `read`, but the write was refused.
    Refused { read: Val, why: String },
    /// Unavailable: no value to read, and a write was refused with `why`.
    Unavailable { why: String },
}

/// One stop: function, breakable point (index among the function's), locals.
#[derive(Debug, Clone)]
struct Stop {
    func: u32,
    site: usize,
    exit: bool,
    locals: Vec<Seen>,
}

/// The change written at stop `n` into local `local`: never zero, so a lost
/// write always shows (and a doubled one, as twice the change).
fn key(n: usize, local: usize) -> i64 {
    1 + ((n * 5 + local * 3) % 4) as i64
}

/// `value` changed by `key`, in its own type (the floats stay exact).
fn bump(value: &Val, key: i64) -> Val {
    match *value {
        Val::I32(v) => Val::I32(v.wrapping_add(key as i32)),
        Val::I64(v) => Val::I64(v.wrapping_add(key * 1_000_003)),
        Val::F32(bits) => Val::from(f32::from_bits(bits) + key as f32 * 0.25),
        Val::F64(bits) => Val::from(f64::from_bits(bits) + key as f64 * 0.125),
        ref other => panic!("the program has numeric locals only, got {other:?}"),
    }
}

/// A value's type and bits, to compare values (floats by their bits).
fn bits(value: &Val) -> (char, u64) {
    match *value {
        Val::I32(v) => ('i', v as u32 as u64),
        Val::I64(v) => ('I', v as u64),
        Val::F32(v) => ('f', u64::from(v)),
        Val::F64(v) => ('F', v),
        ref other => panic!("the program has numeric locals only, got {other:?}"),
    }
}

/// Run `f(args)` stepping, the handler writing every local at every stop.
fn run_debugged(module: &Module, args: (i32, i64, f32, f64)) -> (i64, Vec<Stop>) {
    let mut store = Store::new(module.engine(), ());
    let instance = Instance::new(&mut store, module, &[]).unwrap();
    let sites: HashMap<u32, (u32, usize)> =
        [MIX, F].into_iter().flat_map(|func| module.function_sites(func).iter().enumerate().map(move |(i, s)| (s.id, (func, i)))).collect();
    let log = Rc::new(RefCell::new(Vec::new()));
    let record = log.clone();
    let debug = instance.debug(&mut store).unwrap();
    debug.set_handler(move |frame| {
        // No asserting in here: everything is checked after the call.
        let n = record.borrow().len();
        let &(func, site) = sites.get(&frame.site.id).expect("a site of f or mix");
        let mut locals = Vec::new();
        for local in 0..frame.local_types.len() {
            let seen = match frame.local(local) {
                Some(read) => {
                    let wrote = bump(&read, key(n, local));
                    match frame.set_local(local, wrote) {
                        Ok(()) => Seen::Written { read, wrote },
                        Err(e) => Seen::Refused { read, why: e.to_string() },
                    }
                }
                None => {
                    let any = Val::default_for(frame.local_types[local]);
                    let why = frame.set_local(local, any).map_or_else(|e| e.to_string(), |()| "the write was taken".into());
                    Seen::Unavailable { why }
                }
            };
            locals.push(seen);
        }
        let exit = frame.site.kind == SiteKind::Exit;
        record.borrow_mut().push(Stop { func, site, exit, locals });
        DebugAction::Step
    });
    debug.set_stepping(true);
    let f = instance.get_typed_func::<(i32, i64, f32, f64), i64>(&store, "f").unwrap();
    let result = f.call(&mut store, args).unwrap();
    let log = log.borrow().clone();
    (result, log)
}

/// The twin's side of the replay: the debugger's log (none: the twin runs
/// as the plain program), how far into it the twin is, and the first
/// difference from it.
struct Replay<'a> {
    log: Option<&'a [Stop]>,
    next: usize,
    /// Check the twin's values against the debugger's reads (off when a
    /// local has been changed on purpose, see [`check_dead`]).
    check: bool,
    /// Change this (stop, local) to test that it is dead.
    perturb: Option<(usize, usize)>,
    /// The first difference; the twin runs on as the plain program.
    error: Option<String>,
}

impl Replay<'_> {
    /// The twin is at breakable point `site` of `func` with `locals`: check
    /// it is where the debugged run stopped next, check the reads, apply
    /// the writes.
    fn stop(&mut self, func: u32, site: usize, locals: &mut [Val]) {
        let (Some(log), None) = (self.log, &self.error) else { return };
        let n = self.next;
        self.next += 1;
        let Some(stop) = log.get(n).filter(|s| (s.func, s.site) == (func, site)) else {
            let there = log.get(n).map(|s| format!("{}:{}", s.func, s.site));
            self.error = Some(format!("stop {n}: the twin is at {func}:{site}, the debugged run was at {there:?}"));
            return;
        };
        for (i, seen) in stop.locals.iter().enumerate() {
            match seen {
                Seen::Written { read, wrote } => {
                    let twin = bits(&locals[i]);
                    if self.check && (bits(read) != twin || bits(wrote) != bits(&bump(read, key(n, i)))) {
                        self.error = Some(format!(
                            "stop {n} ({func}:{site}): local {i} read {read:?}, wrote {wrote:?}; the twin has {:?}",
                            locals[i]
                        ));
                        return;
                    }
                    locals[i] = bump(&locals[i], key(n, i));
                }
                Seen::Refused { .. } => {}
                Seen::Unavailable { .. } => {
                    if self.perturb == Some((n, i)) {
                        locals[i] = bump(&locals[i], 1 << 20);
                    }
                }
            }
        }
    }

    /// The first difference from the log, if any.
    fn finish(self) -> Result<(), String> {
        match (self.error, self.log) {
            (Some(e), _) => Err(e),
            (None, Some(log)) if self.next != log.len() => {
                Err(format!("the twin stopped {} times, the debugged run {}", self.next, log.len()))
            }
            _ => Ok(()),
        }
    }
}

/// A local's value as the twin computes with it.
trait Local: Copy {
    fn to_val(self) -> Val;
    fn from_val(v: &Val) -> Self;
}

/// `Local` for a type kept in `Val::$variant` as `$x`, converted by `$from`.
macro_rules! local {
    ($t:ty, $variant:ident, $x:ident => $from:expr) => {
        impl Local for $t {
            fn to_val(self) -> Val {
                Val::from(self)
            }
            fn from_val(v: &Val) -> Self {
                match *v {
                    Val::$variant($x) => $from,
                    ref other => panic!("expected {}, got {other:?}", stringify!($t)),
                }
            }
        }
    };
}
local!(i32, I32, x => x);
local!(i64, I64, x => x);
local!(f32, F32, x => f32::from_bits(x));
local!(f64, F64, x => f64::from_bits(x));

/// Stop the twin at breakable point `$site` of `$func`: its locals go
/// through the replay (in local-index order) and come back written.
macro_rules! stop {
    ($replay:expr, $func:expr, $site:expr; $($local:ident),+) => {{
        let mut locals = vec![$(Local::to_val($local)),+];
        $replay.stop($func, $site, &mut locals);
        let mut back = locals.iter();
        $($local = Local::from_val(back.next().expect("as many locals back"));)+
    }};
}

/// `$mix`, in Rust, stopping where the debugged code does.
#[allow(unused_assignments)] // a write at the exit changes nothing, as in wasm
fn twin_mix(replay: &mut Replay, mut x: i64, mut y: i32) -> i64 {
    let mut t = 0i64;
    stop!(replay, MIX, 0; x, y, t);
    t = x.wrapping_mul(6364136223846793005);
    stop!(replay, MIX, 1; x, y, t);
    let result = t.wrapping_add(i64::from(y));
    stop!(replay, MIX, 2; x, y, t);
    result
}

/// `f`, in Rust, stopping where the debugged code does.
#[allow(unused_assignments)] // as in `twin_mix`
fn twin_f(replay: &mut Replay, (mut p, mut q, mut r, mut s): (i32, i64, f32, f64)) -> i64 {
    let (mut a, mut b, mut c, mut d, mut i, mut e, mut g) = (0i32, 0i64, 0f32, 0f64, 0i32, 0i32, 0i64);
    macro_rules! at {
        ($site:expr) => {
            stop!(replay, F, $site; p, q, r, s, a, b, c, d, i, e, g)
        };
    }
    at!(0);
    a = p.wrapping_add(7);
    at!(1);
    b = q.wrapping_mul(i64::from(a));
    at!(2);
    c = r + a as f32;
    at!(3);
    d = s * f64::from(c);
    loop {
        at!(4);
        e = a ^ i;
        at!(5);
        if e & 1 != 0 {
            at!(6);
            b = b.wrapping_add(i64::from(e as u32));
        } else {
            at!(7);
            d += f64::from(e);
        }
        at!(8);
        c *= 0.5;
        at!(9);
        g = twin_mix(replay, b, a);
        at!(10);
        a = a.wrapping_add(g as i32);
        at!(11);
        i = i.wrapping_add(1);
        at!(12);
        if (i as u32) >= 100 {
            break;
        }
    }
    at!(13);
    let locals = [
        p as u32 as u64,
        q as u64,
        u64::from(r.to_bits()),
        s.to_bits(),
        a as u32 as u64,
        b as u64,
        u64::from(c.to_bits()),
        d.to_bits(),
        i as u32 as u64,
        e as u32 as u64,
        g as u64,
    ];
    let sum = locals.iter().fold(FNV_OFFSET, |h, x| (h ^ x).wrapping_mul(FNV_PRIME)) as i64;
    at!(14);
    sum
}

/// Replay `log` through the twin (none: no debugger); its result, or the
/// first difference from the log.
fn replay(log: Option<&[Stop]>, args: (i32, i64, f32, f64), check: bool, perturb: Option<(usize, usize)>) -> Result<i64, String> {
    let mut replay = Replay { log, next: 0, check, perturb, error: None };
    let result = twin_f(&mut replay, args);
    replay.finish().map(|()| result)
}

/// Local `local` at stop `n` was unavailable: it must be dead there, so
/// changing it changes neither where the twin stops nor its result.
fn check_dead(log: &[Stop], args: (i32, i64, f32, f64), expected: i64, n: usize, local: usize) {
    let outcome = replay(Some(log), args, false, Some((n, local)));
    assert_eq!(outcome, Ok(expected), "f{args:?}: local {local} was unavailable at stop {n}, but changing it there changes the run");
}

#[test]
fn every_local_written_at_every_stop_reaches_the_code_that_reads_it() {
    let wasm = wat::parse_str(program()).unwrap();
    let module = Module::new(&Engine::new(&Config::new().debug(true)).unwrap(), &wasm).unwrap();
    let normal = Module::new(&Engine::new(&Config::new()).unwrap(), &wasm).unwrap();
    // The twins' site numbers: f's entry is its first statement's point.
    assert_eq!(module.function_sites(F).len(), 15, "f's breakable points are the twin's at!(0..=14)");
    assert_eq!(module.function_sites(MIX).len(), 3);
    let (mut written, mut unavailable, mut visited) = (0, 0, [false; 15]);
    for args in [(3, 5, 1.5, -2.25), (-40, 1 << 40, 1e3, 7.0), (12_345, -9, -0.5, 1e-3)] {
        let (got, log) = run_debugged(&module, args);
        // Without a debugger the twin is the program itself.
        let mut store = Store::new(normal.engine(), ());
        let plain = Instance::new(&mut store, &normal, &[]).unwrap().get_typed_func::<(i32, i64, f32, f64), i64>(&store, "f").unwrap();
        assert_eq!(Ok(plain.call(&mut store, args).unwrap()), replay(None, args, true, None), "f{args:?}: the twin is not the program");
        let expected = replay(Some(&log), args, true, None).unwrap_or_else(|e| panic!("f{args:?}: {e}"));
        assert_eq!(got, expected, "f{args:?}: the debugged result differs from the twin's, replaying the same writes");
        for (n, stop) in log.iter().enumerate() {
            if stop.func == F {
                visited[stop.site] = true;
            }
            for (local, seen) in stop.locals.iter().enumerate() {
                match seen {
                    Seen::Written { .. } => written += 1,
                    Seen::Refused { read, why } => {
                        panic!("stop {n} ({}:{}): local {local} reads {read:?} but cannot be written: {why}", stop.func, stop.site)
                    }
                    Seen::Unavailable { why } => {
                        assert!(why.contains("never read again"), "stop {n}: local {local} unavailable, its write: {why}");
                        check_dead(&log, args, expected, n, local);
                        unavailable += 1;
                    }
                }
                let param = local < if stop.func == F { F_PARAMS } else { MIX_PARAMS };
                if stop.exit {
                    assert_eq!(matches!(seen, Seen::Written { .. }), param, "stop {n}, the exit of {}: local {local}: {seen:?}", stop.func);
                }
            }
        }
    }
    assert!(visited.iter().all(|v| *v), "every point of f was stopped at (both arms of the `if` ran): {visited:?}");
    println!("{written} writes taken, {unavailable} locals unavailable (each checked dead)");
    assert!(written > 3 * unavailable, "{written} writes taken, {unavailable} unavailable: the test would prove little");
}
