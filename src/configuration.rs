//! Settings: the embedded defaults of `settings.toml`, an optional file on top, then
//! `POSTGATE__<SECTION>__<KEY>` environment variables.

use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The defaults, compiled in from the repository's `settings.toml` so that the binary
/// runs anywhere and the file stays the single place they are written down.
pub const DEFAULT_SETTINGS: &str = include_str!("../settings.toml");

/// All settings.
#[derive(Clone, Debug, Deserialize)]
pub struct Settings {
    /// `[server]`
    pub server: ServerSettings,
    /// `[store]`
    pub store: StoreSettings,
    /// `[auth]`
    pub auth: AuthSettings,
    /// `[log]`
    pub log: LogSettings,
    /// `[delete]`
    pub delete: DeleteSettings,
    /// `[scheduler]`
    pub scheduler: SchedulerSettings,
    /// `[threads]`
    pub threads: ThreadsSettings,
    /// `[x]`
    pub x: XSettings,
    /// `[bluesky]`
    pub bluesky: BlueskySettings,
    /// `[webhooks]`
    pub webhooks: WebhookSettings,
    /// `[media]`
    pub media: MediaSettings,
    /// `[metrics]`
    #[serde(default)]
    pub metrics: MetricsSettings,
}

/// `[metrics]`
#[derive(Clone, Default, Deserialize)]
pub struct MetricsSettings {
    /// When set, `GET /metrics` answers only requests with `Authorization: Bearer <token>`;
    /// empty leaves it open (for a scraper on a private network).
    #[serde(default)]
    pub token: String,
}

impl std::fmt::Debug for MetricsSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsSettings")
            .field(
                "token",
                &if self.token.is_empty() {
                    ""
                } else {
                    "[redacted]"
                },
            )
            .finish()
    }
}

/// `[server]`
#[derive(Clone, Debug, Deserialize)]
pub struct ServerSettings {
    /// Listen address.
    pub host: String,
    /// Listen port (0 = any free port).
    pub port: u16,
    /// Largest request body, in bytes.
    pub body_limit_bytes: usize,
    /// Grace period for in-flight requests on shutdown.
    pub shutdown_grace_secs: u64,
    /// Externally reachable base URL (linking page, OAuth callbacks); empty means
    /// `http://{host}:{port}` with the port actually bound ([`ServerSettings::public_url`]).
    #[serde(default)]
    pub public_url: String,
    /// HTTP worker threads (each its own single-threaded runtime); 0 = one per CPU core, as
    /// actix-web chooses. The deletes themselves run on the gateway's runtime, so on a small
    /// machine fewer workers mean fewer threads contending for the same cores.
    #[serde(default)]
    pub workers: usize,
    /// How long an idle client connection stays open, in seconds (0: one request per
    /// connection). Longer than the idle timeout of the client's pool, the client closes
    /// first: a gateway closing a connection just as a client reuses it fails that request
    /// (a DELETE or POST the client cannot safely resend). actix-web's own default is 5 s.
    #[serde(default = "default_keep_alive_secs")]
    pub keep_alive_secs: u64,
}

fn default_keep_alive_secs() -> u64 {
    75
}

impl ServerSettings {
    /// The base URL users and networks reach this gateway at, without a trailing slash;
    /// `bound_port` stands in for a configured port 0.
    pub fn public_url(&self, bound_port: u16) -> String {
        if !self.public_url.trim().is_empty() {
            return self.public_url.trim().trim_end_matches('/').to_owned();
        }
        let port = if self.port == 0 {
            bound_port
        } else {
            self.port
        };
        let host = match self.host.as_str() {
            "0.0.0.0" | "::" | "" => "127.0.0.1",
            h => h,
        };
        format!("http://{host}:{port}")
    }
}

