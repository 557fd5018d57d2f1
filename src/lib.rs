//! permlens: finds over-privileged and denied callers of cloud billing (BSS) APIs.
//!
//! The library is the pipeline of `permlens analyze` and the stages under it; the binary
//! (`main.rs`) parses the command line and calls [`cmd::run`]. Bottom up, each module using
//! only those above it in this list (checked by `tests/layers.rs`):
//!
//! - leaves: [`bytes`] (short compares, byte positions in 64-byte blocks), [`net`] (client
//!   addresses, IP networks), [`fsutil`], [`lock`], [`log`], [`progress`], [`frame`] (polars
//!   helpers), [`exit`];
//! - [`catalog`]: the route table (API, method, template, permission code) as data;
//! - [`classify`]: a request target normalised as the server sees it and matched to a route;
//! - [`parse`]: one parser per log format (JSON lines of any gateway, API Gateway text, CTS);
//! - [`policy`]: IAM snapshots, action patterns, conditions, allow/deny decisions;
//! - [`scan`]: the hot loop, lines in, observations out into a [`scan::Sink`];
//! - [`aggregate`]: [`aggregate::Stats`], the mergeable rows a report is made of;
//! - [`input`]: finding, sniffing, chunking and reading log files in parallel;
//! - [`state`]: `--state`, the hourly rows kept between runs and their crash-safe store;
//! - [`findings`]: verdicts on denied calls, unused grants, recommendations (pure functions);
//! - [`report`]: the tables and the atomically replaced report directory;
//! - [`generate`]: realistic generated logs and snapshots;
//! - [`pipeline`]: the stages of `analyze` in order; [`cli`] and [`cmd`]: the command line.
//!
//! Where to add a log format, a report table or a policy condition: `DESIGN.md`, "How to add".

pub mod aggregate;
pub mod bytes;
pub mod catalog;
pub mod classify;
pub mod cli;
pub mod cmd;
pub mod exceptions;
pub mod exit;
pub mod findings;
pub mod frame;
pub mod fsutil;
pub mod generate;
pub mod input;
pub mod jsonfile;
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
