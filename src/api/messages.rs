//! The wording of publish failures the service layer records by class. Advice that names
//! routes, request headers or settings belongs with the wire format, so the stored post keeps
//! the class and the network's detail, and this module words them for the answer.

use crate::domain::{EntryError, EntryState, ErrorKind, PlatformEntry, Post, PostKind};

/// What every answer says about a publish whose outcome is unknown.
const OUTCOME_UNKNOWN_ADVICE: &str =
    "Do not post it again yourself: read the post (GET /api/post/{id}) to have it checked.";

/// The message of `entry`'s remembered `error` in an answer about `post`.
///
/// Only publish failures (an entry `failed`, or `publishing` with an unknown outcome) get
/// their advice here; a delete's failure on a live entry is shown as recorded.
pub fn entry_error_message(post: &Post, entry: &PlatformEntry, error: &EntryError) -> String {
    if !matches!(entry.state, EntryState::Failed | EntryState::Publishing) {
        return error.message.clone();
    }
    let name = entry.platform.display_name();
    match error.kind {
        ErrorKind::NotLinked => format!(
            "{name} does not seem to be linked with this profile. Link an account with POST /api/profiles/social, then post again."
        ),
        // The scheduler has only the settings' credentials: request headers are not kept.
        ErrorKind::NoXCredentials if post.kind == PostKind::Scheduled => {
            "Scheduled X/Twitter posts are published with the X consumer credentials of the gateway's settings (x.consumer_key and x.consumer_secret), and none are set: request headers are not kept for later.".into()
        }
        ErrorKind::NoXCredentials => {
            "X/Twitter requires your own API credentials: send the X-Twitter-OAuth1-Api-Key and X-Twitter-OAuth1-Api-Secret headers, or set x.consumer_key and x.consumer_secret in the gateway's settings.".into()
        }
        ErrorKind::Disabled => format!(
            "{name} is disabled for this profile (disableSocial): nothing was sent there. Enable it with PATCH /api/profiles, then retry the post (PUT /api/post/retry)."
        ),
        // Posts stored by earlier versions carry the advice already.
        ErrorKind::OutcomeUnknown if !error.message.contains(OUTCOME_UNKNOWN_ADVICE) => {
            format!("{} {OUTCOME_UNKNOWN_ADVICE}", error.message)
        }
        _ => error.message.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Platform, PostId, PostStatus};

    fn post(kind: PostKind, entry: PlatformEntry) -> Post {
        Post {
            id: PostId::generate(),
            profile_id: "p".into(),
            text: "hi".into(),
            status: PostStatus::Error,
            kind,
            created: chrono::Utc::now(),
            schedule_date: None,
            entries: vec![entry],
            idempotency_key: None,
            media_urls: Vec::new(),
        }
    }

    fn failed(kind: ErrorKind, message: &str, state: EntryState) -> PlatformEntry {
        let mut e = PlatformEntry::new(Platform::Twitter, state);
        e.error = Some(EntryError {
            kind,
            message: message.into(),
        });
        e
    }

    fn message(kind: PostKind, entry: PlatformEntry) -> String {
        let p = post(kind, entry);
        let e = &p.entries[0];
        entry_error_message(&p, e, e.error.as_ref().unwrap())
    }

    #[test]
    fn publish_failures_get_their_advice_once() {
        let e = failed(ErrorKind::NoXCredentials, "x", EntryState::Failed);
        assert!(message(PostKind::Now, e.clone()).contains("X-Twitter-OAuth1-Api-Key"));
        assert!(message(PostKind::Scheduled, e).contains("request headers are not kept"));
        let e = failed(ErrorKind::NotLinked, "x", EntryState::Failed);
        assert!(message(PostKind::Now, e).contains("POST /api/profiles/social"));
        let e = failed(
            ErrorKind::OutcomeUnknown,
            "It may be live.",
            EntryState::Publishing,
        );
        let m = message(PostKind::Now, e);
        assert_eq!(m, format!("It may be live. {OUTCOME_UNKNOWN_ADVICE}"));
        let old = failed(ErrorKind::OutcomeUnknown, &m, EntryState::Publishing);
        assert_eq!(message(PostKind::Now, old), m);
        // A delete's failure on a live entry is shown as recorded.
        let e = failed(ErrorKind::NotLinked, "as recorded", EntryState::Published);
        assert_eq!(message(PostKind::Now, e), "as recorded");
    }
}