/// `[store]`
#[derive(Clone, Deserialize)]
pub struct StoreSettings {
    /// Which [`crate::store::Store`] implementation holds the state.
    pub backend: StoreBackend,
    /// sled directory (also where a generated API key file is written, whatever the backend).
    pub path: PathBuf,
    /// sled page cache, MiB.
    pub cache_capacity_mb: u64,
    /// A sled store created by this gateway is zstd-compressed (about 3× smaller on disk,
    /// slower imports and log replay). Existing stores keep what they were created with.
    #[serde(default)]
    pub compress_new_stores: bool,
    /// After a clean stop, the binary reopens a sled store once so sled writes its snapshot
    /// and the next start skips the log replay; the stop waits at most this long for it
    /// (0: no checkpoint). Cut short, the next start replays the log: nothing is lost.
    #[serde(default = "default_checkpoint_secs")]
    pub checkpoint_on_stop_secs: u64,
    /// PostgreSQL connection URL (`postgres://user:password@host:port/db`), for
    /// `backend = "postgres"`. Holds a password: never printed whole.
    #[serde(default)]
    pub url: String,
    /// Most PostgreSQL connections this gateway holds.
    pub pool_size: u32,
    /// PostgreSQL `statement_timeout` of every connection, ms: a stuck query fails instead of
    /// holding a request (and its connection) forever.
    pub statement_timeout_ms: u64,
}

/// Where the gateway keeps its state.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum StoreBackend {
    /// Embedded, one process per directory, no external service: the default.
    Sled,
    /// A PostgreSQL database several gateway processes can share.
    Postgres,
}

fn default_checkpoint_secs() -> u64 {
    5
}

// The URL's password must not reach a log line through `{:?}` of the settings.
impl std::fmt::Debug for StoreSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreSettings")
            .field("backend", &self.backend)
            .field("path", &self.path)
            .field("cache_capacity_mb", &self.cache_capacity_mb)
            .field("compress_new_stores", &self.compress_new_stores)
            .field("checkpoint_on_stop_secs", &self.checkpoint_on_stop_secs)
            .field("url", &redact_password(&self.url))
            .field("pool_size", &self.pool_size)
            .field("statement_timeout_ms", &self.statement_timeout_ms)
            .finish()
    }
}

/// `url` with its password (if any) replaced, for messages and logs.
pub fn redact_password(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("[redacted]"));
            u.to_string()
        }
        Ok(u) => u.to_string(),
        Err(_) if url.is_empty() => String::new(),
        Err(_) => "[unparsable url]".into(),
    }
}

/// `[auth]`
#[derive(Clone, Debug, Deserialize)]
pub struct AuthSettings {
    /// Primary API keys.
    #[serde(default)]
    pub api_keys: Vec<String>,
}

/// `[log]`
#[derive(Clone, Debug, Deserialize)]
pub struct LogSettings {
    /// Output format.
    pub format: LogFormat,
    /// Default filter when `RUST_LOG` is not set.
    pub level: String,
}

/// Log output format.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Human,
    /// One JSON object per line.
    Json,
}

/// `[delete]`
#[derive(Clone, Debug, Deserialize)]
pub struct DeleteSettings {
    /// Per-platform time budget in a request, ms.
    pub deadline_ms: u64,
    /// Attempts per network call for transient failures (1 = no retry).
    pub retry_attempts: u32,
    /// First backoff delay, ms.
    pub retry_base_ms: u64,
    /// Largest backoff delay, ms.
    pub retry_max_ms: u64,
    /// Posts of a bulk deleted at once.
    pub bulk_concurrency: usize,
    /// Most ids in one bulk.
    pub bulk_max_ids: usize,
    /// Whether a delete without `"queue"` queues what it cannot finish now.
    pub queue_default: bool,
    /// Most queued deletes per linked account (quota bucket).
    pub queue_max_per_account: usize,
    /// Posts the queue worker deletes at once.
    pub queue_concurrency: usize,
    /// How often the queue worker looks for due items, ms.
    pub queue_tick_ms: u64,
    /// How long a claimed item is reserved for its worker, s (then another takes it over).
    pub queue_lease_secs: u64,
    /// First wait before retrying a transient failure, s (doubles per attempt, 1 h at most).
    pub queue_retry_secs: u64,
    /// Attempts of a transiently failing item before it is given up (rate limits do not count).
    pub queue_max_attempts: u32,
}

