//! The preview1 calls, one concern per file. Each takes the guest's memory
//! and the store's [`crate::WasiCtx`], then the call's own arguments, and
//! returns `Ok` or the errno (never panics: every guest pointer, length,
//! descriptor and flag is checked).

pub(crate) mod args;
pub(crate) mod clock;
pub(crate) mod fd;
pub(crate) mod path;
pub(crate) mod poll;
pub(crate) mod random;
pub(crate) mod readdir;
pub(crate) mod sched;
pub(crate) mod stat;
pub(crate) mod unsupported;
