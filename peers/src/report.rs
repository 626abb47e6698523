//! The comparison's rows: one measurement of onecopy against one peer, the
//! ratio, and the command that reproduces it; printed as a table or JSON.

use serde::Serialize;

/// Which way a row's ratio is good.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Better {
    /// Times and bytes: a ratio below 1 favours onecopy.
    Lower,
    /// Throughput: a ratio above 1 favours onecopy.
    Higher,
}

/// One row: onecopy's value, the peer's, and onecopy's over the peer's.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// Part of the comparison: kernels, debug, compile, code-bytes,
    /// c-programs, c-debug.
    pub section: &'static str,
    /// What was measured (kernel and argument, module and mode, ...).
    pub item: String,
    /// onecopy's configuration.
    pub onecopy: String,
    /// The peer and its configuration.
    pub peer: String,
    /// The unit of both values (ms, MB/s, bytes).
    pub unit: &'static str,
    /// onecopy's value (a median where timed).
    pub onecopy_value: f64,
    /// The peer's value (a median where timed).
    pub peer_value: f64,
    /// `onecopy_value / peer_value`.
    pub ratio: f64,
    /// Which way the ratio is good.
    pub better: Better,
    /// The command line that reproduces this row.
    pub command: String,
}

impl Row {
    /// A row with its ratio computed.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        section: &'static str,
        item: String,
        onecopy: &str,
        peer: &str,
        unit: &'static str,
        onecopy_value: f64,
        peer_value: f64,
        better: Better,
        command: String,
    ) -> Row {
        let ratio = if peer_value == 0.0 { f64::NAN } else { onecopy_value / peer_value };
        Row { section, item, onecopy: onecopy.into(), peer: peer.into(), unit, onecopy_value, peer_value, ratio, better, command }
    }
}

/// Everything one run measured, and where.
#[derive(Debug, Serialize)]
pub struct Report {
    /// Versions of the runtimes compared.
    pub versions: Versions,
    /// Cores the machine reports (other processes may share them).
    pub cores: usize,
    /// The rows, in run order.
    pub rows: Vec<Row>,
}

/// The peers' versions, as pinned in `peers/Cargo.toml`.
#[derive(Debug, Serialize)]
pub struct Versions {
    /// Wasmtime (Cranelift, Winch, guest debugging).
    pub wasmtime: String,
    /// wasmi.
    pub wasmi: String,
}

fn value(v: f64, unit: &str) -> String {
    match unit {
        "bytes" => format!("{v:.0}"),
        "MB/s" => format!("{v:.3}"),
        _ => format!("{v:.2}"),
    }
}

/// Print `report` as an aligned table, each row followed by its command.
pub fn print_table(report: &Report) {
    println!("onecopy vs wasmtime {} / wasmi {} ({} cores)", report.versions.wasmtime, report.versions.wasmi, report.cores);
    println!(
        "{:<10} {:<34} {:<18} {:<18} {:>14} {:>14} {:<6} {:>8} better",
        "section", "item", "onecopy", "peer", "onecopy", "peer", "unit", "ratio"
    );
    for row in &report.rows {
        println!(
            "{:<10} {:<34} {:<18} {:<18} {:>14} {:>14} {:<6} {:>8.3} {}",
            row.section,
            row.item,
            row.onecopy,
            row.peer,
            value(row.onecopy_value, row.unit),
            value(row.peer_value, row.unit),
            row.unit,
            row.ratio,
            match row.better {
                Better::Lower => "lower",
                Better::Higher => "higher",
            }
        );
        println!("           $ {}", row.command);
    }
}

/// A configuration pair reported: (section, onecopy's configuration, the peer's).
pub type Pair = (&'static str, crate::runtimes::Peer, crate::runtimes::Peer);

/// One row of median milliseconds per pair, from the medians of `peers`
/// (in that order) timing `item`.
pub fn median_rows(
    pairs: &[Pair],
    peers: &[crate::runtimes::Peer],
    medians: &[std::time::Duration],
    item: &str,
    command: &str,
) -> Vec<Row> {
    let ms = |peer| medians[peers.iter().position(|&p| p == peer).expect("a timed configuration")].as_secs_f64() * 1e3;
    pairs
        .iter()
        .map(|&(section, ours, theirs)| {
            Row::new(section, item.to_string(), ours.name(), theirs.name(), "ms", ms(ours), ms(theirs), Better::Lower, command.to_string())
        })
        .collect()
}
