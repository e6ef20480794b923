//! Domain values: posts, platforms, per-platform state and delete outcomes. No I/O here.

use chrono::{DateTime, Utc};
use rand::distr::Alphanumeric;
use rand::Rng;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Length of an Ayrshare-style post id.
pub const POST_ID_LEN: usize = 20;

/// Longest post text postgate publishes or imports, in characters (Unicode scalar values):
/// Ayrshare's and Facebook's limit. Networks apply their own, smaller limits on top.
pub const MAX_TEXT_CHARS: usize = 63_206;

/// Earliest and latest years a date from a client may name (e.g. `scheduleDate`).
pub const DATE_YEARS: std::ops::RangeInclusive<i32> = 1970..=9999;

/// An Ayrshare-style post id: 20 characters of `[A-Za-z0-9]`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PostId(String);

/// Declares an opaque text id: its own type (a profile id cannot be passed where an account
/// id is expected), stored and serialized as a plain string, readable as `&str`.
macro_rules! text_id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::ops::Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                Self(s)
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                Self(s.to_owned())
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> Self {
                id.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                &self.0 == other
            }
        }
    };
}

text_id!(
    /// A profile's id (Ayrshare's `refId`): the primary profile of an account, or a user
    /// profile made with `POST /api/profiles/profile`.
    ProfileId
);

text_id!(
    /// An account: what one API key opens (derived from the key's hash, stable across
    /// restarts). It owns a primary profile and any number of user profiles.
    AccountId
);

/// Base62 digits in ASCII order, so that text order is numeric order.
const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Leading characters of a generated [`PostId`] that encode its creation time.
const ID_TIME_DIGITS: usize = 8;

/// Why a string is not a valid [`PostId`].
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("a post id is 20 characters of A-Z, a-z and 0-9")]
pub struct InvalidPostId;

impl PostId {
    /// Parses a post id, accepting only 20 ASCII alphanumerics.
    pub fn parse(s: &str) -> Result<Self, InvalidPostId> {
        if s.len() == POST_ID_LEN && s.bytes().all(|b| b.is_ascii_alphanumeric()) {
            Ok(Self(s.to_owned()))
        } else {
            Err(InvalidPostId)
        }
    }

    /// A fresh id: the current time in milliseconds as 8 base62 digits, then 12 random ones
    /// (62^12, about 71 bits, per millisecond: collisions are not a practical concern, and the
    /// store still refuses to overwrite an existing id). The time prefix makes new ids sort
    /// after older ones, so the sled store appends them at the tail of its posts tree instead
    /// of splitting leaves at random positions (half the bytes per post on disk). Ids stay
    /// 20 alphanumerics; ids given by clients or imports keep whatever shape they have.
    pub fn generate() -> Self {
        Self::generate_at(Utc::now().timestamp_millis().max(0).unsigned_abs())
    }

