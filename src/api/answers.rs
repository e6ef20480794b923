//! The Ayrshare answers as typed values. Field order is wire order (`serde_json` keeps it
//! with `preserve_order`); optional fields are left out rather than sent as `null`, except
//! where Ayrshare sends `null` (`postIds[].id`/`postUrl`, `username`).
//!
//! The per-platform entries of a delete sit beside `status`/`code`/`id` (`"threads": {...}`);
//! [`PlatformMap`] flattens them in. A key cannot collide with those fields: platform names
//! are validated Ayrshare names.

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde::Serialize as DeriveSerialize;
use utoipa::openapi::schema::{AnyOfBuilder, Schema};
use utoipa::openapi::RefOr;
use utoipa::{PartialSchema, ToSchema};

/// The error codes as an OpenAPI schema: an integer enum of [`super::error::codes::ALL`],
/// each code's meaning in the description and in `x-enum-descriptions` (with its name in
/// `x-enum-varnames`, which client generators turn into named constants).
pub struct ErrorCode;

impl PartialSchema for ErrorCode {
    fn schema() -> RefOr<Schema> {
        use std::fmt::Write as _;
        use utoipa::openapi::extensions::ExtensionsBuilder;
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        let all = super::error::codes::ALL;
        let mut description = String::from(
            "An Ayrshare or postgate error code. Ayrshare's codes keep Ayrshare's meaning; \
             postgate's own are 9xx.\n",
        );
        for (code, _, meaning) in all {
            let _ = write!(description, "\n- `{code}`: {}", meaning.trim());
        }
        let extensions = ExtensionsBuilder::new()
            .add(
                "x-enum-varnames",
                all.iter().map(|(_, name, _)| *name).collect::<Vec<_>>(),
            )
            .add(
                "x-enum-descriptions",
                all.iter()
                    .map(|(_, _, meaning)| meaning.trim())
                    .collect::<Vec<_>>(),
            )
            .build();
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .enum_values(Some(all.iter().map(|(code, _, _)| *code)))
            .description(Some(description))
            .extensions(Some(extensions))
            .into()
    }
}

impl ToSchema for ErrorCode {}

/// What a failure says, shared by error answers and per-platform entries.
#[derive(DeriveSerialize, ToSchema, Debug, Clone, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Failure {
    /// Ayrshare or postgate code (see [`super::error::codes`]).
    #[schema(value_type = ErrorCode)]
    pub code: u32,
    /// For humans.
    pub message: String,
    /// Seconds until a retry may succeed (rate limits).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
    /// A machine-readable reason Ayrshare adds to some codes (`x_credentials_required`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<&'static str>,
    /// `true` when retrying the same request may succeed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_available: Option<bool>,
}

impl Failure {
    /// A failure with only a code and a message.
    pub fn new(code: u32, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            retry_after: None,
            error: None,
            retry_available: None,
        }
    }
}

/// `{"action","status":"error","code","message",...}`: a request-level error, or one id of a
/// bulk that failed as a whole.
#[derive(DeriveSerialize, ToSchema, Debug, Clone, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    /// What was attempted (`delete`, `post`, `authorization`, ...).
    pub action: String,
    /// Always `"error"`.
    pub status: &'static str,
    /// Code, message and retry hints.
    #[serde(flatten)]
    pub failure: Failure,
    /// The post (or id as sent) the error is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The idempotency key of a request still in progress.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
    /// Set on answers to `markManualDeleted`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mark_manual_deleted: Option<bool>,
    /// The platforms where the post is still live (`markManualDeleted`, 382).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platforms: Option<Vec<String>>,
    /// The platform the error is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
}

impl ErrorBody {
    /// An error of `action` with nothing but its failure.
    pub fn new(action: &str, failure: Failure) -> Self {
        Self {
            action: action.to_owned(),
            status: "error",
            failure,
            id: None,
            idempotency_key: None,
            mark_manual_deleted: None,
            platforms: None,
            platform: None,
        }
    }

