//! Bluesky: the AT Protocol's XRPC methods on a PDS (`bluesky.base_url`). An account is
//! linked with its handle and an app password (`com.atproto.server.createSession`); the
//! session's `accessJwt` signs calls and its `refreshJwt` renews it
//! (`com.atproto.server.refreshSession`) when a call answers `ExpiredToken`. A renewal
//! revokes the refresh token it used, so the rotated pair is kept in memory and saved through
//! the [`SessionStore`] the registry hands over.

use super::{
    http_client, retry_after_header, snippet, CallContext, Existence, Gone, Identity, Media,
    MediaRules, Network, NetworkError, PublishError, Published, Quota, SessionStore, SignedIn,
    TextRule, MAX_RETRY_AFTER_SECS,
};
use crate::configuration::BlueskySettings;
use crate::domain::{
    is_did, AtUri, LinkedAccount, NetworkPostId, Platform, BLUESKY_POST_COLLECTION,
};
use async_trait::async_trait;
use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use tokio::sync::Semaphore;
use unicode_segmentation::UnicodeSegmentation;

/// Most images on one Bluesky post (`app.bsky.embed.images`).
pub const BLUESKY_MAX_IMAGES: usize = 4;
/// Largest image blob the `app.bsky.embed.images` lexicon accepts.
pub const BLUESKY_MAX_IMAGE_BYTES: usize = 1_000_000;

/// Most graphemes of a Bluesky post (`app.bsky.feed.post` lexicon, `maxGraphemes`).
pub const BLUESKY_MAX_GRAPHEMES: usize = 300;
/// Most UTF-8 bytes of a Bluesky post (the lexicon's `maxLength`).
pub const BLUESKY_MAX_BYTES: usize = 3000;

/// Bluesky's length of `text` against its limit of [`BLUESKY_MAX_GRAPHEMES`]: the grapheme
/// clusters (an emoji with its skin-tone modifier is one), or a tenth of the UTF-8 bytes
/// rounded up when that is more — so one number stays within 300 exactly when both lexicon
/// rules (300 graphemes, 3000 bytes) hold.
pub fn bluesky_length(text: &str) -> usize {
    let graphemes = text.graphemes(true).count();
    let bytes = text
        .len()
        .div_ceil(BLUESKY_MAX_BYTES / BLUESKY_MAX_GRAPHEMES);
    graphemes.max(bytes)
}

/// Rate-limit wait when Bluesky sends neither `ratelimit-reset` nor `Retry-After`.
const DEFAULT_RETRY_AFTER_SECS: u64 = 300;

/// XRPC errors that mean the session or the account cannot be used: re-link.
const AUTH_ERRORS: &[&str] = &[
    "InvalidToken",
    "AuthMissing",
    "AuthenticationRequired",
    "AccountTakedown",
    "AccountDeactivated",
    "AccountSuspended",
    "AuthFactorTokenRequired",
];

/// The Bluesky adapter.
pub struct Bluesky {
    base: String,
    quota: Quota,
    client: super::HttpClient,
    in_flight: Arc<Semaphore>,
    /// What this process knows of each linked session (by [`line_key`]): read from the store
    /// on first use, updated on every renewal.
    sessions: Mutex<HashMap<String, Session>>,
    /// One renewal at a time: concurrent calls that find the token expired renew it once.
    renewing: tokio::sync::Mutex<()>,
    store: OnceLock<Arc<dyn SessionStore>>,
}

/// A renewed session, and which linked session it descends from (a digest of the refresh
/// token stored at link time): a re-link starts a new line and makes older renewals moot.
/// Empty tokens mean "not renewed: the linked ones are current".
#[derive(Clone, Serialize, Deserialize)]
struct Session {
    linked: String,
    access: String,
    refresh: String,
}

impl Session {
    fn renewed(&self) -> bool {
        !self.access.is_empty()
    }
}

/// An XRPC answer: status, headers, body and the error name of an error body.
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
    error: Option<String>,
    message: String,
}