/// `[webhooks]`
#[derive(Clone, Debug, Deserialize)]
pub struct WebhookSettings {
    /// Also accept `http://` receiver URLs (loopback receivers, tests).
    pub allow_http: bool,
    /// Per-delivery timeout, ms.
    pub timeout_ms: u64,
    /// Waits before the retries of a failed delivery, ms (Ayrshare: 5 s, then 30 s).
    pub retry_delays_ms: Vec<u64>,
    /// How often the dispatcher looks for due deliveries, ms.
    pub tick_ms: u64,
}

/// `[scheduler]`
#[derive(Clone, Debug, Deserialize)]
pub struct SchedulerSettings {
    /// Tick interval, ms.
    pub tick_ms: u64,
    /// Most due posts one tick takes on (the rest wait for the next ticks).
    pub batch_size: usize,
    /// How long a due post claimed by one gateway's scheduler is left to it by the others
    /// (PostgreSQL store); after that, a holder that died is taken over. Seconds.
    pub lease_secs: u64,
}

/// `[threads]`
#[derive(Clone, Deserialize)]
pub struct ThreadsSettings {
    /// Graph API base, e.g. `https://graph.threads.net/v1.0`.
    pub base_url: String,
    /// Connect timeout, ms.
    pub connect_timeout_ms: u64,
    /// Whole-call timeout, ms.
    pub timeout_ms: u64,
    /// Calls in flight at once.
    pub max_in_flight: usize,
    /// Deletes allowed per window per account.
    pub delete_limit: u32,
    /// Window length, seconds.
    pub delete_window_secs: u64,
    /// The operator's Threads app id (OAuth `client_id`); empty: linking Threads is off.
    #[serde(default)]
    pub app_id: String,
    /// The Threads app secret. Never printed.
    #[serde(default)]
    pub app_secret: String,
    /// Base of the consent page, `{oauth_base_url}/oauth/authorize`.
    pub oauth_base_url: String,
    /// Tokens within this many days of expiry are refreshed.
    pub refresh_before_days: u64,
    /// How often the refresher runs, seconds.
    pub refresh_interval_secs: u64,
    /// How often an image container's status is asked while Threads processes it, ms.
    #[serde(default = "default_container_poll_ms")]
    pub container_poll_ms: u64,
    /// Longest wait for an image container to be `FINISHED` before giving up, ms.
    #[serde(default = "default_container_wait_ms")]
    pub container_wait_ms: u64,
}

fn default_container_poll_ms() -> u64 {
    1000
}

fn default_container_wait_ms() -> u64 {
    10000
}

// The app secret must not reach a log line through `{:?}` of the settings.
impl std::fmt::Debug for ThreadsSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ThreadsSettings")
            .field("base_url", &self.base_url)
            .field("connect_timeout_ms", &self.connect_timeout_ms)
            .field("timeout_ms", &self.timeout_ms)
            .field("max_in_flight", &self.max_in_flight)
            .field("delete_limit", &self.delete_limit)
            .field("delete_window_secs", &self.delete_window_secs)
            .field("app_id", &self.app_id)
            .field("app_secret", &redacted(&self.app_secret))
            .field("oauth_base_url", &self.oauth_base_url)
            .field("refresh_before_days", &self.refresh_before_days)
            .field("refresh_interval_secs", &self.refresh_interval_secs)
            .finish()
    }
}

/// `"[redacted]"` for a set secret, `""` for an unset one (so a log still tells which).
fn redacted(secret: &str) -> &'static str {
    if secret.is_empty() {
        ""
    } else {
        "[redacted]"
    }
}

/// X API version used for deletes.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
pub enum XApi {
    /// `DELETE /2/tweets/{id}`
    #[serde(rename = "v2")]
    V2,
    /// `POST /1.1/statuses/destroy/{id}.json`
    #[serde(rename = "v1.1")]
    V1_1,
}

/// `[x]`
#[derive(Clone, Deserialize)]
pub struct XSettings {
    /// API base, e.g. `https://api.x.com`.
    pub base_url: String,
    /// Delete endpoint version.
    pub api: XApi,
    /// OAuth 1.0a consumer key (may be empty).
    #[serde(default)]
    pub consumer_key: String,
    /// OAuth 1.0a consumer secret (may be empty).
    #[serde(default)]
    pub consumer_secret: String,
    /// Connect timeout, ms.
    pub connect_timeout_ms: u64,
    /// Whole-call timeout, ms.
    pub timeout_ms: u64,
    /// Calls in flight at once.
    pub max_in_flight: usize,
    /// Deletes allowed per window per user.
    pub delete_limit: u32,
    /// Window length, seconds.
    pub delete_window_secs: u64,
}