    /// The same error about `id`.
    pub fn about(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }
}

/// Entries keyed by platform name, serialized as map entries beside their parent's fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformMap<T>(pub Vec<(String, T)>);

impl<T: Serialize> Serialize for PlatformMap<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

/// One platform of a delete: `{"action":"delete","status",...}`. A failed or queued entry
/// also carries a [`Failure`]'s fields (`code`, `message`, `retryAfter`, `error`,
/// `retryAvailable`).
#[derive(DeriveSerialize, ToSchema, Debug, Clone, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct PlatformDelete {
    /// Always `"delete"`.
    pub action: &'static str,
    /// `success`, `error`, or `queued` (postgate extension: finished later by the queue).
    pub status: &'static str,
    /// When a queued platform is retried (ISO 8601).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_at: Option<String>,
    /// Why it failed, or why it was queued (absent on success). Documented on the type:
    /// a flattened optional object has no JSON Schema of its own.
    #[serde(flatten)]
    #[schema(ignore)]
    pub failure: Option<Failure>,
    /// The network had it deleted already (now or by an earlier request).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub already_deleted: Option<bool>,
    /// `false`: never published there (a pending scheduled post), nothing to delete.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub published: Option<bool>,
    /// The network's post id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Set in the `errors` array, where the entry is not keyed by its platform.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
}

/// The answer for one post's delete: `{"status",["code"],"id","<platform>":{...},["errors"]}`.
#[derive(DeriveSerialize, ToSchema, Debug, Clone, PartialEq, Eq)]
pub struct DeleteAnswer {
    /// `success` when every platform succeeded, `queued` when the others are queued, else
    /// `error`.
    pub status: &'static str,
    /// 200 on success.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<u16>,
    /// The post.
    pub id: String,
    /// One entry per platform.
    #[serde(flatten)]
    #[schema(ignore)]
    pub platforms: PlatformMap<PlatformDelete>,
    /// The failed platforms again, each naming its platform (only when some failed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<PlatformDelete>>,
}

/// `{"status":"success","id"}`: `markManualDeleted` recorded.
#[derive(DeriveSerialize, ToSchema, Debug, Clone, PartialEq, Eq)]
pub struct ManualRecorded {
    /// Always `"success"`.
    pub status: &'static str,
    /// The post.
    pub id: String,
}

/// One id of a delete or `markManualDeleted`, as answered alone or inside a bulk.
#[derive(DeriveSerialize, Debug, Clone, PartialEq, Eq)]
#[serde(untagged)]
pub enum DeleteItem {
    /// The platforms were worked on.
    Done(DeleteAnswer),
    /// Manual delete recorded.
    Recorded(ManualRecorded),
    /// The id failed as a whole (not found, already deleted, ...).
    Error(ErrorBody),
}

/// `anyOf`, not the `oneOf` an untagged enum derives: a manual-delete record's two fields
/// fit the other shapes as well.
impl PartialSchema for DeleteItem {
    fn schema() -> RefOr<Schema> {
        AnyOfBuilder::new()
            .item(DeleteAnswer::schema_ref())
            .item(ManualRecorded::schema_ref())
            .item(ErrorBody::schema_ref())
            .description(Some(
                "One id's answer: its platforms, a manual delete recorded, or an error.",
            ))
            .into()
    }
}

impl ToSchema for DeleteItem {
    fn schemas(out: &mut Vec<(String, RefOr<Schema>)>) {
        for (name, schema) in [
            (DeleteAnswer::name(), DeleteAnswer::schema()),
            (ManualRecorded::name(), ManualRecorded::schema()),
            (ErrorBody::name(), ErrorBody::schema()),
        ] {
            out.push((name.into_owned(), schema));
        }
        DeleteAnswer::schemas(out);
        ErrorBody::schemas(out);
    }
}