    /// [`PostId::generate`] at `millis` since the epoch (wraps after 62^8 ms, in year 8888).
    fn generate_at(millis: u64) -> Self {
        let mut id = String::with_capacity(POST_ID_LEN);
        let mut t = millis % 62u64.pow(ID_TIME_DIGITS as u32);
        let mut time = [0u8; ID_TIME_DIGITS];
        for d in time.iter_mut().rev() {
            *d = BASE62[(t % 62) as usize];
            t /= 62;
        }
        id.extend(time.iter().map(|&b| char::from(b)));
        id.extend(
            rand::rng()
                .sample_iter(&Alphanumeric)
                .take(POST_ID_LEN - ID_TIME_DIGITS)
                .map(char::from),
        );
        Self(id)
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for PostId {
    type Error = InvalidPostId;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<PostId> for String {
    fn from(id: PostId) -> String {
        id.0
    }
}

impl fmt::Display for PostId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A social network, named as Ayrshare names it on the wire.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum Platform {
    /// X, formerly Twitter (`"twitter"` on the wire, as in Ayrshare).
    Twitter,
    /// Meta's Threads.
    Threads,
    /// Instagram: its API cannot delete published posts.
    Instagram,
    /// TikTok: its API cannot delete published posts.
    TikTok,
    /// Facebook: its API cannot delete image stories.
    Facebook,
    /// Bluesky (the AT Protocol): its post ids are `at://` URIs.
    Bluesky,
    /// Any other Ayrshare platform name, kept as given.
    Other(String),
}

impl Platform {
    /// The Ayrshare wire name.
    pub fn as_str(&self) -> &str {
        match self {
            Platform::Twitter => "twitter",
            Platform::Threads => "threads",
            Platform::Instagram => "instagram",
            Platform::TikTok => "tiktok",
            Platform::Facebook => "facebook",
            Platform::Bluesky => "bluesky",
            Platform::Other(s) => s,
        }
    }

    /// A name for people ("X", "Threads", ...).
    pub fn display_name(&self) -> &str {
        match self {
            Platform::Twitter => "X/Twitter",
            Platform::Threads => "Threads",
            Platform::Instagram => "Instagram",
            Platform::TikTok => "TikTok",
            Platform::Facebook => "Facebook",
            Platform::Bluesky => "Bluesky",
            Platform::Other(s) => s,
        }
    }

    /// Ayrshare's platform names (`x` is read as `twitter`): the only names accepted from a
    /// client. A name outside this list (`"status"`, `"id"`, ...) could collide with the
    /// fields of an answer that is keyed by platform, so it never becomes a [`Platform`].
    pub const AYRSHARE_NAMES: &'static [&'static str] = &[
        "bluesky",
        "facebook",
        "gmb",
        "instagram",
        "linkedin",
        "pinterest",
        "reddit",
        "snapchat",
        "telegram",
        "threads",
        "tiktok",
        "twitter",
        "youtube",
    ];

    /// Parses a platform name a client sent: one of [`Platform::AYRSHARE_NAMES`] or `x`,
    /// case-insensitively, surrounding whitespace ignored.
    pub fn parse(name: &str) -> Option<Platform> {
        let lower = name.trim().to_ascii_lowercase();
        if lower == "x" || Self::AYRSHARE_NAMES.contains(&lower.as_str()) {
            Some(Platform::from(lower))
        } else {
            None
        }
    }
}

impl From<String> for Platform {
    fn from(s: String) -> Self {
        match s.to_ascii_lowercase().as_str() {
            "twitter" | "x" => Platform::Twitter,
            "threads" => Platform::Threads,
            "instagram" => Platform::Instagram,
            "tiktok" => Platform::TikTok,
            "facebook" => Platform::Facebook,
            "bluesky" => Platform::Bluesky,
            _ => Platform::Other(s),
        }
    }
}

impl From<&str> for Platform {
    fn from(s: &str) -> Self {
        Platform::from(s.to_owned())
    }
}

impl From<Platform> for String {
    fn from(p: Platform) -> String {
        p.as_str().to_owned()
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A post's id at one network (a Tweet id, a Threads media id, ...).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct NetworkPostId(pub String);

impl NetworkPostId {
    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Longest network id accepted for a platform without a stricter rule.
pub const NETWORK_ID_MAX_LEN: usize = 200;

/// Why a string cannot be a platform's post id.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0}")]
pub struct InvalidNetworkId(String);

impl NetworkPostId {
    /// Checks the id against `platform`'s id shape: X (`twitter`) 1–19 ASCII digits, Threads
    /// 1–30 ASCII digits, Bluesky an `at://{did}/app.bsky.feed.post/{rkey}` URI
    /// ([`AtUri::parse`]), any other platform a non-empty string of at most 200 characters with
    /// no `/`, `?`, `#`, `%`, `..`, whitespace or control characters. The adapters put ids in
    /// URL paths, so an id that passes cannot change which resource a request names.
    pub fn check_for(&self, platform: &Platform) -> Result<(), InvalidNetworkId> {
        check_network_id(&self.0, platform)
    }
}

/// [`NetworkPostId::check_for`] on a string (also the rule for network user ids).
pub fn check_network_id(id: &str, platform: &Platform) -> Result<(), InvalidNetworkId> {
    let digits = |max: usize| {
        if !id.is_empty() && id.len() <= max && id.bytes().all(|b| b.is_ascii_digit()) {
            Ok(())
        } else {
            Err(InvalidNetworkId(format!(
                "a {} id is 1 to {max} ASCII digits, not {:?}",
                platform.display_name(),
                shorten(id)
            )))
        }
    };
    match platform {
        Platform::Twitter => digits(19),
        Platform::Threads => digits(30),
        Platform::Bluesky => AtUri::parse(id).map(|_| ()),
        _ => {
            let bad = id.is_empty()
                || id.chars().count() > NETWORK_ID_MAX_LEN
                || id.contains("..")
                || id.chars().any(|c| {
                    matches!(c, '/' | '?' | '#' | '%') || c.is_whitespace() || c.is_control()
                });
            if bad {
                Err(InvalidNetworkId(format!(
                    "a {} id is 1 to {NETWORK_ID_MAX_LEN} characters without '/', '?', '#', '%', '..', whitespace or control characters, not {:?}",
                    platform.display_name(),
                    shorten(id)
                )))
            } else {
                Ok(())
            }
        }
    }
}

/// The collection of Bluesky posts.
pub const BLUESKY_POST_COLLECTION: &str = "app.bsky.feed.post";

/// A Bluesky post's id: `at://{did}/app.bsky.feed.post/{rkey}`, the URI `createRecord`
/// answers. Parsed strictly because its parts go into XRPC calls: a `did:plc:`/`did:web:`
/// style DID and a record key of the atproto charset (`A-Za-z0-9._:~-`, 1–512, not `.`/`..`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AtUri<'a> {
    /// The repository (the author's DID).
    pub did: &'a str,
    /// The record key.
    pub rkey: &'a str,
}

impl<'a> AtUri<'a> {
    /// Parses a post URI; anything else (another collection, a handle as authority, a query)
    /// is refused.
    pub fn parse(uri: &'a str) -> Result<Self, InvalidNetworkId> {
        let bad = || {
            InvalidNetworkId(format!(
                "a Bluesky post id is at://{{did}}/{BLUESKY_POST_COLLECTION}/{{rkey}}, not {:?}",
                shorten(uri)
            ))
        };
        let rest = uri.strip_prefix("at://").ok_or_else(bad)?;
        let mut parts = rest.split('/');
        let (Some(did), Some(collection), Some(rkey), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        if collection != BLUESKY_POST_COLLECTION || !is_did(did) || !is_record_key(rkey) {
            return Err(bad());
        }
        Ok(Self { did, rkey })
    }
}

/// A DID as atproto accepts it: `did:{method}:{id}`, lowercase method, id of
/// `A-Za-z0-9._:%-`, at most 2 KB, not ending in `:` or `%`.
pub fn is_did(s: &str) -> bool {
    let Some(rest) = s.strip_prefix("did:") else {
        return false;
    };
    let Some((method, id)) = rest.split_once(':') else {
        return false;
    };
    s.len() <= 2048
        && !method.is_empty()
        && method.bytes().all(|b| b.is_ascii_lowercase())
        && !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'%' | b'-'))
        && !id.ends_with([':', '%'])
}

/// A record key as atproto accepts it: 1–512 of `A-Za-z0-9._:~-`, not `.` or `..`.
pub fn is_record_key(s: &str) -> bool {
    (1..=512).contains(&s.len())
        && s != "."
        && s != ".."
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'~' | b'-'))
}

/// At most 40 characters of `s`, for an error message.
fn shorten(s: &str) -> String {
    let mut out: String = s.chars().take(40).collect();
    if s.chars().count() > 40 {
        out.push('…');
    }
    out
}

impl fmt::Display for NetworkPostId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A post's overall status, with Ayrshare's values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PostStatus {
    /// Sent to every network.
    Success,
    /// At least one network failed.
    Error,
    /// Scheduled, not yet sent.
    Pending,
    /// Being sent right now.
    Processing,
    /// Deleted (from every network it was live on, or cancelled before it was sent).
    Deleted,
    /// Created with `requiresApproval`: held, nothing sent, until `approved: true`.
    #[serde(rename = "awaitingApproval")]
    AwaitingApproval,
    /// A scheduled post paused with `scheduledPause`: the scheduler skips it until resumed.
    Paused,
}

impl PostStatus {
    /// The Ayrshare wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            PostStatus::Success => "success",
            PostStatus::Error => "error",
            PostStatus::Pending => "pending",
            PostStatus::Processing => "processing",
            PostStatus::Deleted => "deleted",
            PostStatus::AwaitingApproval => "awaiting approval",
            PostStatus::Paused => "paused",
        }
    }

    /// Whether the post is held before publishing (scheduled, awaiting approval or paused):
    /// nothing was sent, so a delete cancels it and its text and date may still change.
    pub fn is_held(self) -> bool {
        matches!(
            self,
            PostStatus::Pending | PostStatus::AwaitingApproval | PostStatus::Paused
        )
    }
}

