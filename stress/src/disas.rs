//! `onecopy disas`: one function's machine code as compiled in one mode, as
//! it sits in the code arena, with debug code's breakable points marked.
//!
//! The listing must not depend on where the arena placed the code (golden
//! files compare it byte for byte): offsets are relative to the function's
//! start, and a branch out of the function is named for what it reaches
//! (`<func 3>`, `<trap tail + 7>`) instead of an address.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use iced_x86::{Decoder, DecoderOptions, Formatter, Instruction, IntelFormatter, MemorySizeOptions, OpKind, SymbolResolver, SymbolResult};
use onecopy_runtime::{Config, Engine, Module};

/// Arguments of `onecopy disas`.
#[derive(Debug, clap::Args)]
pub struct DisasArgs {
    /// A `.wasm` binary or a `.wat` text module.
    pub file: PathBuf,
    /// The function, by index in the wasm function index space (imports first).
    #[arg(long)]
    pub func: u32,
    /// Debug code: a breakpoint guard at every breakable point.
    #[arg(long)]
    pub debug: bool,
    /// Legacy clone-and-patch debug code (implies --debug): the shared copy,
    /// its sites' patchable calls NOPed out.
    #[arg(long)]
    pub legacy: bool,
}

/// Alignment of functions in a module's code (the linker pads with zeros).
const FUNC_ALIGN: usize = 16;

/// Compile the module and print the function's listing.
pub fn main(args: &DisasArgs) -> Result<()> {
    let wasm = crate::run::load(&args.file)?;
    let config = Config::new().debug(args.debug || args.legacy).legacy(args.legacy);
    let module = Module::new(&Engine::new(&config)?, &wasm).with_context(|| format!("cannot compile {}", args.file.display()))?;
    print!("{}", listing(&module, args.func)?);
    Ok(())
}

/// Function `func`'s listing: a header, then one `offset  bytes  text` line
/// per instruction (trap sites named after it), with `;;` lines marking
/// sites and where guards resume.
pub fn listing(module: &Module, func: u32) -> Result<String> {
    let compiled = module.compiled();
    let imported = compiled.info.imported_funcs;
    let defined = compiled.func_offsets.len() as u32;
    if func < imported {
        bail!("function {func} is imported: it has no code in this module");
    }
    let Some(i) = func.checked_sub(imported).filter(|i| *i < defined).map(|i| i as usize) else {
        bail!("no function {func}: the module has {} functions ({imported} imported)", imported + defined);
    };
    let start = compiled.func_offsets[i] as usize;
    let end = function_end(module, i);
    // SAFETY: the module's code stays mapped readable while `module` lives,
    // and `start..end` lies within its `code.len()` bytes.
    let all = unsafe { std::slice::from_raw_parts(compiled.code.as_ptr().add(start), end - start) };
    // Zeros up to the next function are the linker's alignment, not code.
    let padding = if i + 1 < compiled.func_offsets.len() || compiled.legacy.is_some() {
        all.iter().rev().take(FUNC_ALIGN - 1).take_while(|b| **b == 0).count()
    } else {
        0
    };
    let bytes = &all[..all.len() - padding];
    let notes = notes(module, func, start as u32);

    let mode = match (&compiled.debug_code, &compiled.legacy) {
        (Some(_), _) => "debug",
        (None, Some(_)) => "legacy",
        (None, None) => "normal",
    };
    let sites = module.function_sites(func).len();
    let mut out = format!(";; function {func}: {:#x} bytes of {mode} code, {sites} sites\n", bytes.len());
    let mut formatter = IntelFormatter::with_options(Some(Box::new(Targets::new(module, start, bytes.len()))), None);
    let options = formatter.options_mut();
    options.set_space_after_operand_separator(true);
    options.set_hex_prefix("0x");
    options.set_hex_suffix("");
    options.set_uppercase_hex(false);
    options.set_show_branch_size(false);
    options.set_branch_leading_zeros(false);
    // Guards read 4-byte entries: say so on every memory operand.
    options.set_memory_size_options(MemorySizeOptions::Always);
    let mut pending = notes.into_iter().peekable();
    for ins in Decoder::with_ip(64, bytes, 0, DecoderOptions::NONE) {
        // Notes keyed inside an instruction (none should be) still show, just before it.
        while let Some((_, note)) = pending.next_if(|(at, _)| u64::from(*at) <= ins.ip()) {
            out += &note;
        }
        let at = ins.ip() as usize;
        let hex: Vec<String> = bytes[at..at + ins.len()].iter().map(|b| format!("{b:02x}")).collect();
        let mut text = String::new();
        formatter.format(&ins, &mut text);
        if let Some(trap) = compiled.trap_at((start + at) as u32) {
            write!(text, "  ; trap: {:?}", trap.kind).expect("writing to a String");
        }
        if compiled.debug_code.as_ref().and_then(|d| d.stop_site((start + at) as u32)).is_some() {
            text += "  ; debug stop";
        }
        writeln!(out, "{at:#6x}  {:<30}  {text}", hex.join(" ")).expect("writing to a String");
    }
    for (_, note) in pending {
        out += &note;
    }
    if padding > 0 {
        writeln!(out, ";; padding to the next function: {padding} zero byte(s)").expect("writing to a String");
    }
    Ok(out)
}