#[derive(Deserialize)]
struct XrpcError {
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SessionBody {
    access_jwt: String,
    refresh_jwt: String,
    #[serde(default)]
    did: Option<String>,
    #[serde(default)]
    handle: Option<String>,
}

#[derive(Deserialize)]
struct WhoBody {
    did: Option<String>,
    handle: Option<String>,
}

#[derive(Deserialize)]
struct CreatedBody {
    uri: String,
}

impl Answer {
    fn is(&self, name: &str) -> bool {
        self.error.as_deref() == Some(name)
    }

    /// What a failed answer means, by its XRPC error name first, then its status.
    fn classify(&self) -> NetworkError {
        let name = self.error.as_deref().unwrap_or("");
        let msg = if name.is_empty() {
            format!(
                "Bluesky answered HTTP {}: {}",
                self.status.as_u16(),
                snippet(&self.body)
            )
        } else {
            format!(
                "Bluesky error {name} (HTTP {}): {}",
                self.status.as_u16(),
                snippet(&self.message)
            )
        };
        if self.status == StatusCode::TOO_MANY_REQUESTS || name == "RateLimitExceeded" {
            NetworkError::RateLimited {
                retry_after: rate_limit_wait(&self.headers),
                message: msg,
            }
        } else if AUTH_ERRORS.contains(&name)
            || name == "ExpiredToken"
            || self.status == StatusCode::UNAUTHORIZED
            || self.status == StatusCode::FORBIDDEN
        {
            NetworkError::Auth(msg)
        } else if self.status.is_server_error() {
            NetworkError::Transient(msg)
        } else {
            NetworkError::Rejected(msg)
        }
    }
}

/// Seconds until Bluesky's window resets: `ratelimit-reset` is a Unix time; `Retry-After`
/// is the fallback. Clamped to `1..=MAX_RETRY_AFTER_SECS`.
fn rate_limit_wait(headers: &HeaderMap) -> u64 {
    let reset = headers
        .get("ratelimit-reset")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok())
        .map(|at| at.saturating_sub(chrono::Utc::now().timestamp()).max(1) as u64);
    reset
        .or_else(|| retry_after_header(headers))
        .unwrap_or(DEFAULT_RETRY_AFTER_SECS)
        .clamp(1, MAX_RETRY_AFTER_SECS)
}

/// A digest naming a linked session without keeping its token in another place.
fn fingerprint(refresh: &str) -> String {
    hex::encode(&Sha256::digest(refresh.as_bytes())[..16])
}

/// The key of one linked session's renewals: the DID and the digest of the refresh token it
/// was linked with, so two profiles linking one account (two sessions) never share a line.
fn line_key(did: &str, linked: &str) -> String {
    format!("networks.bluesky.session.{did}.{linked}")
}

impl Bluesky {
    /// An adapter for the configured PDS.
    pub fn new(settings: &BlueskySettings) -> Self {
        Self {
            base: settings.base_url.trim_end_matches('/').to_owned(),
            quota: Quota {
                limit: settings.delete_limit,
                window_secs: settings.delete_window_secs,
            },
            client: http_client(
                Duration::from_millis(settings.connect_timeout_ms),
                settings.timeout(),
            ),
            in_flight: Arc::new(Semaphore::new(settings.max_in_flight)),
            sessions: Mutex::new(HashMap::new()),
            renewing: tokio::sync::Mutex::new(()),
            store: OnceLock::new(),
        }
    }

    fn xrpc(&self, method: &str) -> String {
        format!("{}/xrpc/{method}", self.base)
    }

    /// Sends a request; a transport failure is classed as a publish's would be (the caller
    /// of a non-publishing call keeps only its `error`).
    async fn call(&self, req: reqwest::RequestBuilder) -> Result<Answer, PublishError> {
        let _permit = self
            .in_flight
            .acquire()
            .await
            .map_err(|_| NetworkError::Transient("Bluesky adapter is shutting down".into()))?;
        let (status, headers, body) = self
            .client
            .exchange(req)
            .await
            .map_err(|e| e.publish("Bluesky", None))?;
        tracing::debug!(status = status.as_u16(), "Bluesky answered");
        let (error, message) = if status.is_success() {
            (None, String::new())
        } else {
            match serde_json::from_str::<XrpcError>(&body) {
                Ok(e) => (
                    e.error.filter(|n| !n.is_empty()),
                    e.message.unwrap_or_default(),
                ),
                Err(_) => (None, String::new()),
            }
        };
        Ok(Answer {
            status,
            headers,
            body,
            error,
            message,
        })
    }

