//! API keys, profile keys and the [`Caller`] every authenticated handler receives.
//!
//! Keys are kept only as SHA-256 hashes and compared in constant time. The keys are long
//! random strings, so a fast hash is enough (there is nothing to brute-force).

use crate::api::error::ApiError;
use crate::api::AppState;
use crate::networks::{CallContext, ConsumerCredentials};
use crate::store::Profile;
use actix_web::{dev::Payload, web, FromRequest, HttpRequest};
use rand::distr::Alphanumeric;
use rand::Rng;
use sha2::{Digest, Sha256};
use std::future::Future;
use std::pin::Pin;
use subtle::ConstantTimeEq;

/// Store metadata key holding the hash of a generated API key.
pub const GENERATED_KEY_META: &str = "generated_api_key_sha256";

/// SHA-256 of a key.
pub fn hash_key(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

/// SHA-256 of a key, as hex (how profile keys are indexed).
pub fn hash_key_hex(key: &str) -> String {
    hex::encode(hash_key(key))
}

/// The account of an API key: derived from its hash, stable across restarts.
pub fn account_id(hash: &[u8; 32]) -> String {
    hex::encode(&hash[..16])
}

/// A new random key: `groups` groups of 7 uppercase letters and digits joined by `-`
/// (the shape of Ayrshare's keys). Six groups carry about 217 bits.
pub fn generate_key(groups: usize) -> String {
    let mut rng = rand::rng();
    (0..groups)
        .map(|_| {
            (&mut rng)
                .sample_iter(&Alphanumeric)
                .map(|b| (b as char).to_ascii_uppercase())
                .take(7)
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("-")
}

/// The accepted API keys, by hash.
#[derive(Clone, Default)]
pub struct ApiKeys {
    hashes: Vec<[u8; 32]>,
}

impl ApiKeys {
    /// Keys from their plain text (settings); only the hashes are kept.
    pub fn from_plain<S: AsRef<str>>(keys: &[S]) -> Self {
        Self {
            hashes: keys.iter().map(|k| hash_key(k.as_ref())).collect(),
        }
    }

    /// Adds a key known only by its hash.
    pub fn add_hash(&mut self, hash: [u8; 32]) {
        self.hashes.push(hash);
    }

    /// The accounts these keys open.
    pub fn account_ids(&self) -> Vec<String> {
        self.hashes.iter().map(account_id).collect()
    }

    /// The account of `presented`, comparing against every known hash in constant time.
    pub fn verify(&self, presented: &str) -> Option<String> {
        let h = hash_key(presented);
        let mut found = None;
        for known in &self.hashes {
            if bool::from(known.ct_eq(&h)) {
                found = Some(account_id(known));
            }
        }
        found
    }
}

/// An authenticated request: the account, the selected profile, and the X BYO credentials.
#[derive(Clone, Debug)]
pub struct Caller {
    /// The account (API key).
    pub account_id: String,
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

    #[test]
    fn verify_matches_only_known_keys() {
        let keys = ApiKeys::from_plain(&["alpha", "beta"]);
        assert_eq!(keys.verify("alpha"), Some(account_id(&hash_key("alpha"))));
        assert!(keys.verify("gamma").is_none());
        assert_ne!(keys.verify("alpha"), keys.verify("beta"));
    }

    #[test]
    fn only_visible_ascii_of_sane_length_is_key_shaped() {
        assert!(is_key_shaped(&generate_key(4)));
        assert!(!is_key_shaped("with space"));
        assert!(!is_key_shaped("tab\there"));
        assert!(!is_key_shaped("caf\u{e9}"));
        assert!(!is_key_shaped(&"A".repeat(PROFILE_KEY_MAX_LEN + 1)));
    }

    #[test]
    fn generated_keys_have_the_ayrshare_shape() {
        let k = generate_key(4);
        assert_eq!(k.len(), 4 * 7 + 3);
        assert!(k.split('-').all(|g| g.len() == 7
            && g.chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())));
    }
}
