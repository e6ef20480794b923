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

/// A publish that did not succeed, or whose outcome is unknown.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublishError {
    /// What went wrong, by class.
    pub error: NetworkError,
    /// Whether the publishing request reached the network and its answer was lost or unclear
    /// (timeout, 5xx, dropped connection, Threads' HTTP 500 code 10): the post may be live.
    /// Such a call is never repeated blindly.
    pub outcome_unknown: bool,
    /// What the network can be asked about it later (the Threads container id).
    pub reference: Option<String>,
}

impl PublishError {
    /// A publish whose outcome is unknown, with what can be checked later.
    pub fn unknown(error: NetworkError, reference: Option<String>) -> Self {
        Self {
            error,
            outcome_unknown: true,
            reference,
        }
    }
}

impl From<NetworkError> for PublishError {
    /// A publish that certainly published nothing.
    fn from(error: NetworkError) -> Self {
        Self {
            error,
            outcome_unknown: false,
            reference: None,
        }
    }
}

/// What a later check of a publish whose outcome was unknown found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PublishCheck {
    /// It is live, with this id and URL.
    Published(Published),
    /// The network says it was not published (nothing is live).
    NotPublished(String),
    /// Still cannot tell (or this network offers no way to tell), with why.
    Unknown(String),
}

/// Whom a token belongs to, as its network answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// The network's user id.
    pub user_id: String,
    /// The network's username (handle), when it gave one.
    pub username: Option<String>,
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
    /// Retrying may help (5xx, a connection that could not be made: nothing was sent).
    #[error("transient: {0}")]
    Transient(String),
    /// No answer: the request may have reached the network and its answer was lost (it timed
    /// out, or the connection closed or reset after the request was written). Whatever it asked
    /// for may have happened.
    #[error("timeout: {0}")]
    Timeout(String),
    /// Refused for good.
    #[error("rejected: {0}")]
    Rejected(String),
    /// The answer does not say whether the post is gone.
    #[error("ambiguous: {0}")]
    Ambiguous(String),
    /// The network says the post does not exist *or* the token may not see it (Threads 100/33),
    /// and a read with the same token did not find it either. Ambiguous on its own; after a
    /// delete postgate itself sent with this token (whose answer was lost), it means that
    /// earlier delete went through.
    #[error("not found or no access: {0}")]
    NotFoundOrNoAccess(String),
    /// The network refused a publish as a duplicate of an earlier post.
    #[error("duplicate: {0}")]
    Duplicate(String),
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
            NetworkError::Ambiguous(m) | NetworkError::NotFoundOrNoAccess(m) => {
                DeleteFailure::Ambiguous(m)
            }
            NetworkError::Duplicate(m) => DeleteFailure::Rejected(m),
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

    /// Asks the network whose token `account` carries (`account.user_id` is not used), so a
    /// linked account is the network's answer, never a caller's claim.
    async fn whoami(
        &self,
        account: &LinkedAccount,
        ctx: &CallContext,
    ) -> Result<Identity, NetworkError>;

    /// Publishes a text post. Never repeats a publishing request on its own: an error says
    /// whether the post may be live anyway ([`PublishError::outcome_unknown`]).
    async fn publish(
        &self,
        account: &LinkedAccount,
        text: &str,
        ctx: &CallContext,
    ) -> Result<Published, PublishError>;

    /// Checks a publish whose outcome was unknown: `reference` is what [`PublishError`]
    /// carried, `text` the post's text, `since` when it was sent. The default cannot tell.
    async fn check_publish(
        &self,
        _account: &LinkedAccount,
        _reference: Option<&str>,
        _text: &str,
        _since: chrono::DateTime<chrono::Utc>,
        _ctx: &CallContext,
    ) -> Result<PublishCheck, NetworkError> {
        Ok(PublishCheck::Unknown(format!(
            "{} offers no way to look a post up by its request; check the account",
            self.platform().display_name()
        )))
    }
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

/// Refuses an id that is not `platform`'s id shape before it reaches a URL path: a stored id
/// such as `1/../../other` must never make a request to a crafted path.
pub(crate) fn checked_id(id: &NetworkPostId, platform: &Platform) -> Result<(), NetworkError> {
    id.check_for(platform)
        .map_err(|e| NetworkError::Rejected(format!("not sent to the network: {e}")))
}

/// An identity read from a network's answer, its user id checked like a post id (digits on
/// Threads and X) since it later goes into URL paths.
pub(crate) fn identity(
    platform: &Platform,
    user_id: Option<&str>,
    username: Option<&str>,
    body: &str,
) -> Result<Identity, NetworkError> {
    let Some(user_id) = user_id else {
        return Err(NetworkError::Rejected(format!(
            "{} answered the identity check without a user id: {}",
            platform.display_name(),
            snippet(body)
        )));
    };
    crate::domain::check_network_id(user_id, platform).map_err(|e| {
        NetworkError::Rejected(format!(
            "{} answered the identity check with an unusable user id: {e}",
            platform.display_name()
        ))
    })?;
    Ok(Identity {
        user_id: user_id.to_owned(),
        username: username
            .map(str::trim)
            .filter(|u| !u.is_empty() && u.len() <= 100)
            .map(str::to_owned),
    })
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
///
/// A connect failure (a connect timeout included) sent nothing: [`NetworkError::Transient`].
/// Anything after the connection was made — a timeout, a connection closed or reset before or
/// during the answer — may have reached the network: [`NetworkError::Timeout`], whose outcome
/// is unknown.
pub(crate) fn transport_error(network: &str, e: reqwest::Error) -> NetworkError {
    let e = e.without_url();
    if e.is_connect() {
        NetworkError::Transient(format!("could not connect to {network}"))
    } else if e.is_builder() {
        NetworkError::Rejected(format!("{network} request could not be built: {e}"))
    } else if e.is_timeout() {
        NetworkError::Timeout(format!("{network} did not answer in time"))
    } else {
        NetworkError::Timeout(format!(
            "{network} closed the connection without a complete answer ({})",
            error_chain(&e)
        ))
    }
}

/// Maps a transport error of a publishing request. A request that never reached the network
/// (no connection) published nothing; any other failure (timeout, connection dropped after
/// the request was written, body lost) may have published it.
pub(crate) fn publish_transport_error(
    network: &str,
    e: reqwest::Error,
    reference: Option<String>,
) -> PublishError {
    let not_sent = e.is_connect() || e.is_builder();
    let error = transport_error(network, e);
    if not_sent {
        PublishError::from(error)
    } else {
        PublishError::unknown(error, reference)
    }
}

/// An error and its sources on one line (reqwest's own message hides the cause).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(c) = source {
        s.push_str(": ");
        s.push_str(&c.to_string());
        source = c.source();
    }
    s
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
