//! Debug compile at scale: one function of 100,000 breakable points, with
//! few locals and with a thousand, compiles in debug mode within a memory
//! bound linear in its size. Each compile runs in a child process of its
//! own (`onecopy bench compile-one`), so each peak RSS is that compile's.
//! Compile times are printed beside normal code's, never asserted (the
//! machine is shared).
//!
//! The bound. Measured on the 2-core CI machine (peak RSS of the child,
//! identical to 0.1 MB from run to run; `--generate sites=S,locals=L`,
//! about 8 values live at each point):
//!
//! | sites   | locals | normal   | debug    | (debug - normal) / sites |
//! |---------|--------|----------|----------|--------------------------|
//! |  50,000 |  1,000 |  43.6 MB | 128.4 MB | 1.69 KB                  |
//! | 100,000 |     32 |  71.8 MB | 241.9 MB | 1.70 KB                  |
//! | 100,000 |  1,000 |  74.8 MB | 245.8 MB | 1.71 KB                  |
//! | 100,000 |  4,000 |  84.0 MB | 255.3 MB | 1.71 KB                  |
//! | 200,000 |  1,000 | 137.4 MB | 478.9 MB | 1.71 KB                  |
//!
//! Debug code compiles the same function as normal code plus, per site, a
//! guard of a few IR instructions and the site's record; so debug's peak
//! is normal's plus a cost per site, 1.69-1.71 KB whatever the number of
//! locals (32 to 4,000) or sites (50,000 to 200,000). The bound is
//! `normal peak + 2.5 KB x sites` (about 1.5x the measured slope, for
//! other allocators and libc versions): 325 MB here against 246 MB
//! measured. A cost per site and local (the break block design of issue 9,
//! whose compile reached 23.5 GB) of even one byte adds 100 MB at 1,000
//! locals and fails it; so does a site cost grown by half. (Issue 9's
//! target, at most 2x normal's peak, is not met on these functions, every
//! statement of which is a site: debug peaks at 3.3x normal.)

use std::process::Command;

use serde_json::Value;

/// Breakable points of each generated function.
const SITES: u64 = 100_000;

/// Debug compile's allowance per site beyond normal compile's peak (see the
/// module doc).
const BYTES_PER_SITE: u64 = 2_500;

/// `onecopy bench compile-one --mode MODE --generate SPEC`: what the child measured.
fn compile_one(mode: &str, spec: &str) -> Value {
    let output = Command::new(env!("CARGO_BIN_EXE_onecopy"))
        .args(["bench", "compile-one", "--mode", mode, "--generate", spec])
        .output()
        .expect("start onecopy");
    assert!(output.status.success(), "{mode} {spec}: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{mode} {spec}: one JSON object ({e})"))
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("a count, got {v}"))
}

/// Compile `spec` as normal and as debug code; debug's peak within the bound.
fn compiles_within_the_bound(spec: &str) {
    let normal = compile_one("normal", spec);
    let debug = compile_one("debug", spec);
    assert_eq!(u(&normal["sites"]), 0);
    assert_eq!(u(&debug["sites"]), SITES, "the generator makes exactly the sites asked for");
    assert_eq!((u(&normal["functions"]), u(&debug["functions"])), (1, 1));
    let mb = |v: &Value| u(v) as f64 / 1e6;
    let (normal_peak, debug_peak) = (u(&normal["peak_rss_bytes"]), u(&debug["peak_rss_bytes"]));
    let bound = normal_peak + BYTES_PER_SITE * SITES;
    println!(
        "{spec}: normal compile {:.0} ms, peak {:.1} MB; debug compile {:.0} ms, peak {:.1} MB ({:.2} KB per site more); bound {:.1} MB",
        normal["compile_ms"].as_f64().unwrap(),
        mb(&normal["peak_rss_bytes"]),
        debug["compile_ms"].as_f64().unwrap(),
        mb(&debug["peak_rss_bytes"]),
        debug_peak.saturating_sub(normal_peak) as f64 / SITES as f64 / 1e3,
        bound as f64 / 1e6,
    );
    assert!(
        debug_peak <= bound,
        "{spec}: debug compile peaked at {:.1} MB, over normal's {:.1} MB + {BYTES_PER_SITE} bytes x {SITES} sites",
        debug_peak as f64 / 1e6,
        normal_peak as f64 / 1e6
    );
}

#[test]
fn a_function_of_100000_sites_and_32_locals_compiles_as_debug_code_in_bounded_memory() {
    compiles_within_the_bound("sites=100000,locals=32");
}

#[test]
fn a_function_of_100000_sites_and_1000_locals_compiles_as_debug_code_in_bounded_memory() {
    compiles_within_the_bound("sites=100000,locals=1000");
}
