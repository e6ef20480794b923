//! Network adapters: one per social network, behind [`Network`]. Each maps its network's
//! answers onto the small set of classes in [`NetworkError`]; none knows Ayrshare's wire format.

mod bluesky;
pub mod link_flows;
mod media;
mod observed;
mod text;
mod threads;
mod x;

pub use bluesky::{bluesky_length, Bluesky, BLUESKY_MAX_BYTES, BLUESKY_MAX_GRAPHEMES};
pub use media::{Media, MediaRules};
pub use text::TextRule;
pub use threads::{threads_length, Threads, THREADS_MAX};
pub use x::{sign_oauth1, sign_oauth1_flow, x_weighted_length, X, X_MAX_WEIGHTED, X_URL_WEIGHT};

use crate::configuration::Settings;
use crate::domain::{DeleteFailure, LinkedAccount, NetworkPostId, Platform, PlatformEntry};
use async_trait::async_trait;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// A sliding-window delete quota for one network, counted locally per linked account so the
/// request past the network's documented limit is refused before any call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quota {
    /// Deletes per window; 0 switches local counting off (the network's own 429s still block).
    pub limit: u32,
    /// Window length in seconds.
    pub window_secs: u64,
}

/// How a network's authorization failures are reported. Adapters know no Ayrshare codes:
/// they say which kind of failure theirs is, and the api layer picks the code.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AuthCode {
    /// An X/Twitter authorization issue: Ayrshare has a code of its own for it, and the fix
    /// is re-linking the X account.
    XRelink,
    /// A network token invalid, expired or missing a permission.
    #[default]
    Token,
}

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

/// An account a network signed in with an identifier and a password: who it is, and the
/// session tokens postgate calls with from then on (the password itself is not kept).
#[derive(Clone, PartialEq, Eq)]
pub struct SignedIn {
    /// The account, as the network answered.
    pub identity: Identity,
    /// The token calls are made with.
    pub access_token: String,
    /// The token that renews the session when the access token expires.
    pub refresh_token: Option<String>,
}

impl fmt::Debug for SignedIn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignedIn")
            .field("identity", &self.identity)
            .finish_non_exhaustive()
    }
}

/// Durable storage for session tokens a network rotates on its own (Bluesky's
/// `refreshSession` revokes the refresh token it was called with): without it a rotated
/// session would be lost on restart and the account would need re-linking. Keys and values
/// are the adapter's; the values carry secrets and must never be logged.
#[async_trait]
pub trait SessionStore: Send + Sync + 'static {
    /// The value saved under `key`, if any.
    async fn load(&self, key: &str) -> Result<Option<String>, String>;
    /// Saves `value` under `key`, replacing what was there.
    async fn save(&self, key: &str, value: &str) -> Result<(), String>;
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

