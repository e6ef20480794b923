//! `postgate sandbox`: simulated Threads, X and Bluesky APIs on loopback, one port each, so postgate
//! can be tried, tested and benchmarked without real accounts.
//!
//! This crate does not depend on postgate: what it checks (OAuth 1.0a signatures above all)
//! is checked by a second, independent implementation.
//!
//! The simulation follows the networks' documented behaviour: Threads' Graph-style container → publish
//! flow, reads, deletes, token checks, `code 100 / error_subcode 33` for missing or foreign
//! objects and the publishing-limit endpoint; X's v2 `POST/GET/DELETE /2/tweets`, v1.1
//! `statuses/destroy`, OAuth 1.0a (HMAC-SHA1) verification against the URL actually called,
//! `x-rate-limit-*` headers and 429s; Bluesky's XRPC sessions (`createSession` with a handle
//! and app password, `refreshSession` rotating the refresh token, `getSession`) and post
//! records (`createRecord`, idempotent `deleteRecord`, `getRecord` answering
//! `RecordNotFound`), with 429 `RateLimitExceeded` and `ratelimit-*` headers. State lives in
//! memory and is lost on exit.
//!
//! Besides the simulated APIs each server answers:
//! - `GET /__sandbox/stats` — call counters ([`StatsSnapshot`]);
//! - `GET|PUT /__sandbox/faults` — read or replace the injected [`Faults`] (JSON);
//! - `POST /__sandbox/seed?count=N[&user_id=ID][&text=T]` — create N live posts at once (no
//!   quotas, no stats), answering `{"ids":[…]}`;
//! - `POST /__sandbox/reset` — zero the counters and the quota windows (posts stay);
//! - `/__sandbox/webhooks*` — a webhook receiver that records deliveries and fails on demand
//!   ([`webhooks`]; one receiver shared by both servers).
//!
//! Choices where the real APIs are undocumented (see the reference's UNCONFIRMED items):
//! - Threads delete quota exhausted: HTTP 400 `{"error":{"message":"(#17) User request limit
//!   reached …","type":"OAuthException","code":17,…}}`; the post quota (250 / 24 h, enforced
//!   at `threads_publish`) answers the same way.
//! - Threads: a missing token is code 104, an unknown one code 190; another account's media,
//!   an unknown or deleted id all answer 100/33. `media_type` TEXT, IMAGE (`image_url`,
//!   `is_carousel_item`) and CAROUSEL (`children`) are simulated; the sandbox keeps image URLs
//!   and fetches nothing: an image or carousel container's first status read answers
//!   `IN_PROGRESS`, later ones `FINISHED` (`ERROR` with an `error_message` when `image_url` is
//!   not an http(s) URL), and `threads_publish` refuses a container not yet `FINISHED` with
//!   code 9007.
//! - Media: X `POST /2/media/upload` (multipart `media`, JPEG/PNG/GIF/WebP up to 5 MB,
//!   answering `data.id`) and `POST /2/tweets` with `media.media_ids` (1 to 4 of the
//!   caller's uploads); Bluesky `com.atproto.repo.uploadBlob` (up to 1,000,000 bytes) and
//!   `createRecord` with an `app.bsky.embed.images` embed of the caller's blobs. Images
//!   received are counted in the stats' `media` and `media_bytes`.
//! - X: `DELETE /2/tweets/{id}` of an unknown or deleted id answers 404 with a
//!   `resource-not-found` Problem; of another user's tweet 403. `GET /2/tweets/{id}` of a
//!   missing tweet answers 200 with `errors` (as most captures show). v1.1 `destroy` answers
//!   404 code 144, 403 code 183 (not the author), 401 code 32 (bad signature) and has no rate
//!   limit (X documents none). Text over 280 (weighted as twitter-text v3 without URL
//!   rules) answers 403 "Your Tweet text is too long…". No duplicate-content check, no
//!   timestamp or nonce checks.
//! - X also accepts `Authorization: Bearer <an account's access token>` as an OAuth 2.0 user
//!   token, so the API can be tried with curl.
//! - Identity: Threads `GET /v1.0/me?fields=id,username` and X `GET /2/users/me` (signed like
//!   any other call) answer the account the token belongs to; neither counts against a quota.
//! - Quotas and limits of 0 are off.
//! - Bluesky: access tokens expire after `--bluesky-access-ttl-secs` (`ExpiredToken`); a
//!   revoked or unknown refresh token answers 400 `ExpiredToken`; writing to another
//!   account's repository answers 400 `InvalidRequest`; only `app.bsky.feed.post` records.
//! - The lose-response fault (`--threads-lose-response-rate`) performs a Threads delete, then
//!   closes the connection without writing any answer, as a network losing a response does.