/// A reference to `T`'s component schema.
trait SchemaRef {
    fn schema_ref() -> RefOr<Schema>;
}

impl<T: ToSchema> SchemaRef for T {
    fn schema_ref() -> RefOr<Schema> {
        RefOr::Ref(utoipa::openapi::Ref::from_schema_name(T::name()))
    }
}

/// `{"status",["code"],"posts":[...]}`: a bulk delete.
#[derive(DeriveSerialize, ToSchema, Debug, Clone, PartialEq, Eq)]
pub struct BulkAnswer {
    /// `success` when every id succeeded.
    pub status: &'static str,
    /// 200 on success.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<u16>,
    /// One answer per id, in request order.
    pub posts: Vec<DeleteItem>,
    /// Platforms queued by this request (only when it asked for a queue).
    #[serde(rename = "queuedCount", skip_serializing_if = "Option::is_none")]
    pub queued_count: Option<usize>,
    /// When the queue should have finished them (ISO 8601; only when some were queued).
    #[serde(
        rename = "estimatedCompletion",
        skip_serializing_if = "Option::is_none"
    )]
    pub estimated_completion: Option<String>,
}

/// `deleteAllScheduled`.
#[derive(DeriveSerialize, ToSchema, Debug, Clone, PartialEq, Eq)]
pub struct AllScheduledAnswer {
    /// Always `"success"`.
    pub status: &'static str,
    /// Always 200.
    pub code: u16,
    /// How many were cancelled.
    pub count: usize,
    /// Their ids.
    pub ids: Vec<String>,
}

/// One failed (or possibly live) platform of a publish.
#[derive(DeriveSerialize, ToSchema, Debug, Clone, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct PostError {
    /// Always `"post"`.
    pub action: &'static str,
    /// Always `"error"`.
    pub status: &'static str,
    /// Code.
    #[schema(value_type = ErrorCode)]
    pub code: u32,
    /// For humans.
    pub message: String,
    /// The platform.
    pub platform: String,
    /// `x_credentials_required` with code 419 (publish answers only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<&'static str>,
    /// The network may have published it: postgate keeps it as possibly live.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome_unknown: Option<bool>,
}

/// A published platform in a publish answer (`id`/`postUrl` are `null` when unknown).
#[derive(DeriveSerialize, ToSchema, Debug, Clone, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct PublishedId {
    /// Always `"success"`.
    pub status: &'static str,
    /// The network's post id.
    pub id: Option<String>,
    /// The platform.
    pub platform: String,
    /// Where the post can be seen.
    pub post_url: Option<String>,
}

/// The answer to `POST /api/post`.
#[derive(DeriveSerialize, ToSchema, Debug, Clone, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct PublishAnswer {
    /// `success`, `scheduled` or `error`.
    pub status: &'static str,
    /// Failed platforms.
    pub errors: Vec<PostError>,
    /// Published platforms (publish now only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub post_ids: Option<Vec<PublishedId>>,
    /// The post.
    pub id: String,
    /// When it is to be published (scheduled only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule_date: Option<String>,
    /// The profile.
    pub ref_id: String,
    /// The text.
    pub post: String,
    /// The profile's title, when a `Profile-Key` selected it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile_title: Option<String>,
}

/// `PUT`/`PATCH /api/post`: a post changed.
#[derive(DeriveSerialize, ToSchema, Debug, Clone, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct PostUpdated {
    /// Always `"success"`.
    pub status: &'static str,
    /// The post.
    pub id: String,
    /// The profile.
    pub ref_id: String,
    /// The post's history status afterwards (`pending`, `paused`, `awaiting approval`, or
    /// `success`/`error` once an approval sent it).
    pub post_status: &'static str,
    /// Its text.
    pub post: String,
    /// When it is due.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule_date: Option<String>,
}

