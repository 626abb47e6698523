//! The oracle comparison on handwritten modules: agreement where the
//! engines agree (traps included), and a disagreement reported where two
//! runs really differ, so that a campaign's "no failures" means something.

use onecopy_differential::compare::first_difference;
use onecopy_differential::outcome::{Observed, State, Step, TrapClass, Value};
use onecopy_differential::{check, Engines, Verdict};

fn agreed(wat: &str) -> usize {
    let engines = Engines::new().expect("engines");
    match check(&engines, &wat::parse_str(wat).expect("valid text"), 7) {
        Verdict::Agreed { calls } => calls,
        other => panic!("expected agreement, got {other:?}"),
    }
}

#[test]
fn every_mode_agrees_on_results_traps_globals_and_memory() {
    let calls = agreed(
        r#"(module
          (memory (export "mem") 1 2)
          (global $g (export "count") (mut i32) (i32.const 0))
          (func (export "bump") (param i32) (result i32)
            (global.set $g (i32.add (global.get $g) (i32.const 1)))
            (i32.store (i32.const 16) (local.get 0))
            (i32.mul (local.get 0) (i32.const 3)))
          (func (export "div") (result i32) (i32.div_s (i32.const 1) (i32.const 0)))
          (func (export "oob") (i32.store (i32.const 70000) (i32.const 1)))
          (func (export "grow") (result i32) (memory.grow (i32.const 5)))
          (func (export "nan") (result f32) (f32.div (f32.const 0) (f32.const 0))))"#,
    );
    // Two rounds of five exports.
    assert_eq!(calls, 10);
}

#[test]
fn deep_recursion_ends_the_comparison_without_a_failure() {
    let calls = agreed(r#"(module (func $f (export "down") (call $f)) (func (export "after") (result i32) (i32.const 1)))"#);
    // The call that exhausted the stack is made; the one after it is not compared.
    assert!(calls >= 1);
}

fn run(steps: Vec<(Step, State)>) -> Result<Vec<Observed>, String> {
    Ok(steps.into_iter().map(|(step, state)| Observed { what: "call f".into(), step, state }).collect())
}

#[test]
fn differences_in_values_traps_globals_and_memories_are_reported() {
    let state = State::default();
    let returned = |v| Step::Returned(vec![Value::I32(v)]);
    let base = run(vec![(returned(1), state.clone())]);
    assert_eq!(first_difference(&base, &base), None);
    assert!(first_difference(&base, &run(vec![(returned(2), state.clone())])).is_some());
    assert!(first_difference(&base, &run(vec![(Step::Trapped(TrapClass::Unreachable), state.clone())])).is_some());
    let global = State { globals: vec![("g".into(), Value::I64(1))], ..State::default() };
    assert!(first_difference(&base, &run(vec![(returned(1), global)])).is_some());
    let memory = State { memories: vec![("m".into(), 65536, 42)], ..State::default() };
    assert!(first_difference(&base, &run(vec![(returned(1), memory)])).is_some());
    assert!(first_difference(&base, &Err("refused".into())).is_some());
    // Any NaN equals any NaN; other float bits must match.
    let nan = |bits| run(vec![(Step::Returned(vec![Value::F32(bits)]), State::default())]);
    assert_eq!(first_difference(&nan(0x7fc0_0000), &nan(0xffc0_0001)), None);
    assert!(first_difference(&nan(0x3f80_0000), &nan(0x3f80_0001)).is_some());
    // Exhaustion on one side ends the comparison.
    let exhausted = run(vec![(Step::Trapped(TrapClass::StackOverflow), state)]);
    assert_eq!(first_difference(&base, &exhausted), None);
}
