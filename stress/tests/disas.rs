//! Golden-file tests of `onecopy disas`, like Wasmtime's `tests/disas`.
//!
//! Each `tests/disas/NAME.wat` names the listings to take in lines
//! `;; disas: ARGS` (the arguments after the file, e.g. `--func 0 --debug`);
//! each listing must equal `tests/disas/NAME.MODE.disas`, MODE being
//! `debug`, `legacy` or `normal` (so one listing per mode and file).
//!
//! After an intended change of the generated code, bless the new listings
//! and review the diff before committing:
//!
//! ```text
//! ONECOPY_BLESS=1 cargo test --release -p onecopy-stress --test disas
//! ```
//!
//! Blessing cannot hide a broken guard: every debug listing is also checked
//! for what matters in it (see `check_guards`): each site's guard is
//! `mov rE32, dword ptr [rV+d]; mov qword ptr [rV+rE-0x40], rE` (rV the vmctx;
//! the store the site's debug stop, the load at the site's own entry: 4
//! bytes further on per site) if it leads its guard group, else a
//! point with no code (marked `point`); the exit site's
//! `mov r32, dword ptr [rV+d]; test r32, r32; jne <trap tail + k>` with k
//! the site's id, the function's sites' ids consecutive (in id order: block
//! layout may put a cold block's guard after later ones).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn onecopy(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_onecopy")).args(args).output().expect("start onecopy")
}

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/disas")
}

/// Every `(wat file, arguments, expected file)` in the folder.
fn cases() -> Vec<(PathBuf, Vec<String>, PathBuf)> {
    let mut wats: Vec<PathBuf> = std::fs::read_dir(dir())
        .expect("tests/disas")
        .map(|e| e.expect("a folder entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "wat"))
        .collect();
    wats.sort();
    let mut cases = Vec::new();
    for wat in wats {
        let text = std::fs::read_to_string(&wat).expect("read a .wat");
        for line in text.lines().filter_map(|l| l.strip_prefix(";; disas:")) {
            let args: Vec<String> = line.split_whitespace().map(str::to_owned).collect();
            let mode = ["--legacy", "--debug"].iter().find(|m| args.iter().any(|a| a == *m)).map_or("normal", |m| &m[2..]);
            let expected = wat.with_extension(format!("{mode}.disas"));
            assert!(cases.iter().all(|(_, _, e)| *e != expected), "{}: one listing per mode", wat.display());
            cases.push((wat.clone(), args, expected));
        }
    }
    assert!(!cases.is_empty(), "no `;; disas:` lines in tests/disas/*.wat");
    cases
}

#[test]
fn listings_match_their_golden_files() {
    let bless = std::env::var_os("ONECOPY_BLESS").is_some_and(|v| v == "1");
    let mut failures = Vec::new();
    for (wat, args, expected) in cases() {
        let mut all = vec!["disas", wat.to_str().expect("a UTF-8 path")];
        all.extend(args.iter().map(String::as_str));
        let output = onecopy(&all);
        assert!(output.status.success(), "onecopy {}: {}", all.join(" "), String::from_utf8_lossy(&output.stderr));
        let listing = String::from_utf8(output.stdout).expect("UTF-8 listing");
        let name = expected.file_name().expect("a file name").to_string_lossy().into_owned();
        if args.iter().any(|a| a == "--debug") {
            if let Err(e) = check_guards(&listing) {
                failures.push(format!("{name}: {e}"));
            }
        }
        if bless {
            std::fs::write(&expected, &listing).expect("write the expected listing");
            continue;
        }
        match std::fs::read_to_string(&expected) {
            Ok(want) if want == listing => {}
            Ok(want) => failures.push(format!("{name} differs from the listing: {}", first_difference(&want, &listing))),
            Err(e) => failures.push(format!("{name}: cannot read it ({e})")),
        }
    }
    assert!(
        failures.is_empty(),
        "{}\n(if the change is intended: ONECOPY_BLESS=1 cargo test --release -p onecopy-stress --test disas)",
        failures.join("\n")
    );
}

fn first_difference(want: &str, got: &str) -> String {
    let (mut w, mut g) = (want.lines(), got.lines());
    for n in 1.. {
        match (w.next(), g.next()) {
            (None, None) => break,
            (a, b) if a == b => continue,
            (a, b) => return format!("line {n}: expected {:?}, got {:?}", a.unwrap_or("<end>"), b.unwrap_or("<end>")),
        }
    }
    "only in line endings".into()
}

/// One instruction line of a listing: `offset  bytes  text`.
struct Line<'a> {
    text: &'a str,
}

fn instruction(line: &str) -> Option<Line<'_>> {
    let rest = line.trim_start().strip_prefix("0x")?;
    let (_, rest) = rest.split_once("  ")?;
    let (_bytes, text) = rest.split_once("  ")?;
    Some(Line { text: text.trim() })
}