/// `{"status","posts":[...]}`: how Ayrshare wraps an answer for a `Profile-Key` request.
#[derive(DeriveSerialize, ToSchema, Debug, Clone, PartialEq, Eq)]
pub struct ProfileWrapped<T> {
    /// The status of the wrapped answer.
    pub status: &'static str,
    /// The answer.
    pub posts: Vec<T>,
}

/// One platform of a stored post.
#[derive(DeriveSerialize, ToSchema, Debug, Clone, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct PostIdView {
    /// `success`, or `error` for a failed publish.
    pub status: &'static str,
    /// The network's post id.
    pub id: Option<String>,
    /// The platform.
    pub platform: String,
    /// Where the post can be seen.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub post_url: Option<String>,
    /// The network's post type (imported).
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub post_type: Option<String>,
    /// The media type (imported).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// postgate extension: where this platform's copy stands, deletion included (`queued`:
    /// its delete waits in the queue).
    pub state: &'static str,
    /// When a queued delete is retried (ISO 8601).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_at: Option<String>,
    /// When it was deleted there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<String>,
    /// The last failure of a platform that is not failed as a whole.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// A stored post (`GET /api/post/{id}`, history items).
#[derive(DeriveSerialize, ToSchema, Debug, Clone, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct PostView {
    /// The post.
    pub id: String,
    /// Its status.
    pub status: &'static str,
    /// The text.
    pub post: String,
    /// Every platform it targets.
    pub platforms: Vec<String>,
    /// The platforms with a network id.
    pub post_ids: Vec<PostIdView>,
    /// Failed publishes, and publishes whose outcome is unknown.
    pub errors: Vec<PostError>,
    /// `now` or `scheduled`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// When it was created.
    pub created: String,
    /// The profile.
    pub ref_id: String,
    /// The profile's title.
    pub profile_title: String,
    /// When it is (or was) to be published.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule_date: Option<String>,
    /// The images it was sent with (absent for a text post).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub media_urls: Vec<String>,
}

/// `GET /api/history`.
#[derive(DeriveSerialize, ToSchema, Debug, Clone, PartialEq, Eq)]
pub struct HistoryAnswer {
    /// Newest first.
    pub history: Vec<PostView>,
}

/// One item of an import.
#[derive(DeriveSerialize, ToSchema, Debug, Clone, PartialEq, Eq)]
pub struct ImportItemAnswer {
    /// `success` or `error`.
    pub status: &'static str,
    /// Its position in the request.
    pub index: usize,
    /// Why it was refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<ErrorCode>)]
    pub code: Option<u32>,
    /// Why it was refused, for humans.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The post's id (as stored, or as sent when refused).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

/// `POST /api/post/import`.
#[derive(DeriveSerialize, ToSchema, Debug, Clone, PartialEq, Eq)]
pub struct ImportAnswer {
    /// `success` when every item was stored.
    pub status: &'static str,
    /// How many were stored.
    pub imported: usize,
    /// How many were refused.
    pub failed: usize,
    /// One answer per item.
    pub posts: Vec<ImportItemAnswer>,
}

/// `GET /health`.
#[derive(DeriveSerialize, ToSchema, Debug, Clone, PartialEq, Eq)]
pub struct HealthAnswer {
    /// Always `"success"`.
    pub status: &'static str,
    /// Always `true` (the process answers).
    pub healthy: bool,
}

/// A profile created.
#[derive(DeriveSerialize, ToSchema, Debug, Clone, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ProfileCreated {
    /// Always `"success"`.
    pub status: &'static str,
    /// Its title.
    pub title: String,
    /// Its id.
    pub ref_id: String,
    /// Its key, shown this once.
    pub profile_key: String,
}

/// `POST /api/profiles/generateJWT`: the linking page's URL for one profile.
#[derive(DeriveSerialize, ToSchema, Debug, Clone, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct GeneratedJwt {
    /// Always `"success"`.
    pub status: &'static str,
    /// The profile's title.
    pub title: String,
    /// The signed, short-lived linking credential.
    pub token: String,
    /// `{server.public_url}/link?jwt=…`, to open in a new tab or window.
    pub url: String,
    /// Always `false`: postgate sends no e-mail.
    pub email_sent: bool,
    /// The lifetime asked for, as Ayrshare writes it (`"5m"`).
    pub expires_in: String,
}

