//! Disagreements the fuzzer found that are not fixed yet, each with a note
//! in `tests/known-bugs/`. Ignored, because each still fails (or crashes
//! the test process); run with `--ignored` to check a fix.

use onecopy_differential::{check, Engines, Verdict};

#[test]
#[ignore = "known bug: step mode reads a funcref local from a wrong location (tests/known-bugs/step-reads-funcref-param.txt)"]
fn step_mode_reads_a_funcref_param_at_a_loop_header() {
    let engines = Engines::new().expect("engines");
    for name in ["step-reads-funcref-param", "step-reads-funcref-param-seed-269", "step-reads-funcref-param-campaign-2000000"] {
        let path = format!("{}/tests/known-bugs/{name}.wasm", env!("CARGO_MANIFEST_DIR"));
        let wasm = std::fs::read(&path).expect("the module");
        let verdict = check(&engines, &wasm, 1);
        assert!(matches!(verdict, Verdict::Agreed { .. }), "{name}: {verdict:?}");
    }
}
