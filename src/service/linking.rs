//! Linking real accounts: the short-lived linking credential `generateJWT` hands out, the
//! linking page's session and CSRF tokens, the OAuth flows of each network (their `state`
//! single-use and stored durably with an expiry), and the refresher that keeps Threads tokens
//! alive. Knows no HTML and no Ayrshare field names; the api layer renders what it returns.

use crate::domain::{LinkedAccount, Platform, TokenLife};
use crate::networks::link_flows::{RequestToken, ThreadsOAuth, XOAuth, THREADS_DELETE_SCOPE};
use crate::networks::{CallContext, ConsumerCredentials, NetworkError, Networks};
use crate::store::{Profile, Store, StoreError};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Duration, TimeZone, Utc};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::sync::Arc;
use tokio::sync::broadcast;

/// Meta key of the server secret that signs linking tokens (generated on first use).
pub const LINK_SECRET_META: &str = "link.jwt_secret";
/// Meta key prefix of pending OAuth requests (`state`, or X's request token).
const STATE_META_PREFIX: &str = "link.oauth_state.";
/// How long the linking page stays usable once opened, minutes.
pub const SESSION_MINUTES: i64 = 30;
/// How long a user may take on a network's consent page, seconds.
pub const STATE_TTL_SECS: i64 = 600;
/// Longest `expiresIn` of `generateJWT`, minutes (Ayrshare's limit, 48 h).
pub const MAX_EXPIRES_MINUTES: u32 = 2880;
/// Threads refuses to refresh a token younger than this.
const MIN_TOKEN_AGE: Duration = Duration::hours(24);
/// How soon a token counts as "expiring" on the page.
const EXPIRING_SOON: Duration = Duration::days(7);

const ISSUER: &str = "postgate";
const AUDIENCE: &str = "postgate-link";

/// What a linking token grants: one profile, until `exp`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkClaims {
    /// `postgate`.
    pub iss: String,
    /// `postgate-link`.
    pub aud: String,
    /// The profile's id (`refId`).
    pub sub: String,
    /// Issued at, Unix seconds.
    pub iat: i64,
    /// Expires at, Unix seconds.
    pub exp: i64,
    /// The session id: CSRF tokens and OAuth states are bound to it.
    pub jti: String,
    /// Where the page's "Done" link goes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect: Option<String>,
    /// The networks the page shows (all when `None`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed: Option<Vec<String>>,
    /// A session token re-issued by the page itself (never extended again).
    #[serde(default)]
    pub ses: bool,
}

/// Why a linking request was refused. Each has a page of its own; none is a 500 but
/// [`LinkError::Store`].
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// The token's time is up.
    #[error("this linking link has expired")]
    Expired,
    /// Not a token this gateway signed (tampered, truncated, another server's).
    #[error("this linking link is not valid")]
    Invalid,
    /// The profile was deleted since.
    #[error("the profile of this link no longer exists")]
    ProfileGone,
    /// The form's CSRF token does not belong to the session.
    #[error("the form does not belong to this linking session")]
    Csrf,
    /// An OAuth `state` (or X request token) never issued, already used, or expired.
    #[error("this authorization request is unknown, expired or was already used")]
    UnknownState,
    /// The platform is not offered (no adapter, not allowed, or no app configured).
    #[error("{0} cannot be linked here")]
    NotAvailable(String),
    /// A network refused or failed a step.
    #[error("{platform}: {error}")]
    Network {
        /// The network's display name.
        platform: String,
        /// What went wrong.
        error: NetworkError,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// How one network looks on the linking page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LinkState {
    /// The operator set no app for it.
    NotConfigured,
    /// Not linked.
    NotLinked,
    /// Linked.
    Linked {
        /// The handle, when known.
        username: Option<String>,
        /// When its token expires, when known.
        expires_at: Option<DateTime<Utc>>,
        /// The token expires within a week.
        expiring: bool,
        /// The token cannot be refreshed: link again.
        needs_relink: bool,
        /// The grant lacks the delete scope: deletes will fail.
        cannot_delete: bool,
    },
}

/// A network row of the linking page.
#[derive(Clone, Debug)]
pub struct LinkRow {
    /// The platform (its wire name is the form value).
    pub platform: Platform,
    /// Its state.
    pub state: LinkState,
}