    /// The session tokens to call with: the renewed ones if this linked session was renewed
    /// (known in memory, or on first use read from the store), else the linked ones.
    async fn tokens(&self, account: &LinkedAccount) -> (String, String) {
        let refresh = account.access_token_secret.clone().unwrap_or_default();
        let linked = fingerprint(&refresh);
        let key = line_key(&account.user_id, &linked);
        let known = self.known(&key).filter(|s| s.linked == linked);
        let session = match known {
            Some(s) => s,
            None => {
                let saved = self
                    .saved(&key)
                    .await
                    .filter(|s| s.linked == linked)
                    .unwrap_or(Session {
                        linked,
                        access: String::new(),
                        refresh: String::new(),
                    });
                self.remember(&key, saved.clone());
                saved
            }
        };
        if session.renewed() {
            (session.access, session.refresh)
        } else {
            (account.access_token.clone(), refresh)
        }
    }

    fn known(&self, key: &str) -> Option<Session> {
        self.sessions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
            .cloned()
    }

    /// The session the store holds for `did`, if any (a store failure reads as none).
    async fn saved(&self, key: &str) -> Option<Session> {
        let store = self.store.get()?;
        match store.load(key).await {
            Ok(raw) => raw.and_then(|r| serde_json::from_str(&r).ok()),
            Err(e) => {
                tracing::warn!(error = %e, "could not read a saved Bluesky session");
                None
            }
        }
    }

    /// Sends the request `build` makes with the session's access token; when Bluesky
    /// answers `ExpiredToken`, renews the session and sends it once more.
    async fn authed(
        &self,
        account: &LinkedAccount,
        build: impl Fn(&str) -> reqwest::RequestBuilder,
    ) -> Result<Answer, PublishError> {
        let (access, _) = self.tokens(account).await;
        let answer = self.call(build(&access)).await?;
        if !answer.is("ExpiredToken") {
            return Ok(answer);
        }
        let access = self.renew(account, &access).await?;
        self.call(build(&access)).await
    }

    /// Renews the session whose access token `expired` was refused, unless another call (or,
    /// through the store, another process) already did; returns the access token to use.
    async fn renew(&self, account: &LinkedAccount, expired: &str) -> Result<String, NetworkError> {
        let _one = self.renewing.lock().await;
        let (access, refresh) = self.tokens(account).await;
        if access != expired {
            return Ok(access);
        }
        let linked = fingerprint(account.access_token_secret.as_deref().unwrap_or(""));
        let did = &account.user_id;
        let key = line_key(did, &linked);
        // Another gateway process on the same store may have renewed it.
        if let Some(saved) = self.saved(&key).await {
            if saved.linked == linked && saved.renewed() && saved.access != expired {
                let access = saved.access.clone();
                self.remember(&key, saved);
                return Ok(access);
            }
        }
        if refresh.is_empty() {
            return Err(NetworkError::Auth(
                "the Bluesky session expired and no refresh token is linked; re-link Bluesky with an app password".into(),
            ));
        }
        let req = self
            .client
            .post(self.xrpc("com.atproto.server.refreshSession"))
            .bearer_auth(&refresh);
        let answer = self.call(req).await.map_err(|e| e.error)?;
        if !answer.status.is_success() {
            return Err(match answer.classify() {
                NetworkError::Auth(m) | NetworkError::Rejected(m) => NetworkError::Auth(format!(
                    "{m}. Bluesky refused to renew the session: re-link Bluesky with an app password"
                )),
                other => other,
            });
        }
        let body: SessionBody = serde_json::from_str(&answer.body).map_err(|_| {
            NetworkError::Rejected("Bluesky renewed the session without tokens".into())
        })?;
        let session = Session {
            linked,
            access: body.access_jwt,
            refresh: body.refresh_jwt,
        };
        if let Some(store) = self.store.get() {
            let raw = serde_json::to_string(&session).unwrap_or_default();
            if let Err(e) = store.save(&key, &raw).await {
                // The tokens stay in memory; after a restart the account needs re-linking.
                tracing::warn!(did = %did, error = %e, "could not save the renewed Bluesky session");
            }
        }
        let access = session.access.clone();
        self.remember(&key, session);
        tracing::info!(did = %did, "Bluesky session renewed");
        Ok(access)
    }

