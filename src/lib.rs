//! # postgate
//!
//! A self-hosted social-media gateway that speaks the Ayrshare REST API. Its core job is
//! deleting a post everywhere it was published — concurrently, and saying exactly what
//! happened on each network.
//!
//! ## Layout
//!
//! - [`configuration`] — settings: embedded `settings.toml` defaults, a file, then
//!   `POSTGATE__SECTION__KEY` environment variables.
//! - [`telemetry`] — the tracing subscriber (human or JSON, `RUST_LOG`).
//! - [`startup`] — `Application::build(settings)`: store, keys, services, HTTP server on a
//!   bound port (port 0 in tests), then `run_until_stopped()`. Shutdown has one owner: a
//!   cancellation token (`shutdown_token()`) and a task tracker for the server, the
//!   scheduler, recovery and the deletes detached from their requests.
//! - [`api`] — the Ayrshare wire layer (actix-web handlers, error codes, JSON shapes). The
//!   only module that knows Ayrshare field names.
//! - [`auth`] — API keys and profile keys (hashed, compared in constant time) and the
//!   `Caller` extractor.
//! - [`domain`] — `PostId`, `Platform`, `NetworkPostId`, `Post`, per-platform state and
//!   `DeleteOutcome`. No I/O.
//! - [`service`] — the delete orchestrator (resolve → claim → intent → fan out → record),
//!   per-post locks shared with the publisher and scheduler.
//! - [`store`] — the `Store` trait and its embedded sled implementation.
//! - [`networks`] — one adapter per network (Threads, X) behind the `Network` trait, each
//!   mapping its answers to a few outcome classes; OAuth 1.0a signing for X.
//! - [`import_cli`] — `postgate import`, the migration path from Ayrshare: a client that
//!   sends an export file to a running gateway in batches.
//! - [`demo`] — `postgate demo`, the round trip (sandbox, gateway, link, publish, delete), and
//!   [`demo::sandbox_settings`], the one place that points a gateway at a sandbox.
//!
//! The simulated networks behind `postgate sandbox` (quotas, OAuth 1.0a verification,
//! injectable latency and faults) are their own crate, `postgate-sandbox` (`sandbox/`),
//! which does not depend on this one.

#![warn(missing_docs)]

pub mod api;
pub mod auth;
pub mod configuration;
pub mod demo;
pub mod domain;
pub mod import_cli;
pub mod networks;
pub mod service;
pub mod startup;
pub mod store;
pub mod telemetry;