/// One social network: its calls, and the rules callers must know before making them, so
/// that no caller has to ask which network it is talking to.
#[async_trait]
pub trait Network: Send + Sync + 'static {
    /// Which platform this adapter serves; the registry is keyed by it.
    fn platform(&self) -> Platform;

    /// The local delete quota per linked account, from this network's settings section.
    fn delete_quota(&self) -> Quota;

    /// How long a text may be here, as this network counts it.
    fn text_rule(&self) -> TextRule;

    /// Which kind of authorization failure this network's [`NetworkError::Auth`] is.
    fn auth_code(&self) -> AuthCode {
        AuthCode::Token
    }

    /// Whether a call can be made at all with `ctx` (X: consumer credentials), checked before
    /// any quota is spent. The error is what the call itself would have failed with.
    fn check_context(&self, _ctx: &CallContext) -> Result<(), NetworkError> {
        Ok(())
    }

    /// Whether linking an account needs an access token secret besides the token (OAuth 1.0a).
    fn link_needs_token_secret(&self) -> bool {
        false
    }

    /// Whether an account is linked with an identifier (handle) and a password (an app
    /// password) that postgate exchanges for a session ([`Network::sign_in`]), instead of
    /// with tokens the caller obtained.
    fn links_with_password(&self) -> bool {
        false
    }

    /// Exchanges `identifier` and `password` for a session (only for networks that
    /// [`Network::links_with_password`]).
    async fn sign_in(
        &self,
        _identifier: &str,
        _password: &str,
        _ctx: &CallContext,
    ) -> Result<SignedIn, NetworkError> {
        Err(NetworkError::Rejected(format!(
            "{} links with an access token, not a password",
            self.platform().display_name()
        )))
    }

    /// Gives the adapter durable storage for the session tokens it rotates. The default
    /// keeps nothing: tokens that never change need none.
    fn use_session_store(&self, _store: Arc<dyn SessionStore>) {}

    /// Why this network's API cannot delete `entry` (a kind of post it offers no delete
    /// for), if it cannot. The default: every post can be deleted.
    fn delete_unsupported(&self, _entry: &PlatformEntry) -> Option<String> {
        None
    }

    /// The account's public page (`/api/user`'s `profileUrl`), when the network has one for
    /// what postgate knows of the account. The default: none.
    fn profile_url(&self, _account: &LinkedAccount) -> Option<String> {
        None
    }

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

    /// What images this network takes on one post. The default: none (a post with images is
    /// refused for this network before anything is sent).
    fn media_rules(&self) -> MediaRules {
        MediaRules::NONE
    }

    /// Publishes a post with images (`media` checked against [`Network::media_rules`] by the
    /// caller, downloaded unless the network fetches URLs itself). Without images it is
    /// [`Network::publish`]. Uploading an image publishes nothing: only the final publishing
    /// call can leave the outcome unknown.
    async fn publish_with_media(
        &self,
        account: &LinkedAccount,
        text: &str,
        media: &[Media],
        ctx: &CallContext,
    ) -> Result<Published, PublishError> {
        if media.is_empty() {
            return self.publish(account, text, ctx).await;
        }
        Err(NetworkError::Rejected(format!(
            "{} posts with images are not supported by this gateway",
            self.platform().display_name()
        ))
        .into())
    }

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

/// The adapters postgate has, by platform: the one place that knows which networks exist.
/// Everything per-network (quota, text rule, auth code, requirements) is asked of the adapter
/// found here, so callers never match on a platform.
#[derive(Clone, Default)]
pub struct Networks {
    by_platform: Arc<BTreeMap<Platform, Arc<dyn Network>>>,
}

impl Networks {
    /// Every network postgate supports, configured from its settings section. A new network
    /// is one line here.
    pub fn from_settings(settings: &Settings) -> Self {
        Self::new([
            Arc::new(Threads::new(&settings.threads)) as Arc<dyn Network>,
            Arc::new(X::new(&settings.x)),
            Arc::new(Bluesky::new(&settings.bluesky)),
        ])
    }

    /// Hands `store` to every adapter that rotates session tokens, so a renewed session
    /// survives a restart (and is shared by gateway processes on one store).
    pub fn with_session_store(self, store: Arc<dyn SessionStore>) -> Self {
        for network in self.by_platform.values() {
            network.use_session_store(store.clone());
        }
        self
    }

    /// A registry of `adapters`, each under the platform it declares (a later adapter for
    /// the same platform replaces an earlier one), each call of theirs measured
    /// (`networks/observed.rs`).
    pub fn new(adapters: impl IntoIterator<Item = Arc<dyn Network>>) -> Self {
        Self {
            by_platform: Arc::new(
                adapters
                    .into_iter()
                    .map(|n| (n.platform(), observed::Observed::wrap(n)))
                    .collect(),
            ),
        }
    }

    /// The platforms postgate has adapters for, in a stable order.
    pub fn platforms(&self) -> impl Iterator<Item = &Platform> {
        self.by_platform.keys()
    }

    /// The adapter for `platform`, if postgate has one.
    pub fn get(&self, platform: &Platform) -> Option<&Arc<dyn Network>> {
        self.by_platform.get(platform)
    }