// The consumer secret must not reach a log line through `{:?}` of the settings.
impl std::fmt::Debug for XSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("XSettings")
            .field("base_url", &self.base_url)
            .field("api", &self.api)
            .field("consumer_key", &self.consumer_key)
            .field("consumer_secret", &redacted(&self.consumer_secret))
            .field("connect_timeout_ms", &self.connect_timeout_ms)
            .field("timeout_ms", &self.timeout_ms)
            .field("max_in_flight", &self.max_in_flight)
            .field("delete_limit", &self.delete_limit)
            .field("delete_window_secs", &self.delete_window_secs)
            .finish()
    }
}

/// `[bluesky]`
#[derive(Clone, Debug, Deserialize)]
pub struct BlueskySettings {
    /// The PDS postgate calls `/xrpc/...` on, e.g. `https://bsky.social`.
    pub base_url: String,
    /// Connect timeout, ms.
    pub connect_timeout_ms: u64,
    /// Whole-call timeout, ms.
    pub timeout_ms: u64,
    /// Calls in flight at once.
    pub max_in_flight: usize,
    /// Deletes allowed per window per account (DID); Bluesky's own budget is 5,000 points
    /// an hour, a delete costing 1.
    pub delete_limit: u32,
    /// Window length, seconds.
    pub delete_window_secs: u64,
}

/// `[media]`: how the gateway fetches the images of `mediaUrls`. Every fetch is bounded
/// (size, time) and, unless `allow_private`, refused for addresses inside the operator's
/// network, checked after DNS resolution: a post must not become a way to read internal
/// services (SSRF).
#[derive(Clone, Debug, Deserialize)]
pub struct MediaSettings {
    /// Largest image accepted, bytes (a network's own smaller limit still applies).
    pub max_bytes: usize,
    /// Whole-download timeout of one image, ms.
    pub timeout_ms: u64,
    /// Connect timeout, ms.
    pub connect_timeout_ms: u64,
    /// Allow loopback, private, link-local and other non-public addresses (tests, the
    /// sandbox demo). Never in production.
    pub allow_private: bool,
    /// Allow `http://` media URLs besides `https://` (tests, the sandbox demo).
    pub allow_http: bool,
}

impl MediaSettings {
    /// Whole-download timeout.
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }
}

/// A setting that stops start-up. Its `Display` is the one line printed.
#[derive(Debug, thiserror::Error)]
#[error("invalid setting: {0}")]
pub struct SettingsError(String);

impl Settings {
    /// Loads the defaults, then `file` if given (it must exist), then the environment.
    pub fn load(file: Option<&Path>) -> Result<Self, SettingsError> {
        Self::load_with_env(file, std::env::vars())
    }

