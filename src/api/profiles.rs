//! Profiles (Ayrshare-compatible), linked accounts (postgate extension) and `GET /api/user`.

use super::answers::{
    DisplayName, Failure, GeneratedJwt, Linked, ProfileCreated, ProfileDeleted, ProfileItem,
    ProfileList, ProfileUpdated, Unlinked, UserAnswer,
};
use super::auth::Caller;
use super::error::{code_for, codes, ApiError};
use super::{json_body, json_response, AppState};
use crate::domain::{DeleteFailure, ErrorKind, Platform};
use crate::keys::{generate_key, hash_key_hex};
use crate::networks::link_flows::THREADS_DELETE_SCOPE;
use crate::networks::{AuthCode, Network, NetworkError};
use crate::service::linking::MAX_EXPIRES_MINUTES;
use crate::store::{LinkedAccount, Profile, StoreError};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{SecondsFormat, Utc};
use serde::Deserialize;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct CreateProfile {
    title: String,
    #[serde(default)]
    disable_social: Option<Vec<String>>,
    #[serde(default)]
    hide_title: Option<bool>,
    #[serde(default)]
    display_title: Option<String>,
}

/// Longest profile title accepted.
pub const MAX_TITLE_CHARS: usize = 1000;

/// A title as stored: trimmed, not empty, at most [`MAX_TITLE_CHARS`], no control characters.
fn valid_title(field: &str, raw: &str) -> Result<String, ApiError> {
    let title = raw.trim().to_owned();
    if title.is_empty() {
        return Err(ApiError::invalid(
            "profile",
            format!("Field '{field}' must not be empty."),
        ));
    }
    if title.chars().count() > MAX_TITLE_CHARS || title.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            "profile",
            format!("Field '{field}' must be at most {MAX_TITLE_CHARS} characters, without control characters."),
        ));
    }
    Ok(title)
}

/// `disableSocial`: Ayrshare platform names, without duplicates; `[]` enables every one.
fn valid_disable_social(names: Vec<String>) -> Result<Vec<Platform>, ApiError> {
    let mut out: Vec<Platform> = Vec::new();
    for name in &names {
        let Some(p) = Platform::parse(name) else {
            return Err(ApiError::invalid(
                "profile",
                format!(
                    "Field 'disableSocial' has an unknown platform name {:?}. Known names: {}.",
                    name.chars().take(40).collect::<String>(),
                    Platform::AYRSHARE_NAMES.join(", ")
                ),
            ));
        };
        if !out.contains(&p) {
            out.push(p);
        }
    }
    Ok(out)
}

fn title_taken(t: String) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "profile",
        codes::TITLE_TAKEN,
        format!("Profile title already exists: {t}"),
    )
}

/// `POST /api/profiles` (and the older `/api/profiles/profile`, the Python SDK's
/// `/api/profiles/create-profile`).
#[utoipa::path(
    post,
    path = "/api/profiles",
    tag = "ayrshare",
    description = "Creates a profile; its key is answered this once.",
    request_body(content = CreateProfile, content_type = "application/json"),
    responses((status = 200, description = "Created", body = super::answers::ProfileCreated))
)]
pub async fn create_profile(
    state: web::Data<AppState>,
    caller: Caller,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body: CreateProfile = json_body(&state, "profile", payload).await?;
    let title = valid_title("title", &body.title)?;
    let disabled_social = valid_disable_social(body.disable_social.unwrap_or_default())?;
    let display_title = match body.display_title.filter(|t| !t.trim().is_empty()) {
        Some(t) => Some(valid_title("displayTitle", &t)?),
        None => None,
    };
    let profile_key = generate_key(4);
    let profile = Profile {
        id: hex::encode(rand::random::<[u8; 16]>()).into(),
        account_id: caller.account_id.clone(),
        title: title.clone(),
        primary: false,
        key_hash: Some(hash_key_hex(&profile_key)),
        created: Utc::now(),
        disabled_social,
        hide_title: body.hide_title.unwrap_or(false),
        display_title,
    };
    match state.store.create_profile(profile).await {
        Ok(p) => Ok(json_response(
            StatusCode::OK,
            &ProfileCreated {
                status: "success",
                title: p.title,
                ref_id: p.id.into(),
                profile_key,
            },
        )),
        Err(StoreError::TitleTaken(t)) => Err(title_taken(t)),
        Err(e) => Err(e.into()),
    }
}

