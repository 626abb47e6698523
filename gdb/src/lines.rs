//! Source lines.
