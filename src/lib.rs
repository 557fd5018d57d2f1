//! permlens: finds over-privileged and denied callers of cloud billing (BSS) APIs.
//!
//! The pipeline: a route [`catalog`] says which API a request calls and which permission it
//! needs; [`classify`] maps request targets onto it. The binary is a thin shell over
//! [`cmd::run`].

pub mod aggregate;
pub mod bytes;
pub mod catalog;
pub mod classify;
pub mod cli;
pub mod cmd;
pub mod exit;
pub mod findings;
pub mod frame;
pub mod fsutil;
pub mod generate;
pub mod input;
pub mod lock;
pub mod log;
pub mod net;
pub mod parse;
pub mod pipeline;
pub mod policy;
pub mod progress;
pub mod report;
pub mod scan;
pub mod state;

pub use exit::ExitCode;
