//! Every adapter as the registry hands it out: the adapter itself, with each network call
//! counted and timed (`postgate_network_calls_total`, `postgate_network_call_duration_seconds`)
//! and logged as one debug line (network, operation, outcome, latency; never a URL, token or
//! body). Callers of the registry cannot make an unobserved call.
//!
//! A method added to [`Network`] must be forwarded here too, or the adapter's own version is
//! hidden behind the trait's default.

use super::{
    CallContext, Existence, Gone, Identity, Media, MediaRules, Network, NetworkError, PublishCheck,
    PublishError, Published, Quota, SessionStore, SignedIn, TextRule,
};
use crate::domain::{LinkedAccount, NetworkPostId, Platform, PlatformEntry};
use async_trait::async_trait;
use std::sync::Arc;
use std::time::Instant;

/// An adapter whose network calls are measured.
pub(super) struct Observed {
    inner: Arc<dyn Network>,
    /// The platform's name, the `network` label.
    name: String,
}

impl Observed {
    pub(super) fn wrap(inner: Arc<dyn Network>) -> Arc<dyn Network> {
        let name = inner.platform().as_str().to_owned();
        Arc::new(Self { inner, name })
    }

    fn observe(&self, operation: &'static str, outcome: &'static str, started: Instant) {
        let elapsed = started.elapsed();
        crate::metrics::network_call(&self.name, operation, outcome, elapsed);
        tracing::debug!(
            network = %self.name,
            operation,
            outcome,
            latency_ms = elapsed.as_secs_f64() * 1000.0,
            "network call"
        );
    }
}

/// The outcome class of a failed call: bounded, and free of the network's text.
fn error_class(e: &NetworkError) -> &'static str {
    match e {
        NetworkError::RateLimited { .. } => "rate_limited",
        NetworkError::Auth(_) => "auth",
        NetworkError::Transient(_) => "transient",
        NetworkError::Timeout(_) => "no_answer",
        NetworkError::Rejected(_) => "rejected",
        NetworkError::Ambiguous(_) => "ambiguous",
        NetworkError::NotFoundOrNoAccess(_) => "not_found_or_no_access",
        NetworkError::Duplicate(_) => "duplicate",
        NetworkError::NoCredentials => "no_credentials",
    }
}

fn class<T>(r: &Result<T, NetworkError>, ok: impl FnOnce(&T) -> &'static str) -> &'static str {
    match r {
        Ok(v) => ok(v),
        Err(e) => error_class(e),
    }
}

#[async_trait]
impl Network for Observed {
    fn platform(&self) -> Platform {
        self.inner.platform()
    }

    fn delete_quota(&self) -> Quota {
        self.inner.delete_quota()
    }

    fn text_rule(&self) -> TextRule {
        self.inner.text_rule()
    }

    fn auth_code(&self) -> super::AuthCode {
        self.inner.auth_code()
    }

    fn check_context(&self, ctx: &CallContext) -> Result<(), NetworkError> {
        self.inner.check_context(ctx)
    }

    fn link_needs_token_secret(&self) -> bool {
        self.inner.link_needs_token_secret()
    }

    fn links_with_password(&self) -> bool {
        self.inner.links_with_password()
    }

    async fn sign_in(
        &self,
        identifier: &str,
        password: &str,
        ctx: &CallContext,
    ) -> Result<SignedIn, NetworkError> {
        let started = Instant::now();
        let r = self.inner.sign_in(identifier, password, ctx).await;
        self.observe("sign_in", class(&r, |_| "ok"), started);
        r
    }

    fn use_session_store(&self, store: Arc<dyn SessionStore>) {
        self.inner.use_session_store(store)
    }

    fn delete_unsupported(&self, entry: &PlatformEntry) -> Option<String> {
        self.inner.delete_unsupported(entry)
    }

    fn profile_url(&self, account: &LinkedAccount) -> Option<String> {
        self.inner.profile_url(account)
    }

    fn media_rules(&self) -> MediaRules {
        self.inner.media_rules()
    }

    async fn delete(
        &self,
        account: &LinkedAccount,
        id: &NetworkPostId,
        ctx: &CallContext,
    ) -> Result<Gone, NetworkError> {
        let started = Instant::now();
        let r = self.inner.delete(account, id, ctx).await;
        let outcome = class(&r, |g| match g {
            Gone::Deleted => "ok",
            Gone::AlreadyGone => "already_gone",
        });
        self.observe("delete", outcome, started);
        r
    }

    async fn exists(
        &self,
        account: &LinkedAccount,
        id: &NetworkPostId,
        ctx: &CallContext,
    ) -> Result<Existence, NetworkError> {
        let started = Instant::now();
        let r = self.inner.exists(account, id, ctx).await;
        let outcome = class(&r, |e| match e {
            Existence::Exists => "ok",
            Existence::Gone => "already_gone",
        });
        self.observe("exists", outcome, started);
        r
    }

    async fn whoami(
        &self,
        account: &LinkedAccount,
        ctx: &CallContext,
    ) -> Result<Identity, NetworkError> {
        let started = Instant::now();
        let r = self.inner.whoami(account, ctx).await;
        self.observe("whoami", class(&r, |_| "ok"), started);
        r
    }

    async fn publish(
        &self,
        account: &LinkedAccount,
        text: &str,
        ctx: &CallContext,
    ) -> Result<Published, PublishError> {
        let started = Instant::now();
        let r = self.inner.publish(account, text, ctx).await;
        let outcome = match &r {
            Ok(_) => "ok",
            Err(e) if e.outcome_unknown => "unknown",
            Err(e) => error_class(&e.error),
        };
        self.observe("publish", outcome, started);
        r
    }

    async fn publish_with_media(
        &self,
        account: &LinkedAccount,
        text: &str,
        media: &[Media],
        ctx: &CallContext,
    ) -> Result<Published, PublishError> {
        let started = Instant::now();
        let r = self
            .inner
            .publish_with_media(account, text, media, ctx)
            .await;
        let outcome = match &r {
            Ok(_) => "ok",
            Err(e) if e.outcome_unknown => "unknown",
            Err(e) => error_class(&e.error),
        };
        let operation = if media.is_empty() {
            "publish"
        } else {
            "publish_with_media"
        };
        self.observe(operation, outcome, started);
        r
    }

    async fn check_publish(
        &self,
        account: &LinkedAccount,
        reference: Option<&str>,
        text: &str,
        since: chrono::DateTime<chrono::Utc>,
        ctx: &CallContext,
    ) -> Result<PublishCheck, NetworkError> {
        let started = Instant::now();
        let r = self
            .inner
            .check_publish(account, reference, text, since, ctx)
            .await;
        let outcome = class(&r, |c| match c {
            PublishCheck::Published(_) => "ok",
            PublishCheck::NotPublished(_) => "not_published",
            PublishCheck::Unknown(_) => "unknown",
        });
        self.observe("check_publish", outcome, started);
        r
    }
}