/// What happened to a linked account: the hook point for the `social` webhook.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LinkEvent {
    /// Linked (or re-linked) through the linking page.
    Linked {
        /// The profile.
        profile_id: String,
        /// The network.
        platform: Platform,
    },
    /// Unlinked through the linking page.
    Unlinked {
        /// The profile.
        profile_id: String,
        /// The network.
        platform: Platform,
    },
    /// The token was renewed by the refresher.
    Refreshed {
        /// The profile.
        profile_id: String,
        /// The network.
        platform: Platform,
    },
    /// The token could not be renewed: the account needs re-linking.
    NeedsRelink {
        /// The profile.
        profile_id: String,
        /// The network.
        platform: Platform,
    },
}

/// Where an OAuth callback sends the user back to, with what happened.
#[derive(Clone, Debug)]
pub struct CallbackOutcome {
    /// A fresh session token for the page.
    pub session: String,
    /// The platform.
    pub platform: Platform,
    /// `None`: linked. `Some(reason)`: not linked, and why (user-facing).
    pub failure: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct PendingAuth {
    platform: String,
    claims: LinkClaims,
    expires: i64,
    #[serde(default)]
    request_secret: Option<String>,
}

/// What the linking service needs from settings.
pub struct LinkingConfig {
    /// The gateway's external base URL, no trailing slash.
    pub public_url: String,
    /// Renew Threads tokens this close to expiry.
    pub refresh_before: Duration,
    /// X consumer credentials from settings (for the identity check after linking).
    pub x_consumer: Option<ConsumerCredentials>,
}

/// The linking service (cheap to clone).
#[derive(Clone)]
pub struct LinkingService {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    networks: Networks,
    secret: Vec<u8>,
    config: LinkingConfig,
    threads: Option<ThreadsOAuth>,
    x: Option<XOAuth>,
    events: broadcast::Sender<LinkEvent>,
}

type HmacSha256 = Hmac<Sha256>;

impl LinkingService {
    /// Loads (or creates, once) the signing secret and builds the service.
    pub async fn new(
        store: Arc<dyn Store>,
        networks: Networks,
        config: LinkingConfig,
        threads: Option<ThreadsOAuth>,
        x: Option<XOAuth>,
    ) -> Result<Self, StoreError> {
        let secret = match store.get_meta(LINK_SECRET_META).await? {
            Some(s) => {
                hex::decode(s.trim()).map_err(|_| StoreError::Corrupt("linking secret".into()))?
            }
            None => {
                let s = rand::random::<[u8; 32]>();
                store.set_meta(LINK_SECRET_META, &hex::encode(s)).await?;
                store.flush().await?;
                // Another process may have written its own first: use whatever is stored.
                match store.get_meta(LINK_SECRET_META).await? {
                    Some(stored) => hex::decode(stored.trim())
                        .map_err(|_| StoreError::Corrupt("linking secret".into()))?,
                    None => s.to_vec(),
                }
            }
        };
        let (events, _) = broadcast::channel(256);
        Ok(Self {
            inner: Arc::new(Inner {
                store,
                networks,
                secret,
                config,
                threads,
                x,
                events,
            }),
        })
    }

    /// Subscribes to link, unlink and refresh events (the `social` webhook's source).
    pub fn subscribe(&self) -> broadcast::Receiver<LinkEvent> {
        self.inner.events.subscribe()
    }

    fn emit(&self, event: LinkEvent) {
        // No subscriber is fine.
        let _ = self.inner.events.send(event);
    }

    /// The gateway's external base URL.
    pub fn public_url(&self) -> &str {
        &self.inner.config.public_url
    }

    fn mac(&self, data: &[u8]) -> Vec<u8> {
        let mut mac =
            HmacSha256::new_from_slice(&self.inner.secret).expect("HMAC takes keys of any size");
        mac.update(data);
        mac.finalize().into_bytes().to_vec()
    }

    fn sign(&self, claims: &LinkClaims) -> String {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
        let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap_or_default());
        let signing_input = format!("{header}.{body}");
        let sig = URL_SAFE_NO_PAD.encode(self.mac(signing_input.as_bytes()));
        format!("{signing_input}.{sig}")
    }