mod bluesky;
pub mod consent;
mod faults;
mod media;
pub mod oauth;
mod threads;
pub mod webhooks;
mod x;

pub use consent::OAuthFaults;
pub use faults::{CallCounts, ErrorCounts, Faults, StatsSnapshot};
pub use threads::{THREADS_APP_ID, THREADS_APP_SECRET};

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use serde_json::json;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::io;
use std::net::TcpListener;
use std::time::Duration;

/// Options of `postgate sandbox`.
#[derive(Clone, Debug, clap::Args)]
pub struct SandboxOptions {
    /// Address both servers bind to.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Port of the simulated Threads API (0 picks a free one).
    #[arg(long, default_value_t = 9101)]
    pub threads_port: u16,
    /// Port of the simulated X API (0 picks a free one).
    #[arg(long, default_value_t = 9102)]
    pub x_port: u16,
    /// Port of the simulated Bluesky PDS (0 picks a free one).
    #[arg(long, default_value_t = 9103)]
    pub bluesky_port: u16,
    /// Accounts per network. Account 1 has the credentials below; account k (2..=N) appends
    /// `-k` to each token and secret, `_k` to the username, and adds k-1 to the user id.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub accounts: u32,
    /// Threads user id of account 1.
    #[arg(long, default_value_t = 17841400000000001)]
    pub threads_user_id: u64,
    /// Threads username of account 1.
    #[arg(long, default_value = "sandbox_threads")]
    pub threads_username: String,
    /// Threads access token of account 1.
    #[arg(long, default_value = "sandbox-threads-token")]
    pub threads_token: String,
    /// X user id of account 1.
    #[arg(long, default_value_t = 1700000000000000001)]
    pub x_user_id: u64,
    /// X username of account 1.
    #[arg(long, default_value = "sandbox_x")]
    pub x_username: String,
    /// X access token of account 1.
    #[arg(long, default_value = "sandbox-x-token")]
    pub x_token: String,
    /// X access token secret of account 1.
    #[arg(long, default_value = "sandbox-x-token-secret")]
    pub x_token_secret: String,
    /// Bluesky handle of account 1 (account k: `{first label}-k.{rest}`).
    #[arg(long, default_value = "sandbox.bsky.social")]
    pub bluesky_handle: String,
    /// Bluesky DID of account 1 (account k appends `-k`).
    #[arg(long, default_value = "did:plc:sandboxbluesky")]
    pub bluesky_did: String,
    /// Bluesky app password of account 1 (account k appends `-k`).
    #[arg(long, default_value = "sand-box0-blue-sky0")]
    pub bluesky_app_password: String,
    /// Lifetime of a Bluesky access token, in seconds (then `ExpiredToken`).
    #[arg(long, default_value_t = 7200)]
    pub bluesky_access_ttl_secs: u64,
    /// Bluesky deletes per account per moving window (0: no limit). Bluesky's budget is
    /// 5,000 points an hour, a delete costing 1.
    #[arg(long, default_value_t = 5000)]
    pub bluesky_delete_limit: u32,
    /// Length of the Bluesky delete window, in seconds.
    #[arg(long, default_value_t = 3600)]
    pub bluesky_delete_window_secs: u64,
    /// The X app's consumer (API) key.
    #[arg(long, default_value = "sandbox-x-consumer-key")]
    pub x_consumer_key: String,
    /// The X app's consumer (API key) secret.
    #[arg(long, default_value = "sandbox-x-consumer-secret")]
    pub x_consumer_secret: String,
    /// Threads deletes per account per moving window (0: no quota).
    #[arg(long, default_value_t = 100)]
    pub threads_delete_limit: u32,
    /// Length of the Threads delete window, in seconds.
    #[arg(long, default_value_t = 86_400)]
    pub threads_delete_window_secs: u64,
    /// Threads posts published per account per 24 h moving window (0: no quota).
    #[arg(long, default_value_t = 250)]
    pub threads_post_limit: u32,
    /// X deletes per user per 15-minute-style fixed window (0: no limit).
    #[arg(long, default_value_t = 50)]
    pub x_delete_limit: u32,
    /// Length of the X delete window, in seconds.
    #[arg(long, default_value_t = 900)]
    pub x_delete_window_secs: u64,
    /// X `POST /2/tweets` per user per 15 minutes (0: no limit).
    #[arg(long, default_value_t = 200)]
    pub x_post_limit: u32,
    /// X `GET /2/tweets/{id}` per user per 15 minutes (0: no limit).
    #[arg(long, default_value_t = 900)]
    pub x_read_limit: u32,
    /// Fixed latency added to every Threads call, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub threads_latency_ms: u64,
    /// Random extra latency (0..=N ms) added to every Threads call.
    #[arg(long, default_value_t = 0)]
    pub threads_latency_jitter_ms: u64,
    /// Share of Threads calls (0.0–1.0) answered with a transient 500 or 503.
    #[arg(long, default_value_t = 0.0, value_parser = parse_rate)]
    pub threads_error_rate: f64,
    /// Accept Threads calls and never answer them.
    #[arg(long)]
    pub threads_hang: bool,
    /// Share of Threads deletes (0.0–1.0) performed and then answered by closing the
    /// connection without a response (a lost answer).
    #[arg(long, default_value_t = 0.0, value_parser = parse_rate)]
    pub threads_lose_response_rate: f64,
    /// Fixed latency added to every X call, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub x_latency_ms: u64,
    /// Random extra latency (0..=N ms) added to every X call.
    #[arg(long, default_value_t = 0)]
    pub x_latency_jitter_ms: u64,
    /// Share of X calls (0.0–1.0) answered with a transient 500 or 503.
    #[arg(long, default_value_t = 0.0, value_parser = parse_rate)]
    pub x_error_rate: f64,
    /// Accept X calls and never answer them.
    #[arg(long)]
    pub x_hang: bool,
    /// Fixed latency added to every Bluesky call, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub bluesky_latency_ms: u64,
    /// Random extra latency (0..=N ms) added to every Bluesky call.
    #[arg(long, default_value_t = 0)]
    pub bluesky_latency_jitter_ms: u64,
    /// Share of Bluesky calls (0.0–1.0) answered with a transient 500 or 503.
    #[arg(long, default_value_t = 0.0, value_parser = parse_rate)]
    pub bluesky_error_rate: f64,
    /// Accept Bluesky calls and never answer them.
    #[arg(long)]
    pub bluesky_hang: bool,
    /// HTTP worker threads per server (default: one per core).
    #[arg(long)]
    pub workers: Option<usize>,
}

