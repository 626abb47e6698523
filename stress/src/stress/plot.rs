//! `--plot FILE.svg`: code arena bytes against debugged workers, one line
//! per mode, and the arena's cap.

use std::path::Path;

use anyhow::{anyhow, Result};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::report::Report;
use super::Mode;

const MIB: f64 = (1 << 20) as f64;

/// Draw the report's rows into an SVG file at `path`.
pub fn write(path: &Path, report: &Report) -> Result<()> {
    draw(path, report).map_err(|e| anyhow!("cannot draw {}: {e}", path.display()))
}

fn draw(path: &Path, report: &Report) -> Result<(), Box<dyn std::error::Error>> {
    let rows = &report.rows;
    let cap = rows.iter().filter_map(|r| r.arena_cap_bytes).max().unwrap_or(0) as f64 / MIB;
    let top = rows.iter().filter_map(|r| r.arena_used_bytes).max().unwrap_or(0) as f64 / MIB;
    // x is log2(workers), labelled with the worker counts.
    let most = (rows.iter().map(|r| r.workers).max().unwrap_or(1).max(2) as f64).log2();
    let root = SVGBackend::new(path, (960, 560)).into_drawing_area();
    root.fill(&WHITE)?;
    let title = format!("onecopy stress: {} (code arena used vs debugged workers)", report.module.name);
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(16)
        .x_label_area_size(44)
        .y_label_area_size(72)
        .build_cartesian_2d(-0.25f64..most + 0.25, 0f64..cap.max(top).max(1.0) * 1.08)?;
    chart
        .configure_mesh()
        .x_desc("workers, each debugging its own instance")
        .y_desc("code arena used (MiB)")
        .x_labels(most.ceil() as usize + 1)
        .x_label_formatter(&|x| if (x - x.round()).abs() < 1e-9 { format!("{}", 2f64.powf(x.round())) } else { String::new() })
        .y_label_formatter(&|y| format!("{y:.0}"))
        .draw()?;
    for (mode, color) in [(Mode::Shared, BLUE), (Mode::Legacy, RED)] {
        let measured: Vec<(f64, f64, bool)> = rows
            .iter()
            .filter(|r| r.mode == mode)
            .filter_map(|r| Some(((r.workers as f64).log2(), r.arena_used_bytes? as f64 / MIB, r.error.is_none())))
            .collect();
        if measured.is_empty() {
            continue;
        }
        let line: Vec<(f64, f64)> = measured.iter().map(|&(x, y, _)| (x, y)).collect();
        chart
            .draw_series(LineSeries::new(line, color.stroke_width(2)))?
            .label(mode.name())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
        chart.draw_series(measured.iter().map(|&(x, y, ok)| {
            let marker: DynElement<'static, SVGBackend, (f64, f64)> = if ok {
                Circle::new((x, y), 4, color.filled()).into_dyn()
            } else {
                Cross::new((x, y), 6, color.stroke_width(2)).into_dyn()
            };
            marker
        }))?;
    }
    if let Some(r) = rows.iter().find(|r| r.mode == Mode::Legacy && r.exhausted) {
        let (x, y) = ((r.workers as f64).log2(), r.arena_used_bytes.unwrap_or(0) as f64 / MIB);
        let text = format!("legacy out of arena at {} workers: {} clones fit", r.workers, r.debugged_workers.unwrap_or(0));
        let style = TextStyle::from(("sans-serif", 14)).pos(Pos::new(HPos::Right, VPos::Top));
        chart.draw_series([Text::new(text, (x - 0.1, y * 0.96), style)])?;
    }
    if cap > 0.0 {
        chart
            .draw_series(LineSeries::new([(-0.25, cap), (most + 0.25, cap)], BLACK.stroke_width(1)))?
            .label(format!("arena cap ({cap:.0} MiB)"))
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLACK));
    }
    chart.configure_series_labels().position(SeriesLabelPosition::UpperLeft).border_style(BLACK).background_style(WHITE).draw()?;
    root.present()?;
    Ok(())
}