/// Where one platform of a post stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum EntryState {
    /// Scheduled; nothing sent yet.
    Pending,
    /// Publish intent recorded, network answer not yet recorded.
    Publishing,
    /// Live at the network.
    Published,
    /// Publishing failed: nothing is live at the network.
    Failed,
    /// Delete intent recorded, network answer not yet recorded.
    Deleting,
    /// The network confirmed the delete (or said the post was already gone).
    Deleted,
    /// The user deleted it by hand and recorded that with `markManualDeleted`.
    ManualDeleted,
    /// A scheduled entry cancelled before it was sent.
    Cancelled,
}

impl EntryState {
    /// Whether something may be live at the network in this state.
    pub fn may_be_live(self) -> bool {
        matches!(
            self,
            EntryState::Published | EntryState::Deleting | EntryState::Publishing
        )
    }

    /// The wire name (camelCase, as stored).
    pub fn as_str(self) -> &'static str {
        match self {
            EntryState::Pending => "pending",
            EntryState::Publishing => "publishing",
            EntryState::Published => "published",
            EntryState::Failed => "failed",
            EntryState::Deleting => "deleting",
            EntryState::Deleted => "deleted",
            EntryState::ManualDeleted => "manualDeleted",
            EntryState::Cancelled => "cancelled",
        }
    }
}

