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
//!   scheduler, the delete-queue worker, the webhook dispatcher, recovery and the deletes
//!   detached from their requests.
//! - [`api`] — the Ayrshare wire layer: actix-web handlers that parse requests into domain
//!   values, call a service and render a typed answer (`api/answers.rs`); the `Caller`
//!   extractor (`api/auth.rs`, which also counts each key's `monthlyApiCalls` in the store);
//!   profiles, `disableSocial` and `GET /api/user` (`api/profiles.rs`); `PUT`/`PATCH
//!   /api/post` and `PUT /api/post/retry` (`api/update.rs`, over `PublishService::update`
//!   and `::retry`); webhook registration and event payloads (`api/hook.rs`);
//!   error codes (`api/error.rs`: each declared once in `codes!`, which lists them all for
//!   the OpenAPI `ErrorCode` enum); the wording of failure classes
//!   (`api/messages.rs`); `GET /metrics` and the middleware that counts, times and logs every
//!   request by route pattern (`api/metrics.rs`); the OpenAPI 3.1 document served at
//!   `GET /api/openapi.json` (`api/openapi.rs`: a route is added to it with `#[utoipa::path]` on
//!   its handler and one `paths(...)` line). The only module that knows Ayrshare field names, and nothing
//!   outside it (but `startup`'s route table) imports it. It asks the `Networks` registry
//!   for anything per-network, never matching on a platform. `api/link.rs` serves the linking
//!   page (`GET /link?jwt=…`, maud templates, no JavaScript), its Connect/Disconnect forms and
//!   the networks' OAuth callbacks; `generateJWT` is in `api/profiles.rs`.
//! - [`metrics`] — the process's one Prometheus recorder and the functions the layers record
//!   through (every metric's name and labels in one file), and `QuotaRemaining`, the
//!   per-gateway quota gauge the delete service feeds and `GET /metrics` appends.
//! - [`keys`] — API keys and profile keys: generated, hashed, compared in constant time.
//!   No api dependency: startup and the store use it too.
//! - [`domain`] — the ids (`PostId`, `ProfileId`, `AccountId`, `NetworkPostId`), `Platform`,
//!   `Post` and its per-platform state, `LinkedAccount` and `DeleteOutcome`. No I/O.
//! - [`service`] — the delete orchestrator (plan → claim the durable intent → fan out →
//!   record, over one planned delete), the publisher, the scheduler, the durable delete queue
//!   and its worker (`service/queue.rs`), webhooks with their outbox (`service/webhooks.rs`),
//!   `locks` (one generic
//!   `KeyedLocks` for the per-post locks they share and the idempotency-key locks; `hold`
//!   adds the store's cross-process post lock, so several gateways serialize per post too),
//!   idempotency keys (`service/idempotency.rs`), history reads, filtered and paged
//!   (`service/history.rs`), import persistence (`service/import.rs`), the store-backed
//!   `SessionStore` for renewed network sessions (`service/sessions.rs`), the bounded,
//!   SSRF-safe fetch of `mediaUrls` with the built-in random quotes and images
//!   (`service/media.rs`), the batched counts of API calls behind `monthlyApiCalls`
//!   (`service/usage.rs`), and account linking
//!   (`service/linking.rs`: the signed linking token, page sessions and CSRF, single-use OAuth
//!   `state` kept in the store's meta, the callbacks' token exchanges and identity check, the
//!   Threads token refresher, and `LinkEvent`s for the `social` webhook). It stores
//!   failure classes; the api layer words them.
//! - [`store`] — the `Store` trait, its contract suite (`store::contract`, run on every
//!   backend), the embedded sled implementation and the PostgreSQL one (schema in
//!   `migrations/`, embedded and run at start-up); durable jobs (`Job`) hold the delete queue
//!   and the webhook outbox; compare-and-swap metadata (`swap_meta`) keeps webhook
//!   registrations whole across gateways. In the sled store, `store/group_commit.rs` lets
//!   concurrent `flush` callers share one durable flush, and `store/record.rs` is the
//!   versioned binary encoding of posts (older JSON records still read; how to add a field is
//!   documented there); new sled stores are zstd-compressed with `store.compress_new_stores`,
//!   and the binary checkpoints the store on a clean stop (`SledStore::checkpoint`, bounded by
//!   `store.checkpoint_on_stop_secs`) so the next start skips sled's log replay.
//!   In the PostgreSQL store, `store/pg_locks.rs` sends every queued post lock and release as
//!   one statement on the lock connection, and `store/pg_writes.rs` lets concurrent post
//!   updates share one statement and one commit.
//! - [`networks`] — one adapter per network (Threads, X, Bluesky) behind the `Network` trait,
//!   each mapping its answers to a few outcome classes and declaring its rules (delete quota
//!   from its settings section, text length, images (`MediaRules`, `networks/media.rs`),
//!   auth-failure kind, pre-call requirements, whether it links with a password); the
//!   `Networks` registry (platform → adapter) is built in one place and hands adapters that
//!   renew sessions a `SessionStore`; each adapter is handed out wrapped
//!   (`networks/observed.rs`) so every network call is counted, timed and logged; every HTTP
//!   exchange with a network runs on the gateway's runtime (`HttpClient`), so a stopping HTTP
//!   server cannot cut a call off after it was sent; OAuth 1.0a signing for X;
//!   the linking protocols (Threads OAuth 2.0, X three-legged OAuth 1.0a) in
//!   `networks/link_flows.rs`, apart from the delete and publish calls.
//! - [`import_cli`] — `postgate import`, the migration path from Ayrshare: a client that
//!   sends an export file, or the history read from Ayrshare's API (`--from-api`), to a running
//!   gateway in batches, skipping posts already there on a re-run.
//! - [`import_source`] — reading every post of an Ayrshare-compatible `GET /history` (no
//!   cursor there: date windows split until each fits a page).
//! - [`migrate_store`] — `postgate migrate-store`, the way from sled to PostgreSQL: copies
//!   every record a store holds (restartable, verified at the end).
//! - [`demo`] — `postgate demo`, the round trip (sandbox, gateway, link Threads and X through
//!   the consent screens and Bluesky with an app password, publish, delete),
//!   [`demo::sandbox_settings`], the one place that points a gateway at a sandbox, and
//!   [`demo::link_via_consent`], the form-following client.
//!
//! The simulated networks behind `postgate sandbox` (Threads, X, Bluesky; quotas, OAuth 1.0a
//! verification, image uploads and containers, injectable latency and faults, a webhook
//! receiver) are their own crate,
//! `postgate-sandbox` (`sandbox/`),
//! which does not depend on this one.

#![warn(missing_docs)]

pub mod api;
pub mod configuration;
pub mod demo;
pub mod domain;
pub mod import_cli;
pub mod import_source;
pub mod keys;
pub mod metrics;
pub mod migrate_store;
pub mod networks;
pub mod service;
pub mod startup;
pub mod store;
pub mod telemetry;