    /// Like [`Settings::load`] with an explicit environment (tests use this).
    pub fn load_with_env(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, SettingsError> {
        let mut builder = config::Config::builder().add_source(config::File::from_str(
            DEFAULT_SETTINGS,
            config::FileFormat::Toml,
        ));
        if let Some(path) = file {
            if !path.exists() {
                return Err(SettingsError(format!(
                    "config file {} does not exist",
                    path.display()
                )));
            }
            builder = builder.add_source(config::File::from(path.to_path_buf()).required(true));
        }
        let env: config::Map<String, String> = env
            .into_iter()
            .filter(|(k, _)| k.starts_with("POSTGATE__"))
            .collect();
        builder = builder.add_source(
            config::Environment::with_prefix("POSTGATE")
                .prefix_separator("__")
                .separator("__")
                .list_separator(",")
                .with_list_parse_key("auth.api_keys")
                .with_list_parse_key("webhooks.retry_delays_ms")
                .try_parsing(true)
                .source(Some(env)),
        );
        let settings: Settings = builder
            .build()
            .and_then(|c| c.try_deserialize())
            .map_err(|e| SettingsError(e.to_string()))?;
        settings.validate()
    }

    fn validate(mut self) -> Result<Self, SettingsError> {
        self.auth.api_keys.retain(|k| !k.trim().is_empty());
        for (key, url) in [
            ("threads.base_url", &self.threads.base_url),
            ("threads.oauth_base_url", &self.threads.oauth_base_url),
            ("x.base_url", &self.x.base_url),
            ("bluesky.base_url", &self.bluesky.base_url),
        ] {
            match reqwest::Url::parse(url) {
                Ok(u) if u.scheme() == "http" || u.scheme() == "https" => {}
                _ => {
                    return Err(SettingsError(format!(
                        "{key} = {url:?} is not an http(s) URL"
                    )))
                }
            }
        }
        let positive = [
            ("delete.deadline_ms", self.delete.deadline_ms),
            ("delete.retry_attempts", self.delete.retry_attempts as u64),
            (
                "delete.bulk_concurrency",
                self.delete.bulk_concurrency as u64,
            ),
            ("delete.bulk_max_ids", self.delete.bulk_max_ids as u64),
            ("scheduler.tick_ms", self.scheduler.tick_ms),
            ("scheduler.batch_size", self.scheduler.batch_size as u64),
            ("scheduler.lease_secs", self.scheduler.lease_secs),
            ("threads.timeout_ms", self.threads.timeout_ms),
            ("threads.max_in_flight", self.threads.max_in_flight as u64),
            (
                "threads.delete_window_secs",
                self.threads.delete_window_secs,
            ),
            ("threads.container_poll_ms", self.threads.container_poll_ms),
            ("media.max_bytes", self.media.max_bytes as u64),
            ("media.timeout_ms", self.media.timeout_ms),
            ("x.timeout_ms", self.x.timeout_ms),
            ("x.max_in_flight", self.x.max_in_flight as u64),
            ("x.delete_window_secs", self.x.delete_window_secs),
            ("bluesky.timeout_ms", self.bluesky.timeout_ms),
            ("bluesky.max_in_flight", self.bluesky.max_in_flight as u64),
            (
                "bluesky.delete_window_secs",
                self.bluesky.delete_window_secs,
            ),
            (
                "server.body_limit_bytes",
                self.server.body_limit_bytes as u64,
            ),
        ];
        if let Some((key, _)) = positive.iter().find(|(_, v)| *v == 0) {
            return Err(SettingsError(format!("{key} must be greater than 0")));
        }
        if !self.server.public_url.trim().is_empty() {
            match reqwest::Url::parse(self.server.public_url.trim()) {
                Ok(u) if u.scheme() == "http" || u.scheme() == "https" => {}
                _ => {
                    return Err(SettingsError(format!(
                        "server.public_url = {:?} is not an http(s) URL",
                        self.server.public_url
                    )))
                }
            }
        }
        if self.threads.app_id.is_empty() != self.threads.app_secret.is_empty() {
            return Err(SettingsError(
                "threads.app_id and threads.app_secret must be set together".into(),
            ));
        }
        if self.threads.refresh_interval_secs == 0 {
            return Err(SettingsError(
                "threads.refresh_interval_secs must be greater than 0".into(),
            ));
        }
        if self.x.consumer_key.is_empty() != self.x.consumer_secret.is_empty() {
            return Err(SettingsError(
                "x.consumer_key and x.consumer_secret must be set together".into(),
            ));
        }
        if self.store.path.as_os_str().is_empty() {
            return Err(SettingsError("store.path must not be empty".into()));
        }
        if self.store.backend == StoreBackend::Postgres {
            let url = &self.store.url;
            if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
                return Err(SettingsError(format!(
                    "store.url = {:?} is not a postgres:// URL (needed for store.backend = \"postgres\"; set POSTGATE__STORE__URL)",
                    redact_password(url)
                )));
            }
            if self.store.pool_size == 0 {
                return Err(SettingsError(
                    "store.pool_size must be greater than 0".into(),
                ));
            }
        }
        Ok(self)
    }
}

impl ThreadsSettings {
    /// Whole-call timeout.
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }

    /// The Graph host the token endpoints live on: `base_url` without its path
    /// (`https://graph.threads.net/v1.0` → `https://graph.threads.net`).
    pub fn graph_host(&self) -> String {
        match reqwest::Url::parse(&self.base_url) {
            Ok(u) => u.origin().ascii_serialization(),
            Err(_) => self.base_url.trim_end_matches('/').to_owned(),
        }
    }
}