/// The class of a failure remembered on an entry. The wire layer turns it into a code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ErrorKind {
    /// The network's API cannot do this (e.g. delete an Instagram post).
    Unsupported,
    /// postgate has no adapter for the platform.
    NoAdapter,
    /// No account of the platform is linked to the profile.
    NotLinked,
    /// X consumer credentials are missing.
    NoXCredentials,
    /// Rate limited.
    RateLimited,
    /// Token invalid, expired or missing a permission.
    Auth,
    /// A passing failure.
    Transient,
    /// No answer in time.
    Timeout,
    /// Refused by the network.
    Rejected,
    /// The answer does not say what happened.
    Ambiguous,
    /// A publish request was sent and its answer was lost or unclear (timeout, 5xx, dropped
    /// connection): the post may be live. Never "failed, post again".
    OutcomeUnknown,
    /// The network refused a publish as a duplicate of an earlier post.
    Duplicate,
    /// The profile disabled the platform (`disableSocial`): nothing was sent.
    Disabled,
}

impl From<&DeleteFailure> for ErrorKind {
    fn from(f: &DeleteFailure) -> Self {
        match f {
            DeleteFailure::Unsupported(_) => ErrorKind::Unsupported,
            DeleteFailure::NoAdapter => ErrorKind::NoAdapter,
            DeleteFailure::NotLinked => ErrorKind::NotLinked,
            DeleteFailure::NoXCredentials => ErrorKind::NoXCredentials,
            DeleteFailure::RateLimited { .. } => ErrorKind::RateLimited,
            DeleteFailure::Auth(_) => ErrorKind::Auth,
            DeleteFailure::Transient(_) => ErrorKind::Transient,
            DeleteFailure::Timeout(_) => ErrorKind::Timeout,
            DeleteFailure::Rejected(_) => ErrorKind::Rejected,
            DeleteFailure::Ambiguous(_) => ErrorKind::Ambiguous,
        }
    }
}

/// An error remembered on an entry (last publish or delete failure).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryError {
    /// Its class.
    pub kind: ErrorKind,
    /// A human message.
    pub message: String,
}

/// One platform of a post.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlatformEntry {
    /// The network.
    pub platform: Platform,
    /// The network's id of the post, once published.
    #[serde(default)]
    pub id: Option<NetworkPostId>,
    /// Ayrshare's `type` (e.g. `"story"` on Facebook).
    #[serde(default)]
    pub post_type: Option<String>,
    /// Ayrshare's `mediaType` (`"image"` / `"video"`).
    #[serde(default)]
    pub media_type: Option<String>,
    /// Public URL of the post at the network.
    #[serde(default)]
    pub post_url: Option<String>,
    /// Where it stands.
    pub state: EntryState,
    /// The last failure, if any.
    #[serde(default)]
    pub error: Option<EntryError>,
    /// When the delete was confirmed or recorded.
    #[serde(default)]
    pub deleted_at: Option<DateTime<Utc>>,
    /// While the outcome of a publish is unknown: what the network can be asked about it
    /// later (the Threads container id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub publish_ref: Option<String>,
}