    fn remember(&self, key: &str, session: Session) {
        self.sessions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key.to_owned(), session);
    }

    /// The stored post id, parsed, and checked to be in the linked account's repository:
    /// nothing is sent for a malformed id or another account's post.
    fn record<'a>(
        &self,
        account: &LinkedAccount,
        id: &'a NetworkPostId,
    ) -> Result<AtUri<'a>, NetworkError> {
        let uri = AtUri::parse(id.as_str())
            .map_err(|e| NetworkError::Rejected(format!("not sent to the network: {e}")))?;
        if uri.did != account.user_id {
            return Err(NetworkError::Rejected(format!(
                "not sent to the network: the post is in repository {}, the linked Bluesky account is {}",
                uri.did, account.user_id
            )));
        }
        Ok(uri)
    }
}

/// The post's page on bsky.app.
fn post_url(account: &LinkedAccount, rkey: &str) -> String {
    let who = account.username.as_deref().unwrap_or(&account.user_id);
    format!("https://bsky.app/profile/{who}/post/{rkey}")
}

/// An identity from a session answer: the DID checked (it goes into request bodies and the
/// store's keys), the handle kept when it is a plausible one.
fn session_identity(did: Option<&str>, handle: Option<&str>) -> Result<Identity, NetworkError> {
    let did = did
        .filter(|d| is_did(d))
        .ok_or_else(|| NetworkError::Rejected("Bluesky answered without a usable DID".into()))?;
    Ok(Identity {
        user_id: did.to_owned(),
        username: handle
            .map(str::trim)
            .filter(|h| !h.is_empty() && h.len() <= 253 && !h.contains(['/', '?', '#']))
            .map(str::to_owned),
    })
}

#[async_trait]
impl Network for Bluesky {
    fn platform(&self) -> Platform {
        Platform::Bluesky
    }

    fn delete_quota(&self) -> Quota {
        self.quota
    }

    fn profile_url(&self, account: &LinkedAccount) -> Option<String> {
        let who = account.username.as_deref().unwrap_or(&account.user_id);
        Some(format!("https://bsky.app/profile/{who}"))
    }

    fn text_rule(&self) -> TextRule {
        TextRule::new(
            BLUESKY_MAX_GRAPHEMES,
            "graphemes (and at most 3000 UTF-8 bytes, a tenth of which is counted when that is more)",
            bluesky_length,
        )
    }

    fn links_with_password(&self) -> bool {
        true
    }

    fn use_session_store(&self, store: Arc<dyn SessionStore>) {
        let _ = self.store.set(store);
    }

    async fn sign_in(
        &self,
        identifier: &str,
        password: &str,
        _ctx: &CallContext,
    ) -> Result<SignedIn, NetworkError> {
        let req = self
            .client
            .post(self.xrpc("com.atproto.server.createSession"))
            .json(&json!({"identifier": identifier, "password": password}));
        let answer = self.call(req).await.map_err(|e| e.error)?;
        if !answer.status.is_success() {
            return Err(match answer.classify() {
                NetworkError::Auth(m) if answer.is("AuthFactorTokenRequired") => {
                    NetworkError::Auth(format!(
                        "{m}. The account asks for an email sign-in code: link it with an app password"
                    ))
                }
                NetworkError::Auth(m) => NetworkError::Auth(format!(
                    "{m}. Check the handle and the app password"
                )),
                other => other,
            });
        }
        let body: SessionBody = serde_json::from_str(&answer.body).map_err(|_| {
            NetworkError::Rejected(format!(
                "Bluesky answered createSession without a session: {}",
                snippet(&answer.body)
            ))
        })?;
        Ok(SignedIn {
            identity: session_identity(body.did.as_deref(), body.handle.as_deref())?,
            access_token: body.access_jwt,
            refresh_token: Some(body.refresh_jwt),
        })
    }

