//! The text commands of `onecopy debug`, one per line, parsed into
//! [`Command`]s. Parsing knows nothing of the module: function names and
//! values are checked when the command runs.

use onecopy_workers::{GlobalRef, Resume, Who};

/// Where a breakpoint goes: a function, by export or name-section name or
/// by index, and optionally a byte offset in the module binary (`fib`,
/// `0@0x2d`); or a source line from the module's DWARF (`squares.c:7`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A function and an offset in the binary.
    Code {
        /// The function as written: a name or an index.
        func: String,
        /// `None`: the function's entry site.
        offset: Option<u32>,
    },
    /// `FILE:LINE`: every place the line's code starts.
    Line {
        /// The file, matched by its last path components.
        file: String,
        /// The line (1-based).
        line: u32,
    },
}

/// One line of a debug script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `break W|all FUNC[@OFFSET]|FILE:LINE`, or `break FILE:LINE` (all workers)
    Break(Who, Location),
    /// `clear W|all [FUNC[@OFFSET]]`: one breakpoint, or all of them.
    Clear(Who, Option<Location>),
    /// `sites FUNC`
    Sites(String),
    /// `run EXPORT ARGS...` on every worker.
    Run(String, Vec<String>),
    /// `wait W|any`
    Wait(Option<usize>),
    /// `continue W|all`
    Continue(Who),
    /// `step-in W`, `step-over W`, `step-out W`.
    Step(usize, Resume),
    /// `pause W|all`
    Pause(Who),
    /// `backtrace W`
    Backtrace(usize),
    /// `locals W [FRAME]`
    Locals(usize, usize),
    /// `set-local W INDEX VALUE`
    SetLocal(usize, u32, String),
    /// `stack W`: the stopped frame's operand stack, bottom first.
    Stack(usize),
    /// `global W NAME|INDEX [VALUE]`
    Global(usize, GlobalRef, Option<String>),
    /// `memory W ADDR LEN`
    Memory(usize, u32, u32),
    /// `detach`
    Detach,
    /// `help`
    Help,
    /// `quit`: end the script here.
    Quit,
}

/// The commands, for `help` and for errors about unknown commands.
pub const USAGE: &[&str] = &[
    "break [W|all] FUNC[@OFFSET]|FILE:LINE",
    "clear W|all [FUNC[@OFFSET]]",
    "sites FUNC",
    "run EXPORT ARGS...",
    "wait W|any",
    "continue W|all",
    "step-in W",
    "step-over W",
    "step-out W",
    "pause W|all",
    "backtrace W",
    "locals W [FRAME]",
    "set-local W INDEX VALUE",
    "stack W",
    "global W NAME|INDEX [VALUE]",
    "memory W ADDR LEN",
    "detach",
    "help",
    "quit",
];

/// Parse one non-empty, non-comment line.
pub fn parse(line: &str) -> Result<Command, String> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let Some((&name, args)) = words.split_first() else { return Err("empty command".into()) };
    let usage = USAGE.iter().find(|u| u.split(' ').next() == Some(name));
    let Some(usage) = usage else {
        return Err(format!("unknown command `{name}` (commands: {})", command_names()));
    };
    let arity = |min: usize, max: usize| {
        if args.len() < min || args.len() > max {
            Err(format!("usage: {usage}"))
        } else {
            Ok(())
        }
    };
    let command = match name {
        "break" => {
            arity(1, 2)?;
            match args {
                [at] => match location(at)? {
                    line @ Location::Line { .. } => Command::Break(Who::All, line),
                    Location::Code { .. } => return Err(format!("usage: {usage} (a function needs the worker)")),
                },
                _ => Command::Break(who(args[0])?, location(args[1])?),
            }
        }
        "clear" => {
            arity(1, 2)?;
            Command::Clear(who(args[0])?, args.get(1).map(|a| location(a)).transpose()?)
        }
        "sites" => {
            arity(1, 1)?;
            Command::Sites(args[0].to_string())
        }
        "run" => {
            arity(1, usize::MAX)?;
            Command::Run(args[0].to_string(), args[1..].iter().map(|a| a.to_string()).collect())
        }
        "wait" => {
            arity(1, 1)?;
            Command::Wait(if args[0] == "any" { None } else { Some(worker(args[0])?) })
        }
        "continue" => {
            arity(1, 1)?;
            Command::Continue(who(args[0])?)
        }
        "step-in" | "step-over" | "step-out" => {
            arity(1, 1)?;
            let how = match name {
                "step-in" => Resume::StepInto,
                "step-over" => Resume::StepOver,
                _ => Resume::StepOut,
            };
            Command::Step(worker(args[0])?, how)
        }
        "pause" => {
            arity(1, 1)?;
            Command::Pause(who(args[0])?)
        }
        "backtrace" => {
            arity(1, 1)?;
            Command::Backtrace(worker(args[0])?)
        }
        "locals" => {
            arity(1, 2)?;
            let frame = args.get(1).map(|f| number(f, "frame")).transpose()?.unwrap_or(0);
            Command::Locals(worker(args[0])?, frame as usize)
        }
        "set-local" => {
            arity(3, 3)?;
            Command::SetLocal(worker(args[0])?, number(args[1], "local index")?, args[2].to_string())
        }
        "stack" => {
            arity(1, 1)?;
            Command::Stack(worker(args[0])?)
        }
        "global" => {
            arity(2, 3)?;
            let global = match number(args[1], "global index") {
                Ok(index) => GlobalRef::Index(index),
                Err(_) => GlobalRef::Name(args[1].to_string()),
            };
            Command::Global(worker(args[0])?, global, args.get(2).map(|v| v.to_string()))
        }
        "memory" => {
            arity(3, 3)?;
            Command::Memory(worker(args[0])?, number(args[1], "address")?, number(args[2], "length")?)
        }
        "detach" | "help" | "quit" => {
            arity(0, 0)?;
            match name {
                "detach" => Command::Detach,
                "help" => Command::Help,
                _ => Command::Quit,
            }
        }
        _ => unreachable!("every name in USAGE is handled"),
    };
    Ok(command)
}