fn parse_rate(s: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|e| format!("{e}"))?;
    if (0.0..=1.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("{v} is not between 0.0 and 1.0"))
    }
}

#[derive(clap::Parser)]
struct DefaultsOnly {
    #[command(flatten)]
    opts: SandboxOptions,
}

impl Default for SandboxOptions {
    /// The command line's defaults.
    fn default() -> Self {
        <DefaultsOnly as clap::Parser>::parse_from(["sandbox"]).opts
    }
}

impl SandboxOptions {
    /// The defaults on free ports (for tests and benchmarks).
    pub fn ephemeral() -> Self {
        Self {
            threads_port: 0,
            x_port: 0,
            bluesky_port: 0,
            ..Self::default()
        }
    }

    /// The injected faults of the Threads server.
    pub fn threads_faults(&self) -> Faults {
        Faults {
            latency_ms: self.threads_latency_ms,
            jitter_ms: self.threads_latency_jitter_ms,
            error_rate: self.threads_error_rate,
            hang: self.threads_hang,
            lose_response_rate: self.threads_lose_response_rate,
        }
    }

    /// The injected faults of the X server.
    pub fn x_faults(&self) -> Faults {
        Faults {
            latency_ms: self.x_latency_ms,
            jitter_ms: self.x_latency_jitter_ms,
            error_rate: self.x_error_rate,
            hang: self.x_hang,
            lose_response_rate: 0.0,
        }
    }

    /// The injected faults of the Bluesky server.
    pub fn bluesky_faults(&self) -> Faults {
        Faults {
            latency_ms: self.bluesky_latency_ms,
            jitter_ms: self.bluesky_latency_jitter_ms,
            error_rate: self.bluesky_error_rate,
            hang: self.bluesky_hang,
            lose_response_rate: 0.0,
        }
    }

