//! Network adapters: one per social network, behind [`Network`]. Each maps its network's
//! answers onto the small set of classes in [`NetworkError`]; none knows Ayrshare's wire format.

mod threads;
mod x;

pub use threads::Threads;
pub use x::{sign_oauth1, X};

use crate::domain::{DeleteFailure, NetworkPostId, Platform};
use crate::store::LinkedAccount;
use async_trait::async_trait;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// OAuth 1.0a consumer (app) credentials for X.
#[derive(Clone, PartialEq, Eq)]
pub struct ConsumerCredentials {
    /// Consumer (API) key.
    pub key: String,
    /// Consumer (API key) secret.
    pub secret: String,
}

impl fmt::Debug for ConsumerCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ConsumerCredentials([redacted])")
    }
}

/// Per-request context a network call may need.
#[derive(Clone, Debug, Default)]
pub struct CallContext {
    /// X consumer credentials: the request's BYO headers, else the settings.
    pub x_consumer: Option<ConsumerCredentials>,
}

/// A network confirmed that the post is gone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gone {
    /// Deleted by this call.
    Deleted,
    /// It was already gone (an unambiguous answer).
    AlreadyGone,
}

/// What an existence check found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Existence {
    /// The post is live.
    Exists,
    /// The network says it does not exist.
    Gone,
}

/// A post published at a network.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Published {
    /// The network's id of the post.
    pub id: NetworkPostId,
    /// Its public URL.
    pub url: String,
}

/// A network call that did not succeed, by class.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NetworkError {
    /// Wait `retry_after` seconds.
    #[error("rate limited: {message}")]
    RateLimited {
        /// Seconds to wait.
        retry_after: u64,
        /// Detail.
        message: String,
    },
    /// Token invalid, expired, or missing a permission.
    #[error("authorization: {0}")]
    Auth(String),
    /// Retrying may help (5xx, connection failure).
    #[error("transient: {0}")]
    Transient(String),
    /// No answer in time.
    #[error("timeout: {0}")]
    Timeout(String),
    /// Refused for good.
    #[error("rejected: {0}")]
    Rejected(String),
    /// The answer does not say whether the post is gone.
    #[error("ambiguous: {0}")]
    Ambiguous(String),
    /// X consumer credentials are missing.
    #[error("X consumer credentials are missing")]
    NoCredentials,
}

impl NetworkError {
    /// Whether retrying the same call may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, NetworkError::Transient(_) | NetworkError::Timeout(_))
    }
}

impl From<NetworkError> for DeleteFailure {
    fn from(e: NetworkError) -> Self {
        match e {
            NetworkError::RateLimited {
                retry_after,
                message,
            } => DeleteFailure::RateLimited {
                retry_after,
                message,
            },
            NetworkError::Auth(m) => DeleteFailure::Auth(m),
            NetworkError::Transient(m) => DeleteFailure::Transient(m),
            NetworkError::Timeout(m) => DeleteFailure::Timeout(m),
            NetworkError::Rejected(m) => DeleteFailure::Rejected(m),
            NetworkError::Ambiguous(m) => DeleteFailure::Ambiguous(m),
            NetworkError::NoCredentials => DeleteFailure::NoXCredentials,
        }
    }
}

/// One social network.
#[async_trait]
pub trait Network: Send + Sync + 'static {
    /// Which platform this adapter serves.
    fn platform(&self) -> Platform;

    /// Deletes a post.
    async fn delete(
        &self,
        account: &LinkedAccount,
        id: &NetworkPostId,
        ctx: &CallContext,
    ) -> Result<Gone, NetworkError>;

    /// Asks whether a post still exists.
    async fn exists(
        &self,
        account: &LinkedAccount,
        id: &NetworkPostId,
        ctx: &CallContext,
    ) -> Result<Existence, NetworkError>;

    /// Publishes a text post.
    async fn publish(
        &self,
        account: &LinkedAccount,
        text: &str,
        ctx: &CallContext,
    ) -> Result<Published, NetworkError>;
}

/// The adapters postgate has, by platform.
#[derive(Clone)]
pub struct Networks {
    /// Threads adapter.
    pub threads: Arc<dyn Network>,
    /// X adapter.
    pub x: Arc<dyn Network>,
}

impl Networks {
    /// The adapter for `platform`, if postgate has one.
    pub fn get(&self, platform: &Platform) -> Option<&Arc<dyn Network>> {
        match platform {
            Platform::Threads => Some(&self.threads),
            Platform::Twitter => Some(&self.x),
            _ => None,
        }
    }
}

/// Builds a reqwest client with the given timeouts.
pub(crate) fn http_client(connect_timeout: Duration, timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(connect_timeout)
        .timeout(timeout)
        .user_agent(concat!("postgate/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("a reqwest client with only timeouts set always builds")
}

/// Maps a reqwest transport error to a class. The URL is dropped: Threads URLs carry the
/// access token in their query string.
pub(crate) fn transport_error(network: &str, e: reqwest::Error) -> NetworkError {
    let e = e.without_url();
    if e.is_timeout() {
        NetworkError::Timeout(format!("{network} did not answer in time"))
    } else if e.is_connect() {
        NetworkError::Transient(format!("could not connect to {network}"))
    } else {
        NetworkError::Transient(format!("{network} request failed: {e}"))
    }
}

/// A URL with every secret-bearing query value replaced, fit for a log line.
pub fn redact_url(url: &reqwest::Url) -> String {
    let mut u = url.clone();
    if u.query().is_some() {
        let pairs: Vec<(String, String)> = u
            .query_pairs()
            .map(|(k, v)| {
                let secret = matches!(
                    k.as_ref(),
                    "access_token" | "client_secret" | "oauth_signature" | "oauth_token"
                );
                (
                    k.into_owned(),
                    if secret {
                        "[redacted]".to_owned()
                    } else {
                        v.into_owned()
                    },
                )
            })
            .collect();
        u.query_pairs_mut().clear().extend_pairs(pairs);
    }
    u.to_string()
}

/// The longest wait a network's rate-limit hint may impose (7 days). A larger hint is a
/// network bug or a hostile answer; clamping it keeps the date arithmetic from overflowing.
pub const MAX_RETRY_AFTER_SECS: u64 = 7 * 24 * 3600;

/// Seconds in `Retry-After`, if the header is a number; clamped to [`MAX_RETRY_AFTER_SECS`].
pub(crate) fn retry_after_header(headers: &reqwest::header::HeaderMap) -> Option<u64> {
    let v = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    // Digits only; a number too large for u64 is still "a very long wait".
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(
        v.parse::<u64>()
            .map_or(MAX_RETRY_AFTER_SECS, |n| n.min(MAX_RETRY_AFTER_SECS)),
    )
}

/// Shortens a network's body for an error message.
pub(crate) fn snippet(body: &str) -> String {
    let mut s: String = body.chars().take(300).collect();
    if body.chars().count() > 300 {
        s.push('…');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_tokens_in_urls() {
        let u =
            reqwest::Url::parse("https://graph.threads.net/v1.0/123?access_token=SECRET&fields=id")
                .unwrap();
        let r = redact_url(&u);
        assert!(!r.contains("SECRET"), "{r}");
        assert!(r.contains("fields=id"));
    }
}
