//! The sled store's on-disk encoding of posts: one version byte, then the record in
//! `postcard` (a compact binary serde format). At a million posts the record dominates the
//! store, and JSON spent most of it on field names, RFC 3339 dates and `null`s.
//!
//! - `{` (a JSON object): a record written before this encoding existed; still read, and
//!   rewritten in the current version the next time the post is written.
//! - byte `1` ([`V1`]): [`PostV1`].
//! - byte `2` ([`V2`]): [`PostV2`], layout 1 without the post id, which the record's key
//!   already is (21 bytes a post; what is written now).
//!
//! postcard is not self-describing: a record is its fields in order, with no names and no
//! defaults, so a layout never changes once released. Enums are stored as explicit codes
//! (tables below), never as serde variant indexes, so reordering a domain enum cannot change
//! what a stored byte means.
//!
//! **Adding a field to [`Post`] or [`PlatformEntry`]** (the conversions below destructure
//! them without `..`, so the compiler points here):
//! 1. copy `PostV2`/`EntryV1` to `PostV3`/`EntryV3` with the new field, add `const V3: u8 = 3`;
//! 2. [`encode_post`] writes V3; [`decode_post`] reads V3, and still reads V2, V1 (the new
//!    field takes its default) and JSON;
//! 3. add a case to the tests at the end of this file (a V2 record decodes).
//!
//! A new enum variant does not compile until it has a code in its `codes!` list.

use super::StoreError;
use crate::domain::{
    EntryError, EntryState, ErrorKind, NetworkPostId, Platform, PlatformEntry, Post, PostId,
    PostKind, PostStatus,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Version byte of [`PostV1`].
const V1: u8 = 1;
/// Version byte of [`PostV2`].
const V2: u8 = 2;

/// A time to the nanosecond, as [`DateTime<Utc>`] keeps it: seconds since the epoch and
/// nanoseconds (both varints in postcard: ~5 + ~4 bytes, against 30 as RFC 3339 text).
#[derive(Serialize, Deserialize)]
struct Time(i64, u32);

impl From<DateTime<Utc>> for Time {
    fn from(t: DateTime<Utc>) -> Self {
        Time(t.timestamp(), t.timestamp_subsec_nanos())
    }
}

impl Time {
    fn get(&self) -> Result<DateTime<Utc>, StoreError> {
        DateTime::from_timestamp(self.0, self.1)
            .ok_or_else(|| StoreError::Corrupt(format!("time {}.{}", self.0, self.1)))
    }
}

/// Post layout 1.
#[derive(Serialize, Deserialize)]
struct PostV1 {
    id: String,
    profile_id: String,
    text: String,
    status: u8,
    kind: u8,
    created: Time,
    schedule_date: Option<Time>,
    entries: Vec<EntryV1>,
    idempotency_key: Option<String>,
    media_urls: Vec<String>,
}

/// Post layout 2: layout 1 without `id` (the key the record is stored under).
#[derive(Serialize, Deserialize)]
struct PostV2 {
    profile_id: String,
    text: String,
    status: u8,
    kind: u8,
    created: Time,
    schedule_date: Option<Time>,
    entries: Vec<EntryV1>,
    idempotency_key: Option<String>,
    media_urls: Vec<String>,
}

/// Platform entry layout 1 (inside [`PostV1`]).
#[derive(Serialize, Deserialize)]
struct EntryV1 {
    platform: String,
    id: Option<String>,
    post_type: Option<String>,
    media_type: Option<String>,
    post_url: Option<String>,
    state: u8,
    error: Option<(u8, String)>,
    deleted_at: Option<Time>,
    publish_ref: Option<String>,
}

/// Declares an enum's stored codes: `$enc` (an exhaustive match, so a new variant does not
/// compile until it has a code) and `$dec` (an unknown code is a corrupt record).
/// Never renumber a code, never reuse one.
macro_rules! codes {
    ($enc:ident, $dec:ident, $t:ty, $what:literal, { $($v:path => $c:literal),* $(,)? }) => {
        fn $enc(v: $t) -> u8 {
            match v {
                $($v => $c,)*
            }
        }

        fn $dec(c: u8) -> Result<$t, StoreError> {
            match c {
                $($c => Ok($v),)*
                _ => Err(StoreError::Corrupt(format!(concat!("unknown ", $what, " code {}"), c))),
            }
        }
    };
}

codes!(status_code, status_of, PostStatus, "post status", {
    PostStatus::Success => 0,
    PostStatus::Error => 1,
    PostStatus::Pending => 2,
    PostStatus::Processing => 3,
    PostStatus::Deleted => 4,
    PostStatus::AwaitingApproval => 5,
    PostStatus::Paused => 6,
});
codes!(kind_code, kind_of, PostKind, "post kind", {
    PostKind::Now => 0,
    PostKind::Scheduled => 1,
});
codes!(state_code, state_of, EntryState, "entry state", {
    EntryState::Pending => 0,
    EntryState::Publishing => 1,
    EntryState::Published => 2,
    EntryState::Failed => 3,
    EntryState::Deleting => 4,
    EntryState::Deleted => 5,
    EntryState::ManualDeleted => 6,
    EntryState::Cancelled => 7,
});
codes!(error_code, error_of, ErrorKind, "error kind", {
    ErrorKind::Unsupported => 0,
    ErrorKind::NoAdapter => 1,
    ErrorKind::NotLinked => 2,
    ErrorKind::NoXCredentials => 3,
    ErrorKind::RateLimited => 4,
    ErrorKind::Auth => 5,
    ErrorKind::Transient => 6,
    ErrorKind::Timeout => 7,
    ErrorKind::Rejected => 8,
    ErrorKind::Ambiguous => 9,
    ErrorKind::OutcomeUnknown => 10,
    ErrorKind::Duplicate => 11,
    ErrorKind::Disabled => 12,
});

/// A post as the sled store writes it.
pub(crate) fn encode_post(post: &Post) -> Vec<u8> {
    let Post {
        id,
        profile_id,
        text,
        status,
        kind,
        created,
        schedule_date,
        entries,
        idempotency_key,
        media_urls,
    } = post;
    // The id is the record's key: layout 2 does not repeat it.
    let _ = id;
    let v2 = PostV2 {
        profile_id: profile_id.as_str().to_owned(),
        text: text.clone(),
        status: status_code(*status),
        kind: kind_code(*kind),
        created: (*created).into(),
        schedule_date: schedule_date.map(Time::from),
        entries: entries.iter().map(encode_entry).collect(),
        idempotency_key: idempotency_key.clone(),
        media_urls: media_urls.clone(),
    };
    postcard::to_extend(&v2, vec![V2]).expect("store records always serialize")
}

fn encode_entry(e: &PlatformEntry) -> EntryV1 {
    let PlatformEntry {
        platform,
        id,
        post_type,
        media_type,
        post_url,
        state,
        error,
        deleted_at,
        publish_ref,
    } = e;
    EntryV1 {
        platform: platform.as_str().to_owned(),
        id: id.as_ref().map(|i| i.as_str().to_owned()),
        post_type: post_type.clone(),
        media_type: media_type.clone(),
        post_url: post_url.clone(),
        state: state_code(*state),
        error: error
            .as_ref()
            .map(|e| (error_code(e.kind), e.message.clone())),
        deleted_at: deleted_at.map(Time::from),
        publish_ref: publish_ref.clone(),
    }
}

/// A stored post, in whichever version it was written; `key` is the key it is stored under
/// (its id, which layout 2 does not repeat).
pub(crate) fn decode_post(key: &[u8], bytes: &[u8]) -> Result<Post, StoreError> {
    match bytes.split_first() {
        Some((b'{', _)) => {
            serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt(e.to_string()))
        }
        Some((&V1, rest)) => {
            let v1: PostV1 =
                postcard::from_bytes(rest).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            post_of_v1(v1)
        }
        Some((&V2, rest)) => {
            let v: PostV2 =
                postcard::from_bytes(rest).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            let id = std::str::from_utf8(key)
                .ok()
                .and_then(|k| PostId::parse(k).ok())
                .ok_or_else(|| StoreError::Corrupt("post key is not a post id".into()))?;
            post_of_v1(PostV1 {
                id: id.as_str().to_owned(),
                profile_id: v.profile_id,
                text: v.text,
                status: v.status,
                kind: v.kind,
                created: v.created,
                schedule_date: v.schedule_date,
                entries: v.entries,
                idempotency_key: v.idempotency_key,
                media_urls: v.media_urls,
            })
        }
        Some((v, _)) => Err(StoreError::Corrupt(format!(
            "post record version {v} is newer than this postgate"
        ))),
        None => Err(StoreError::Corrupt("empty post record".into())),
    }
}