impl PlatformEntry {
    /// A new entry in `state` for `platform`.
    pub fn new(platform: Platform, state: EntryState) -> Self {
        Self {
            platform,
            id: None,
            post_type: None,
            media_type: None,
            post_url: None,
            state,
            error: None,
            deleted_at: None,
            publish_ref: None,
        }
    }

    /// Why this entry cannot be deleted through its network's API, if it cannot: the rule
    /// for platforms postgate has no adapter for (their APIs offer no delete, or none for
    /// this kind of post). Platforms with an adapter declare their own rule
    /// ([`crate::networks::Network::delete_unsupported`]); ask
    /// [`crate::networks::Networks::delete_unsupported`], which picks the right one.
    pub fn delete_unsupported(&self) -> Option<&'static str> {
        match self.platform {
            Platform::Instagram => Some(
                "Instagram does not support deleting published posts through its API. Delete the post in the Instagram app, then record that with markManualDeleted.",
            ),
            Platform::TikTok => Some(
                "TikTok does not support deleting published posts through its API. Delete the post in the TikTok app, then record that with markManualDeleted.",
            ),
            Platform::Facebook
                if self.post_type.as_deref() == Some("story")
                    && self.media_type.as_deref() == Some("image") =>
            {
                Some(
                    "Facebook does not support deleting image stories through its API. Delete the story in the Facebook app, then record that with markManualDeleted.",
                )
            }
            _ => None,
        }
    }
}

/// A network account linked to a profile, with the tokens postgate calls the network with.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LinkedAccount {
    /// The network.
    pub platform: Platform,
    /// The network's user id (Threads user id, X user id, Bluesky DID).
    pub user_id: String,
    /// Access token (Threads user token; X OAuth 1.0a access token; Bluesky `accessJwt`).
    pub access_token: String,
    /// The second secret the network's calls need: X's OAuth 1.0a access token secret,
    /// Bluesky's `refreshJwt` (the session's renewal token).
    #[serde(default)]
    pub access_token_secret: Option<String>,
    /// Optional handle, used to build post URLs.
    #[serde(default)]
    pub username: Option<String>,
    /// When it was linked.
    pub linked_at: DateTime<Utc>,
    /// What postgate knows of the token's life (expiry, scopes, refresh); empty for accounts
    /// linked by hand before it was recorded, so old records load unchanged.
    #[serde(default)]
    pub life: TokenLife,
}

/// The life of a linked account's token, as learnt from the OAuth flow and the refresher.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenLife {
    /// When the token stops working (Threads long-lived tokens: 60 days); `None` when it
    /// does not expire (X OAuth 1.0a) or is unknown.
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
    /// When the token was issued or last refreshed: Threads refuses to refresh a token
    /// younger than 24 h.
    #[serde(default)]
    pub refreshed_at: Option<DateTime<Utc>>,
    /// The scopes the user granted, when the network said; empty when unknown.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// The token can no longer be refreshed (or was refused): the user must link again.
    #[serde(default)]
    pub needs_relink: bool,
}

impl TokenLife {
    /// Whether the grant is known to lack a scope the network needs for deletes (Threads'
    /// `threads_delete`): the account is linked, but deletes will fail.
    pub fn lacks_scope(&self, scope: &str) -> bool {
        !self.scopes.is_empty() && !self.scopes.iter().any(|s| s == scope)
    }
}

// Tokens must never reach a log line, even through `{:?}`.
impl fmt::Debug for LinkedAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LinkedAccount")
            .field("platform", &self.platform)
            .field("user_id", &self.user_id)
            .field("access_token", &"[redacted]")
            .field("access_token_secret", &"[redacted]")
            .field("username", &self.username)
            .field("life", &self.life)
            .finish()
    }
}

/// Ayrshare's post `type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PostKind {
    /// Published immediately.
    Now,
    /// Scheduled for later.
    Scheduled,
}