    /// The wire names of the supported platforms, alphabetically, joined for a sentence
    /// (`"threads and twitter"`; each wrapped in `quote`).
    pub fn names(&self, quote: &str) -> String {
        let mut names: Vec<String> = self
            .by_platform
            .keys()
            .map(|p| format!("{quote}{}{quote}", p.as_str()))
            .collect();
        names.sort();
        match names.split_last() {
            None => String::new(),
            Some((last, [])) => last.clone(),
            Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
        }
    }

    /// How `platform`'s authorization failures are reported ([`AuthCode::Token`] without an
    /// adapter).
    pub fn auth_code(&self, platform: &Platform) -> AuthCode {
        self.get(platform)
            .map_or(AuthCode::default(), |n| n.auth_code())
    }

    /// `platform`'s text rule, if postgate has an adapter for it.
    pub fn text_rule(&self, platform: &Platform) -> Option<TextRule> {
        self.get(platform).map(|n| n.text_rule())
    }

    /// `platform`'s image rules ([`MediaRules::NONE`] without an adapter).
    pub fn media_rules(&self, platform: &Platform) -> MediaRules {
        self.get(platform)
            .map_or(MediaRules::NONE, |n| n.media_rules())
    }

    /// The account's public page, if its adapter knows one.
    pub fn profile_url(&self, account: &LinkedAccount) -> Option<String> {
        self.get(&account.platform)
            .and_then(|n| n.profile_url(account))
    }