/// `GET /api/profiles`, optionally only the profiles named by `profileKeys[0]=…&…` (also
/// `profileKeys=…` or `profileKey=…`); a key that names no profile of the account is left
/// out, as another account's key is.
#[utoipa::path(
    get,
    path = "/api/profiles",
    tag = "ayrshare",
    description = "The account's profiles.",
    responses((status = 200, description = "The profiles", body = super::answers::ProfileList))
)]
pub async fn list_profiles(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let pairs: Vec<(String, String)> =
        web::Query::<Vec<(String, String)>>::from_query(req.query_string())
            .map(|q| q.into_inner())
            .unwrap_or_default();
    let wanted: Option<Vec<String>> = {
        let keys: Vec<String> = pairs
            .iter()
            .filter(|(k, _)| {
                k == "profileKey"
                    || k == "profileKeys"
                    || k == "profileKeys[]"
                    || (k.starts_with("profileKeys[") && k.ends_with(']'))
            })
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
            .map(hash_key_hex)
            .collect();
        (!keys.is_empty()).then_some(keys)
    };
    let mut profiles = Vec::new();
    for p in state.store.list_profiles(&caller.account_id).await? {
        if let Some(wanted) = &wanted {
            if !p.key_hash.as_ref().is_some_and(|h| wanted.contains(h)) {
                continue;
            }
        }
        let active: Vec<String> = state
            .store
            .linked_accounts(&p.id)
            .await?
            .into_iter()
            .map(|a| a.platform.as_str().to_owned())
            .collect();
        let created = p.created.to_rfc3339_opts(SecondsFormat::Secs, true);
        profiles.push(ProfileItem {
            status: "active",
            title: p.title,
            ref_id: p.id.into(),
            primary: p.primary,
            created_utc: created.clone(),
            created,
            active_social_accounts: active,
            disable_social: p
                .disabled_social
                .iter()
                .map(|p| p.as_str().to_owned())
                .collect(),
            hide_title: p.hide_title,
            display_title: p.display_title,
        });
    }
    Ok(json_response(
        StatusCode::OK,
        &ProfileList {
            count: profiles.len(),
            profiles,
        },
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct UpdateProfile {
    #[serde(default)]
    profile_key: Option<String>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    disable_social: Option<Vec<String>>,
    #[serde(default)]
    hide_title: Option<bool>,
    #[serde(default)]
    display_title: Option<String>,
}

/// The profile a profile request names: `profileKey` in the body, else the `Profile-Key`
/// header's; one of another account answers like an unknown one.
async fn named_profile(
    state: &AppState,
    caller: &Caller,
    body_key: Option<String>,
    verb: &str,
) -> Result<Profile, ApiError> {
    let target = match body_key.filter(|k| !k.trim().is_empty()) {
        Some(k) => state
            .store
            .profile_by_key_hash(&hash_key_hex(k.trim()))
            .await?
            .filter(|p| p.account_id == caller.account_id),
        None if caller.via_profile_key => Some(caller.profile.clone()),
        None => {
            return Err(ApiError::invalid(
                "profile",
                format!("Send the profile to {verb} as 'profileKey' in the body or as the Profile-Key header."),
            ))
        }
    };
    target.ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "profile",
            codes::PROFILE_NOT_FOUND,
            "Profile not found.",
        )
    })
}

