//! What the scenarios share: child processes, the gateway API, load generation, the report.

pub mod api;
pub mod load;
pub mod process;
pub mod report;
pub mod services;