    /// Issues the linking credential of `generateJWT` for `profile`, valid `minutes`.
    pub fn issue(
        &self,
        profile: &Profile,
        minutes: u32,
        redirect: Option<String>,
        allowed: Option<Vec<String>>,
        now: DateTime<Utc>,
    ) -> (String, String) {
        let claims = LinkClaims {
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            sub: profile.id.to_string(),
            iat: now.timestamp(),
            exp: now.timestamp() + i64::from(minutes) * 60,
            jti: hex::encode(rand::random::<[u8; 16]>()),
            redirect,
            allowed,
            ses: false,
        };
        let token = self.sign(&claims);
        let url = self.page_url(&token);
        (token, url)
    }

    /// The linking page's URL for a token.
    pub fn page_url(&self, token: &str) -> String {
        format!("{}/link?jwt={token}", self.inner.config.public_url)
    }

    /// Checks a token's signature and time; returns its claims.
    pub fn verify(&self, token: &str, now: DateTime<Utc>) -> Result<LinkClaims, LinkError> {
        let mut parts = token.trim().split('.');
        let (Some(header), Some(body), Some(sig), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(LinkError::Invalid);
        };
        let sig = URL_SAFE_NO_PAD
            .decode(sig)
            .map_err(|_| LinkError::Invalid)?;
        let mut mac =
            HmacSha256::new_from_slice(&self.inner.secret).expect("HMAC takes keys of any size");
        mac.update(format!("{header}.{body}").as_bytes());
        mac.verify_slice(&sig).map_err(|_| LinkError::Invalid)?;
        let claims: LinkClaims = URL_SAFE_NO_PAD
            .decode(body)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or(LinkError::Invalid)?;
        if claims.iss != ISSUER || claims.aud != AUDIENCE {
            return Err(LinkError::Invalid);
        }
        if claims.exp <= now.timestamp() {
            return Err(LinkError::Expired);
        }
        Ok(claims)
    }