/// The command names, comma separated.
fn command_names() -> String {
    USAGE.iter().filter_map(|u| u.split(' ').next()).collect::<Vec<_>>().join(", ")
}

/// `all` or a worker index.
fn who(text: &str) -> Result<Who, String> {
    if text == "all" {
        Ok(Who::All)
    } else {
        worker(text).map(Who::Worker)
    }
}

/// A worker index.
fn worker(text: &str) -> Result<usize, String> {
    text.parse().map_err(|_| format!("`{text}` is not a worker index (a number, or `all`/`any` where allowed)"))
}

/// `FUNC`, `FUNC@OFFSET` or `FILE:LINE`.
fn location(text: &str) -> Result<Location, String> {
    if let Some((file, line)) = text.rsplit_once(':') {
        let line = line.parse().ok().filter(|l| *l > 0).ok_or_else(|| format!("`{text}`: `{line}` is not a line number"))?;
        if file.is_empty() {
            return Err(format!("`{text}` names no file"));
        }
        return Ok(Location::Line { file: file.to_string(), line });
    }
    let (func, offset) = match text.rsplit_once('@') {
        Some((func, offset)) => (func, Some(number(offset, "offset")?)),
        None => (text, None),
    };
    if func.is_empty() {
        return Err(format!("`{text}` names no function"));
    }
    Ok(Location::Code { func: func.to_string(), offset })
}

/// A u32, decimal or `0x` hex.
pub fn number(text: &str, what: &str) -> Result<u32, String> {
    let parsed = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u32::from_str_radix(hex, 16),
        None => text.parse(),
    };
    parsed.map_err(|_| format!("`{text}` is not a valid {what} (decimal or 0x hex)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_parse_with_their_targets() {
        assert_eq!(
            parse("break 2 fib@0x2d").unwrap(),
            Command::Break(Who::Worker(2), Location::Code { func: "fib".into(), offset: Some(45) })
        );
        assert_eq!(parse("break squares.c:7").unwrap(), Command::Break(Who::All, Location::Line { file: "squares.c".into(), line: 7 }));
        assert_eq!(
            parse("break 1 src/a.c:12").unwrap(),
            Command::Break(Who::Worker(1), Location::Line { file: "src/a.c".into(), line: 12 })
        );
        assert_eq!(parse("clear all").unwrap(), Command::Clear(Who::All, None));
        assert_eq!(parse("wait any").unwrap(), Command::Wait(None));
        assert_eq!(parse("step-over 1").unwrap(), Command::Step(1, Resume::StepOver));
        assert_eq!(parse("global 0 calls").unwrap(), Command::Global(0, GlobalRef::Name("calls".into()), None));
        assert_eq!(parse("global 0 3 7").unwrap(), Command::Global(0, GlobalRef::Index(3), Some("7".into())));
        assert_eq!(parse("run fib -1").unwrap(), Command::Run("fib".into(), vec!["-1".into()]));
    }

    #[test]
    fn bad_lines_say_what_is_wrong() {
        assert!(parse("frobnicate").unwrap_err().contains("unknown command"));
        assert!(parse("break 2").unwrap_err().contains("usage: break"));
        assert!(parse("step-in all").unwrap_err().contains("not a worker index"));
        assert!(parse("break 0 fib@x").unwrap_err().contains("offset"));
        assert!(parse("break squares.c:x").unwrap_err().contains("not a line number"));
        assert!(parse("break squares.c:0").unwrap_err().contains("not a line number"));
        assert!(parse("break fib").unwrap_err().contains("needs the worker"));
    }
}
