//! A debugger's writes to locals take effect exactly as if the program had
//! made them: for every breakable point of a function and every local, a
//! handler stepping through the function writes the local at that point
//! (each time it is reached), and the result must equal that of the same
//! program with `local.set` of that value inserted before the point's
//! operator, run as normal code. Writes the runtime refuses (the local's
//! value is never read again there) must then make no difference either.

use std::cell::RefCell;
use std::rc::Rc;

use onecopy_runtime::{Config, DebugAction, Engine, Instance, Module, Store, Val, ValType};
use wasm_encoder::reencode::Reencode;

const PROGRAM: &str = r#"(module
  (func $helper (param i32) (result i32) (i32.add (local.get 0) (i32.const 3)))
  (func (export "f") (param $n i32) (param $x i64) (result i64)
    (local $i i32) (local $acc i64) (local $f f64) (local $g f32) (local $t i32)
    (local.set $f (f64.const 1.5))
    (local.set $g (f32.const 2))
    (local.set $acc (local.get $x))
    (block $done
      (loop $l
        (br_if $done (i32.ge_s (local.get $i) (local.get $n)))
        (local.set $t (call $helper (local.get $i)))
        (if (i32.and (local.get $t) (i32.const 1))
          (then (local.set $acc (i64.add (local.get $acc) (i64.extend_i32_s (local.get $t)))))
          (else (local.set $acc (i64.mul (local.get $acc) (i64.const 3)))))
        (local.set $f (f64.add (local.get $f) (f64.convert_i32_s (local.get $i))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $l)))
    (i64.add (local.get $acc)
      (i64.add (i64.trunc_f64_s (local.get $f)) (i64.trunc_f32_s (local.get $g))))))"#;

/// More live values than registers in a loop: locals are spilled and
/// reloaded, so writes must reach the copies the code reads back. (Its loop
/// counts up to its bound, so writing either ends the loop.)
fn pressure_program() -> String {
    let n = 16;
    let locals: String = (0..n).map(|_| "(local i64)").collect::<Vec<_>>().join(" ");
    let local = |k: usize| k + 3;
    let init: String = (0..n).map(|k| format!("(local.set {} (i64.add (local.get 1) (i64.const {k})))", local(k))).collect();
    let step: String =
        (0..n).map(|k| format!("(local.set {} (i64.add (local.get {}) (local.get {})))", local(k), local(k), local((k + 1) % n))).collect();
    let sum = (1..n).fold(format!("(local.get {})", local(0)), |acc, k| format!("(i64.xor {acc} (local.get {}))", local(k)));
    format!(
        r#"(module (func $unused) (func (export "f") (param i32) (param i64) (result i64) (local i32) {locals}
            {init}
            (block $done (loop $l
              (br_if $done (i32.ge_s (local.get 2) (local.get 0)))
              {step}
              (local.set 2 (i32.add (local.get 2) (i32.const 1)))
              (br $l)))
            {sum}))"#
    )
}

/// The function under test (in both programs) and its arguments.
const FUNC: u32 = 1;
const ARGS: (i32, i64) = (5, 2);

/// What a write stores into a local of each type: big enough to end the
/// loop early when written to its counter or bound, small enough to
/// truncate.
fn value_for(ty: ValType) -> Val {
    match ty {
        ValType::I32 => Val::I32(100),
        ValType::I64 => Val::I64(7),
        ValType::F32 => Val::from(7.25f32),
        ValType::F64 => Val::from(7.25f64),
        _ => unreachable!("the program has numeric locals only"),
    }
}