/// `PATCH /api/profiles {"profileKey", "title"?, "disableSocial"?, "hideTitle"?,
/// "displayTitle"?}`: fields left out stay as they are; `disableSocial` replaces the list.
#[utoipa::path(
    patch,
    path = "/api/profiles",
    tag = "ayrshare",
    description = "Changes a profile's title, disabled platforms or title display.",
    request_body(content = UpdateProfile, content_type = "application/json"),
    responses(
        (status = 200, description = "Updated", body = super::answers::ProfileUpdated),
        (status = 404, description = "No such profile", body = super::answers::ErrorBody),
    )
)]
pub async fn update_profile(
    state: web::Data<AppState>,
    caller: Caller,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body: UpdateProfile = json_body(&state, "profile", payload).await?;
    let mut profile = named_profile(&state, &caller, body.profile_key, "update").await?;
    if let Some(t) = body.title {
        profile.title = valid_title("title", &t)?;
    }
    if let Some(names) = body.disable_social {
        profile.disabled_social = valid_disable_social(names)?;
    }
    if let Some(h) = body.hide_title {
        profile.hide_title = h;
    }
    if let Some(t) = body.display_title {
        profile.display_title = if t.trim().is_empty() {
            None
        } else {
            Some(valid_title("displayTitle", &t)?)
        };
    }
    match state.store.update_profile(&profile).await {
        Ok(true) => {}
        // Deleted meanwhile.
        Ok(false) => {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "profile",
                codes::PROFILE_NOT_FOUND,
                "Profile not found.",
            ))
        }
        Err(StoreError::TitleTaken(t)) => return Err(title_taken(t)),
        Err(e) => return Err(e.into()),
    }
    state.store.flush().await?;
    Ok(json_response(
        StatusCode::OK,
        &ProfileUpdated {
            status: "success",
            ref_id: profile.id.into(),
        },
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
struct DeleteProfile {
    #[serde(rename = "profileKey")]
    profile_key: Option<String>,
}

/// `DELETE /api/profiles/profile {"profileKey"}` (or the `Profile-Key` header).
#[utoipa::path(
    delete,
    path = "/api/profiles",
    tag = "ayrshare",
    description = "Deletes a profile (`profileKey` in the body, or the `Profile-Key` header).",
    request_body(content = DeleteProfile, content_type = "application/json"),
    responses(
        (status = 200, description = "Deleted", body = super::answers::ProfileDeleted),
        (status = 404, description = "No such profile (code 912)", body = super::answers::ErrorBody),
    )
)]
pub async fn delete_profile(
    state: web::Data<AppState>,
    caller: Caller,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let bytes = super::read_body(payload, state.body_limit).await?;
    let body: DeleteProfile = if bytes.iter().all(u8::is_ascii_whitespace) {
        DeleteProfile { profile_key: None }
    } else {
        super::parse_json("profile", &bytes)?
    };
    let target = named_profile(&state, &caller, body.profile_key, "delete").await?;
    state.store.delete_profile(&target.id).await?;
    Ok(json_response(
        StatusCode::OK,
        &ProfileDeleted {
            status: "success",
            ref_id: target.id.into(),
            title: target.title,
        },
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct LinkSocial {
    platform: String,
    #[serde(default)]
    user_id: Option<String>,
    #[serde(default)]
    access_token: Option<String>,
    #[serde(default)]
    access_token_secret: Option<String>,
    #[serde(default)]
    username: Option<String>,
    /// For networks that link with a password: the account's handle.
    #[serde(default)]
    handle: Option<String>,
    /// For networks that link with a password: an app password (never stored).
    #[serde(default)]
    app_password: Option<String>,
}

/// The answer to a link whose identity check failed: nothing was stored.
fn identity_error(platform: &Platform, e: NetworkError, auth: AuthCode) -> ApiError {
    let name = platform.display_name();
    let failure = DeleteFailure::from(e);
    let code = code_for(ErrorKind::from(&failure), auth, "link");
    let (status, message) = match &failure {
        DeleteFailure::Auth(m) => (
            StatusCode::BAD_REQUEST,
            format!("{name} refused the token: {m}. Nothing was linked; link a valid token."),
        ),
        DeleteFailure::NoXCredentials => (
            StatusCode::BAD_REQUEST,
            "X/Twitter requires your own API credentials to verify the account: send the X-Twitter-OAuth1-Api-Key and X-Twitter-OAuth1-Api-Secret headers, or set x.consumer_key and x.consumer_secret in the gateway's settings. Nothing was linked.".into(),
        ),
        DeleteFailure::RateLimited { message, retry_after } => (
            StatusCode::TOO_MANY_REQUESTS,
            format!("{name} rate limit while verifying the account: {message}. Retry after {retry_after} seconds; nothing was linked."),
        ),
        DeleteFailure::Rejected(m) => (
            StatusCode::BAD_REQUEST,
            format!("{name} refused the identity check: {m}. Nothing was linked."),
        ),
        DeleteFailure::Timeout(m) => (
            StatusCode::GATEWAY_TIMEOUT,
            format!("{m} while verifying the account; nothing was linked, retry."),
        ),
        other => (
            StatusCode::BAD_GATEWAY,
            format!("{name} could not verify the account ({}); nothing was linked, retry.", describe(other)),
        ),
    };
    let mut out = Failure::new(code, message);
    match failure {
        DeleteFailure::RateLimited { retry_after, .. } => out.retry_after = Some(retry_after),
        DeleteFailure::NoXCredentials => out.error = Some("x_credentials_required"),
        DeleteFailure::Transient(_) | DeleteFailure::Timeout(_) => out.retry_available = Some(true),
        _ => {}
    }
    ApiError::from_failure(status, "social", out)
}

fn describe(f: &DeleteFailure) -> String {
    match f {
        DeleteFailure::Transient(m) | DeleteFailure::Ambiguous(m) => m.clone(),
        other => format!("{other:?}"),
    }
}

/// `POST /api/profiles/social` — links a Threads, X or Bluesky account (postgate extension).
///
/// The account linked is the network's answer to "whose token is this?" (Threads `GET /me`,
/// X `GET /2/users/me`, Bluesky's `createSession` for a handle and app password): a `userId`
/// that does not match is refused (925), an omitted one is taken from the network, and
/// nothing is stored unless the network confirmed the credentials.
#[utoipa::path(
    post,
    path = "/api/profiles/social",
    tag = "postgate",
    description = "Links a network account to the profile after the network confirmed whose credentials they are (postgate extension).",
    request_body(content = LinkSocial, content_type = "application/json"),
    responses(
        (status = 200, description = "Linked", body = super::answers::Linked),
        (status = 404, description = "No such profile", body = super::answers::ErrorBody),
        (status = 429, description = "The network's rate limit while verifying the account", body = super::answers::ErrorBody),
        (status = 502, description = "The network could not verify the account; nothing was linked", body = super::answers::ErrorBody),
        (status = 504, description = "The network did not answer in time; nothing was linked", body = super::answers::ErrorBody),
    )
)]
pub async fn link_social(
    state: web::Data<AppState>,
    caller: Caller,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body: LinkSocial = json_body(&state, "social", payload).await?;
    let platform = Platform::from(body.platform.as_str());
    let Some(network) = state.networks.get(&platform) else {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "social",
            codes::PLATFORM_UNSUPPORTED,
            format!(
                "Platform '{}' cannot be linked: this gateway supports {}.",
                body.platform,
                state.networks.names("'")
            ),
        ));
    };
    if caller.profile.disables(&platform) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "social",
            codes::SOCIAL_DISABLED,
            format!(
                "{} is disabled for this profile (disableSocial): it cannot be linked. Enable it with PATCH /api/profiles first.",
                platform.display_name()
            ),
        ));
    }
    if network.links_with_password() {
        return link_with_password(&state, &caller, network.as_ref(), &platform, body).await;
    }
    let access_token = body.access_token.as_deref().map(str::trim).unwrap_or("");
    if access_token.is_empty() {
        return Err(ApiError::invalid(
            "social",
            "Field 'accessToken' must not be empty.",
        ));
    }
    let claimed = match body.user_id.as_deref().map(str::trim) {
        Some("") => {
            return Err(ApiError::invalid(
                "social",
                "Field 'userId' must not be empty (omit it to take the token's account).",
            ))
        }
        other => other.map(str::to_owned),
    };
    let secret = body.access_token_secret.filter(|s| !s.trim().is_empty());
    if network.link_needs_token_secret() && secret.is_none() {
        return Err(ApiError::invalid(
            "social",
            format!(
                "Field 'accessTokenSecret' is required for {} (OAuth 1.0a user context).",
                platform.as_str()
            ),
        ));
    }
    let mut account = LinkedAccount {
        platform: platform.clone(),
        user_id: String::new(),
        access_token: access_token.to_owned(),
        access_token_secret: secret.map(|s| s.trim().to_owned()),
        username: body.username.filter(|u| !u.trim().is_empty()),
        linked_at: Utc::now(),
        life: Default::default(),
    };
    let me = network
        .whoami(&account, &caller.call_context(&state))
        .await
        .map_err(|e| identity_error(&platform, e, network.auth_code()))?;
    if let Some(claimed) = claimed.filter(|c| *c != me.user_id) {
        tracing::warn!(platform = %platform, profile = %caller.profile.id, "link refused: userId does not match the token's account");
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "social",
            codes::USER_ID_MISMATCH,
            format!(
                "userId does not match the token's account: the {} token belongs to user {}, not {}. Nothing was linked.",
                platform.display_name(),
                me.user_id,
                claimed.chars().take(40).collect::<String>()
            ),
        ));
    }
    account.user_id = me.user_id;
    if account.username.is_none() {
        account.username = me.username;
    }
    store_link(&state, &caller, account).await
}