/// One profile of `GET /api/profiles`.
#[derive(DeriveSerialize, ToSchema, Debug, Clone, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ProfileItem {
    /// Always `"active"`.
    pub status: &'static str,
    /// Its title.
    pub title: String,
    /// Its id.
    pub ref_id: String,
    /// Whether it is the API key's primary profile.
    pub primary: bool,
    /// When it was created.
    pub created: String,
    /// When it was created, under Ayrshare's other name (the same ISO-8601 UTC time).
    #[serde(rename = "createdUTC")]
    pub created_utc: String,
    /// Its linked platforms.
    pub active_social_accounts: Vec<String>,
    /// Platforms it may not link or post to (only when some are disabled).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub disable_social: Vec<String>,
    /// Whether the linking page hides its title (only when it does).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub hide_title: bool,
    /// The title the linking page shows instead (only when set).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_title: Option<String>,
}

/// `PATCH /api/profiles`: a profile updated.
#[derive(DeriveSerialize, ToSchema, Debug, Clone, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ProfileUpdated {
    /// Always `"success"`.
    pub status: &'static str,
    /// Its id.
    pub ref_id: String,
}

/// `GET /api/profiles`.
#[derive(DeriveSerialize, ToSchema, Debug, Clone, PartialEq, Eq)]
pub struct ProfileList {
    /// The account's profiles.
    pub profiles: Vec<ProfileItem>,
    /// How many.
    pub count: usize,
}

/// A profile deleted.
#[derive(DeriveSerialize, ToSchema, Debug, Clone, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ProfileDeleted {
    /// Always `"success"`.
    pub status: &'static str,
    /// Its id.
    pub ref_id: String,
    /// Its title.
    pub title: String,
}

/// An account linked.
#[derive(DeriveSerialize, ToSchema, Debug, Clone, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Linked {
    /// Always `"success"`.
    pub status: &'static str,
    /// The platform.
    pub platform: String,
    /// The network's user id (the network's answer, never the caller's claim).
    pub user_id: String,
    /// The user name, `null` when unknown.
    pub username: Option<String>,
    /// The profile.
    pub ref_id: String,
}

/// An account unlinked.
#[derive(DeriveSerialize, ToSchema, Debug, Clone, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Unlinked {
    /// Always `"success"`.
    pub status: &'static str,
    /// The platform.
    pub platform: String,
    /// The profile.
    pub ref_id: String,
}

/// A linked account in `GET /api/user`.
#[derive(DeriveSerialize, ToSchema, Debug, Clone, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct DisplayName {
    /// The platform.
    pub platform: String,
    /// The network's user id.
    pub user_id: String,
    /// The user name, `null` when unknown.
    pub username: Option<String>,
    /// The network's user id again, under Ayrshare's name.
    pub id: String,
    /// The name to show: the handle the network gave at link time (`null` when it gave none).
    pub display_name: Option<String>,
    /// When the token expires (postgate extension), when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_expires_at: Option<String>,
    /// `true` when the token can no longer be used or refreshed: link again (postgate
    /// extension; left out when `false`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub needs_relink: bool,
    /// `true` when the grant lacks the delete permission: deletes will fail (postgate
    /// extension; left out when `false`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub deletes_will_fail: bool,
    /// When it was linked.
    pub created: String,
    /// The account's public page, `null` when the network's adapter knows none.
    pub profile_url: Option<String>,
    /// The account's picture: `null`, postgate does not fetch it.
    pub user_image: Option<String>,
}

