//! Hostile input: every module of a mutation corpus built here from the
//! spec suite's modules (truncations, bit flips, splices, oversized counts
//! and limits), and a few built to be huge (100,000 nested blocks, 50,000
//! locals, a `br_table` of 100,000 targets, a 1 MB function body), compiles
//! as normal and as debug code and instantiates, or fails, with a clear
//! error or trap: no panic, abort, hang or runaway memory. Nothing of the
//! corpus is committed; it is made again, the same from its seed, on each
//! run. Children (`onecopy check-inputs`) try the inputs, batches of the
//! mutated ones in a child each and each huge one in a child of its own,
//! so each child's peak RSS is the memory bound's subject; times are
//! printed, never asserted.
//!
//! The bounds. Measured on the 2-core CI machine (1,126 spec modules, 8,624
//! mutants, each compiled in both modes): a batch child peaks at 108 MB at
//! most (40 MB of it the two engines and the process), worst mutant 1.5 s
//! (a table of 10,000,000 elements); the huge inputs peak at 40 MB (50,000
//! locals, 0.2 s), 81 MB (the `br_table`, 1.1 s), 114 MB (the nesting,
//! 1.6 s) and 349 MB (the 1 MB body, 9.9 s, most of it debug code's 150,000
//! sites). Asserted: each batch's child stays under [`BATCH_BOUND`] (2.4x
//! the measured peak), each huge input's under [`HUGE_BOUND`] (2.2x). A child that has not finished after
//! [`HANG_SECONDS`] is killed and counted as a hang; that is a bound of
//! minutes on what takes well under a second, not a timing assertion.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use onecopy_differential::rng::Rng;
use serde_json::Value;
use wasm_encoder::{BlockType, CodeSection, Function, FunctionSection, Instruction, Module, TypeSection, ValType};

/// The suite, shared beside the workspace.
const SUITE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/spec-testsuite");

/// Peak RSS allowed to a child trying one batch of mutated spec modules.
const BATCH_BOUND: u64 = 256 << 20;

/// Peak RSS allowed to a child compiling one huge input (in both modes).
const HUGE_BOUND: u64 = 768 << 20;

/// Mutated modules per child.
const BATCH: usize = 400;

/// A child still running after this long has hung.
const HANG_SECONDS: u64 = 300;

/// The suite's modules, as binaries, in file order.
fn spec_modules() -> Vec<Vec<u8>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(SUITE)
        .expect("the spec suite")
        .map(|e| e.expect("an entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "wast"))
        .collect();
    files.sort();
    let mut modules = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("readable script");
        let mut lexer = wast::lexer::Lexer::new(&text);
        lexer.allow_confusing_unicode(true);
        let Ok(buffer) = wast::parser::ParseBuffer::new_with_lexer(lexer) else { continue };
        let Ok(script) = wast::parser::parse::<wast::Wast>(&buffer) else { continue };
        for directive in script.directives {
            if let wast::WastDirective::Module(mut module) = directive {
                if let Ok(bytes) = module.encode() {
                    modules.push(bytes);
                }
            }
        }
    }
    modules
}

/// An unsigned LEB128.
fn leb(mut v: u64) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return out;
        }
        out.push(byte | 0x80);
    }
}