    async fn delete(
        &self,
        account: &LinkedAccount,
        id: &NetworkPostId,
        _ctx: &CallContext,
    ) -> Result<Gone, NetworkError> {
        let uri = self.record(account, id)?;
        let body =
            json!({"repo": uri.did, "collection": BLUESKY_POST_COLLECTION, "rkey": uri.rkey});
        let url = self.xrpc("com.atproto.repo.deleteRecord");
        let answer = self
            .authed(account, |token| {
                self.client.post(&url).bearer_auth(token).json(&body)
            })
            .await
            .map_err(|e| e.error)?;
        if answer.status.is_success() {
            // deleteRecord is "delete a record, or ensure it doesn't exist": success is gone.
            return Ok(Gone::Deleted);
        }
        if answer.is("RecordNotFound") && answer.status.is_client_error() {
            return Ok(Gone::AlreadyGone);
        }
        if answer.status == StatusCode::NOT_FOUND && answer.error.is_none() {
            return Err(NetworkError::Ambiguous(format!(
                "Bluesky answered HTTP 404 without an XRPC error, which does not say the post is gone (check bluesky.base_url): {}",
                snippet(&answer.body)
            )));
        }
        Err(answer.classify())
    }

    async fn exists(
        &self,
        account: &LinkedAccount,
        id: &NetworkPostId,
        _ctx: &CallContext,
    ) -> Result<Existence, NetworkError> {
        let uri = self.record(account, id)?;
        let url = self.xrpc("com.atproto.repo.getRecord");
        let query = [
            ("repo", uri.did),
            ("collection", BLUESKY_POST_COLLECTION),
            ("rkey", uri.rkey),
        ];
        let answer = self
            .authed(account, |token| {
                self.client.get(&url).bearer_auth(token).query(&query)
            })
            .await
            .map_err(|e| e.error)?;
        if answer.status.is_success() {
            return Ok(Existence::Exists);
        }
        if answer.is("RecordNotFound") && answer.status.is_client_error() {
            return Ok(Existence::Gone);
        }
        if answer.status == StatusCode::NOT_FOUND && answer.error.is_none() {
            return Err(NetworkError::Ambiguous(format!(
                "Bluesky answered HTTP 404 without an XRPC error, which does not say the post is gone (check bluesky.base_url): {}",
                snippet(&answer.body)
            )));
        }
        Err(answer.classify())
    }

    async fn whoami(
        &self,
        account: &LinkedAccount,
        _ctx: &CallContext,
    ) -> Result<Identity, NetworkError> {
        let url = self.xrpc("com.atproto.server.getSession");
        let answer = self
            .authed(account, |token| self.client.get(&url).bearer_auth(token))
            .await
            .map_err(|e| e.error)?;
        if !answer.status.is_success() {
            return Err(answer.classify());
        }
        let who: WhoBody = serde_json::from_str(&answer.body).map_err(|_| {
            NetworkError::Rejected(format!(
                "Bluesky answered getSession without an account: {}",
                snippet(&answer.body)
            ))
        })?;
        session_identity(who.did.as_deref(), who.handle.as_deref())
    }

    async fn publish(
        &self,
        account: &LinkedAccount,
        text: &str,
        _ctx: &CallContext,
    ) -> Result<Published, PublishError> {
        self.create_post(account, text, None).await
    }

    fn media_rules(&self) -> MediaRules {
        MediaRules {
            max_images: BLUESKY_MAX_IMAGES,
            max_bytes: BLUESKY_MAX_IMAGE_BYTES,
            fetches_url: false,
        }
    }

    /// Uploads each image (`com.atproto.repo.uploadBlob`), then creates the post with an
    /// `app.bsky.embed.images` embed of the blobs.
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
        let mut images = Vec::with_capacity(media.len());
        for m in media {
            let blob = self.upload_blob(account, m).await?;
            images.push(json!({"alt": "", "image": blob}));
        }
        let embed = json!({"$type": "app.bsky.embed.images", "images": images});
        self.create_post(account, text, Some(embed)).await
    }
}