/// Check every site's guard in a debug listing (see the module docs).
fn check_guards(listing: &str) -> Result<(), String> {
    let lines: Vec<&str> = listing.lines().collect();
    let mut ids = Vec::new();
    // Groups' `(rT, rE)`: a later site of a group may be laid out before or
    // after its first (a cold block's), so they are checked after the rest.
    let mut groups = Vec::new();
    let mut later = Vec::new();
    let mut points = 0;
    // (site id, its entry's displacement) of every guard that loads one.
    let mut entries = Vec::new();
    for (n, line) in lines.iter().enumerate() {
        let Some(marker) = line.strip_prefix(";; site ") else { continue };
        let (id, rest) = marker.split_once(' ').ok_or(format!("bad marker {line:?}"))?;
        let id: u32 = id.parse().map_err(|_| format!("bad site id in {line:?}"))?;
        let guard: Vec<Line> = lines[n + 1..].iter().take_while(|l| **l != ";; resumes").filter_map(|l| instruction(l)).collect();
        let shown = guard.iter().map(|g| g.text).collect::<Vec<_>>().join("; ");
        let exit = rest.starts_with("(exit)");
        ids.push(id);
        if rest.contains(", point)") {
            // A later site of a group: no code of its own.
            points += 1;
            continue;
        }
        if exit && guard.len() == 2 {
            later.push((id, guard, shown));
            continue;
        }
        let disp = check_guard(id, exit, &guard, &mut groups).map_err(|e| format!("site {id}: {e}: `{shown}`"))?;
        entries.push((id, disp));
    }
    check_entries(&entries)?;
    for (id, guard, shown) in later {
        check_exit_in_group(id, &guard, &groups).map_err(|e| format!("site {id}: {e}: `{shown}`"))?;
    }
    let header = lines.first().and_then(|h| h.rsplit(", ").next()).and_then(|s| s.strip_suffix(" sites"));
    if header != Some(&ids.len().to_string()) {
        return Err(format!("{} site markers, but the header says {:?}", ids.len(), lines.first()));
    }
    // Cranelift may lay a cold block's guard out after later ones: the
    // function's sites are consecutive by id, not in code order.
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    if sorted.windows(2).any(|w| w[1] != w[0] + 1) {
        return Err(format!("site ids (trap tail bytes) are not consecutive: {ids:?}"));
    }
    let exits = lines.iter().filter(|l| l.starts_with(";; site ") && l.contains("(exit)")).count();
    let branches = listing.matches("<trap tail + ").count();
    if branches != exits {
        return Err(format!("{branches} branches to the trap tail for {exits} exit sites"));
    }
    // Every other site leads a group, whose faulting load is its stop.
    let stops = listing.matches("; debug stop").count();
    if stops != ids.len() - exits - points {
        return Err(format!("{stops} debug stops for {} sites that lead a group", ids.len() - exits - points));
    }
    Ok(())
}