/// A post as postgate keeps it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Post {
    /// Ayrshare-style id.
    pub id: PostId,
    /// The owning profile (its `refId`).
    pub profile_id: ProfileId,
    /// The text.
    pub text: String,
    /// Overall status.
    pub status: PostStatus,
    /// `now` or `scheduled`.
    pub kind: PostKind,
    /// When it was created.
    pub created: DateTime<Utc>,
    /// When it is (or was) due, for scheduled posts.
    #[serde(default)]
    pub schedule_date: Option<DateTime<Utc>>,
    /// One entry per platform.
    pub entries: Vec<PlatformEntry>,
    /// The client's idempotency key, if it sent one.
    #[serde(default)]
    pub idempotency_key: Option<String>,
    /// The image URLs sent with it (`mediaUrls`), fetched again when it is published later.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub media_urls: Vec<String>,
}

impl Post {
    /// Whether no entry may still be live at a network and none is waiting to be sent.
    pub fn nothing_left(&self) -> bool {
        self.entries.iter().all(|e| {
            matches!(
                e.state,
                EntryState::Deleted
                    | EntryState::ManualDeleted
                    | EntryState::Cancelled
                    | EntryState::Failed
            )
        })
    }
}

/// Why deleting one platform's copy failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeleteFailure {
    /// The network's API cannot delete this kind of post.
    Unsupported(String),
    /// postgate has no adapter for this platform.
    NoAdapter,
    /// No account of this platform is linked to the profile.
    NotLinked,
    /// X needs consumer credentials and none were given.
    NoXCredentials,
    /// The network (or postgate's local quota) says: wait.
    RateLimited {
        /// Seconds until a retry may succeed.
        retry_after: u64,
        /// Detail.
        message: String,
    },
    /// The linked token is invalid, expired or lacks a permission.
    Auth(String),
    /// A passing failure (5xx, connection error); retrying may work.
    Transient(String),
    /// No answer within the time budget.
    Timeout(String),
    /// The network refused the request for good.
    Rejected(String),
    /// The network's answer does not say whether the post is gone.
    Ambiguous(String),
}

/// What happened to one platform's copy of a post during a delete.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeleteOutcome {
    /// The network confirmed the delete now.
    Deleted,
    /// The network said unambiguously that the post was already gone.
    AlreadyGone,
    /// Deleted or recorded earlier; not called again.
    PreviouslyDeleted,
    /// Never sent to the network (scheduled, cancelled or failed publish): nothing to delete.
    NotPublished,
    /// It failed; the copy may still be live.
    Failed(DeleteFailure),
}

impl DeleteOutcome {
    /// Whether this platform now has no live copy.
    pub fn is_success(&self) -> bool {
        !matches!(self, DeleteOutcome::Failed(_))
    }
}

// Rules every store backend shares, so a backend re-implements storage only.

/// The id of an account's primary profile: derived from the account id (not stored
/// anywhere first), so every start and every gateway process names the same profile.
pub fn primary_profile_id(account_id: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(&Sha256::digest(format!("primary:{account_id}").as_bytes())[..16])
}

/// The form under which profile titles are compared: titles are unique per account
/// regardless of case ("Team" and "team" collide), as in Ayrshare.
pub fn profile_title_key(title: &str) -> String {
    title.to_lowercase()
}

impl Post {
    /// When the scheduler must pick this post up: its due date while it is pending, else
    /// `None`. Stores keep exactly these posts in their schedule index.
    pub fn schedule_slot(&self) -> Option<DateTime<Utc>> {
        (self.status == PostStatus::Pending)
            .then_some(self.schedule_date)
            .flatten()
    }