    /// Opens the page: a valid token of an existing profile. Returns the claims, the
    /// profile and the session token the page's forms carry (a first opening re-issues the
    /// credential for [`SESSION_MINUTES`]; a session token keeps its own expiry).
    pub async fn open(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<(LinkClaims, Profile, String), LinkError> {
        let claims = self.verify(token, now)?;
        let profile = self
            .inner
            .store
            .get_profile(&claims.sub)
            .await?
            .ok_or(LinkError::ProfileGone)?;
        let session = if claims.ses {
            token.trim().to_owned()
        } else {
            self.session_token(&claims, now)
        };
        Ok((claims, profile, session))
    }

    fn session_token(&self, claims: &LinkClaims, now: DateTime<Utc>) -> String {
        let mut c = claims.clone();
        c.ses = true;
        c.iat = now.timestamp();
        c.exp = now.timestamp() + SESSION_MINUTES * 60;
        self.sign(&c)
    }

    /// The CSRF token of a session's forms.
    pub fn csrf(&self, claims: &LinkClaims) -> String {
        hex::encode(self.mac(format!("csrf:{}", claims.jti).as_bytes()))
    }

    /// Checks a form's CSRF token against the session.
    pub fn check_csrf(&self, claims: &LinkClaims, csrf: &str) -> Result<(), LinkError> {
        use subtle::ConstantTimeEq;
        let want = self.csrf(claims);
        if want.as_bytes().ct_eq(csrf.trim().as_bytes()).into() {
            Ok(())
        } else {
            Err(LinkError::Csrf)
        }
    }

    fn allowed(claims: &LinkClaims, platform: &Platform) -> bool {
        claims
            .allowed
            .as_ref()
            .is_none_or(|a| a.iter().any(|p| Platform::from(p.as_str()) == *platform))
    }

    /// Whether the profile disabled `platform` (`disableSocial`): it cannot be linked.
    async fn disabled_for(&self, profile_id: &str, platform: &Platform) -> Result<bool, LinkError> {
        Ok(self
            .inner
            .store
            .get_profile(profile_id)
            .await?
            .is_some_and(|p| p.disables(platform)))
    }

    fn configured(&self, platform: &Platform) -> bool {
        match platform {
            Platform::Threads => self.inner.threads.is_some(),
            Platform::Twitter => self.inner.x.is_some(),
            _ => false,
        }
    }

    /// The page's rows: every network of the registry the session may see, with its state.
    pub async fn rows(
        &self,
        claims: &LinkClaims,
        now: DateTime<Utc>,
    ) -> Result<Vec<LinkRow>, LinkError> {
        let linked = self.inner.store.linked_accounts(&claims.sub).await?;
        // Platforms the profile disabled (`disableSocial`) are not offered.
        let disabled = self
            .inner
            .store
            .get_profile(&claims.sub)
            .await?
            .map(|p| p.disabled_social)
            .unwrap_or_default();
        let mut rows = Vec::new();
        for platform in self.inner.networks.platforms() {
            if !Self::allowed(claims, platform) || disabled.contains(platform) {
                continue;
            }
            let state = match linked.iter().find(|a| a.platform == *platform) {
                Some(a) => LinkState::Linked {
                    username: a.username.clone(),
                    expires_at: a.life.expires_at,
                    expiring: a.life.expires_at.is_some_and(|e| e - now < EXPIRING_SOON),
                    needs_relink: a.life.needs_relink
                        || a.life.expires_at.is_some_and(|e| e <= now),
                    cannot_delete: *platform == Platform::Threads
                        && a.life.lacks_scope(THREADS_DELETE_SCOPE),
                },
                None if self.configured(platform) => LinkState::NotLinked,
                None => LinkState::NotConfigured,
            };
            rows.push(LinkRow {
                platform: platform.clone(),
                state,
            });
        }
        Ok(rows)
    }

    fn callback_url(&self, platform: &Platform) -> String {
        let name = match platform {
            Platform::Twitter => "x",
            other => other.as_str(),
        };
        format!("{}/link/callback/{name}", self.inner.config.public_url)
    }

    async fn remember(&self, key: &str, pending: &PendingAuth) -> Result<(), LinkError> {
        let value = serde_json::to_string(pending)
            .map_err(|e| StoreError::Corrupt(format!("pending authorization: {e}")))?;
        self.inner
            .store
            .set_meta(&format!("{STATE_META_PREFIX}{key}"), &value)
            .await?;
        self.inner.store.flush().await?;
        Ok(())
    }

    async fn take(
        &self,
        key: &str,
        platform: &Platform,
        now: DateTime<Utc>,
    ) -> Result<PendingAuth, LinkError> {
        if key.is_empty() || key.len() > 200 {
            return Err(LinkError::UnknownState);
        }
        let value = self
            .inner
            .store
            .take_meta(&format!("{STATE_META_PREFIX}{key}"))
            .await?
            .ok_or(LinkError::UnknownState)?;
        self.inner.store.flush().await?;
        let pending: PendingAuth =
            serde_json::from_str(&value).map_err(|_| LinkError::UnknownState)?;
        if pending.expires <= now.timestamp()
            || Platform::from(pending.platform.as_str()) != *platform
        {
            return Err(LinkError::UnknownState);
        }
        Ok(pending)
    }

    /// Starts linking `platform`: the URL of the network's consent page.
    pub async fn connect(
        &self,
        claims: &LinkClaims,
        platform: &Platform,
        now: DateTime<Utc>,
    ) -> Result<String, LinkError> {
        let unavailable = || LinkError::NotAvailable(platform.display_name().to_owned());
        if self.inner.networks.get(platform).is_none() || !Self::allowed(claims, platform) {
            return Err(unavailable());
        }
        if self.disabled_for(&claims.sub, platform).await? {
            return Err(unavailable());
        }
        let pending = |secret| PendingAuth {
            platform: platform.as_str().to_owned(),
            claims: claims.clone(),
            expires: now.timestamp() + STATE_TTL_SECS,
            request_secret: secret,
        };
        match platform {
            Platform::Threads => {
                let flow = self.inner.threads.as_ref().ok_or_else(unavailable)?;
                let state = hex::encode(rand::random::<[u8; 24]>());
                self.remember(&state, &pending(None)).await?;
                Ok(flow.authorize_url(&self.callback_url(platform), &state))
            }
            Platform::Twitter => {
                let flow = self.inner.x.as_ref().ok_or_else(unavailable)?;
                let request = flow
                    .request_token(&self.callback_url(platform))
                    .await
                    .map_err(|error| LinkError::Network {
                        platform: platform.display_name().to_owned(),
                        error,
                    })?;
                self.remember(
                    &format!("x.{}", request.token),
                    &pending(Some(request.secret.clone())),
                )
                .await?;
                Ok(flow.authorize_url(&request.token))
            }
            _ => Err(unavailable()),
        }
    }

    fn outcome(
        &self,
        claims: &LinkClaims,
        platform: Platform,
        failure: Option<String>,
        now: DateTime<Utc>,
    ) -> CallbackOutcome {
        CallbackOutcome {
            session: self.session_token(claims, now),
            platform,
            failure,
        }
    }

    /// Threads' redirect back: `code` (or `error`) and `state`.
    pub async fn threads_callback(
        &self,
        state: &str,
        code: Option<&str>,
        error: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<CallbackOutcome, LinkError> {
        let platform = Platform::Threads;
        let pending = self.take(state, &platform, now).await?;
        let claims = pending.claims;
        let Some(code) = code.filter(|c| !c.is_empty() && error.is_none()) else {
            tracing::info!(profile = %claims.sub, "Threads consent denied");
            return Ok(self.outcome(
                &claims,
                platform,
                Some("access was not granted on Threads".into()),
                now,
            ));
        };
        let flow = self
            .inner
            .threads
            .as_ref()
            .ok_or_else(|| LinkError::NotAvailable("Threads".into()))?;
        let result = async {
            let short = flow
                .exchange_code(code, &self.callback_url(&platform))
                .await?;
            let mut long = flow.long_lived(&short.access_token).await?;
            let scopes = if long.scopes.is_empty() {
                short.scopes
            } else {
                std::mem::take(&mut long.scopes)
            };
            Ok::<_, NetworkError>((long, scopes))
        }
        .await;
        let (long, scopes) = match result {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(profile = %claims.sub, error = %e, "Threads token exchange failed");
                return Ok(self.outcome(&claims, platform, Some(failure_text(&e)), now));
            }
        };
        let account = LinkedAccount {
            platform: platform.clone(),
            user_id: String::new(),
            access_token: long.access_token,
            access_token_secret: None,
            username: None,
            linked_at: now,
            life: TokenLife {
                expires_at: long
                    .expires_in
                    .map(|s| now + Duration::seconds(s.min(315_360_000) as i64)),
                refreshed_at: Some(now),
                scopes,
                needs_relink: false,
            },
        };
        let failure = self.link_verified(&claims, account, now).await?;
        Ok(self.outcome(&claims, platform, failure, now))
    }

    /// X's redirect back: `oauth_token` + `oauth_verifier`, or `denied`.
    pub async fn x_callback(
        &self,
        oauth_token: Option<&str>,
        verifier: Option<&str>,
        denied: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<CallbackOutcome, LinkError> {
        let platform = Platform::Twitter;
        let key = denied.or(oauth_token).unwrap_or_default();
        if key.is_empty() {
            return Err(LinkError::UnknownState);
        }
        let pending = self.take(&format!("x.{key}"), &platform, now).await?;
        let claims = pending.claims;
        let (Some(verifier), None) = (verifier.filter(|v| !v.is_empty()), denied) else {
            tracing::info!(profile = %claims.sub, "X consent denied");
            return Ok(self.outcome(
                &claims,
                platform,
                Some("access was not granted on X".into()),
                now,
            ));
        };
        let flow = self
            .inner
            .x
            .as_ref()
            .ok_or_else(|| LinkError::NotAvailable("X/Twitter".into()))?;
        let request = RequestToken {
            token: key.to_owned(),
            secret: pending.request_secret.unwrap_or_default(),
        };
        let access = match flow.access_token(&request, verifier).await {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(profile = %claims.sub, error = %e, "X access token exchange failed");
                return Ok(self.outcome(&claims, platform, Some(failure_text(&e)), now));
            }
        };
        let account = LinkedAccount {
            platform: platform.clone(),
            user_id: access.user_id,
            access_token: access.token,
            access_token_secret: Some(access.secret),
            username: access.screen_name,
            linked_at: now,
            life: TokenLife {
                refreshed_at: Some(now),
                ..TokenLife::default()
            },
        };
        let failure = self.link_verified(&claims, account, now).await?;
        Ok(self.outcome(&claims, platform, failure, now))
    }

    /// Asks the network whose token it is (invariant 9), then links it. `Some(reason)` when
    /// the identity check failed and nothing was linked.
    async fn link_verified(
        &self,
        claims: &LinkClaims,
        mut account: LinkedAccount,
        _now: DateTime<Utc>,
    ) -> Result<Option<String>, LinkError> {
        let Some(network) = self.inner.networks.get(&account.platform) else {
            return Err(LinkError::NotAvailable(
                account.platform.display_name().to_owned(),
            ));
        };
        let ctx = CallContext {
            x_consumer: self.inner.config.x_consumer.clone(),
        };
        let me = match network.whoami(&account, &ctx).await {
            Ok(me) => me,
            Err(e) => {
                tracing::warn!(profile = %claims.sub, platform = %account.platform, error = %e, "identity check after consent failed");
                return Ok(Some(failure_text(&e)));
            }
        };
        if !account.user_id.is_empty() && account.user_id != me.user_id {
            tracing::warn!(profile = %claims.sub, platform = %account.platform, "token's account differs from the one the flow named");
            return Ok(Some(
                "the network's answers named two different accounts; nothing was linked".into(),
            ));
        }
        account.user_id = me.user_id;
        if me.username.is_some() {
            account.username = me.username;
        }
        let platform = account.platform.clone();
        // The profile may have disabled the platform while the consent screen was open.
        if self.disabled_for(&claims.sub, &platform).await? {
            return Ok(Some(format!(
                "{} is disabled for this profile (disableSocial); nothing was linked",
                platform.display_name()
            )));
        }
        self.inner.store.link_account(&claims.sub, account).await?;
        self.inner.store.flush().await?;
        tracing::info!(profile = %claims.sub, platform = %platform, "account linked through the linking page");
        self.emit(LinkEvent::Linked {
            profile_id: claims.sub.clone(),
            platform,
        });
        Ok(None)
    }

    /// The page's "Disconnect": unlinks, whether or not it was linked.
    pub async fn disconnect(
        &self,
        claims: &LinkClaims,
        platform: &Platform,
    ) -> Result<(), LinkError> {
        if self
            .inner
            .store
            .unlink_account(&claims.sub, platform)
            .await?
        {
            self.inner.store.flush().await?;
            tracing::info!(profile = %claims.sub, platform = %platform, "account unlinked through the linking page");
            self.emit(LinkEvent::Unlinked {
                profile_id: claims.sub.clone(),
                platform: platform.clone(),
            });
        }
        Ok(())
    }

    /// Whether there are tokens this gateway can renew (a Threads app is configured): without
    /// one, no refresher runs.
    pub fn refreshes_tokens(&self) -> bool {
        self.inner.threads.is_some()
    }

    /// Whether `account`'s token is due for renewal at `now`.
    pub fn refresh_due(&self, account: &LinkedAccount, now: DateTime<Utc>) -> bool {
        let life = &account.life;
        let Some(expires) = life.expires_at else {
            return false;
        };
        account.platform == Platform::Threads
            && !life.needs_relink
            && now - life.refreshed_at.unwrap_or(account.linked_at) >= MIN_TOKEN_AGE
            && expires - now <= self.inner.config.refresh_before
    }

    /// One refresher pass over the profiles of `account_ids`: renews every due Threads token
    /// (transient failures retried), flags the ones that cannot be renewed. Returns
    /// (refreshed, flagged).
    pub async fn refresh_all(
        &self,
        account_ids: &[String],
        now: DateTime<Utc>,
    ) -> Result<(usize, usize), StoreError> {
        let (mut refreshed, mut flagged) = (0, 0);
        let Some(flow) = self.inner.threads.as_ref() else {
            return Ok((0, 0));
        };
        for account_id in account_ids {
            for profile in self.inner.store.list_profiles(account_id).await? {
                for account in self.inner.store.linked_accounts(&profile.id).await? {
                    if !self.refresh_due(&account, now) {
                        continue;
                    }
                    match self.refresh_one(flow, &profile.id, account, now).await? {
                        Some(true) => refreshed += 1,
                        Some(false) => flagged += 1,
                        None => {}
                    }
                }
            }
        }
        Ok((refreshed, flagged))
    }

    /// Renews one token: `Some(true)` renewed, `Some(false)` flagged for re-linking, `None`
    /// left for the next pass (the network failed transiently and the token still works).
    async fn refresh_one(
        &self,
        flow: &ThreadsOAuth,
        profile_id: &str,
        mut account: LinkedAccount,
        now: DateTime<Utc>,
    ) -> Result<Option<bool>, StoreError> {
        let mut attempt = 0;
        let result = loop {
            attempt += 1;
            match flow.refresh(&account.access_token).await {
                Err(e) if e.is_transient() && attempt < 3 => {
                    tokio::time::sleep(std::time::Duration::from_millis(200 * attempt)).await;
                }
                other => break other,
            }
        };
        let platform = account.platform.clone();
        let ok = match result {
            Ok(token) => {
                account.access_token = token.access_token;
                account.life.refreshed_at = Some(now);
                if let Some(s) = token.expires_in {
                    account.life.expires_at =
                        Some(now + Duration::seconds(s.min(315_360_000) as i64));
                }
                tracing::info!(profile = %profile_id, platform = %platform, "token refreshed");
                self.refresh_username(&mut account).await;
                true
            }
            Err(e) if e.is_transient() => {
                // Still valid for now: the next pass tries again, unless it already expired.
                if account.life.expires_at.is_some_and(|x| x > now) {
                    tracing::warn!(profile = %profile_id, platform = %platform, error = %e, "token refresh failed; retried on the next pass");
                    return Ok(None);
                }
                account.life.needs_relink = true;
                false
            }
            Err(e) => {
                tracing::warn!(profile = %profile_id, platform = %platform, error = %e, "token cannot be refreshed; the account needs re-linking");
                account.life.needs_relink = true;
                false
            }
        };
        // Only if it is still the same link (not unlinked or re-linked meanwhile).
        let current = self
            .inner
            .store
            .linked_account(profile_id, &platform)
            .await?;
        if current.is_some_and(|c| c.user_id == account.user_id && c.linked_at == account.linked_at)
        {
            self.inner.store.link_account(profile_id, account).await?;
            self.inner.store.flush().await?;
        }
        self.emit(if ok {
            LinkEvent::Refreshed {
                profile_id: profile_id.to_owned(),
                platform,
            }
        } else {
            LinkEvent::NeedsRelink {
                profile_id: profile_id.to_owned(),
                platform,
            }
        });
        Ok(Some(ok))
    }
}

impl LinkingService {
    /// After a token refresh, asks the network who the token is, so a username changed on the
    /// network shows in `GET /api/user` and on the linking page. Best effort: a failed or
    /// odd answer (another user id) keeps the stored username and is only logged; the token
    /// itself was renewed either way.
    async fn refresh_username(&self, account: &mut LinkedAccount) {
        let Some(network) = self.inner.networks.get(&account.platform) else {
            return;
        };
        let ctx = CallContext {
            x_consumer: self.inner.config.x_consumer.clone(),
        };
        match network.whoami(account, &ctx).await {
            Ok(me) if me.user_id == account.user_id => {
                if me.username.is_some() {
                    account.username = me.username;
                }
            }
            Ok(_) => {
                tracing::warn!(platform = %account.platform, "the refreshed token names another account; username kept");
            }
            Err(e) => {
                tracing::debug!(platform = %account.platform, error = %e, "username not re-read after the token refresh");
            }
        }
    }
}

/// A user-facing sentence for a failed step (no token, no body).
fn failure_text(e: &NetworkError) -> String {
    match e {
        NetworkError::Auth(m) | NetworkError::Rejected(m) => m.clone(),
        NetworkError::Transient(_) | NetworkError::Timeout(_) => {
            "the network did not answer in time; try again".into()
        }
        NetworkError::RateLimited { .. } => "the network is rate limiting; try again later".into(),
        other => other.to_string(),
    }
}

/// Unix seconds as a time, for templates.
pub fn from_unix(secs: i64) -> Option<DateTime<Utc>> {
    Utc.timestamp_opt(secs, 0).single()
}