/// An exit in a group: `test rE, rE; jne <trap tail + id>` on one of the
/// function's groups' entry registers.
fn check_exit_in_group(id: u32, guard: &[Line], groups: &[(String, String)]) -> Result<(), String> {
    let jne = format!("jne <trap tail + {id}>");
    if guard[1].text != jne {
        return Err(format!("the guard does not end in `{jne}`"));
    }
    match groups.iter().any(|(_, index)| guard[0].text == format!("test {index}, {index}")) {
        true => Ok(()),
        false => Err("not `test rE, rE` on a group's entry register".into()),
    }
}

/// Each site's entry is its own: the entries of a function's sites are
/// consecutive 4-byte words from the vmctx, in site id order.
fn check_entries(entries: &[(u32, i64)]) -> Result<(), String> {
    let Some(&(first, base)) = entries.iter().min_by_key(|e| e.0) else { return Ok(()) };
    match entries.iter().find(|(id, disp)| *disp != base + 4 * i64::from(id - first)) {
        Some((id, disp)) => Err(format!("site {id}: its entry is at {disp:#x}, not site {first}'s {base:#x} + 4 x {}", id - first)),
        None => Ok(()),
    }
}

/// A group's first guard, `mov rE32, dword ptr [rV+d]; mov qword ptr
/// [rV+rE-0x40], rE` (its `(rV, rE)` added to `groups`), or the exit's
/// `mov r32, dword ptr [rV+d]; test r32, r32; jne <trap tail + id>`;
/// returns `d`.
fn check_guard(id: u32, exit: bool, guard: &[Line], groups: &mut Vec<(String, String)>) -> Result<i64, String> {
    let Some(first) = guard.first() else { return Err("no instructions before `;; resumes`".into()) };
    let want = if exit { 3 } else { 2 };
    if guard.len() != want {
        return Err(format!("{} instructions before `;; resumes`, not {want}", guard.len()));
    }
    let (op, operands) = first.text.split_once(' ').ok_or("no operands")?;
    let (entry, memory) = operands.split_once(", ").ok_or("not two operands")?;
    let (table, disp) = entry_operand(memory).ok_or(format!("`{memory}` is not `dword ptr [rV+d]`"))?;
    if op != "mov" {
        return Err(format!("the entry load `{}` is not a mov", first.text));
    }
    if exit {
        let jne = format!("jne <trap tail + {id}>");
        if guard[2].text != jne {
            return Err(format!("the guard does not end in `{jne}`"));
        }
        if guard[1].text != format!("test {entry}, {entry}") {
            return Err(format!("not `mov {entry}, [rV+d]; test {entry}, {entry}`"));
        }
        return Ok(disp);
    }
    let stop = guard[1].text.strip_suffix("  ; debug stop").ok_or("the store is not the site's debug stop")?;
    let (through, stored) = stop.strip_prefix("mov ").and_then(|o| o.split_once(", ")).ok_or("the second instruction is no store")?;
    let index = full64(entry);
    if indexed_disp(through, table, &index) != Some(-0x40) {
        return Err(format!("the store writes `{through}`, not `qword ptr [{table}+{index}-0x40]` (the scratch line)"));
    }
    if stored != index {
        return Err(format!("the store writes `{stored}`, not the entry `{index}`"));
    }
    groups.push((table.to_string(), index));
    Ok(disp)
}

/// The displacement of `qword ptr [table+index±d]` (either register first).
fn indexed_disp(operand: &str, table: &str, index: &str) -> Option<i64> {
    let inner = operand.strip_prefix("qword ptr [")?.strip_suffix(']')?;
    // `[a+b]`, `[a+b+d]` or `[a+b-d]`: a sign after the first `+` starts d.
    let sign = inner.rfind(['+', '-']).filter(|&at| inner[..at].contains('+'));
    let (registers, disp) = inner.split_at(sign.unwrap_or(inner.len()));
    if registers != format!("{table}+{index}") && registers != format!("{index}+{table}") {
        return None;
    }
    entry_operand(&format!("dword ptr [r{disp}]")).map(|(_, d)| d)
}

/// The 64-bit name of a 32-bit register (`r9d` -> `r9`, `esi` -> `rsi`).
fn full64(register: &str) -> String {
    match register.strip_suffix('d') {
        Some(r) if r[1..].starts_with(|c: char| c.is_ascii_digit()) => r.to_string(),
        _ => format!("r{}", &register[1..]),
    }
}

