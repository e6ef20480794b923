//! API keys and profile keys: generation, hashing, verification. Used by startup (the
//! generated key), the api layer (authentication) and the store's profile index, so it
//! depends on none of them.
//!
//! Keys are kept only as SHA-256 hashes and compared in constant time. The keys are long
//! random strings, so a fast hash is enough (there is nothing to brute-force).

use crate::domain::AccountId;
use rand::distr::Alphanumeric;
use rand::Rng;
use sha2::{Digest, Sha256};
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
pub fn account_id(hash: &[u8; 32]) -> AccountId {
    hex::encode(&hash[..16]).into()
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
    pub fn account_ids(&self) -> Vec<AccountId> {
        self.hashes.iter().map(account_id).collect()
    }

    /// The account of `presented`, comparing against every known hash in constant time.
    pub fn verify(&self, presented: &str) -> Option<AccountId> {
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
    fn generated_keys_have_the_ayrshare_shape() {
        let k = generate_key(4);
        assert_eq!(k.len(), 4 * 7 + 3);
        assert!(k.split('-').all(|g| g.len() == 7
            && g.chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())));
    }
}
