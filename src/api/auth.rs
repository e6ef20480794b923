//! The [`Caller`] every authenticated handler receives: the API key checked against
//! [`crate::keys::ApiKeys`], the profile a `Profile-Key` selects, and the X BYO headers.

use super::error::ApiError;
use super::AppState;
use crate::domain::AccountId;
use crate::keys::hash_key_hex;
use crate::networks::{CallContext, ConsumerCredentials};
use crate::store::Profile;
use actix_web::{dev::Payload, web, FromRequest, HttpRequest};
use std::future::Future;
use std::pin::Pin;

/// An authenticated request: the account, the selected profile, and the X BYO credentials.
#[derive(Clone, Debug)]
pub struct Caller {
    /// The account (API key).
    pub account_id: AccountId,
    /// The profile the request acts for (the primary one without a `Profile-Key`).
    pub profile: Profile,
    /// Whether a `Profile-Key` header selected the profile.
    pub via_profile_key: bool,
    /// X consumer credentials from the `X-Twitter-OAuth1-Api-Key`/`-Secret` headers.
    pub x_byo: Option<ConsumerCredentials>,
}

impl Caller {
    /// The context for network calls: BYO X credentials win over the settings'.
    pub fn call_context(&self, state: &AppState) -> CallContext {
        CallContext {
            x_consumer: self.x_byo.clone().or_else(|| state.x_consumer.clone()),
        }
    }
}

/// Longest `Profile-Key` accepted (generated keys are 31 characters).
pub const PROFILE_KEY_MAX_LEN: usize = 256;

/// What a request carries in one header.
#[derive(Debug, PartialEq, Eq)]
enum Header<'a> {
    /// Not sent, or only whitespace.
    Absent,
    /// A value, trimmed.
    Value(&'a str),
    /// Sent, but not text a key can be made of (non-ASCII bytes, control characters).
    Garbled,
}

/// Reads a header without ever taking a garbled value for an absent one.
fn header<'a>(req: &'a HttpRequest, name: &str) -> Header<'a> {
    let Some(raw) = req.headers().get(name) else {
        return Header::Absent;
    };
    match raw.to_str() {
        Ok(v) if v.trim().is_empty() => Header::Absent,
        Ok(v) if v.bytes().any(|b| b.is_ascii_control()) => Header::Garbled,
        Ok(v) => Header::Value(v.trim()),
        Err(_) => Header::Garbled,
    }
}

/// Whether `v` can be a profile key: visible ASCII only, of a sane length.
fn is_key_shaped(v: &str) -> bool {
    v.len() <= PROFILE_KEY_MAX_LEN && v.bytes().all(|b| b.is_ascii_graphic())
}

/// The store counter of an account's authenticated calls in the UTC month of `now`.
pub fn monthly_calls_counter(account_id: &str, now: chrono::DateTime<chrono::Utc>) -> String {
    format!("apiCalls:{account_id}:{}", now.format("%Y-%m"))
}

async fn authenticate(req: HttpRequest) -> Result<Caller, ApiError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .expect("AppState is registered")
        .clone();
    let auth = match header(&req, "authorization") {
        Header::Absent => return Err(ApiError::missing_api_key()),
        // A value that is not text is a wrong key, never a missing one.
        Header::Garbled => return Err(ApiError::invalid_api_key()),
        Header::Value(v) => v,
    };
    let key = auth
        .strip_prefix("Bearer ")
        .or_else(|| auth.strip_prefix("bearer "))
        .unwrap_or(auth)
        .trim();
    let Some(account_id) = state.api_keys.verify(key) else {
        return Err(ApiError::invalid_api_key());
    };
    // Only a missing or empty Profile-Key selects the primary profile: anything sent that
    // cannot be a key is refused, so a garbled header never acts on another profile.
    let (profile, via_profile_key) = match header(&req, "profile-key") {
        Header::Value(pk) if is_key_shaped(pk) => {
            let found = state.store.profile_by_key_hash(&hash_key_hex(pk)).await?;
            match found {
                Some(p) if p.account_id == account_id => (p, true),
                _ => return Err(ApiError::invalid_profile_key()),
            }
        }
        Header::Value(_) | Header::Garbled => return Err(ApiError::invalid_profile_key()),
        Header::Absent => (
            state.store.ensure_primary_profile(&account_id).await?,
            false,
        ),
    };
    let byo = |name: &str| match header(&req, name) {
        Header::Absent => Ok(None),
        Header::Value(v) => Ok(Some(v.to_owned())),
        Header::Garbled => Err(ApiError::invalid(
            "authorization",
            format!("Header '{name}' is not valid: send visible ASCII."),
        )),
    };
    let x_byo = match (
        byo("x-twitter-oauth1-api-key")?,
        byo("x-twitter-oauth1-api-secret")?,
    ) {
        (Some(key), Some(secret)) => Some(ConsumerCredentials { key, secret }),
        (None, None) => None,
        _ => return Err(ApiError::x_byo_half()),
    };
    // `monthlyApiCalls` of `/api/user`: every authenticated call counts (in memory, written
    // in batches); a counting failure is logged and never fails the call.
    if let Err(e) = state
        .call_counts
        .count(&monthly_calls_counter(&account_id, chrono::Utc::now()))
        .await
    {
        tracing::warn!(error = %e, "counting the API call failed");
    }
    Ok(Caller {
        account_id,
        profile,
        via_profile_key,
        x_byo,
    })
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        Box::pin(authenticate(req.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::generate_key;

    #[test]
    fn only_visible_ascii_of_sane_length_is_key_shaped() {
        assert!(is_key_shaped(&generate_key(4)));
        assert!(!is_key_shaped("with space"));
        assert!(!is_key_shaped("tab\there"));
        assert!(!is_key_shaped("caf\u{e9}"));
        assert!(!is_key_shaped(&"A".repeat(PROFILE_KEY_MAX_LEN + 1)));
    }
}
