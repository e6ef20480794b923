//! Idempotency keys of publish requests: one key, one post, one answer.
//!
//! A key is claimed for the new post's id, durably, before any network call; the first
//! answer is then remembered and replayed for every later request with that key. A key
//! claimed but never answered (the gateway stopped mid-publish) resolves to its post as
//! stored, to "still in progress" while that post is `processing`, or, when the post was
//! never written, to its id so that the post is published under it.
//!
//! The answer itself is opaque here: the api layer renders it, this module only keeps it.

use super::locks::{KeyGuard, KeyedLocks};
use crate::domain::{Post, PostId, PostStatus};
use crate::store::{IdempotencyRecord, Store, StoreError};
use chrono::Utc;
use serde_json::{json, Value};

/// An answer as remembered for a key: its HTTP status and its body.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredAnswer {
    /// The HTTP status first answered.
    pub http_status: u16,
    /// The body first answered, replayed as is.
    pub body: Value,
}

impl StoredAnswer {
    /// The stored form (`{"httpStatus","body"}`; answers stored by earlier versions read back
    /// the same way).
    fn to_record(&self) -> Value {
        json!({"httpStatus": self.http_status, "body": self.body})
    }

    fn from_record(stored: Value) -> Self {
        let http_status = stored
            .get("httpStatus")
            .and_then(Value::as_u64)
            .and_then(|s| u16::try_from(s).ok())
            .unwrap_or(200);
        let body = match stored {
            Value::Object(mut o) if o.contains_key("body") => o.remove("body").unwrap_or_default(),
            other => other,
        };
        Self { http_status, body }
    }
}

/// What a key holds for a request of its profile.
#[derive(Debug)]
pub enum Held {
    /// Answered: replay it.
    Answered(StoredAnswer),
    /// Claimed, and its post is stored with an outcome: answer from the post, then
    /// [`Idempotency::remember`] that answer.
    Post(Box<Post>),
    /// Claimed, and its post is still being published (or was interrupted mid-publish).
    InProgress(PostId),
    /// Claimed, but its post was never written, so nothing was sent for it.
    Unwritten(PostId),
}

/// The idempotency rules over a store and the in-process key locks.
pub struct Idempotency<'a> {
    store: &'a dyn Store,
    locks: &'a KeyedLocks,
}

impl<'a> Idempotency<'a> {
    /// The rules over `store`, serialized per key by `locks`.
    pub fn new(store: &'a dyn Store, locks: &'a KeyedLocks) -> Self {
        Self { store, locks }
    }

    /// Serializes the requests of one profile that carry one key (hold it until answered).
    pub async fn lock(&self, profile_id: &str, key: &str) -> KeyGuard<String> {
        self.locks.lock(&format!("{profile_id}\0{key}")).await
    }

    /// What `key` holds, if anything.
    pub async fn look_up(&self, profile_id: &str, key: &str) -> Result<Option<Held>, StoreError> {
        match self.store.idempotency_record(profile_id, key).await? {
            None => Ok(None),
            Some(record) => self.resolve(profile_id, record).await.map(Some),
        }
    }

    /// Claims `key` for `post_id`, durably (before any network call, so a retry after a crash
    /// finds it). `None`: claimed; else what the key holds (claimed meanwhile by another
    /// gateway process sharing the store).
    pub async fn claim(
        &self,
        profile_id: &str,
        key: &str,
        post_id: &PostId,
    ) -> Result<Option<Held>, StoreError> {
        match self
            .store
            .claim_idempotency_key(profile_id, key, post_id, Utc::now())
            .await?
        {
            Some(record) => self.resolve(profile_id, record).await.map(Some),
            None => {
                self.store.flush().await?;
                Ok(None)
            }
        }
    }

    /// Remembers the answer given for `key`, durably; the first answer wins.
    pub async fn remember(
        &self,
        profile_id: &str,
        key: &str,
        answer: &StoredAnswer,
    ) -> Result<(), StoreError> {
        self.store
            .remember_answer(profile_id, key, &answer.to_record())
            .await?;
        self.store.flush().await
    }

    async fn resolve(
        &self,
        profile_id: &str,
        record: IdempotencyRecord,
    ) -> Result<Held, StoreError> {
        let post_id = match record {
            IdempotencyRecord::Answered(v) => {
                return Ok(Held::Answered(StoredAnswer::from_record(v)))
            }
            IdempotencyRecord::Claimed { post_id, .. } => post_id,
        };
        let post = self
            .store
            .get_post(&post_id)
            .await?
            .filter(|p| p.profile_id == profile_id);
        Ok(match post {
            None => Held::Unwritten(post_id),
            Some(p) if p.status == PostStatus::Processing => Held::InProgress(post_id),
            Some(p) => Held::Post(Box::new(p)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_answers_keep_status_and_body() {
        let a = StoredAnswer {
            http_status: 400,
            body: json!({"status": "error", "id": "x"}),
        };
        assert_eq!(StoredAnswer::from_record(a.to_record()), a);
        let bare = StoredAnswer::from_record(json!({"status": "success"}));
        assert_eq!(bare.http_status, 200);
        assert_eq!(bare.body, json!({"status": "success"}));
    }
}