/// Stores a verified account and answers the link.
async fn store_link(
    state: &AppState,
    caller: &Caller,
    account: LinkedAccount,
) -> Result<HttpResponse, ApiError> {
    let platform = account.platform.clone();
    let user_id = account.user_id.clone();
    let username = account.username.clone();
    state
        .store
        .link_account(&caller.profile.id, account)
        .await?;
    tracing::info!(platform = %platform, profile = %caller.profile.id, "account linked");
    super::hook::emit_social(
        state,
        &caller.profile.id,
        platform.as_str(),
        "link",
        username.as_deref(),
    )
    .await;
    Ok(json_response(
        StatusCode::OK,
        &Linked {
            status: "success",
            platform: platform.as_str().to_owned(),
            user_id,
            username,
            ref_id: caller.profile.id.to_string(),
        },
    ))
}

/// Links an account of a network that signs in with a handle (or `userId`) and an app
/// password: the network's session is the account (its user id, its handle), its tokens are
/// stored, the password is not — it is needed only to start a session, and a lost session
/// is re-linked with a new one.
async fn link_with_password(
    state: &AppState,
    caller: &Caller,
    network: &dyn Network,
    platform: &Platform,
    body: LinkSocial,
) -> Result<HttpResponse, ApiError> {
    let trimmed = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    let claimed = trimmed(&body.user_id);
    let Some(identifier) = trimmed(&body.handle).or_else(|| claimed.clone()) else {
        return Err(ApiError::invalid(
            "social",
            format!(
                "Field 'handle' (or 'userId') is required for {}.",
                platform.as_str()
            ),
        ));
    };
    let Some(password) = body.app_password.filter(|p| !p.trim().is_empty()) else {
        return Err(ApiError::invalid(
            "social",
            format!(
                "Field 'appPassword' is required for {} (create one in the app's settings).",
                platform.as_str()
            ),
        ));
    };
    let signed_in = network
        .sign_in(&identifier, password.trim(), &caller.call_context(state))
        .await
        .map_err(|e| identity_error(platform, e, network.auth_code()))?;
    let me = signed_in.identity;
    let matches = |c: &String| *c == me.user_id || me.username.as_ref() == Some(c);
    if let Some(claimed) = claimed.filter(|c| !matches(c)) {
        tracing::warn!(platform = %platform, profile = %caller.profile.id, "link refused: userId does not match the session's account");
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "social",
            codes::USER_ID_MISMATCH,
            format!(
                "userId does not match the account that signed in: the {} session belongs to user {}, not {}. Nothing was linked.",
                platform.display_name(),
                me.user_id,
                claimed.chars().take(40).collect::<String>()
            ),
        ));
    }
    let account = LinkedAccount {
        platform: platform.clone(),
        user_id: me.user_id,
        access_token: signed_in.access_token,
        access_token_secret: signed_in.refresh_token,
        username: me.username,
        linked_at: Utc::now(),
        life: Default::default(),
    };
    store_link(state, caller, account).await
}