    /// The known accounts these options describe.
    pub fn accounts(&self) -> SandboxAccounts {
        let n = self.accounts.max(1) as u64;
        let suffix = |base: &str, k: u64, sep: char| {
            if k == 1 {
                base.to_owned()
            } else {
                format!("{base}{sep}{k}")
            }
        };
        SandboxAccounts {
            threads: (1..=n)
                .map(|k| ThreadsAccount {
                    user_id: (self.threads_user_id + k - 1).to_string(),
                    username: suffix(&self.threads_username, k, '_'),
                    access_token: suffix(&self.threads_token, k, '-'),
                })
                .collect(),
            x: (1..=n)
                .map(|k| XAccount {
                    user_id: (self.x_user_id + k - 1).to_string(),
                    username: suffix(&self.x_username, k, '_'),
                    access_token: suffix(&self.x_token, k, '-'),
                    access_token_secret: suffix(&self.x_token_secret, k, '-'),
                })
                .collect(),
            bluesky: (1..=n)
                .map(|k| BlueskyAccount {
                    did: suffix(&self.bluesky_did, k, '-'),
                    handle: if k == 1 {
                        self.bluesky_handle.clone()
                    } else {
                        match self.bluesky_handle.split_once('.') {
                            Some((first, rest)) => format!("{first}-{k}.{rest}"),
                            None => format!("{}-{k}", self.bluesky_handle),
                        }
                    },
                    app_password: suffix(&self.bluesky_app_password, k, '-'),
                })
                .collect(),
            x_app: XApp {
                consumer_key: self.x_consumer_key.clone(),
                consumer_secret: self.x_consumer_secret.clone(),
            },
        }
    }
}

/// A simulated Threads account. The credentials are fake and meant to be copy-pasted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ThreadsAccount {
    /// Threads user id.
    pub user_id: String,
    /// Username.
    pub username: String,
    /// Access token (`access_token` parameter).
    pub access_token: String,
}

/// A simulated X account. The credentials are fake and meant to be copy-pasted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct XAccount {
    /// X user id.
    pub user_id: String,
    /// Username (handle).
    pub username: String,
    /// OAuth 1.0a access token.
    pub access_token: String,
    /// OAuth 1.0a access token secret.
    pub access_token_secret: String,
}

/// A simulated Bluesky account. The credentials are fake and meant to be copy-pasted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlueskyAccount {
    /// The account's DID (its repository).
    pub did: String,
    /// Handle.
    pub handle: String,
    /// The app password `createSession` accepts.
    pub app_password: String,
}

/// The simulated X app.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct XApp {
    /// Consumer (API) key.
    pub consumer_key: String,
    /// Consumer (API key) secret.
    pub consumer_secret: String,
}

/// Every known account of a running sandbox.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SandboxAccounts {
    /// Threads accounts; the first is the one printed and flag-configured.
    pub threads: Vec<ThreadsAccount>,
    /// X accounts; the first is the one printed and flag-configured.
    pub x: Vec<XAccount>,
    /// Bluesky accounts; the first is the one printed and flag-configured.
    pub bluesky: Vec<BlueskyAccount>,
    /// The X app every X account authorized.
    pub x_app: XApp,
}

/// The administrative side of a simulated network.
pub(crate) trait SimNetwork: Send + Sync + 'static {
    fn name(&self) -> &'static str;
    fn faults(&self) -> &faults::FaultSwitch;
    fn stats(&self) -> StatsSnapshot;
    fn reset(&self);
    fn seed(&self, user_id: Option<&str>, count: usize, text: &str) -> Result<Vec<String>, String>;
}

async fn admin_stats<N: SimNetwork>(net: web::Data<N>) -> HttpResponse {
    HttpResponse::Ok().json(net.stats())
}

async fn admin_get_faults<N: SimNetwork>(net: web::Data<N>) -> HttpResponse {
    HttpResponse::Ok().json(net.faults().get())
}

async fn admin_set_faults<N: SimNetwork>(net: web::Data<N>, body: web::Bytes) -> HttpResponse {
    let faults: Faults = match serde_json::from_slice(&body) {
        Ok(f) => f,
        Err(e) => return HttpResponse::BadRequest().json(json!({"error": e.to_string()})),
    };
    if let Err(e) = faults.validate() {
        return HttpResponse::BadRequest().json(json!({ "error": e }));
    }
    net.faults().set(faults);
    HttpResponse::Ok().json(faults)
}

async fn admin_reset<N: SimNetwork>(net: web::Data<N>) -> HttpResponse {
    net.reset();
    HttpResponse::Ok().json(json!({"reset": true}))
}

async fn admin_seed<N: SimNetwork>(net: web::Data<N>, req: HttpRequest) -> HttpResponse {
    let q = query_map(&req).unwrap_or_default();
    let count = match q.get("count").map(|c| c.parse::<usize>()) {
        None => 1,
        Some(Ok(c)) if (1..=100_000).contains(&c) => c,
        _ => {
            return HttpResponse::BadRequest()
                .json(json!({"error": "count must be between 1 and 100000"}))
        }
    };
    let text = q
        .get("text")
        .map(String::as_str)
        .unwrap_or("seeded by postgate sandbox");
    match net.seed(q.get("user_id").map(String::as_str), count, text) {
        Ok(ids) => HttpResponse::Ok().json(json!({ "ids": ids })),
        Err(e) => HttpResponse::BadRequest().json(json!({ "error": e })),
    }
}

