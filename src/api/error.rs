//! Ayrshare-style errors: `{"action","status":"error","code","message"}` with the HTTP status
//! Ayrshare uses. Every code postgate answers is listed here (and in the README's table).

use super::answers::{ErrorBody, Failure};
use crate::domain::ErrorKind;
use crate::networks::AuthCode;
use crate::store::StoreError;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use std::fmt;

/// Ayrshare and postgate codes.
pub mod codes {
    /// Declares each code as a constant and lists them all in [`ALL`], so a code cannot be
    /// added without reaching the OpenAPI document.
    macro_rules! codes {
        ($($(#[doc = $doc:literal])+ $name:ident = $value:literal;)+) => {
            $($(#[doc = $doc])+ pub const $name: u32 = $value;)+

            /// Every code the gateway answers with: (code, constant name, meaning — the
            /// constant's doc comment). The OpenAPI document's `ErrorCode` enum is built from
            /// it.
            pub const ALL: &[(u32, &str, &str)] =
                &[$(($value, stringify!($name), concat!($($doc),+))),+];
        };
    }

    codes! {
        /// Ayrshare: API key missing or not valid.
        API_KEY = 102;
        /// Ayrshare: the network refused the post as a duplicate ("Status is a duplicate.").
        DUPLICATE_STATUS = 110;
        /// Ayrshare: delete id not found.
        DELETE_NOT_FOUND = 114;
        /// Ayrshare: profile title already exists.
        TITLE_TAKEN = 146;
        /// Ayrshare: the network is not linked.
        NOT_LINKED = 156;
        /// Ayrshare: X/Twitter authorization issue (re-link).
        X_AUTH = 272;
        /// Ayrshare: markManualDeleted, but the post is still at the network.
        NOT_MANUALLY_DELETED = 382;
        /// Ayrshare: the post is already deleted.
        ALREADY_DELETED = 383;
        /// Ayrshare: X BYO credentials required.
        X_CREDENTIALS_REQUIRED = 419;
        /// postgate: the network's API cannot delete this post (Instagram, TikTok, FB image story).
        DELETE_UNSUPPORTED = 901;
        /// postgate: no adapter for this platform.
        PLATFORM_UNSUPPORTED = 902;
        /// postgate: rate limited (postgate's count or the network's), see `retryAfter`.
        RATE_LIMITED = 903;
        /// postgate: passing network failure; retrying may work.
        NETWORK_TRANSIENT = 904;
        /// postgate: the network did not answer in time.
        NETWORK_TIMEOUT = 905;
        /// postgate: the network refused the request.
        NETWORK_REJECTED = 906;
        /// postgate: Threads token invalid, expired or missing a permission.
        THREADS_AUTH = 907;
        /// postgate: the network's answer does not say whether the post is gone.
        NETWORK_AMBIGUOUS = 908;
        /// postgate: malformed request (bad JSON, wrong type, missing or invalid field).
        INVALID_REQUEST = 909;
        /// postgate: request body too large.
        BODY_TOO_LARGE = 910;
        /// postgate: Profile-Key not valid for this API key.
        PROFILE_KEY = 911;
        /// postgate: profile not found.
        PROFILE_NOT_FOUND = 912;
        /// postgate: import item rejected (malformed).
        IMPORT_ITEM = 913;
        /// postgate: no such route / method.
        ROUTE = 914;
        /// postgate: internal error (details in the gateway's log).
        INTERNAL = 915;
        /// postgate: a post with this id exists already (import).
        DUPLICATE_ID = 917;
        /// postgate: too many items in one request.
        TOO_MANY = 919;
        /// postgate: post not found (read).
        POST_NOT_FOUND = 920;
        /// postgate: text too long or empty for a network / publish validation.
        POST_INVALID = 921;
        /// postgate: the network failed to publish.
        PUBLISH_FAILED = 922;
        /// postgate: X BYO headers: only one of key and secret sent.
        X_BYO_HALF = 923;
        /// postgate: network-side history (`GET /api/history/{platform}`) is not supported.
        HISTORY_UNSUPPORTED = 924;
        /// postgate: the publish request reached the network but its answer was lost or unclear
        /// (timeout, 5xx, dropped connection): the post may be live. Do not post again; read
        /// the post (`GET /api/post/{id}`) to have it checked.
        PUBLISH_OUTCOME_UNKNOWN = 930;
        /// postgate: a request with this `idempotencyKey` is still publishing, or was interrupted
        /// before its outcome was recorded; the answer names the post (`id`). Nothing is sent again.
        IDEMPOTENCY_IN_PROGRESS = 931;
        /// postgate: linking, the `userId` sent is not the account the token belongs to.
        USER_ID_MISMATCH = 925;
        /// postgate: a `mediaUrls` entry cannot be used (not https, a private address, not
        /// downloadable in time, too large, not an image type).
        MEDIA_INVALID = 950;
        /// postgate: more images than a platform takes on one post.
        MEDIA_TOO_MANY = 951;
        /// postgate: a video URL (this gateway publishes images only).
        MEDIA_VIDEO = 952;
        /// postgate: the profile disabled this platform (`disableSocial`): it cannot be linked
        /// or posted to (deletes of existing posts still work).
        SOCIAL_DISABLED = 940;
        /// postgate: the post cannot change that way in its state (its text once published, an
        /// approval of a post that awaits none, a pause of a post that is not scheduled).
        POST_NOT_EDITABLE = 941;
        /// postgate: `PUT /api/post/retry` on a post with no failed platform to publish again.
        NOTHING_TO_RETRY = 942;
    }
}

/// The code of a failure class, for `action` (`"post"` or `"delete"`); `auth` is how the
/// platform's network reports authorization failures ([`crate::networks::Networks::auth_code`]).
pub fn code_for(kind: ErrorKind, auth: AuthCode, action: &str) -> u32 {
    match kind {
        ErrorKind::Unsupported if action == "delete" => codes::DELETE_UNSUPPORTED,
        ErrorKind::Unsupported | ErrorKind::NoAdapter => codes::PLATFORM_UNSUPPORTED,
        ErrorKind::NotLinked => codes::NOT_LINKED,
        ErrorKind::NoXCredentials => codes::X_CREDENTIALS_REQUIRED,
        ErrorKind::RateLimited => codes::RATE_LIMITED,
        ErrorKind::Auth => match auth {
            AuthCode::XRelink => codes::X_AUTH,
            AuthCode::Token => codes::THREADS_AUTH,
        },
        ErrorKind::Transient => codes::NETWORK_TRANSIENT,
        ErrorKind::Timeout => codes::NETWORK_TIMEOUT,
        ErrorKind::Ambiguous => codes::NETWORK_AMBIGUOUS,
        ErrorKind::OutcomeUnknown => codes::PUBLISH_OUTCOME_UNKNOWN,
        ErrorKind::Duplicate => codes::DUPLICATE_STATUS,
        ErrorKind::Disabled => codes::SOCIAL_DISABLED,
        ErrorKind::Rejected if action == "post" => codes::PUBLISH_FAILED,
        ErrorKind::Rejected => codes::NETWORK_REJECTED,
    }
}

/// An error answer: an HTTP status and an [`ErrorBody`].
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    // Boxed: handlers return `Result<_, ApiError>` everywhere; the error path stays small.
    body: Box<ErrorBody>,
}

impl ApiError {
    /// `{"action", "status":"error", "code", "message"}` with `status`.
    pub fn new(status: StatusCode, action: &str, code: u32, message: impl Into<String>) -> Self {
        Self::from_failure(status, action, Failure::new(code, message))
    }

    /// An error whose failure carries retry hints.
    pub fn from_failure(status: StatusCode, action: &str, failure: Failure) -> Self {
        Self {
            status,
            body: Box::new(ErrorBody::new(action, failure)),
        }
    }

    /// The same error about the post (or id as sent) `id`.
    pub fn with_id(mut self, id: impl Into<String>) -> Self {
        self.body.id = Some(id.into());
        self
    }

    /// The same error about `platform`.
    pub fn with_platform(mut self, platform: impl Into<String>) -> Self {
        self.body.platform = Some(platform.into());
        self
    }

    /// The same error naming the idempotency key it is about.
    pub fn with_idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.body.idempotency_key = Some(key.into());
        self
    }

    /// A 400 validation error naming what is wrong.
    pub fn invalid(action: &str, message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            action,
            codes::INVALID_REQUEST,
            message,
        )
    }

    /// No `Authorization` header (Ayrshare answers 403 / code 102).
    pub fn missing_api_key() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "authorization",
            codes::API_KEY,
            "API Key not valid. Send the API Key of the Primary Profile as 'Authorization: Bearer API_KEY'.",
        )
    }

    /// A key that is not one of ours (401, as Ayrshare's HTTP error page says).
    pub fn invalid_api_key() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "authorization",
            codes::API_KEY,
            "API Key not valid.",
        )
    }

    /// A `Profile-Key` unknown, deleted, or of another account.
    pub fn invalid_profile_key() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "authorization",
            codes::PROFILE_KEY,
            "Profile-Key not valid for this API Key.",
        )
    }

    /// Only one of the two X BYO headers was sent.
    pub fn x_byo_half() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "authorization",
            codes::X_BYO_HALF,
            "Send both X-Twitter-OAuth1-Api-Key and X-Twitter-OAuth1-Api-Secret, or neither.",
        )
    }

    /// The body as answered.
    pub fn body(&self) -> &ErrorBody {
        &self.body
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.status.as_u16(), self.body.failure.message)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        super::json_response(self.status, self.body.as_ref())
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        // The cause goes to the log; the client gets a stable message.
        tracing::error!(error = %e, "store failure");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            codes::INTERNAL,
            "Internal error: the gateway's store failed. The details are in the gateway's log.",
        )
    }
}