impl XSettings {
    /// Whole-call timeout.
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }
}

impl BlueskySettings {
    /// Whole-call timeout.
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_load() {
        let s = Settings::load_with_env(None, env(&[])).unwrap();
        assert_eq!(s.server.port, 8080);
        assert_eq!(s.server.host, "127.0.0.1");
        assert_eq!(s.threads.base_url, "https://graph.threads.net/v1.0");
        assert_eq!(s.bluesky.base_url, "https://bsky.social");
        assert_eq!(
            (s.bluesky.delete_limit, s.bluesky.delete_window_secs),
            (1000, 3600)
        );
        assert_eq!(s.x.base_url, "https://api.x.com");
        assert_eq!(s.x.api, XApi::V2);
        assert!(s.auth.api_keys.is_empty());
        assert_eq!(s.store.backend, StoreBackend::Sled);
    }

    #[test]
    fn postgres_store_needs_a_url_and_hides_its_password() {
        let e = Settings::load_with_env(None, env(&[("POSTGATE__STORE__BACKEND", "postgres")]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("store.url"), "{e}");
        let s = Settings::load_with_env(
            None,
            env(&[
                ("POSTGATE__STORE__BACKEND", "postgres"),
                (
                    "POSTGATE__STORE__URL",
                    "postgres://gw:hunter2@db:5432/postgate",
                ),
                ("POSTGATE__STORE__POOL_SIZE", "4"),
            ]),
        )
        .unwrap();
        assert_eq!(s.store.backend, StoreBackend::Postgres);
        assert_eq!(s.store.pool_size, 4);
        let shown = format!("{s:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("db:5432"), "{shown}");
    }

    #[test]
    fn linking_settings_default_and_hide_secrets() {
        let s = Settings::load_with_env(None, env(&[])).unwrap();
        assert_eq!(s.threads.oauth_base_url, "https://threads.net");
        assert_eq!(s.threads.refresh_before_days, 7);
        assert_eq!(s.threads.graph_host(), "https://graph.threads.net");
        assert_eq!(s.server.public_url(8080), "http://127.0.0.1:8080");
        let s = Settings::load_with_env(
            None,
            env(&[
                ("POSTGATE__SERVER__PORT", "0"),
                ("POSTGATE__THREADS__APP_ID", "1234"),
                ("POSTGATE__THREADS__APP_SECRET", "threads-hunter2"),
                ("POSTGATE__X__CONSUMER_KEY", "ck"),
                ("POSTGATE__X__CONSUMER_SECRET", "x-hunter2"),
            ]),
        )
        .unwrap();
        assert_eq!(s.server.public_url(4321), "http://127.0.0.1:4321");
        let shown = format!("{s:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        let e = Settings::load_with_env(None, env(&[("POSTGATE__THREADS__APP_ID", "1")]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("threads.app_secret"), "{e}");
        let s = Settings::load_with_env(
            None,
            env(&[("POSTGATE__SERVER__PUBLIC_URL", "https://gw.example.com/")]),
        )
        .unwrap();
        assert_eq!(s.server.public_url(1), "https://gw.example.com");
    }

    #[test]
    fn env_overrides_and_lists() {
        let s = Settings::load_with_env(
            None,
            env(&[
                ("POSTGATE__SERVER__PORT", "9000"),
                ("POSTGATE__AUTH__API_KEYS", "k1,k2"),
                ("POSTGATE__X__API", "v1.1"),
            ]),
        )
        .unwrap();
        assert_eq!(s.server.port, 9000);
        assert_eq!(s.auth.api_keys, vec!["k1", "k2"]);
        assert_eq!(s.x.api, XApi::V1_1);
    }

    #[test]
    fn bad_value_names_the_key() {
        let e = Settings::load_with_env(None, env(&[("POSTGATE__SERVER__PORT", "abc")]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("server.port"), "{e}");
        let e = Settings::load_with_env(None, env(&[("POSTGATE__X__BASE_URL", "nope")]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("x.base_url"), "{e}");
    }
}
