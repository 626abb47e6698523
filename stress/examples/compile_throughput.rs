//! Compile throughput on the largest module of a .wast script (or a
//! .wasm/.wat file): MB of wasm per second with one compile thread and with
//! all cores, measured side by side in one run.
//!
//! `cargo run --release --example compile_throughput -- ../shared/spec-testsuite`

use std::path::Path;
use std::time::Instant;

use onecopy_runtime::{Config, Engine, Module};

/// Every binary module in `path` (a .wast file or a folder of them, or one .wasm/.wat).
fn modules(path: &Path) -> Vec<Vec<u8>> {
    if path.is_dir() {
        let mut all = Vec::new();
        for entry in std::fs::read_dir(path).expect("read folder") {
            all.extend(modules(&entry.expect("entry").path()));
        }
        return all;
    }
    let text = std::fs::read_to_string(path).unwrap_or_default();
    if path.extension().is_some_and(|e| e == "wasm") {
        return vec![std::fs::read(path).expect("read wasm")];
    }
    if path.extension().is_some_and(|e| e == "wat") {
        return vec![wat::parse_str(&text).expect("parse wat")];
    }
    if path.extension().is_none_or(|e| e != "wast") {
        return vec![];
    }
    let Ok(buf) = wast::parser::ParseBuffer::new(&text) else { return vec![] };
    let Ok(script) = wast::parser::parse::<wast::Wast>(&buf) else { return vec![] };
    script
        .directives
        .into_iter()
        .filter_map(|d| match d {
            wast::WastDirective::Module(mut m) => m.encode().ok(),
            _ => None,
        })
        .collect()
}

fn throughput(wasm: &[u8], parallel: bool, debug: bool, rounds: u32) -> f64 {
    let engine = Engine::new(&Config::new().parallel_compilation(parallel).debug(debug)).expect("engine");
    let start = Instant::now();
    for _ in 0..rounds {
        Module::new(&engine, wasm).expect("compiles");
    }
    (wasm.len() as f64 * rounds as f64) / start.elapsed().as_secs_f64() / 1e6
}

fn main() {
    let path = std::env::args().nth(1).unwrap_or_else(|| "../shared/spec-testsuite".into());
    let largest = modules(Path::new(&path)).into_iter().max_by_key(Vec::len).expect("a module");
    let rounds = (20_000_000 / largest.len().max(1)).clamp(3, 200) as u32;
    println!("largest module: {} bytes, {rounds} compiles per measurement", largest.len());
    for debug in [false, true] {
        let one = throughput(&largest, false, debug, rounds);
        let all = throughput(&largest, true, debug, rounds);
        println!("debug={debug}: 1 thread {one:.2} MB/s, all cores {all:.2} MB/s (x{:.2})", all / one);
    }
    println!("reproduce: cargo run --release --example compile_throughput -- {path}");
}
