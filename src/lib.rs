//! permlens: finds over-privileged and denied callers of cloud billing (BSS) APIs.
//!
//! The pipeline: a route [`catalog`] says which API a request calls and which permission it
//! needs; [`classify`] maps request targets onto it. The binary is a thin shell over
//! [`cmd::run`].

pub mod catalog;
pub mod classify;
pub mod cli;
pub mod cmd;
pub mod exit;
pub mod fsutil;
pub mod policy;

pub use exit::ExitCode;