#[derive(Deserialize, utoipa::ToSchema)]
struct UnlinkSocial {
    platform: String,
}

/// `DELETE /api/profiles/social {"platform"}`: 200 whether or not the platform was linked;
/// a name that is no Ayrshare platform at all is refused (902).
#[utoipa::path(
    delete,
    path = "/api/profiles/social",
    tag = "postgate",
    description = "Unlinks the profile's account of a platform (postgate extension).",
    request_body(content = UnlinkSocial, content_type = "application/json"),
    responses(
        (status = 200, description = "Unlinked", body = super::answers::Unlinked),
        (status = 400, description = "Not an Ayrshare platform (902)", body = super::answers::ErrorBody),
    )
)]
pub async fn unlink_social(
    state: web::Data<AppState>,
    caller: Caller,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body: UnlinkSocial = json_body(&state, "social", payload).await?;
    let Some(platform) = Platform::parse(&body.platform) else {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "social",
            codes::PLATFORM_UNSUPPORTED,
            format!(
                "'platform' is not an Ayrshare platform name: {:?} (known: {}, or x for twitter).",
                body.platform.chars().take(40).collect::<String>(),
                Platform::AYRSHARE_NAMES.join(", ")
            ),
        ));
    };
    // Ayrshare's rule: unlinking what is not linked succeeds (the end state is the one asked
    // for), with the same body; only a real unlink is a `social` event.
    if state
        .store
        .unlink_account(&caller.profile.id, &platform)
        .await?
    {
        super::hook::emit_social(
            &state,
            &caller.profile.id,
            platform.as_str(),
            "unlink",
            None,
        )
        .await;
    }
    Ok(json_response(
        StatusCode::OK,
        &Unlinked {
            status: "success",
            platform: platform.as_str().to_owned(),
            ref_id: caller.profile.id.to_string(),
        },
    ))
}