    /// Why `entry` cannot be deleted through its network's API, if it cannot: the adapter's
    /// rule, or for a platform without an adapter the domain's (Instagram, TikTok, ...).
    pub fn delete_unsupported(&self, entry: &PlatformEntry) -> Option<String> {
        match self.get(&entry.platform) {
            Some(network) => network.delete_unsupported(entry),
            None => entry.delete_unsupported().map(str::to_owned),
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

/// Builds a client with the given timeouts whose exchanges run on the runtime building it.
pub(crate) fn http_client(connect_timeout: Duration, timeout: Duration) -> HttpClient {
    HttpClient {
        client: reqwest::Client::builder()
            .connect_timeout(connect_timeout)
            .timeout(timeout)
            .user_agent(concat!("postgate/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("a reqwest client with only timeouts set always builds"),
        home: tokio::runtime::Handle::try_current().ok(),
    }
}

/// A network's HTTP client, tied to the runtime that built it (the gateway's, in
/// `Application::build`).
///
/// Why: a pooled connection is driven by a task on the runtime where it was opened. Opened by
/// a request handler, that is an HTTP worker's runtime, which the server drops when it stops,
/// before the background work (the delete queue's worker, deletes detached from their
/// requests) has finished. A delete in flight on such a connection then failed after its
/// request was sent ("dispatch task is gone"), was taken for "maybe sent" and retried: the
/// network got a second delete. [`HttpClient::exchange`] runs every exchange, and so every
/// connection, on the home runtime instead. Requests are built through `Deref`.
#[derive(Clone, Debug)]
pub(crate) struct HttpClient {
    client: reqwest::Client,
    /// `None` when built outside a runtime: exchanges then run on the caller's.
    home: Option<tokio::runtime::Handle>,
}

impl std::ops::Deref for HttpClient {
    type Target = reqwest::Client;

    fn deref(&self) -> &reqwest::Client {
        &self.client
    }
}

/// A network's answer, read to the end.
pub(crate) type Exchanged = (reqwest::StatusCode, reqwest::header::HeaderMap, String);

/// Why an exchange has no answer.
#[derive(Debug)]
pub(crate) enum ExchangeError {
    /// Sending failed (reqwest's error tells whether a connection was made).
    Send(reqwest::Error),
    /// The request went out; reading the answer failed.
    Answer(reqwest::Error),
    /// The home runtime stopped mid-exchange (the process is ending): the request may have
    /// gone out.
    Stopped,
}

impl ExchangeError {
    /// The failure class of a non-publishing call ([`transport_error`]).
    pub(crate) fn network(self, network: &str) -> NetworkError {
        match self {
            ExchangeError::Send(e) | ExchangeError::Answer(e) => transport_error(network, e),
            ExchangeError::Stopped => {
                NetworkError::Timeout(format!("{network} call cut off: the gateway is stopping"))
            }
        }
    }

    /// The failure of a publishing call: unknown outcome unless nothing was sent.
    pub(crate) fn publish(self, network: &str, reference: Option<String>) -> PublishError {
        match self {
            ExchangeError::Send(e) => publish_transport_error(network, e, reference),
            other => PublishError::unknown(other.network(network), reference),
        }
    }
}

impl HttpClient {
    /// Sends `req` and reads the whole answer, on the home runtime. The exchange finishes
    /// there even if the caller stops waiting (its answer is then dropped); the client's
    /// timeout bounds it.
    pub(crate) async fn exchange(
        &self,
        req: reqwest::RequestBuilder,
    ) -> Result<Exchanged, ExchangeError> {
        let run = async move {
            let resp = req.send().await.map_err(ExchangeError::Send)?;
            let status = resp.status();
            let headers = resp.headers().clone();
            let body = resp.text().await.map_err(ExchangeError::Answer)?;
            Ok((status, headers, body))
        };
        match &self.home {
            Some(home) => home.spawn(run).await.unwrap_or(Err(ExchangeError::Stopped)),
            None => run.await,
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::EntryState;

    fn registry(env: &[(&str, &str)]) -> Networks {
        let env = env.iter().map(|(k, v)| (k.to_string(), v.to_string()));
        Networks::from_settings(&Settings::load_with_env(None, env).unwrap())
    }

    #[test]
    fn each_adapter_is_registered_under_its_platform_with_its_own_quota() {
        let networks = registry(&[
            ("POSTGATE__THREADS__DELETE_LIMIT", "7"),
            ("POSTGATE__THREADS__DELETE_WINDOW_SECS", "70"),
            ("POSTGATE__X__DELETE_LIMIT", "3"),
            ("POSTGATE__X__DELETE_WINDOW_SECS", "30"),
        ]);
        for platform in [Platform::Threads, Platform::Twitter] {
            assert_eq!(networks.get(&platform).unwrap().platform(), platform);
        }
        let quota = |p: Platform| networks.get(&p).unwrap().delete_quota();
        assert_eq!(
            quota(Platform::Threads),
            Quota {
                limit: 7,
                window_secs: 70
            }
        );
        assert_eq!(
            quota(Platform::Twitter),
            Quota {
                limit: 3,
                window_secs: 30
            }
        );
        // No adapter, no quota of another network's.
        assert!(networks.get(&Platform::Other("linkedin".into())).is_none());
        assert_eq!(networks.names(""), "bluesky, threads and twitter");
        assert_eq!(networks.names("'"), "'bluesky', 'threads' and 'twitter'");
    }

    #[test]
    fn the_registry_answers_per_network_rules() {
        let networks = registry(&[]);
        assert_eq!(networks.auth_code(&Platform::Twitter), AuthCode::XRelink);
        assert_eq!(networks.auth_code(&Platform::Threads), AuthCode::Token);
        let x = networks.text_rule(&Platform::Twitter).unwrap();
        assert_eq!((x.length("日本"), x.limit), (4, 280));
        let threads = networks.text_rule(&Platform::Threads).unwrap();
        assert_eq!((threads.length("😀"), threads.limit), (4, 500));
        assert!(networks.text_rule(&Platform::Instagram).is_none());
        let x = networks.get(&Platform::Twitter).unwrap();
        assert_eq!(
            x.check_context(&CallContext::default()),
            Err(NetworkError::NoCredentials)
        );
        assert!(x.link_needs_token_secret());
        let threads = networks.get(&Platform::Threads).unwrap();
        assert!(threads.check_context(&CallContext::default()).is_ok());
        assert!(!threads.link_needs_token_secret());
        // Platforms without an adapter fall back on the domain's rule.
        let instagram = PlatformEntry::new(Platform::Instagram, EntryState::Published);
        assert!(networks.delete_unsupported(&instagram).is_some());
        let thread = PlatformEntry::new(Platform::Threads, EntryState::Published);
        assert!(networks.delete_unsupported(&thread).is_none());
    }
}