fn post_of_v1(v: PostV1) -> Result<Post, StoreError> {
    Ok(Post {
        id: PostId::parse(&v.id).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        profile_id: v.profile_id.into(),
        text: v.text,
        status: status_of(v.status)?,
        kind: kind_of(v.kind)?,
        created: v.created.get()?,
        schedule_date: v.schedule_date.map(|t| t.get()).transpose()?,
        entries: v
            .entries
            .into_iter()
            .map(entry_of_v1)
            .collect::<Result<_, _>>()?,
        idempotency_key: v.idempotency_key,
        media_urls: v.media_urls,
    })
}

fn entry_of_v1(e: EntryV1) -> Result<PlatformEntry, StoreError> {
    Ok(PlatformEntry {
        platform: Platform::from(e.platform),
        id: e.id.map(NetworkPostId),
        post_type: e.post_type,
        media_type: e.media_type,
        post_url: e.post_url,
        state: state_of(e.state)?,
        error: e
            .error
            .map(|(k, message)| {
                Ok::<_, StoreError>(EntryError {
                    kind: error_of(k)?,
                    message,
                })
            })
            .transpose()?,
        deleted_at: e.deleted_at.map(|t| t.get()).transpose()?,
        publish_ref: e.publish_ref,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Post {
        let t = DateTime::from_timestamp(1_764_000_000, 123_456_789).unwrap();
        let mut threads = PlatformEntry::new(Platform::Threads, EntryState::Deleted);
        threads.id = Some(NetworkPostId("18060000000000342".into()));
        threads.post_url = Some("https://www.threads.net/@sandbox/post/18060000000000342".into());
        threads.deleted_at = Some(t);
        let mut x = PlatformEntry::new(Platform::Twitter, EntryState::Failed);
        x.error = Some(EntryError {
            kind: ErrorKind::RateLimited,
            message: "later".into(),
        });
        x.publish_ref = Some("c-1".into());
        x.post_type = Some("story".into());
        x.media_type = Some("image".into());
        let other = PlatformEntry::new(Platform::Other("pinterest".into()), EntryState::Pending);
        Post {
            id: PostId::parse("AbCdEfGhIjKlMnOpQrSt").unwrap(),
            profile_id: "58c95ac03dce2da5ed6bd01706329682".to_owned().into(),
            text: "hello ✓".into(),
            status: PostStatus::Error,
            kind: PostKind::Scheduled,
            created: t,
            schedule_date: Some(DateTime::from_timestamp(253_402_300_799, 0).unwrap()),
            entries: vec![threads, x, other],
            idempotency_key: Some("k-1".into()),
            media_urls: vec!["https://example.com/a.png".into()],
        }
    }

    #[test]
    fn a_post_round_trips_and_is_smaller_than_json() {
        let post = sample();
        let bytes = encode_post(&post);
        assert_eq!(bytes[0], V2);
        assert_eq!(decode_post(KEY, &bytes).unwrap(), post);
        let json = serde_json::to_vec(&post).unwrap();
        assert!(
            bytes.len() * 2 < json.len(),
            "{} vs {}",
            bytes.len(),
            json.len()
        );
    }

    /// The key of [`sample`]'s record.
    const KEY: &[u8] = b"AbCdEfGhIjKlMnOpQrSt";

    #[test]
    fn layout_1_records_written_before_still_read() {
        let post = sample();
        let v1 = PostV1 {
            id: post.id.as_str().to_owned(),
            profile_id: post.profile_id.as_str().to_owned(),
            text: post.text.clone(),
            status: status_code(post.status),
            kind: kind_code(post.kind),
            created: post.created.into(),
            schedule_date: post.schedule_date.map(Time::from),
            entries: post.entries.iter().map(encode_entry).collect(),
            idempotency_key: post.idempotency_key.clone(),
            media_urls: post.media_urls.clone(),
        };
        let bytes = postcard::to_extend(&v1, vec![V1]).unwrap();
        assert_eq!(decode_post(KEY, &bytes).unwrap(), post);
        // Layout 2 is layout 1 without the id.
        assert_eq!(encode_post(&post).len(), bytes.len() - 21);
    }

    #[test]
    fn a_layout_2_record_under_a_key_that_is_no_post_id_is_corrupt() {
        let bytes = encode_post(&sample());
        assert!(matches!(
            decode_post(b"not an id!", &bytes),
            Err(StoreError::Corrupt(_))
        ));
    }

    #[test]
    fn json_records_written_before_still_read() {
        let post = sample();
        let json = serde_json::to_vec(&post).unwrap();
        assert_eq!(decode_post(KEY, &json).unwrap(), post);
    }

    #[test]
    fn every_enum_value_has_a_code_and_comes_back() {
        let statuses: Vec<_> = (0..=255).filter_map(|c| status_of(c).ok()).collect();
        let kinds: Vec<_> = (0..=255).filter_map(|c| kind_of(c).ok()).collect();
        let states: Vec<_> = (0..=255).filter_map(|c| state_of(c).ok()).collect();
        let errors: Vec<_> = (0..=255).filter_map(|c| error_of(c).ok()).collect();
        assert_eq!(
            (statuses.len(), kinds.len(), states.len(), errors.len()),
            (7, 2, 8, 13)
        );
        for s in &statuses {
            for k in &kinds {
                let mut p = sample();
                p.status = *s;
                p.kind = *k;
                assert_eq!(decode_post(KEY, &encode_post(&p)).unwrap(), p);
            }
        }
        for st in &states {
            for ek in &errors {
                let mut p = sample();
                p.entries[0].state = *st;
                p.entries[0].error = Some(EntryError {
                    kind: *ek,
                    message: String::new(),
                });
                assert_eq!(decode_post(KEY, &encode_post(&p)).unwrap(), p);
            }
        }
    }

    #[test]
    fn damaged_or_unknown_records_are_errors_not_panics() {
        let bytes = encode_post(&sample());
        for cut in 0..bytes.len() {
            assert!(decode_post(KEY, &bytes[..cut]).is_err(), "cut at {cut}");
        }
        assert!(matches!(
            decode_post(KEY, &[9, 0]),
            Err(StoreError::Corrupt(_))
        ));
        let mut bad = bytes.clone();
        // The status byte follows two length-prefixed strings.
        let status_at = 1 + 1 + 32 + 1 + "hello ✓".len();
        bad[status_at] = 200;
        assert!(matches!(
            decode_post(KEY, &bad),
            Err(StoreError::Corrupt(_))
        ));
    }
}
