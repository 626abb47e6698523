//! Source lines from a module's DWARF (`.debug_line`, read with `gimli`):
//! which wasm offsets a `FILE:LINE` names, and which line an offset is on.
//! Offsets are bytes of the module binary, as onecopy's sites and stops
//! count them (DWARF counts from the code section's start).

use gimli::{EndianSlice, LittleEndian};
use wasmparser::{Parser, Payload};

/// Why a module's line table could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LinesError {
    /// The module binary does not parse.
    #[error("the module does not parse: {0}")]
    Module(#[from] wasmparser::BinaryReaderError),
    /// The DWARF does not parse.
    #[error("its DWARF does not parse: {0}")]
    Dwarf(#[from] gimli::Error),
}

/// One row of the line table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineRow {
    /// Offset in the module binary where the row's code starts.
    pub offset: u32,
    /// The source file, with its directory when DWARF names one.
    pub file: String,
    /// The line (1-based).
    pub line: u32,
    /// The column (0 when DWARF gives none).
    pub column: u32,
    /// A recommended breakpoint location (the start of a statement).
    pub is_stmt: bool,
}

/// A module's line table, sorted by offset; empty without `.debug_line`.
#[derive(Debug, Clone, Default)]
pub struct LineTable {
    rows: Vec<LineRow>,
    /// Where each sequence ends (its code's end), sorted.
    ends: Vec<u32>,
}

type Slice<'a> = EndianSlice<'a, LittleEndian>;

impl LineTable {
    /// Read the line table of the module binary `wasm`.
    pub fn new(wasm: &[u8]) -> Result<LineTable, LinesError> {
        Self::read(wasm, true)
    }

    /// The offsets of `wasm`'s statement rows (see [`LineTable::statements`]),
    /// without building its rows' file names (a large module's table has
    /// millions of rows).
    pub fn statements_of(wasm: &[u8]) -> Result<Vec<u32>, LinesError> {
        Ok(Self::read(wasm, false)?.statements())
    }

    /// The table; with `files` false, every row's `file` is left empty.
    fn read(wasm: &[u8], files: bool) -> Result<LineTable, LinesError> {
        let mut code_start = None;
        let mut sections: Vec<(String, &[u8])> = Vec::new();
        for payload in Parser::new(0).parse_all(wasm) {
            match payload? {
                Payload::CodeSectionStart { unchecked_range, .. } => code_start = u32::try_from(unchecked_range.start).ok(),
                Payload::CustomSection(reader) if reader.name().starts_with(".debug_") => {
                    sections.push((reader.name().to_string(), reader.data()))
                }
                _ => {}
            }
        }
        let Some(code_start) = code_start else { return Ok(LineTable::default()) };
        let dwarf = gimli::Dwarf::load(|id| -> Result<Slice<'_>, gimli::Error> {
            let data = sections.iter().find(|(name, _)| name == id.name()).map_or(&[][..], |(_, d)| d);
            Ok(EndianSlice::new(data, LittleEndian))
        })?;
        let mut table = LineTable::default();
        let mut units = dwarf.units();
        while let Some(header) = units.next()? {
            let unit = dwarf.unit(header)?;
            let Some(program) = unit.line_program.clone() else { continue };
            let mut rows = program.rows();
            while let Some((header, row)) = rows.next_row()? {
                let Ok(offset) = u32::try_from(row.address() + u64::from(code_start)) else { continue };
                if row.end_sequence() {
                    table.ends.push(offset);
                    continue;
                }
                let file = match row.file(header) {
                    Some(_) if !files => String::new(),
                    Some(entry) => {
                        let name = dwarf.attr_string(&unit, entry.path_name())?.to_string_lossy().into_owned();
                        let dir = entry.directory(header).and_then(|d| dwarf.attr_string(&unit, d).ok());
                        match dir.map(|d| d.to_string_lossy().into_owned()) {
                            Some(dir) if !name.starts_with('/') && !dir.is_empty() => format!("{dir}/{name}"),
                            _ => name,
                        }
                    }
                    None => continue,
                };
                let line = row.line().map_or(0, |l| l.get() as u32);
                let column = match row.column() {
                    gimli::ColumnType::LeftEdge => 0,
                    gimli::ColumnType::Column(c) => c.get() as u32,
                };
                table.rows.push(LineRow { offset, file, line, column, is_stmt: row.is_stmt() });
            }
        }
        table.rows.sort_by_key(|r| r.offset);
        table.ends.sort_unstable();
        Ok(table)
    }

    /// The offsets of the rows DWARF recommends as breakpoint locations
    /// (`is_stmt`), ascending, each once: where [`crate::Breakable::Lines`]
    /// puts sites.
    pub fn statements(&self) -> Vec<u32> {
        let mut offsets: Vec<u32> = self.rows.iter().filter(|r| r.is_stmt).map(|r| r.offset).collect();
        offsets.dedup();
        offsets
    }

    /// Whether the module has no line information.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The row whose code holds `offset`: the last row at or before it,
    /// unless a sequence ended in between.
    pub fn location(&self, offset: u32) -> Option<&LineRow> {
        let at = self.rows.partition_point(|r| r.offset <= offset).checked_sub(1)?;
        let row = &self.rows[at];
        let ended = self.ends.iter().any(|e| *e > row.offset && *e <= offset);
        (!ended).then_some(row)
    }

    /// The offsets where code for `line` of `file` starts: the first
    /// statement row of each run of rows on that line. `file` matches a
    /// row's file by its last path components (`squares.c`, `src/a.c`).
    pub fn offsets(&self, file: &str, line: u32) -> Vec<u32> {
        let mut offsets = Vec::new();
        let mut previous_matched = false;
        for row in &self.rows {
            let matched = row.line == line && same_file(&row.file, file);
            if matched && !previous_matched && row.is_stmt {
                offsets.push(row.offset);
            }
            previous_matched = matched && (previous_matched || row.is_stmt);
        }
        offsets
    }
}