/// Routes `/__sandbox/*` for one network.
pub(crate) fn admin_routes<N: SimNetwork>(cfg: &mut web::ServiceConfig) {
    cfg.route("/__sandbox/stats", web::get().to(admin_stats::<N>))
        .route("/__sandbox/faults", web::get().to(admin_get_faults::<N>))
        .route("/__sandbox/faults", web::put().to(admin_set_faults::<N>))
        .route("/__sandbox/faults", web::post().to(admin_set_faults::<N>))
        .route("/__sandbox/seed", web::post().to(admin_seed::<N>))
        .route("/__sandbox/reset", web::post().to(admin_reset::<N>));
}

/// The query string as a map (last value of a repeated name wins).
pub(crate) fn query_map(req: &HttpRequest) -> Option<HashMap<String, String>> {
    web::Query::<Vec<(String, String)>>::from_query(req.query_string())
        .ok()
        .map(|q| q.into_inner().into_iter().collect())
}

/// The query string's pairs, decoded (`+` is a space).
pub(crate) fn query_pairs(req: &HttpRequest) -> Option<Vec<(String, String)>> {
    web::Query::<Vec<(String, String)>>::from_query(req.query_string())
        .ok()
        .map(|q| q.into_inner())
}

/// Whether the request body is `application/x-www-form-urlencoded`.
/// The index of the account `user_id` names among `user_ids` (the first account without one),
/// for `/__sandbox/seed`.
pub(crate) fn seed_owner<'a>(
    mut user_ids: impl Iterator<Item = &'a str>,
    user_id: Option<&str>,
    network: &str,
) -> Result<usize, String> {
    match user_id {
        None => Ok(0),
        Some(u) => user_ids
            .position(|id| id == u)
            .ok_or_else(|| format!("no {network} account with user id {u}")),
    }
}

pub(crate) fn is_form(req: &HttpRequest) -> bool {
    req.headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        })
}

/// What a gateway needs to be pointed at a sandbox: where each simulated network answers and
/// the X app whose consumer credentials it accepts. A sandbox running in another process
/// (the benchmark's) is described by one too.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SandboxAddrs {
    /// Threads base URL including `/v1.0` (what `threads.base_url` expects).
    pub threads_url: String,
    /// X base URL (what `x.base_url` expects).
    pub x_url: String,
    /// Bluesky PDS URL (what `bluesky.base_url` expects).
    pub bluesky_url: String,
    /// The simulated X app.
    pub x_app: XApp,
}

impl SandboxAddrs {
    /// The `POSTGATE__…` settings that point a gateway here: every base URL, the X app's
    /// consumer credentials, and media fetches allowed on loopback. The one list the banner, postgate's settings helper, the tests
    /// and the benchmark use, so a new simulated network is wired in once.
    pub fn gateway_env(&self) -> Vec<(String, String)> {
        [
            ("POSTGATE__THREADS__BASE_URL", &self.threads_url),
            ("POSTGATE__X__BASE_URL", &self.x_url),
            ("POSTGATE__BLUESKY__BASE_URL", &self.bluesky_url),
            ("POSTGATE__X__CONSUMER_KEY", &self.x_app.consumer_key),
            ("POSTGATE__X__CONSUMER_SECRET", &self.x_app.consumer_secret),
            (
                "POSTGATE__THREADS__APP_ID",
                &threads::THREADS_APP_ID.to_owned(),
            ),
            (
                "POSTGATE__THREADS__APP_SECRET",
                &threads::THREADS_APP_SECRET.to_owned(),
            ),
            ("POSTGATE__THREADS__OAUTH_BASE_URL", &self.threads_root()),
            // Image posts: the sandbox's image containers finish on their second status
            // read, and demo images live on loopback (the gateway's own random images, or
            // a local file server).
            ("POSTGATE__THREADS__CONTAINER_POLL_MS", &"100".to_owned()),
            ("POSTGATE__MEDIA__ALLOW_PRIVATE", &"true".to_owned()),
            ("POSTGATE__MEDIA__ALLOW_HTTP", &"true".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.clone()))
        .collect()
    }