/// `GET /api/user`.
#[derive(DeriveSerialize, ToSchema, Debug, Clone, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct UserAnswer {
    /// Linked platforms.
    pub active_social_accounts: Vec<String>,
    /// The linked accounts.
    pub display_names: Vec<DisplayName>,
    /// The profile.
    pub ref_id: String,
    /// Its title.
    pub title: String,
    /// When it was created.
    pub created: String,
    /// Authenticated calls of the API key this UTC month, counted by the store.
    pub monthly_api_calls: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platform_entries_sit_beside_the_fields_in_order() {
        let entry = PlatformDelete {
            action: "delete",
            status: "error",
            retry_at: None,
            failure: Some(Failure {
                retry_after: Some(9),
                ..Failure::new(903, "slow down")
            }),
            already_deleted: None,
            published: None,
            id: Some("5".into()),
            platform: None,
        };
        let answer = DeleteAnswer {
            status: "error",
            code: None,
            id: "P".into(),
            platforms: PlatformMap(vec![("threads".into(), entry.clone())]),
            errors: Some(vec![PlatformDelete {
                platform: Some("threads".into()),
                ..entry
            }]),
        };
        assert_eq!(
            serde_json::to_string(&answer).unwrap(),
            r#"{"status":"error","id":"P","threads":{"action":"delete","status":"error","code":903,"message":"slow down","retryAfter":9,"id":"5"},"errors":[{"action":"delete","status":"error","code":903,"message":"slow down","retryAfter":9,"id":"5","platform":"threads"}]}"#
        );
    }
}

/// `POST /api/hook/webhook`: a webhook registered.
#[derive(DeriveSerialize, ToSchema, Debug, Clone, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct WebhookRegistered {
    /// Always `"success"`.
    pub status: &'static str,
    /// The action.
    pub action: String,
    /// Where deliveries go.
    pub url: String,
    /// The profile.
    pub ref_id: String,
}

/// `DELETE /api/hook/webhook`: a webhook unregistered (also when none was registered).
#[derive(DeriveSerialize, ToSchema, Debug, Clone, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct WebhookUnregistered {
    /// Always `"success"`.
    pub status: &'static str,
    /// The action.
    pub action: String,
    /// The profile.
    pub ref_id: String,
}

/// One registered webhook (its secret is never answered).
#[derive(DeriveSerialize, ToSchema, Debug, Clone, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct WebhookView {
    /// The action.
    pub action: String,
    /// Where deliveries go.
    pub url: String,
    /// Whether deliveries are signed.
    pub signed: bool,
    /// When it was registered.
    pub created: String,
}

/// `GET /api/hook/webhook`: the profile's webhooks, in Ayrshare's shape (one key per
/// registered action, its URL as the value, and `updated`) and postgate's (`webhooks`).
#[derive(DeriveSerialize, ToSchema, Debug, Clone, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct WebhookList {
    /// Always `"success"`.
    pub status: &'static str,
    /// The webhooks, by action.
    pub webhooks: Vec<WebhookView>,
    /// The profile.
    pub ref_id: String,
    /// Ayrshare's keys: action → URL, in the order of `webhooks`. The action names are
    /// registration's fixed list, so they cannot collide with the other fields.
    #[serde(flatten)]
    #[schema(ignore)]
    pub urls: PlatformMap<String>,
    /// When a registration last changed (ISO 8601), absent when there is none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated: Option<String>,
}

/// The `delete` webhook: queued platforms of a post that finished
/// (`{action, id, status, <platform>: {...}}`).
#[derive(DeriveSerialize, ToSchema, Debug, Clone, PartialEq, Eq)]
pub struct DeleteEvent {
    /// Always `"delete"`.
    pub action: &'static str,
    /// The post.
    pub id: String,
    /// `success` when every platform listed is deleted, else `error`.
    pub status: &'static str,
    /// One entry per finished platform, as in a delete answer.
    #[serde(flatten)]
    #[schema(ignore)]
    pub platforms: PlatformMap<PlatformDelete>,
}
