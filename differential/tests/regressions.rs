//! Every module in `tests/regressions/` (minimized from a fuzzing
//! disagreement, its `.txt` saying what differed) agrees with the oracle
//! in every mode now; and a fixed seed range does, as a smoke run.

use onecopy_differential::{check, generate, Engines, Verdict};

#[test]
fn saved_disagreements_agree_now() {
    let engines = Engines::new().expect("engines");
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/regressions");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).expect("the regressions folder") {
        let path = entry.expect("an entry").path();
        let wasm = match path.extension().and_then(|e| e.to_str()) {
            Some("wat") => wat::parse_file(&path).expect("valid text"),
            Some("wasm") => std::fs::read(&path).expect("readable"),
            _ => continue,
        };
        let verdict = check(&engines, &wasm, 0);
        assert!(matches!(verdict, Verdict::Agreed { .. }), "{}: {verdict:?}", path.display());
        checked += 1;
    }
    assert!(checked > 0, "no regression modules in {}", dir.display());
}

#[test]
fn a_fixed_seed_range_agrees() {
    let engines = Engines::new().expect("engines");
    let mut compared = 0;
    for seed in 0..40u64 {
        let Ok(wasm) = generate::module(seed) else { continue };
        match check(&engines, &wasm, seed) {
            Verdict::Disagreed { mode, message } => panic!("seed {seed}, mode {}: {message}", mode.name()),
            Verdict::Agreed { .. } => compared += 1,
            Verdict::OracleRefused(_) => {}
        }
    }
    assert!(compared >= 30, "only {compared} of 40 seeds gave comparable modules");
}