/// Read an unsigned LEB128 at `*at`, moving past it.
fn read_leb(bytes: &[u8], at: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *bytes.get(*at)?;
        *at += 1;
        v |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

/// The sections of a module: `(id, payload start, payload end)`.
fn sections(wasm: &[u8]) -> Vec<(u8, usize, usize)> {
    let mut at = 8;
    let mut out = Vec::new();
    while at < wasm.len() {
        let id = wasm[at];
        at += 1;
        let Some(size) = read_leb(wasm, &mut at) else { break };
        let end = at + size as usize;
        if end > wasm.len() {
            break;
        }
        out.push((id, at, end));
        at = end;
    }
    out
}

/// `wasm` with the section at `index` given `payload` instead.
fn replace_section(wasm: &[u8], (id, start, end): (u8, usize, usize), payload: &[u8]) -> Vec<u8> {
    let header_start = wasm[..start].len() - leb((end - start) as u64).len() - 1;
    let mut out = wasm[..header_start].to_vec();
    out.push(id);
    out.extend(leb(payload.len() as u64));
    out.extend(payload);
    out.extend(&wasm[end..]);
    out
}

/// A vector section's item count replaced by `count`.
fn oversized_count(wasm: &[u8], rng: &mut Rng, count: u64) -> Option<Vec<u8>> {
    let vectors: Vec<_> = sections(wasm).into_iter().filter(|s| (1..=11).contains(&s.0) && s.0 != 8).collect();
    let section = *vectors.get(rng.next() as usize % vectors.len().max(1))?;
    let mut at = section.1;
    read_leb(wasm, &mut at)?;
    let mut payload = leb(count);
    payload.extend(wasm.get(at..section.2)?);
    Some(replace_section(wasm, section, &payload))
}

/// The first table's or memory's limits replaced by `min` (and no maximum).
fn oversized_limit(wasm: &[u8], id: u8, min: u64) -> Option<Vec<u8>> {
    let section = sections(wasm).into_iter().find(|s| s.0 == id)?;
    let mut at = section.1;
    let count = read_leb(wasm, &mut at)?;
    if count == 0 {
        return None;
    }
    let mut payload = leb(count);
    if id == 4 {
        payload.push(*wasm.get(at)?); // the element type
        at += 1;
    }
    let flags = *wasm.get(at)?;
    at += 1;
    read_leb(wasm, &mut at)?;
    if flags & 1 != 0 {
        read_leb(wasm, &mut at)?;
    }
    payload.push(0);
    payload.extend(leb(min));
    payload.extend(wasm.get(at..section.2)?);
    Some(replace_section(wasm, section, &payload))
}

/// The mutations of module `index` of `modules`.
fn mutations(modules: &[Vec<u8>], index: usize, rng: &mut Rng) -> Vec<Vec<u8>> {
    let wasm = &modules[index];
    let mut out = Vec::new();
    for _ in 0..2 {
        out.push(wasm[..rng.next() as usize % wasm.len()].to_vec());
    }
    for flips in [1, 8] {
        let mut flipped = wasm.clone();
        for _ in 0..flips {
            let bit = rng.next() as usize % (flipped.len() * 8);
            flipped[bit / 8] ^= 1 << (bit % 8);
        }
        out.push(flipped);
    }
    let other = &modules[rng.next() as usize % modules.len()];
    let mut spliced = wasm[..rng.next() as usize % wasm.len()].to_vec();
    spliced.extend(&other[rng.next() as usize % other.len()..]);
    out.push(spliced);
    out.extend(oversized_count(wasm, rng, u64::from(u32::MAX)));
    out.extend(oversized_count(wasm, rng, 1 << 20));
    out.extend(oversized_limit(wasm, 5, 65_536));
    out.extend(oversized_limit(wasm, 5, u64::from(u32::MAX)));
    out.extend(oversized_limit(wasm, 4, u64::from(u32::MAX)));
    out.extend(oversized_limit(wasm, 4, 10_000_000));
    out
}

/// A module of one function `(param i32) (result i32)` with `locals` extra
/// i32 locals and `body` (which must end with `end`).
fn one_function(locals: u32, body: &[Instruction]) -> Vec<u8> {
    let mut module = Module::new();
    let mut types = TypeSection::new();
    types.ty().function([ValType::I32], [ValType::I32]);
    module.section(&types);
    let mut funcs = FunctionSection::new();
    funcs.function(0);
    module.section(&funcs);
    let mut code = CodeSection::new();
    let mut f = Function::new([(locals, ValType::I32)]);
    for i in body {
        f.instruction(i);
    }
    code.function(&f);
    module.section(&code);
    module.finish()
}

/// The huge inputs, by name.
fn huge_inputs() -> Vec<(&'static str, Vec<u8>)> {
    let nested = |depth: usize| {
        let mut body = vec![Instruction::Block(BlockType::Empty); depth];
        body.extend(vec![Instruction::End; depth]);
        body.extend([Instruction::LocalGet(0), Instruction::End]);
        one_function(0, &body)
    };
    let locals =
        |n: u32| one_function(n, &[Instruction::I32Const(7), Instruction::LocalSet(n), Instruction::LocalGet(n), Instruction::End]);
    let br_table = {
        let mut body = vec![Instruction::Block(BlockType::Empty), Instruction::LocalGet(0)];
        body.push(Instruction::BrTable(vec![0; 100_000].into(), 0));
        body.extend([Instruction::End, Instruction::LocalGet(0), Instruction::End]);
        one_function(0, &body)
    };
    // 7 bytes a statement: local.get 0, i32.const 1, i32.add, local.set 0.
    let megabyte = {
        let mut body = Vec::new();
        for _ in 0..(1 << 20) / 7 {
            body.extend([Instruction::LocalGet(0), Instruction::I32Const(1), Instruction::I32Add, Instruction::LocalSet(0)]);
        }
        body.extend([Instruction::LocalGet(0), Instruction::End]);
        one_function(0, &body)
    };
    vec![
        ("100,000 nested blocks", nested(100_000)),
        ("50,000 locals", locals(49_999)),
        ("50,001 locals (over the limit)", locals(50_000)),
        ("br_table of 100,000 targets", br_table),
        ("1 MB function body", megabyte),
    ]
}

/// Run `onecopy check-inputs` on `files`; its report, or why it failed.
fn check(files: &[PathBuf]) -> Result<Value, String> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_onecopy"))
        .arg("check-inputs")
        .args(files)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start onecopy");
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("poll the child") {
            break status;
        }
        if start.elapsed() > Duration::from_secs(HANG_SECONDS) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("hung: still running after {HANG_SECONDS} s"));
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let output = child.wait_with_output().expect("the child's output");
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !status.success() {
        let last = stderr.lines().rev().find(|l| l.starts_with("input ")).unwrap_or("(before any input)");
        return Err(format!("{status} at {last}: {}", stderr.lines().last().unwrap_or("")));
    }
    serde_json::from_slice(&output.stdout).map_err(|e| format!("no JSON report ({e}): {stderr}"))
}

