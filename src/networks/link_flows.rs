//! The networks' account-linking protocols, kept apart from the delete and publish calls:
//! Threads OAuth 2.0 (authorize, code exchange, long-lived exchange, refresh) and X OAuth 1.0a
//! three-legged (request token, authorize, access token). Tokens and secrets travel in query
//! strings and forms here: no URL or body ever reaches a log line or an error message.

use super::{http_client, ConsumerCredentials, NetworkError};
use crate::configuration::{ThreadsSettings, XSettings};
use serde::Deserialize;
use std::time::Duration;

/// The scopes postgate asks Threads for: reading the profile, publishing, deleting.
pub const THREADS_SCOPES: &str = "threads_basic,threads_content_publish,threads_delete";

/// The scope without which a Threads account is linked but cannot delete.
pub const THREADS_DELETE_SCOPE: &str = "threads_delete";

/// A token a network issued.
#[derive(Clone, PartialEq, Eq)]
pub struct IssuedToken {
    /// The token.
    pub access_token: String,
    /// Seconds until it expires, when the network said.
    pub expires_in: Option<u64>,
    /// The scopes granted, when the network said (empty: unknown).
    pub scopes: Vec<String>,
    /// The user id the network returned with it, if any.
    pub user_id: Option<String>,
}

impl std::fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedToken")
            .field("access_token", &"[redacted]")
            .field("expires_in", &self.expires_in)
            .field("scopes", &self.scopes)
            .finish()
    }
}

#[derive(Deserialize)]
struct TokenBody {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
    #[serde(default)]
    user_id: Option<serde_json::Value>,
    /// Not documented by Threads; read when present (the sandbox sends it).
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    permissions: Option<String>,
}