    /// The Threads server's root (`threads_url` without `/v1.0`): its OAuth pages and token
    /// endpoints live there, as on graph.threads.net.
    pub fn threads_root(&self) -> String {
        self.threads_url.trim_end_matches("/v1.0").to_owned()
    }

    /// [`SandboxAddrs::gateway_env`] as one shell line, for `postgate serve`.
    pub fn env_line(&self) -> String {
        self.gateway_env()
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// A running sandbox: its servers, their URLs and accounts.
pub struct SandboxHandle {
    /// Threads base URL including `/v1.0` (what `threads.base_url` expects).
    pub threads_url: String,
    /// X base URL (what `x.base_url` expects).
    pub x_url: String,
    /// Bound Threads port.
    pub threads_port: u16,
    /// Bound X port.
    pub x_port: u16,
    /// Bluesky PDS URL (what `bluesky.base_url` expects).
    pub bluesky_url: String,
    /// Bound Bluesky port.
    pub bluesky_port: u16,
    /// The known accounts.
    pub accounts: SandboxAccounts,
    threads: web::Data<threads::ThreadsSim>,
    x: web::Data<x::XSim>,
    bluesky: web::Data<bluesky::BlueskySim>,
    webhooks: web::Data<webhooks::WebhookReceiver>,
    servers: Vec<(
        actix_web::dev::ServerHandle,
        tokio::task::JoinHandle<io::Result<()>>,
    )>,
    limits: String,
}

impl SandboxHandle {
    /// Threads server root (`http://host:port`, without `/v1.0`), where `/__sandbox/*` lives.
    pub fn threads_root(&self) -> String {
        self.threads_url.trim_end_matches("/v1.0").to_owned()
    }

    /// The webhook receiver's deliveries so far.
    pub fn webhook_deliveries(&self) -> Vec<webhooks::Delivery> {
        self.webhooks.deliveries()
    }

    /// Where to register a webhook to have this sandbox receive it.
    pub fn webhook_url(&self) -> String {
        format!("{}/__sandbox/webhooks/receive", self.threads_root())
    }

    /// The Threads counters.
    pub fn threads_stats(&self) -> StatsSnapshot {
        self.threads.stats()
    }

    /// The X counters.
    pub fn x_stats(&self) -> StatsSnapshot {
        self.x.stats()
    }

    /// The Bluesky counters.
    pub fn bluesky_stats(&self) -> StatsSnapshot {
        self.bluesky.stats()
    }

    /// Replaces the faults injected into Bluesky calls.
    pub fn set_bluesky_faults(&self, faults: Faults) {
        self.bluesky.faults().set(faults);
    }

    /// Replaces the faults injected into Threads calls.
    pub fn set_threads_faults(&self, faults: Faults) {
        self.threads.faults().set(faults);
    }

    /// Replaces the faults injected into X calls.
    pub fn set_x_faults(&self, faults: Faults) {
        self.x.faults().set(faults);
    }

    /// Sets the OAuth faults of both servers' flows (denied consent, expired codes, failing
    /// refreshes); also `PUT /__sandbox/oauth_faults` on either server.
    pub fn set_oauth_faults(&self, faults: consent::OAuthFaults) {
        self.threads.set_oauth_faults(faults);
        self.x.set_oauth_faults(faults);
    }

    /// Where this sandbox answers and which X app it accepts.
    pub fn addrs(&self) -> SandboxAddrs {
        SandboxAddrs {
            threads_url: self.threads_url.clone(),
            x_url: self.x_url.clone(),
            bluesky_url: self.bluesky_url.clone(),
            x_app: self.accounts.x_app.clone(),
        }
    }

    /// [`SandboxAddrs::gateway_env`] of this sandbox.
    pub fn gateway_env(&self) -> Vec<(String, String)> {
        self.addrs().gateway_env()
    }

    /// [`SandboxAddrs::env_line`] of this sandbox.
    pub fn env_line(&self) -> String {
        self.addrs().env_line()
    }

    /// What `postgate sandbox` prints on start.
    pub fn banner(&self) -> String {
        let t = &self.accounts.threads[0];
        let x = &self.accounts.x[0];
        let b = &self.accounts.bluesky[0];
        let app = &self.accounts.x_app;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "postgate sandbox: simulated Threads, X and Bluesky APIs (in memory, fake credentials)\n"
        );
        let _ = writeln!(s, "  Threads  {}", self.threads_url);
        let _ = writeln!(s, "  X        {}", self.x_url);
        let _ = writeln!(s, "  Bluesky  {}\n", self.bluesky_url);
        let _ = writeln!(
            s,
            "Threads account  userId {}  username {}\n                 accessToken {}",
            t.user_id, t.username, t.access_token
        );
        let _ = writeln!(
            s,
            "X app            consumerKey {}  consumerSecret {}",
            app.consumer_key, app.consumer_secret
        );
        let _ = writeln!(
            s,
            "X account        userId {}  username {}\n                 accessToken {}  accessTokenSecret {}",
            x.user_id, x.username, x.access_token, x.access_token_secret
        );
        let _ = writeln!(
            s,
            "Bluesky account  did {}  handle {}\n                 appPassword {}",
            b.did, b.handle, b.app_password
        );
        let n = self.accounts.threads.len();
        if n > 1 {
            let tl = &self.accounts.threads[n - 1];
            let xl = &self.accounts.x[n - 1];
            let _ = writeln!(
                s,
                "                 … {n} accounts per network; the last: Threads {} / {}, X {} / {} / {}",
                tl.user_id, tl.access_token, xl.user_id, xl.access_token, xl.access_token_secret
            );
        }
        let _ = writeln!(s, "\nQuotas: {}", self.limits);
        let _ = writeln!(
            s,
            "Faults: Threads {}; X {}; Bluesky {}",
            self.threads.faults().get().describe(),
            self.x.faults().get().describe(),
            self.bluesky.faults().get().describe()
        );
        let _ = writeln!(
            s,
            "\nPoint postgate at it:\n  {} postgate serve",
            self.env_line()
        );
        let _ = writeln!(
            s,
            "\nLink the accounts (gateway on 127.0.0.1:8080, your API key in $POSTGATE_API_KEY):"
        );
        let _ = writeln!(
            s,
            "  curl -s -X POST http://127.0.0.1:8080/api/profiles/social -H \"Authorization: Bearer $POSTGATE_API_KEY\" -H 'Content-Type: application/json' -d '{{\"platform\":\"threads\",\"userId\":\"{}\",\"accessToken\":\"{}\"}}'",
            t.user_id, t.access_token
        );
        let _ = writeln!(
            s,
            "  curl -s -X POST http://127.0.0.1:8080/api/profiles/social -H \"Authorization: Bearer $POSTGATE_API_KEY\" -H 'Content-Type: application/json' -d '{{\"platform\":\"twitter\",\"userId\":\"{}\",\"accessToken\":\"{}\",\"accessTokenSecret\":\"{}\"}}'",
            x.user_id, x.access_token, x.access_token_secret
        );
        let _ = writeln!(
            s,
            "  curl -s -X POST http://127.0.0.1:8080/api/profiles/social -H \"Authorization: Bearer $POSTGATE_API_KEY\" -H 'Content-Type: application/json' -d '{{\"platform\":\"bluesky\",\"handle\":\"{}\",\"appPassword\":\"{}\"}}'",
            b.handle, b.app_password
        );
        let _ = writeln!(s, "\nPublish directly:");
        let _ = writeln!(
            s,
            "  curl -s -X POST {}/me/threads -d media_type=TEXT -d text=hello -d access_token={}   # then .../me/threads_publish?creation_id=ID&access_token=…",
            self.threads_url, t.access_token
        );
        let _ = writeln!(
            s,
            "  curl -s -X POST {}/2/tweets -H 'Authorization: Bearer {}' -H 'Content-Type: application/json' -d '{{\"text\":\"hello\"}}'",
            self.x_url, x.access_token
        );
        let _ = writeln!(
            s,
            "\nCounters: {}/__sandbox/stats, {}/__sandbox/stats and {}/__sandbox/stats   (Ctrl-C stops)",
            self.threads_root(),
            self.x_url,
            self.bluesky_url
        );
        s
    }

    /// Stops every server (open and hung calls are dropped).
    pub async fn stop(self) {
        for (server, _) in &self.servers {
            server.stop(false).await;
        }
        for (_, join) in self.servers {
            let _ = join.await;
        }
    }
}

fn display_host(host: &str, addr: &std::net::SocketAddr) -> String {
    let h = if addr.ip().is_unspecified() {
        "127.0.0.1".to_owned()
    } else if host.parse::<std::net::IpAddr>().is_ok() || host.is_empty() {
        addr.ip().to_string()
    } else {
        host.to_owned()
    };
    if h.contains(':') {
        format!("[{h}]")
    } else {
        h
    }
}

fn spawn_server<N: SimNetwork>(
    listener: TcpListener,
    state: web::Data<N>,
    routes: fn(&mut web::ServiceConfig),
    receiver: web::Data<webhooks::WebhookReceiver>,
    workers: Option<usize>,
) -> io::Result<(
    actix_web::dev::ServerHandle,
    tokio::task::JoinHandle<io::Result<()>>,
)> {
    let mut server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .app_data(receiver.clone())
            // Image uploads (X: 5 MB) are larger than actix's default body limit.
            .app_data(web::PayloadConfig::new(8 * 1024 * 1024))
            .configure(admin_routes::<N>)
            .configure(webhooks::routes)
            .configure(routes)
    })
    .disable_signals()
    .shutdown_timeout(1)
    .backlog(4096);
    if let Some(w) = workers {
        server = server.workers(w.max(1));
    }
    let server = server.listen(listener)?.run();
    let handle = server.handle();
    Ok((handle, tokio::spawn(server)))
}