    /// Whether an entry has an intent recorded and no network answer yet (a delete or a
    /// publish cut off by a crash). Stores keep exactly these posts in their recovery index.
    pub fn in_flight(&self) -> bool {
        self.entries
            .iter()
            .any(|e| matches!(e.state, EntryState::Deleting | EntryState::Publishing))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn post_id_rules() {
        assert!(PostId::parse("abcdefghij0123456789").is_ok());
        assert!(PostId::parse("abcdefghij012345678").is_err());
        assert!(PostId::parse("abcdefghij012345678-").is_err());
        assert!(PostId::parse("abcdefghij01234567é").is_err());
        let g = PostId::generate();
        assert!(PostId::parse(g.as_str()).is_ok());
    }

    #[test]
    fn generated_ids_sort_by_time_and_differ_within_a_millisecond() {
        let now = 1_764_172_800_000; // 2025-11-26
        let a = PostId::generate_at(now);
        let b = PostId::generate_at(now);
        let later = PostId::generate_at(now + 1);
        assert_ne!(a, b, "12 random characters after the time");
        assert_eq!(a.as_str()[..8], b.as_str()[..8]);
        assert!(a < later && b < later);
        assert!(PostId::generate_at(now + 62) > later);
        assert!(PostId::generate_at(u64::MAX).as_str().len() == POST_ID_LEN);
        assert!(PostId::generate_at(0).as_str().starts_with("00000000"));
        assert!(PostId::parse(PostId::generate_at(u64::MAX).as_str()).is_ok());
    }

    #[test]
    fn platform_names_round_trip() {
        for name in [
            "twitter",
            "threads",
            "instagram",
            "tiktok",
            "facebook",
            "bluesky",
            "linkedin",
        ] {
            assert_eq!(Platform::from(name).as_str(), name);
        }
    }

    #[test]
    fn only_ayrshare_platform_names_parse() {
        assert_eq!(Platform::parse("X"), Some(Platform::Twitter));
        assert_eq!(Platform::parse(" Threads "), Some(Platform::Threads));
        assert_eq!(
            Platform::parse("linkedin"),
            Some(Platform::Other("linkedin".into()))
        );
        for bad in [
            "status",
            "id",
            "code",
            "errors",
            "",
            "twitterx",
            "threads/1",
        ] {
            assert_eq!(Platform::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn network_ids_are_checked_per_platform() {
        let ok = |id: &str, p: Platform| NetworkPostId(id.into()).check_for(&p).is_ok();
        assert!(ok("1445880548472328192", Platform::Twitter));
        assert!(!ok("12345678901234567890", Platform::Twitter));
        assert!(!ok("", Platform::Twitter));
        assert!(!ok("1/../2", Platform::Twitter));
        assert!(ok("18011", Platform::Threads));
        assert!(!ok("me", Platform::Threads));
        assert!(!ok("18011?fields=x", Platform::Threads));
        assert!(ok("urn:li:share:123", Platform::Other("linkedin".into())));
        assert!(ok("1234_5678", Platform::Facebook));
        for bad in ["a/b", "a?b", "a#b", "a%2F", "..", "a b", "a\nb", ""] {
            assert!(!ok(bad, Platform::Facebook), "{bad:?}");
        }
        assert!(!ok(&"a".repeat(201), Platform::Instagram));
        let uri = "at://did:plc:z72i7hdynmk6r22z27h6tvur/app.bsky.feed.post/3k4duaz5vfs2b";
        assert!(ok(uri, Platform::Bluesky));
        assert!(!ok("did:plc:z72i7hdynmk6r22z27h6tvur", Platform::Bluesky));
        for bad in [
            "at://did:plc:abc/app.bsky.feed.like/3k4",
            "at://alice.bsky.social/app.bsky.feed.post/3k4",
            "at://did:plc:abc/app.bsky.feed.post/..",
            "at://did:plc:abc/app.bsky.feed.post/a?b",
            "at://did:plc:abc/app.bsky.feed.post/a/b",
            "at://did:plc:abc/app.bsky.feed.post/",
            "https://bsky.app/profile/x/post/3k4",
        ] {
            assert!(!ok(bad, Platform::Bluesky), "{bad:?}");
        }
        let parsed = AtUri::parse(uri).unwrap();
        assert_eq!(parsed.did, "did:plc:z72i7hdynmk6r22z27h6tvur");
        assert_eq!(parsed.rkey, "3k4duaz5vfs2b");
    }

    #[test]
    fn image_story_is_unsupported_video_story_is_not() {
        let mut e = PlatformEntry::new(Platform::Facebook, EntryState::Published);
        e.post_type = Some("story".into());
        e.media_type = Some("image".into());
        assert!(e.delete_unsupported().is_some());
        e.media_type = Some("video".into());
        assert!(e.delete_unsupported().is_none());
    }
}