fn split_scopes(s: &str) -> Vec<String> {
    s.split([',', ' '])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Threads OAuth 2.0 for the operator's app.
pub struct ThreadsOAuth {
    app_id: String,
    app_secret: String,
    oauth_base: String,
    graph: String,
    client: super::HttpClient,
}

impl ThreadsOAuth {
    /// The flow of the configured app, or `None` when the operator set no app.
    pub fn from_settings(settings: &ThreadsSettings) -> Option<Self> {
        if settings.app_id.is_empty() || settings.app_secret.is_empty() {
            return None;
        }
        Some(Self {
            app_id: settings.app_id.clone(),
            app_secret: settings.app_secret.clone(),
            oauth_base: settings.oauth_base_url.trim_end_matches('/').to_owned(),
            graph: settings.graph_host(),
            client: http_client(
                Duration::from_millis(settings.connect_timeout_ms),
                settings.timeout(),
            ),
        })
    }

    /// The consent page the user is sent to.
    pub fn authorize_url(&self, redirect_uri: &str, state: &str) -> String {
        let mut url = match reqwest::Url::parse(&format!("{}/oauth/authorize", self.oauth_base)) {
            Ok(u) => u,
            // Validated at start-up; an unparsable base still yields a visible, harmless URL.
            Err(_) => return format!("{}/oauth/authorize", self.oauth_base),
        };
        url.query_pairs_mut()
            .append_pair("client_id", &self.app_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("scope", THREADS_SCOPES)
            .append_pair("response_type", "code")
            .append_pair("state", state);
        url.to_string()
    }

    /// Trades the authorization code for a short-lived token (`POST /oauth/access_token`).
    pub async fn exchange_code(
        &self,
        code: &str,
        redirect_uri: &str,
    ) -> Result<IssuedToken, NetworkError> {
        let req = self
            .client
            .post(format!("{}/oauth/access_token", self.graph))
            .form(&[
                ("client_id", self.app_id.as_str()),
                ("client_secret", self.app_secret.as_str()),
                ("code", code),
                ("grant_type", "authorization_code"),
                ("redirect_uri", redirect_uri),
            ]);
        self.token_call(req, "code exchange").await
    }

    /// Trades a short-lived token for a long-lived one (60 days, `th_exchange_token`).
    pub async fn long_lived(&self, short: &str) -> Result<IssuedToken, NetworkError> {
        let req = self
            .client
            .get(format!("{}/access_token", self.graph))
            .query(&[
                ("grant_type", "th_exchange_token"),
                ("client_secret", self.app_secret.as_str()),
                ("access_token", short),
            ]);
        self.token_call(req, "long-lived token exchange").await
    }

    /// Renews a long-lived token (`th_refresh_token`): a new 60-day token.
    pub async fn refresh(&self, long: &str) -> Result<IssuedToken, NetworkError> {
        let req = self
            .client
            .get(format!("{}/refresh_access_token", self.graph))
            .query(&[("grant_type", "th_refresh_token"), ("access_token", long)]);
        self.token_call(req, "token refresh").await
    }

    async fn token_call(
        &self,
        req: reqwest::RequestBuilder,
        what: &str,
    ) -> Result<IssuedToken, NetworkError> {
        let (status, _, body) = self
            .client
            .exchange(req)
            .await
            .map_err(|e| e.network("Threads"))?;
        tracing::debug!(
            status = status.as_u16(),
            what,
            "Threads token endpoint answered"
        );
        if status.is_server_error() {
            return Err(NetworkError::Transient(format!(
                "Threads {what} failed with HTTP {}",
                status.as_u16()
            )));
        }
        if !status.is_success() {
            return Err(NetworkError::Auth(format!(
                "Threads refused the {what}: {}",
                graph_message(&body)
            )));
        }
        let b: TokenBody = serde_json::from_str(&body).map_err(|_| {
            NetworkError::Rejected(format!("Threads {what} answered without a token"))
        })?;
        if b.access_token.is_empty() {
            return Err(NetworkError::Rejected(format!(
                "Threads {what} answered an empty token"
            )));
        }
        let scopes = b
            .scope
            .or(b.permissions)
            .map(|s| split_scopes(&s))
            .unwrap_or_default();
        Ok(IssuedToken {
            access_token: b.access_token,
            expires_in: b.expires_in,
            scopes,
            user_id: b.user_id.map(|v| match v {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            }),
        })
    }
}

/// The `message` of a Graph error body (never the body itself: it may echo a token).
fn graph_message(body: &str) -> String {
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            v.pointer("/error/message")
                .and_then(|m| m.as_str())
                .map(|m| m.chars().take(200).collect())
        })
        .unwrap_or_else(|| "no error message".into())
}

/// A request token of X's first leg.
#[derive(Clone)]
pub struct RequestToken {
    /// `oauth_token`, shown to X in the authorize URL.
    pub token: String,
    /// `oauth_token_secret`, kept server-side to sign the third leg.
    pub secret: String,
}

/// The user token of X's third leg.
#[derive(Clone)]
pub struct XAccessToken {
    /// `oauth_token`.
    pub token: String,
    /// `oauth_token_secret`.
    pub secret: String,
    /// `user_id`.
    pub user_id: String,
    /// `screen_name`.
    pub screen_name: Option<String>,
}

/// X OAuth 1.0a three-legged for the operator's app.
pub struct XOAuth {
    base: String,
    consumer: ConsumerCredentials,
    client: super::HttpClient,
}

impl XOAuth {
    /// The flow of the configured app, or `None` without consumer credentials.
    pub fn from_settings(settings: &XSettings) -> Option<Self> {
        if settings.consumer_key.is_empty() || settings.consumer_secret.is_empty() {
            return None;
        }
        Some(Self {
            base: settings.base_url.trim_end_matches('/').to_owned(),
            consumer: ConsumerCredentials {
                key: settings.consumer_key.clone(),
                secret: settings.consumer_secret.clone(),
            },
            client: http_client(
                Duration::from_millis(settings.connect_timeout_ms),
                settings.timeout(),
            ),
        })
    }