/// Binds every server and starts them on the current tokio runtime.
pub async fn start(opts: SandboxOptions) -> io::Result<SandboxHandle> {
    for f in [
        opts.threads_faults(),
        opts.x_faults(),
        opts.bluesky_faults(),
    ] {
        f.validate()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    }
    let accounts = opts.accounts();
    let tl = TcpListener::bind((opts.host.as_str(), opts.threads_port)).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("Threads port {}:{}: {e}", opts.host, opts.threads_port),
        )
    })?;
    let xl = TcpListener::bind((opts.host.as_str(), opts.x_port)).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("X port {}:{}: {e}", opts.host, opts.x_port),
        )
    })?;
    let bl = TcpListener::bind((opts.host.as_str(), opts.bluesky_port)).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("Bluesky port {}:{}: {e}", opts.host, opts.bluesky_port),
        )
    })?;
    let ba = bl.local_addr()?;
    let ta = tl.local_addr()?;
    let xa = xl.local_addr()?;
    let threads = web::Data::new(threads::ThreadsSim::new(&opts, &accounts.threads));
    let x = web::Data::new(x::XSim::new(&opts, &accounts));
    let bluesky = web::Data::new(bluesky::BlueskySim::new(&opts, &accounts.bluesky));
    let limit = |n: u32, what: &str, secs: u64| {
        if n == 0 {
            format!("{what} unlimited")
        } else {
            format!("{n} {what} per {secs} s")
        }
    };
    let limits = format!(
        "Threads {}, {} per account; X {}, {}, {} per user; Bluesky {} per account",
        limit(
            opts.threads_delete_limit,
            "deletes",
            opts.threads_delete_window_secs
        ),
        limit(opts.threads_post_limit, "posts", 86_400),
        limit(opts.x_delete_limit, "deletes", opts.x_delete_window_secs),
        limit(opts.x_post_limit, "posts", 900),
        limit(opts.x_read_limit, "reads", 900),
        limit(
            opts.bluesky_delete_limit,
            "deletes",
            opts.bluesky_delete_window_secs
        ),
    );
    let receiver = web::Data::new(webhooks::WebhookReceiver::default());
    let ts = spawn_server(
        tl,
        threads.clone(),
        threads::routes,
        receiver.clone(),
        opts.workers,
    )?;
    let xs = spawn_server(xl, x.clone(), x::routes, receiver.clone(), opts.workers)?;
    let bs = spawn_server(
        bl,
        bluesky.clone(),
        bluesky::routes,
        receiver.clone(),
        opts.workers,
    )?;
    Ok(SandboxHandle {
        threads_url: format!(
            "http://{}:{}/v1.0",
            display_host(&opts.host, &ta),
            ta.port()
        ),
        x_url: format!("http://{}:{}", display_host(&opts.host, &xa), xa.port()),
        threads_port: ta.port(),
        x_port: xa.port(),
        bluesky_url: format!("http://{}:{}", display_host(&opts.host, &ba), ba.port()),
        bluesky_port: ba.port(),
        accounts,
        threads,
        x,
        bluesky,
        webhooks: receiver,
        servers: vec![ts, xs, bs],
        limits,
    })
}

/// `postgate sandbox`: starts every server, prints the banner, runs until `stop` resolves
/// (the binary passes its SIGTERM/SIGINT listener, so one signal implementation serves both
/// the gateway and the sandbox).
pub async fn run(
    opts: SandboxOptions,
    stop: impl std::future::Future<Output = ()>,
) -> io::Result<()> {
    let handle = start(opts).await?;
    println!("{}", handle.banner());
    stop.await;
    println!("postgate sandbox: stopping");
    tokio::time::timeout(Duration::from_secs(5), handle.stop())
        .await
        .ok();
    Ok(())
}