/// Whether path `full` ends with the components of `wanted`.
fn same_file(full: &str, wanted: &str) -> bool {
    full == wanted || full.ends_with(wanted) && full[..full.len() - wanted.len()].ends_with('/')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_match_by_their_last_components() {
        assert!(same_file("/src/prog/squares.c", "squares.c"));
        assert!(same_file("/src/prog/squares.c", "prog/squares.c"));
        assert!(!same_file("/src/prog/xsquares.c", "squares.c"));
        assert!(same_file("squares.c", "squares.c"));
    }

    #[test]
    fn a_module_without_dwarf_has_an_empty_table() {
        let wasm = [0, b'a', b's', b'm', 1, 0, 0, 0];
        let table = LineTable::new(&wasm).unwrap();
        assert!(table.is_empty());
        assert_eq!(table.location(10), None);
        assert!(table.offsets("a.c", 1).is_empty());
    }

    #[test]
    fn a_truncated_module_is_an_error() {
        assert!(LineTable::new(&[0, b'a', b's', b'm', 1, 0, 0, 0, 10, 200]).is_err());
    }
}

#[cfg(test)]
mod program_tests {
    use super::*;

    /// The LLDB tests' program: LLDB 22 puts `squares.c:7` at offset 0x2b3
    /// of the binary (its breakpoint address, 0x40000001000002b3).
    #[test]
    fn the_test_programs_lines_are_where_lldb_puts_them() {
        let wasm = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../stress/tests/lldb/squares.wasm")).unwrap();
        let table = LineTable::new(&wasm).unwrap();
        assert!(table.offsets("squares.c", 7).contains(&0x2b3), "{:?}", table.offsets("squares.c", 7));
        let row = table.location(0x2b3).unwrap();
        assert!(row.file.ends_with("squares.c") && row.line == 7, "{row:?}");
        assert!(table.offsets("squares.c", 5).is_empty(), "a blank line has no code");
        assert!(table.offsets("nosuch.c", 7).is_empty());
    }
}