/// The program with `local.set local (const value)` inserted before the
/// operator at `wasm_offset` of function `func`.
fn with_write(wasm: &[u8], func: u32, wasm_offset: u32, local: u32, value: &Val) -> Vec<u8> {
    struct Insert {
        body: u32,
        target: u32,
        offset: u32,
        extra: Vec<wasm_encoder::Instruction<'static>>,
    }
    impl Reencode for Insert {
        type Error = std::convert::Infallible;
        fn parse_function_body(
            &mut self,
            code: &mut wasm_encoder::CodeSection,
            func: wasmparser::FunctionBody<'_>,
        ) -> Result<(), wasm_encoder::reencode::Error<Self::Error>> {
            let mut f = self.new_function_with_parsed_locals(&func)?;
            let mut reader = func.get_operators_reader()?;
            while !reader.eof() {
                let at = reader.original_position() as u32;
                if self.body == self.target && at == self.offset {
                    for ins in &self.extra {
                        f.instruction(ins);
                    }
                }
                f.instruction(&self.parse_instruction(&mut reader)?);
            }
            code.function(&f);
            self.body += 1;
            Ok(())
        }
    }
    let constant = match *value {
        Val::I32(v) => wasm_encoder::Instruction::I32Const(v),
        Val::I64(v) => wasm_encoder::Instruction::I64Const(v),
        Val::F32(bits) => wasm_encoder::Instruction::F32Const(f32::from_bits(bits).into()),
        Val::F64(bits) => wasm_encoder::Instruction::F64Const(f64::from_bits(bits).into()),
        _ => unreachable!(),
    };
    // The module imports no functions: body k is function k.
    let mut insert =
        Insert { body: 0, target: func, offset: wasm_offset, extra: vec![constant, wasm_encoder::Instruction::LocalSet(local)] };
    let mut module = wasm_encoder::Module::new();
    insert.parse_core_module(&mut module, wasmparser::Parser::new(0), wasm).unwrap();
    module.finish()
}

fn call(store: &mut Store<()>, instance: Instance) -> i64 {
    instance.get_typed_func::<(i32, i64), i64>(&*store, "f").unwrap().call(store, ARGS).unwrap()
}

#[test]
fn writing_any_local_at_any_site_while_stepping_is_what_the_program_would_have_done() {
    check_every_write(PROGRAM, 12);
}

#[test]
fn writes_reach_spilled_and_reloaded_copies_under_register_pressure() {
    check_every_write(&pressure_program(), 20);
}

fn check_every_write(program: &str, min_sites: usize) {
    let wasm = wat::parse_str(program).unwrap();
    let normal = Engine::new(&Config::new()).unwrap();
    let debug = Module::new(&Engine::new(&Config::new().debug(true)).unwrap(), &wasm).unwrap();
    let sites: Vec<(u32, u32)> = debug.function_sites(FUNC).iter().map(|s| (s.id, s.wasm_offset)).collect();
    let locals = debug.compiled().func_locals[FUNC as usize].clone();
    assert!(sites.len() >= min_sites, "{} sites", sites.len());
    let (mut written, mut refused) = (0, 0);
    for &(site, offset) in &sites {
        for (local, ty) in locals.iter().enumerate() {
            let value = value_for(*ty);
            let oracle = Module::new(&normal, with_write(&wasm, FUNC, offset, local as u32, &value)).unwrap();
            let mut oracle_store = Store::new(&normal, ());
            let oracle_instance = Instance::new(&mut oracle_store, &oracle, &[]).unwrap();
            let expected = call(&mut oracle_store, oracle_instance);

            let mut store = Store::new(debug.engine(), ());
            let instance = Instance::new(&mut store, &debug, &[]).unwrap();
            let outcome = Rc::new(RefCell::new(Vec::new()));
            let log = outcome.clone();
            instance.debug(&mut store).unwrap().set_handler(move |frame| {
                if frame.site.id == site {
                    let result = frame.set_local(local, value).map_err(|e| e.to_string());
                    if result.is_ok() {
                        let back = frame.local(local).map(|v| format!("{v:?}"));
                        assert_eq!(back, Some(format!("{value:?}")), "a written local reads back");
                    }
                    log.borrow_mut().push(result);
                }
                DebugAction::Step
            });
            instance.debug(&mut store).unwrap().set_stepping(true);
            let got = call(&mut store, instance);
            let outcome = outcome.borrow();
            assert!(!outcome.is_empty(), "site {site} was never reached");
            let accepted = outcome.iter().all(|r| r.is_ok());
            assert_eq!(
                got,
                expected,
                "writing local {local} at site {site} (offset {offset:#x}): {:?}",
                outcome.iter().find(|r| r.is_err())
            );
            for refusal in outcome.iter().filter_map(|r| r.as_ref().err()) {
                assert!(refusal.contains("never read again"), "local {local} at site {site}: {refusal}");
            }
            if accepted {
                written += 1;
            } else {
                refused += 1;
            }
        }
    }
    // Most locals are live at most sites; the test would prove little if
    // nearly every write were refused.
    assert!(written > 3 * refused, "{written} writes taken, {refused} refused");
}