    /// The consent page for a request token.
    pub fn authorize_url(&self, request_token: &str) -> String {
        let mut url = match reqwest::Url::parse(&format!("{}/oauth/authorize", self.base)) {
            Ok(u) => u,
            Err(_) => return format!("{}/oauth/authorize", self.base),
        };
        url.query_pairs_mut()
            .append_pair("oauth_token", request_token);
        url.to_string()
    }

    /// First leg: `POST /oauth/request_token` with `oauth_callback`.
    pub async fn request_token(&self, callback: &str) -> Result<RequestToken, NetworkError> {
        let url = format!("{}/oauth/request_token", self.base);
        let auth =
            super::x::sign_oauth1_flow("POST", &url, &self.consumer, None, Some(callback), None);
        let pairs = self.form_call(url, auth, "request token").await?;
        if pairs.get("oauth_callback_confirmed").map(String::as_str) != Some("true") {
            return Err(NetworkError::Rejected(
                "X did not confirm the callback of the request token".into(),
            ));
        }
        Ok(RequestToken {
            token: pairs.get("oauth_token").cloned().unwrap_or_default(),
            secret: pairs.get("oauth_token_secret").cloned().unwrap_or_default(),
        })
    }

    /// Third leg: `POST /oauth/access_token` with the verifier.
    pub async fn access_token(
        &self,
        request: &RequestToken,
        verifier: &str,
    ) -> Result<XAccessToken, NetworkError> {
        let url = format!("{}/oauth/access_token", self.base);
        let auth = super::x::sign_oauth1_flow(
            "POST",
            &url,
            &self.consumer,
            Some((&request.token, &request.secret)),
            None,
            Some(verifier),
        );
        let pairs = self.form_call(url, auth, "access token").await?;
        let (Some(token), Some(secret), Some(user_id)) = (
            pairs.get("oauth_token"),
            pairs.get("oauth_token_secret"),
            pairs.get("user_id"),
        ) else {
            return Err(NetworkError::Rejected(
                "X answered the access token request without a token, secret and user id".into(),
            ));
        };
        Ok(XAccessToken {
            token: token.clone(),
            secret: secret.clone(),
            user_id: user_id.clone(),
            screen_name: pairs.get("screen_name").cloned(),
        })
    }

    async fn form_call(
        &self,
        url: String,
        auth: String,
        what: &str,
    ) -> Result<std::collections::HashMap<String, String>, NetworkError> {
        let req = self
            .client
            .post(&url)
            .header(reqwest::header::AUTHORIZATION, auth);
        let (status, _, body) = self
            .client
            .exchange(req)
            .await
            .map_err(|e| e.network("X"))?;
        tracing::debug!(status = status.as_u16(), what, "X OAuth endpoint answered");
        if status.is_server_error() {
            return Err(NetworkError::Transient(format!(
                "X {what} failed with HTTP {}",
                status.as_u16()
            )));
        }
        if !status.is_success() {
            return Err(NetworkError::Auth(format!(
                "X refused the {what} (HTTP {})",
                status.as_u16()
            )));
        }
        let pairs: std::collections::HashMap<String, String> =
            reqwest::Url::parse(&format!("http://x.invalid/?{}", body.trim()))
                .map(|u| u.query_pairs().into_owned().collect())
                .map_err(|_| NetworkError::Rejected(format!("X {what} answer is not a form")))?;
        Ok(pairs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_split_on_commas_and_spaces() {
        assert_eq!(
            split_scopes("threads_basic, threads_delete threads_content_publish"),
            vec!["threads_basic", "threads_delete", "threads_content_publish"]
        );
        assert!(split_scopes("").is_empty());
    }

    #[test]
    fn graph_messages_never_echo_the_body() {
        assert_eq!(
            graph_message(r#"{"error":{"message":"Invalid code","code":100}}"#),
            "Invalid code"
        );
        assert_eq!(graph_message("access_token=SECRET"), "no error message");
    }
}
