//! The progress bar long commands draw on stderr while they work.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A bar counting `len` steps named `steps` ("rows", "modes", ...), with
/// a message for the step under way. Drawn on stderr only when that is a
/// terminal, so `--json` output and logs piped elsewhere stay clean.
pub fn bar(len: u64, steps: &str) -> ProgressBar {
    let progress = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    let template = format!("{{spinner}} {{elapsed:>4}} {{bar:20}} {{pos}}/{{len}} {steps}  {{wide_msg}}");
    progress.set_style(ProgressStyle::with_template(&template).expect("a valid template"));
    progress.enable_steady_tick(Duration::from_millis(120));
    progress
}
