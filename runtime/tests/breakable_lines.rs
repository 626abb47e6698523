//! `Breakable::Lines`: debug code with breakable points where the module's
//! DWARF line table marks statements (and at each loop's start), on the
//! LLDB tests' C program (`squares.c`, clang-19 `-g -O0`).

use std::collections::BTreeSet;

use onecopy_runtime::lines::LineTable;
use onecopy_runtime::{Breakable, Config, Engine, Module, SiteKind};

fn squares() -> Vec<u8> {
    std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../stress/tests/lldb/squares.wasm")).unwrap()
}

/// The offsets of `wasm`'s instruction sites when compiled with `breakable`.
fn sites(wasm: &[u8], breakable: Breakable) -> BTreeSet<u32> {
    let engine = Engine::new(&Config::new().debug(true).breakable(breakable)).unwrap();
    let module = Module::new(&engine, wasm).unwrap();
    module.sites().iter().filter(|s| s.kind == SiteKind::Instruction).map(|s| s.wasm_offset).collect()
}

#[test]
fn sites_are_the_line_tables_statements_and_far_fewer_than_wasm_statements() {
    let wasm = squares();
    let statements: BTreeSet<u32> = LineTable::new(&wasm).unwrap().statements().into_iter().collect();
    let (lines, every, wasm_statements) =
        (sites(&wasm, Breakable::Lines), sites(&wasm, Breakable::Instructions), sites(&wasm, Breakable::Statements));
    // Every statement row at an instruction boundary is a site...
    let expected: BTreeSet<u32> = statements.intersection(&every).copied().collect();
    assert!(!expected.is_empty());
    assert!(expected.is_subset(&lines), "missing: {:?}", expected.difference(&lines).collect::<Vec<_>>());
    // ...and the others are instruction boundaries too: loops' starts
    // (wasi-libc's functions, without line rows, have many), and the first
    // instruction after a statement row that is at a `block` or `loop`.
    assert!(lines.is_subset(&every));
    let others = lines.difference(&statements).count();
    let carried = statements.difference(&every).count();
    assert!(others <= loops(&wasm) + carried, "{others} sites are neither line statements nor loop starts");
    assert!(lines.len() * 3 < wasm_statements.len() * 2, "{} line sites, {} statement sites", lines.len(), wasm_statements.len());
}

const BODY: &str = "(func (param i32) (result i32) (local.set 0 (i32.add (local.get 0) (i32.const 1))) (local.get 0))";

#[test]
fn without_a_line_table_sites_are_at_wasm_statements() {
    let wasm = wat::parse_str(format!("(module {BODY})")).unwrap();
    assert_eq!(sites(&wasm, Breakable::Lines), sites(&wasm, Breakable::Statements));
}

#[test]
fn a_line_table_that_does_not_parse_leaves_sites_at_wasm_statements() {
    let wasm = wat::parse_str(format!(r#"(module (@custom ".debug_info" "\ff\ff\ff\ff\01\02") {BODY})"#)).unwrap();
    assert!(LineTable::new(&wasm).is_err(), "the table is garbage");
    assert_eq!(sites(&wasm, Breakable::Lines), sites(&wasm, Breakable::Statements));
}

/// How many `loop`s the module's code has.
fn loops(wasm: &[u8]) -> usize {
    let mut loops = 0;
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        if let wasmparser::Payload::CodeSectionEntry(body) = payload.unwrap() {
            let ops = body.get_operators_reader().unwrap().into_iter();
            loops += ops.filter(|op| matches!(op, Ok(wasmparser::Operator::Loop { .. }))).count();
        }
    }
    loops
}