fn write_all(dir: &Path, name: &str, modules: &[Vec<u8>]) -> Vec<PathBuf> {
    modules
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let path = dir.join(format!("{name}-{i}.wasm"));
            std::fs::write(&path, m).expect("write an input");
            path
        })
        .collect()
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("a count, got {v}"))
}

/// Assert a child's report: nothing unclear, memory within `bound`.
fn assert_clear(what: &str, report: &Value, bound: u64) {
    let unclear = report["unclear"].as_array().expect("unclear");
    assert!(unclear.is_empty(), "{what}: not a clear error or trap: {unclear:?}");
    let peak = u(&report["peak_rss_bytes"]);
    assert!(peak <= bound, "{what}: peak RSS {:.1} MB over the bound {:.1} MB", peak as f64 / 1e6, bound as f64 / 1e6);
}

#[test]
fn hostile_modules_give_clear_errors_within_bounds() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("hostile-input");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch folder");
    let modules = spec_modules();
    assert!(modules.len() > 500, "only {} spec modules", modules.len());
    let mut rng = Rng::new(12);
    let corpus: Vec<Vec<u8>> = (0..modules.len()).flat_map(|i| mutations(&modules, i, &mut rng)).collect();
    let files = write_all(&dir, "mutant", &corpus);

    let mut rows = Vec::new();
    let (mut inputs, mut worst_ms, mut worst_file, mut peak) = (0, 0.0f64, String::new(), 0);
    let mut failures = Vec::new();
    for (n, batch) in files.chunks(BATCH).enumerate() {
        match check(batch) {
            Ok(report) => {
                if let Err(e) = std::panic::catch_unwind(|| assert_clear(&format!("batch {n}"), &report, BATCH_BOUND)) {
                    failures.push(format!("batch {n}: {e:?}"));
                }
                inputs += u(&report["inputs"]);
                peak = peak.max(u(&report["peak_rss_bytes"]));
                if report["worst_ms"].as_f64().unwrap_or(0.0) > worst_ms {
                    worst_ms = report["worst_ms"].as_f64().unwrap_or(0.0);
                    worst_file = report["worst_file"].as_str().unwrap_or("").to_string();
                }
                rows.push(format!("batch {n:>2}: {} inputs, {}", report["inputs"], report["outcomes"]));
            }
            Err(e) => failures.push(format!("batch {n}: {e}")),
        }
    }
    println!("{} spec modules, {inputs} mutated inputs, {} batches", modules.len(), rows.len());
    for row in &rows {
        println!("  {row}");
    }
    println!(
        "mutants: worst {worst_ms:.1} ms ({worst_file}), peak RSS {:.1} MB (bound {:.0} MB)",
        peak as f64 / 1e6,
        BATCH_BOUND as f64 / 1e6
    );
    assert_eq!(inputs as usize, corpus.len(), "every input tried");

    for (name, wasm) in huge_inputs() {
        let path = dir.join(format!("huge-{}.wasm", name.split(' ').next().unwrap_or("x").replace(',', "")));
        std::fs::write(&path, &wasm).expect("write an input");
        match check(std::slice::from_ref(&path)) {
            Ok(report) => {
                println!(
                    "{name:<32} {:>8} bytes: {:>8.1} ms, peak RSS {:>7.1} MB, {}",
                    wasm.len(),
                    report["worst_ms"].as_f64().unwrap_or(0.0),
                    u(&report["peak_rss_bytes"]) as f64 / 1e6,
                    report["outcomes"]
                );
                if let Err(e) = std::panic::catch_unwind(|| assert_clear(name, &report, HUGE_BOUND)) {
                    failures.push(format!("{name}: {e:?}"));
                }
            }
            Err(e) => failures.push(format!("{name}: {e}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