/// Where defined function `i`'s code ends: the next function's start; after
/// the last one, legacy code's break stub (which its patchable calls call),
/// else the end of the module's code.
fn function_end(module: &Module, i: usize) -> usize {
    let compiled = module.compiled();
    if let Some(next) = compiled.func_offsets.get(i + 1) {
        return *next as usize;
    }
    let stub = compiled.legacy.as_ref().and_then(|legacy| {
        let site = legacy.sites.first()?;
        let at = site.offset as usize;
        let call = legacy.original.get(at..at + 5).filter(|c| c[0] == 0xe8 && site.len == 5)?;
        let rel = i32::from_le_bytes(call[1..5].try_into().expect("4 bytes"));
        usize::try_from(at as i64 + 5 + i64::from(rel)).ok()
    });
    stub.filter(|s| *s > compiled.func_offsets[i] as usize).unwrap_or(compiled.code.len()).min(compiled.code.len())
}

/// The `;;` lines to print before the instruction at each offset of the
/// function starting at `start`: where each guard resumes, then each site
/// whose guard (or, in legacy code, NOPed-out call) starts there.
fn notes(module: &Module, func: u32, start: u32) -> Vec<(u32, String)> {
    let compiled = module.compiled();
    let mut notes: BTreeMap<u32, Vec<String>> = BTreeMap::new();
    let legacy_at: HashMap<u32, u32> = compiled.legacy.iter().flat_map(|l| l.sites.iter().map(|s| (s.site, s.offset))).collect();
    for site in module.function_sites(func) {
        if site.code_offset == u32::MAX {
            // The optimizer removed the site's block as unreachable.
            continue;
        }
        let resume = compiled.debug_code.as_ref().and_then(|d| d.resume.get(site.id as usize)).copied();
        // A later site of a guard group is a point: no code, so it resumes
        // where it stands (see the jit's `translate/guard.rs`).
        let point = resume == Some(site.code_offset);
        if let Some(resume) = resume.filter(|_| !point) {
            notes.entry(resume - start).or_default().insert(0, ";; resumes\n".to_owned());
        }
        let at = legacy_at.get(&site.id).copied().unwrap_or(site.code_offset) - start;
        let kind = format!("{:?}", site.kind).to_lowercase() + if point { ", point" } else { "" };
        notes.entry(at).or_default().push(format!(";; site {} ({kind}) @{at:#x}\n", site.id));
    }
    notes.into_iter().flat_map(|(at, lines)| lines.into_iter().map(move |l| (at, l))).collect()
}

/// Names branch targets outside the function for what they reach.
struct Targets {
    /// The function's start and length in the module's code.
    start: i64,
    len: u64,
    /// The trap tail, in module code offsets (empty without one).
    tail: std::ops::Range<i64>,
    code_len: i64,
    func_offsets: Vec<u32>,
    imported: u32,
}

impl Targets {
    fn new(module: &Module, start: usize, len: usize) -> Targets {
        let compiled = module.compiled();
        let base = compiled.code.as_ptr() as i64;
        let (tail_start, tail_end) = compiled.code.tail_range();
        Targets {
            start: start as i64,
            len: len as u64,
            tail: tail_start as i64 - base..tail_end as i64 - base,
            code_len: compiled.code.len() as i64,
            func_offsets: compiled.func_offsets.clone(),
            imported: compiled.info.imported_funcs,
        }
    }

    /// The name of module code offset `at`, outside the function.
    fn name(&self, at: i64) -> String {
        if self.tail.contains(&at) {
            return format!("<trap tail + {}>", at - self.tail.start);
        }
        if !(0..self.code_len).contains(&at) {
            return format!("<module code {at:+#x}>");
        }
        let i = self.func_offsets.partition_point(|s| i64::from(*s) <= at).saturating_sub(1);
        let into = at - i64::from(self.func_offsets[i]);
        let func = self.imported + i as u32;
        if into == 0 {
            format!("<func {func}>")
        } else {
            format!("<func {func} + {into:#x}>")
        }
    }
}

impl SymbolResolver for Targets {
    fn symbol(&mut self, ins: &Instruction, _: u32, operand: Option<u32>, address: u64, _: u32) -> Option<SymbolResult<'_>> {
        let kind = ins.op_kind(operand?);
        let branch = matches!(kind, OpKind::NearBranch64 | OpKind::NearBranch32 | OpKind::NearBranch16);
        let rip_relative = kind == OpKind::Memory && ins.is_ip_rel_memory_operand();
        // Inside the function, the decoded address is already the offset the listing shows.
        if !(branch || rip_relative) || address < self.len {
            return None;
        }
        Some(SymbolResult::with_string(address, self.name(self.start + address as i64)))
    }
}