/// `dword ptr [r9-0x80]` -> (`r9`, -128).
fn entry_operand(operand: &str) -> Option<(&str, i64)> {
    let inner = operand.strip_prefix("dword ptr [")?.strip_suffix(']')?;
    let Some(at) = inner.find(['+', '-']) else { return Some((inner, 0)) };
    let (register, disp) = inner.split_at(at);
    let magnitude = disp[1..].strip_prefix("0x").map_or_else(|| disp[1..].parse().ok(), |h| i64::from_str_radix(h, 16).ok())?;
    Some((register, if disp.starts_with('-') { -magnitude } else { magnitude }))
}

#[test]
fn the_guard_check_catches_a_changed_guard() {
    let good = ";; function 0: 0x20 bytes of debug code, 3 sites\n\
                ;; site 0 (entry) @0x0\n\
                \x20  0x0  41 8b 41 28                     mov eax, dword ptr [r9+0x28]\n\
                \x20  0x4  49 89 44 01 c0                  mov qword ptr [r9+rax-0x40], rax  ; debug stop\n\
                ;; resumes\n\
                ;; site 1 (instruction, point) @0x9\n\
                \x20  0x9  89 d0                           mov eax, edx\n\
                ;; site 2 (exit) @0xb\n\
                \x20  0xb  41 8b 49 30                     mov ecx, dword ptr [r9+0x30]\n\
                \x20  0xf  85 c9                           test ecx, ecx\n\
                \x20 0x11  0f 85 9f 0c 00 00               jne <trap tail + 2>\n\
                ;; resumes\n";
    assert_eq!(check_guards(good), Ok(()));
    let moved = good.replace(";; resumes\n;; site 1", "\x20  0x9  48 89 c8   mov rax, rcx\n;; resumes\n;; site 1");
    assert!(check_guards(&moved).unwrap_err().contains("3 instructions"), "a move inside a guard");
    let far = good.replace("mov ecx, dword ptr [r9+0x30]", "mov ecx, dword ptr [r9+0x34]");
    assert!(check_guards(&far).unwrap_err().contains("site 2: its entry is at 0x34, not site 0's 0x28 + 4 x 2"));
    let other = good.replace("jne <trap tail + 2>", "jne <trap tail + 3>");
    assert!(check_guards(&other).unwrap_err().contains("site 2"));
    let register = good.replace("[r9+rax-0x40]", "[r9+rcx-0x40]");
    assert!(check_guards(&register).unwrap_err().contains("not `qword ptr [r9+rax-0x40]`"));
    let line = good.replace("[r9+rax-0x40]", "[r9+rax]");
    assert!(check_guards(&line).unwrap_err().contains("(the scratch line)"), "the store on the vmctx's first line");
    let stored = good.replace("[r9+rax-0x40], rax", "[r9+rax-0x40], rcx");
    assert!(check_guards(&stored).unwrap_err().contains("not the entry `rax`"));
    let shifted = good.replace("[r9+rax-0x40]", "[r9+rax+0x2c]");
    assert!(check_guards(&shifted).unwrap_err().contains("site 0"), "the stop reads another entry than the group's");
    let loaded = good.replace("mov eax, edx", "mov edx, dword ptr [r9+rax+0x2c]  ; debug stop");
    assert!(check_guards(&loaded).unwrap_err().contains("2 debug stops for 1 sites"), "a point with a load of its own");
    let no_stop = good.replace("  ; debug stop", "");
    assert!(check_guards(&no_stop).unwrap_err().contains("debug stop"));
}

#[test]
fn imported_and_missing_functions_are_refused() {
    let wat = dir().join("call.wat");
    let output = onecopy(&["disas", wat.to_str().unwrap(), "--func", "0", "--debug"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("function 0 is imported"));
    let output = onecopy(&["disas", wat.to_str().unwrap(), "--func", "3"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("no function 3: the module has 3 functions (1 imported)"));
}
