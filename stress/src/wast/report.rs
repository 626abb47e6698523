//! What a spec script run found, per file and in total, as text or JSON.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// How one directive went, when it did not simply pass.
#[derive(Debug, Clone)]
pub enum Verdict {
    /// The directive did not do what the script expects.
    Fail(String),
    /// The directive needs a feature onecopy does not support (named here).
    Skip(String),
}

/// A directive's result: `Ok` is a pass.
pub type Check = Result<(), Verdict>;

/// Shorthand for a failing [`Check`].
pub fn fail<T>(message: impl Into<String>) -> Result<T, Verdict> {
    Err(Verdict::Fail(message.into()))
}

/// A directive that failed.
#[derive(Debug, Serialize, Deserialize)]
pub struct Failure {
    /// 1-based line of the directive in its file (0: the file as a whole).
    pub line: usize,
    /// What went wrong.
    pub message: String,
}

/// A directive that was skipped.
#[derive(Debug, Serialize, Deserialize)]
pub struct Skip {
    /// 1-based line of the directive.
    pub line: usize,
    /// The unsupported feature it needs.
    pub feature: String,
}

/// The results of one script file. (Deserializing reads back what
/// [`Serialize`] wrote, ignoring the counts it derives from the lists.)
#[derive(Debug, Deserialize)]
pub struct FileReport {
    /// The file's path as given on the command line (or found under a folder).
    pub file: String,
    /// Directives that passed.
    pub passed: usize,
    /// Each failure.
    pub failures: Vec<Failure>,
    /// Each skip.
    pub skips: Vec<Skip>,
    /// With `--step`: how often the stepping handler ran in this file.
    #[serde(default)]
    pub handler_calls: Option<u64>,
}

impl FileReport {
    /// An empty report for `file`.
    pub fn new(file: String) -> FileReport {
        FileReport { file, passed: 0, failures: Vec::new(), skips: Vec::new(), handler_calls: None }
    }

    /// Count the directive at `line` with its result.
    pub fn record(&mut self, line: usize, check: Check) {
        match check {
            Ok(()) => self.passed += 1,
            Err(Verdict::Fail(message)) => self.failures.push(Failure { line, message }),
            Err(Verdict::Skip(feature)) => self.skips.push(Skip { line, feature }),
        }
    }

    /// Count what the script thread `name` found as this script's own, its
    /// failures named for the thread.
    pub fn merge_thread(&mut self, name: &str, thread: FileReport) {
        self.passed += thread.passed;
        let named = |f: Failure| Failure { line: f.line, message: format!("thread ${name}: {}", f.message) };
        self.failures.extend(thread.failures.into_iter().map(named));
        self.skips.extend(thread.skips);
        self.add_handler_calls(thread.handler_calls);
    }

    /// Add the debug handler's calls in one script context (`None`: not stepping).
    pub fn add_handler_calls(&mut self, calls: Option<u64>) {
        self.handler_calls = match (self.handler_calls, calls) {
            (Some(a), Some(b)) => Some(a + b),
            (a, b) => a.or(b),
        };
    }
}

impl Serialize for FileReport {
    /// The JSON shape carries the counts beside the lists, for readers that
    /// only want numbers.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut s = serializer.serialize_struct("FileReport", 7)?;
        s.serialize_field("file", &self.file)?;
        s.serialize_field("passed", &self.passed)?;
        s.serialize_field("failed", &self.failures.len())?;
        s.serialize_field("skipped", &self.skips.len())?;
        s.serialize_field("failures", &self.failures)?;
        s.serialize_field("skips", &self.skips)?;
        match self.handler_calls {
            Some(calls) => s.serialize_field("handler_calls", &calls)?,
            None => s.skip_field("handler_calls")?,
        }
        s.end()
    }
}

/// The results of a whole run.
#[derive(Debug, Serialize, Deserialize)]
pub struct Summary {
    /// Directives that passed, over all files.
    pub passed: usize,
    /// Directives that failed, over all files.
    pub failed: usize,
    /// Directives skipped, over all files.
    pub skipped: usize,
    /// With `--step`: stepping-handler calls over all files (absent otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handler_calls: Option<u64>,
    /// Per file, in run order.
    pub files: Vec<FileReport>,
}

impl Summary {
    /// Totals over `files`.
    pub fn new(files: Vec<FileReport>) -> Summary {
        let total = |count: fn(&FileReport) -> usize| files.iter().map(count).sum();
        // A file that crashed has no count of its own, so any count marks a stepped run.
        let handler_calls = files.iter().filter_map(|f| f.handler_calls).reduce(|a, b| a + b);
        Summary {
            passed: total(|f| f.passed),
            failed: total(|f| f.failures.len()),
            skipped: total(|f| f.skips.len()),
            handler_calls,
            files,
        }
    }

    /// The readable form: a line per file, its failures, its skips grouped by
    /// feature, and the closing `N passed, N failed, N skipped` line (with
    /// `, N handler calls` when stepping).
    pub fn text(&self) -> String {
        let mut out = String::new();
        for file in &self.files {
            out += &format!("{}: {}\n", file.file, counts(file.passed, file.failures.len(), file.skips.len()));
            for failure in &file.failures {
                out += &format!("  FAIL {}:{}: {}\n", file.file, failure.line, failure.message);
            }
            let mut by_feature = BTreeMap::<&str, usize>::new();
            for skip in &file.skips {
                *by_feature.entry(&skip.feature).or_default() += 1;
            }
            for (feature, n) in by_feature {
                out += &format!("  skipped {n} (needs {feature})\n");
            }
        }
        out += &counts(self.passed, self.failed, self.skipped);
        if let Some(calls) = self.handler_calls {
            out += &format!(", {calls} handler calls");
        }
        out + "\n"
    }
}

fn counts(passed: usize, failed: usize, skipped: usize) -> String {
    format!("{passed} passed, {failed} failed, {skipped} skipped")
}