impl Bluesky {
    /// Uploads one image and returns the blob reference Bluesky answered. An upload publishes
    /// nothing: every failure is a sure "not published".
    async fn upload_blob(
        &self,
        account: &LinkedAccount,
        media: &Media,
    ) -> Result<serde_json::Value, PublishError> {
        let Some(bytes) = media.bytes.as_ref() else {
            return Err(NetworkError::Rejected(
                "an image for Bluesky was not downloaded by the gateway".into(),
            )
            .into());
        };
        let url = self.xrpc("com.atproto.repo.uploadBlob");
        let answer = self
            .authed(account, |token| {
                self.client
                    .post(&url)
                    .bearer_auth(token)
                    .header(reqwest::header::CONTENT_TYPE, media.content_type.as_str())
                    .body(bytes.clone())
            })
            .await
            .map_err(|e| PublishError::from(e.error))?;
        if !answer.status.is_success() {
            return Err(answer.classify().into());
        }
        serde_json::from_str::<serde_json::Value>(&answer.body)
            .ok()
            .and_then(|v| v.get("blob").cloned())
            .filter(|b| b.is_object())
            .ok_or_else(|| {
                NetworkError::Rejected(format!(
                    "Bluesky answered uploadBlob without a blob: {}",
                    snippet(&answer.body)
                ))
                .into()
            })
    }

    /// Creates an `app.bsky.feed.post` record with `text` and, if any, `embed`: the one call
    /// that can leave a publish's outcome unknown.
    async fn create_post(
        &self,
        account: &LinkedAccount,
        text: &str,
        embed: Option<serde_json::Value>,
    ) -> Result<Published, PublishError> {
        let created_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let mut record =
            json!({"$type": BLUESKY_POST_COLLECTION, "text": text, "createdAt": created_at});
        if let Some(embed) = embed {
            record["embed"] = embed;
        }
        let body = json!({
            "repo": account.user_id,
            "collection": BLUESKY_POST_COLLECTION,
            "record": record,
        });
        let url = self.xrpc("com.atproto.repo.createRecord");
        // An `ExpiredToken` answer created nothing, so its one retry cannot post twice.
        let answer = self
            .authed(account, |token| {
                self.client.post(&url).bearer_auth(token).json(&body)
            })
            .await?;
        if answer.status.is_success() {
            let uri = serde_json::from_str::<CreatedBody>(&answer.body)
                .ok()
                .map(|b| b.uri)
                .filter(|u| AtUri::parse(u).is_ok_and(|at| at.did == account.user_id));
            return match uri {
                Some(uri) => {
                    let rkey = AtUri::parse(&uri)
                        .map(|at| at.rkey.to_owned())
                        .unwrap_or_default();
                    Ok(Published {
                        url: post_url(account, &rkey),
                        id: NetworkPostId(uri),
                    })
                }
                None => Err(PublishError::unknown(
                    NetworkError::Ambiguous(format!(
                        "Bluesky accepted createRecord without a post URI of the account: {}",
                        snippet(&answer.body)
                    )),
                    None,
                )),
            };
        }
        let error = answer.classify();
        if answer.status.is_server_error() {
            return Err(PublishError::unknown(
                NetworkError::Ambiguous(format!(
                    "Bluesky answered HTTP {} to createRecord ({error}); the post may have been created",
                    answer.status.as_u16()
                )),
                None,
            ));
        }
        Err(PublishError::from(error))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bluesky_counts_graphemes_and_bytes() {
        assert_eq!(bluesky_length("hello"), 5);
        // An emoji with a skin tone is one grapheme (8 bytes).
        assert_eq!(bluesky_length("👍🏽"), 1);
        assert_eq!(bluesky_length(&"👍🏽".repeat(300)), 300);
        assert_eq!(bluesky_length(&"👍🏽".repeat(301)), 301);
        // A family emoji is one grapheme of 25 bytes: 300 of them are 7500 bytes, too long.
        assert!(bluesky_length(&"👨‍👩‍👧‍👦".repeat(300)) > BLUESKY_MAX_GRAPHEMES);
        assert_eq!(bluesky_length(&"a".repeat(300)), 300);
    }

    #[test]
    fn rate_limit_reset_is_a_unix_time() {
        let mut h = HeaderMap::new();
        let at = chrono::Utc::now().timestamp() + 120;
        h.insert("ratelimit-reset", at.to_string().parse().unwrap());
        let wait = rate_limit_wait(&h);
        assert!((118..=120).contains(&wait), "{wait}");
        assert_eq!(rate_limit_wait(&HeaderMap::new()), DEFAULT_RETRY_AFTER_SECS);
        h.insert("ratelimit-reset", "1".parse().unwrap());
        assert_eq!(rate_limit_wait(&h), 1);
    }
}