/// `GET /api/user` (`instagramQuota`, `validate` and other query parameters are accepted
/// and ignored).
#[utoipa::path(
    get,
    path = "/api/user",
    tag = "ayrshare",
    description = "The profile and its linked accounts.",
    responses((status = 200, description = "The profile", body = super::answers::UserAnswer))
)]
pub async fn user(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, ApiError> {
    let accounts = state.store.linked_accounts(&caller.profile.id).await?;
    let monthly_api_calls = state
        .call_counts
        .total(&super::auth::monthly_calls_counter(
            &caller.account_id,
            Utc::now(),
        ))
        .await?;
    let now = Utc::now();
    Ok(json_response(
        StatusCode::OK,
        &UserAnswer {
            active_social_accounts: accounts
                .iter()
                .map(|a| a.platform.as_str().to_owned())
                .collect(),
            display_names: accounts
                .into_iter()
                .map(|a| DisplayName {
                    platform: a.platform.as_str().to_owned(),
                    id: a.user_id.clone(),
                    display_name: a.username.clone(),
                    profile_url: state.networks.profile_url(&a),
                    created: a.linked_at.to_rfc3339_opts(SecondsFormat::Secs, true),
                    user_image: None,
                    user_id: a.user_id,
                    username: a.username,
                    token_expires_at: a
                        .life
                        .expires_at
                        .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true)),
                    needs_relink: a.life.needs_relink
                        || a.life.expires_at.is_some_and(|e| e <= now),
                    deletes_will_fail: a.platform == Platform::Threads
                        && a.life.lacks_scope(THREADS_DELETE_SCOPE),
                })
                .collect(),
            ref_id: caller.profile.id.to_string(),
            title: caller.profile.title.clone(),
            created: caller
                .profile
                .created
                .to_rfc3339_opts(SecondsFormat::Secs, true),
            monthly_api_calls,
        },
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct GenerateJwt {
    #[serde(default)]
    profile_key: Option<String>,
    #[serde(default)]
    redirect: Option<String>,
    #[serde(default)]
    allowed_social: Option<Vec<String>>,
    /// Minutes (1 to the maximum), as a number or a numeric string; default 5.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    expires_in: Option<serde_json::Value>,
    // `domain`, `privateKey`, `logout`, `base64`, `verify`, `email` and anything else are
    // accepted and ignored: a self-hosted gateway signs with its own secret and sends no mail.
}

/// `POST /api/profiles/generateJWT` — the linking page's URL for one profile (Ayrshare's
/// `profileKey` in the body, else the `Profile-Key` header, else the primary profile).
#[utoipa::path(
    post,
    path = "/api/profiles/generateJWT",
    tag = "ayrshare",
    description = "The linking page's URL for one profile.",
    request_body(content = GenerateJwt, content_type = "application/json"),
    responses(
        (status = 200, description = "The URL", body = super::answers::GeneratedJwt),
        (status = 404, description = "No such profile", body = super::answers::ErrorBody),
    )
)]
pub async fn generate_jwt(
    state: web::Data<AppState>,
    caller: Caller,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body: GenerateJwt = json_body(&state, "generateJWT", payload).await?;
    let minutes = match &body.expires_in {
        None | Some(serde_json::Value::Null) => 5,
        Some(v) => match v.as_u64().or_else(|| v.as_str().and_then(|s| s.trim().parse().ok())) {
            Some(m) if (1..=u64::from(MAX_EXPIRES_MINUTES)).contains(&m) => m as u32,
            _ => {
                return Err(ApiError::invalid(
                    "generateJWT",
                    format!("Field 'expiresIn' must be a whole number of minutes from 1 to {MAX_EXPIRES_MINUTES}."),
                ))
            }
        },
    };
    let redirect = body.redirect.filter(|r| !r.trim().is_empty());
    if let Some(r) = &redirect {
        if !matches!(reqwest::Url::parse(r.trim()), Ok(u) if u.scheme() == "http" || u.scheme() == "https")
        {
            return Err(ApiError::invalid(
                "generateJWT",
                "Field 'redirect' must be an http(s) URL.",
            ));
        }
    }
    let profile = match body.profile_key.filter(|k| !k.trim().is_empty()) {
        Some(k) => state
            .store
            .profile_by_key_hash(&hash_key_hex(k.trim()))
            .await?
            .filter(|p| p.account_id == caller.account_id)
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::NOT_FOUND,
                    "generateJWT",
                    codes::PROFILE_NOT_FOUND,
                    "Profile not found.",
                )
            })?,
        None => caller.profile.clone(),
    };
    let (token, url) = state.linking.issue(
        &profile,
        minutes,
        redirect.map(|r| r.trim().to_owned()),
        body.allowed_social,
        Utc::now(),
    );
    Ok(json_response(
        StatusCode::OK,
        &GeneratedJwt {
            status: "success",
            title: profile.title,
            token,
            url,
            email_sent: false,
            expires_in: format!("{minutes}m"),
        },
    ))
}
