//! `GET /api/history` and `GET /api/history/{id}`: the profile's posts in Ayrshare's shape.
//!
//! `GET /api/history` answers `{"history": [...]}`, newest first, each item as
//! `GET /api/post/:id` renders it. Query parameters (others, such as the SDKs' `source`, are
//! ignored):
//! - `lastRecords` / `limit`: how many posts (default 25, at most 1000);
//! - `lastDays`: only posts created in the last N days (default 30; `0` = all);
//! - `status`: only posts of that status (`success`, `error`, `pending` or `scheduled`,
//!   `processing`, `deleted`); without it, deleted posts are left out, as in Ayrshare;
//! - `type`: `immediate` (or `now`) / `scheduled`;
//! - `platform`, `platform[]`, `platform[N]` (comma-separated values too): posts on any of them;
//! - `startDate` / `endDate`: ISO-8601 bounds on the creation date.
//!
//! `GET /api/history/{platform}` is Ayrshare's history read from the network itself (the
//! Node SDK calls `/history/twitter,threads` for `history({platform})`); postgate does not
//! read networks, and says so with code 924 instead of answering as if it were a post id.

use super::error::{codes, ApiError};
use super::posts::{owned_post, render_post};
use super::publish::is_ayrshare_platform;
use super::{json_response, AppState};
use crate::auth::Caller;
use crate::domain::{Post, PostId, PostKind, PostStatus};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};

/// Posts answered when neither `lastRecords` nor `limit` is given (Ayrshare's default).
pub const DEFAULT_LIMIT: usize = 25;
/// Most posts answered by one request.
pub const MAX_LIMIT: usize = 1000;
/// `lastDays` when not given.
pub const DEFAULT_LAST_DAYS: i64 = 30;

/// A validated history query.
#[derive(Debug, PartialEq)]
struct Filter {
    limit: usize,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
    status: Option<PostStatus>,
    kind: Option<PostKind>,
    platforms: Vec<String>,
}

impl Filter {
    fn parse(pairs: &[(String, String)], now: DateTime<Utc>) -> Result<Self, ApiError> {
        let bad = |m: String| ApiError::invalid("history", m);
        let number = |name: &str, v: &str| -> Result<i64, ApiError> {
            v.trim()
                .parse::<i64>()
                .ok()
                .filter(|n| *n >= 0)
                .ok_or_else(|| {
                    bad(format!(
                        "Query parameter '{name}' must be a whole number of 0 or more, not {v:?}."
                    ))
                })
        };
        let date = |name: &str, v: &str| -> Result<DateTime<Utc>, ApiError> {
            DateTime::parse_from_rfc3339(v.trim())
                .map(|d| d.with_timezone(&Utc))
                .map_err(|_| {
                    bad(format!(
                        "Query parameter '{name}' must be an ISO-8601 date such as 2026-07-08T12:30:00Z, not {v:?}."
                    ))
                })
        };
        let mut limit = None;
        let mut last_days = DEFAULT_LAST_DAYS;
        let mut f = Filter {
            limit: DEFAULT_LIMIT,
            since: None,
            until: None,
            status: None,
            kind: None,
            platforms: Vec::new(),
        };
        let mut start = None;
        for (k, v) in pairs {
            match k.as_str() {
                "lastRecords" | "limit" => limit = Some(number(k, v)?),
                "lastDays" => last_days = number(k, v)?,
                "status" => {
                    f.status = Some(match v.trim().to_ascii_lowercase().as_str() {
                        "success" => PostStatus::Success,
                        "error" => PostStatus::Error,
                        "pending" | "scheduled" => PostStatus::Pending,
                        "processing" => PostStatus::Processing,
                        "deleted" => PostStatus::Deleted,
                        _ => {
                            return Err(bad(format!(
                                "Query parameter 'status' must be one of success, error, pending, scheduled, processing, deleted; not {v:?}."
                            )))
                        }
                    })
                }
                "type" => {
                    f.kind = Some(match v.trim().to_ascii_lowercase().as_str() {
                        "immediate" | "now" => PostKind::Now,
                        "scheduled" => PostKind::Scheduled,
                        _ => {
                            return Err(bad(format!(
                                "Query parameter 'type' must be 'immediate' or 'scheduled', not {v:?}."
                            )))
                        }
                    })
                }
                "startDate" => start = Some(date(k, v)?),
                "endDate" => f.until = Some(date(k, v)?),
                k if k == "platform"
                    || k == "platforms"
                    || (k.starts_with("platform[") && k.ends_with(']')) =>
                {
                    for name in v.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                        let p = crate::domain::Platform::from(name.to_ascii_lowercase());
                        f.platforms.push(p.as_str().to_owned());
                    }
                }
                // `source` (the SDKs), `id` and anything else: ignored.
                _ => {}
            }
        }
        if let Some(n) = limit {
            f.limit = (n as usize).min(MAX_LIMIT);
        }
        let cutoff = (last_days > 0).then(|| now - Duration::days(last_days));
        f.since = match (cutoff, start) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        Ok(f)
    }

    fn matches(&self, post: &Post) -> bool {
        let status_ok = match self.status {
            Some(s) => post.status == s,
            None => post.status != PostStatus::Deleted,
        };
        status_ok
            && self.since.is_none_or(|s| post.created >= s)
            && self.until.is_none_or(|u| post.created <= u)
            && self.kind.is_none_or(|k| post.kind == k)
            && (self.platforms.is_empty()
                || post
                    .entries
                    .iter()
                    .any(|e| self.platforms.iter().any(|p| p == e.platform.as_str())))
    }
}

/// `GET /api/history`
pub async fn history(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let pairs = web::Query::<Vec<(String, String)>>::from_query(req.query_string())
        .map_err(|e| ApiError::invalid("history", format!("Query string not understood: {e}")))?
        .into_inner();
    let filter = Filter::parse(&pairs, Utc::now())?;
    let mut items: Vec<Post> = Vec::new();
    if filter.limit > 0 {
        // Newest first: read a window, widen it only while it may hide more matches.
        let mut window = (filter.limit * 2).max(50);
        loop {
            let posts = state
                .store
                .posts_by_profile(&caller.profile.id, window)
                .await?;
            let exhausted = posts.len() < window;
            let past_range = posts
                .last()
                .is_some_and(|p| filter.since.is_some_and(|s| p.created < s));
            items = posts
                .into_iter()
                .filter(|p| filter.matches(p))
                .take(filter.limit)
                .collect();
            if items.len() >= filter.limit || exhausted || past_range {
                break;
            }
            window = window.saturating_mul(4);
        }
    }
    let history: Vec<Value> = items
        .iter()
        .map(|p| render_post(p, &caller.profile))
        .collect();
    Ok(json_response(
        StatusCode::OK,
        &json!({ "history": history }),
    ))
}

/// `GET /api/history/{id}`: one post, as `GET /api/post/{id}` answers it.
pub async fn history_one(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let raw = path.into_inner();
    if PostId::parse(&raw).is_err() {
        let names: Vec<&str> = raw.split(',').map(str::trim).collect();
        if names.iter().all(|n| is_ayrshare_platform(n)) {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "history",
                codes::HISTORY_UNSUPPORTED,
                format!(
                    "History read from the networks (GET /api/history/{raw}) is not supported by this gateway. Use GET /api/history with platform[0]={} for the posts made through postgate.",
                    names[0].to_ascii_lowercase()
                ),
            ));
        }
    }
    match owned_post(&state, &caller, &raw).await? {
        Some(post) => Ok(json_response(
            StatusCode::OK,
            &render_post(&post, &caller.profile),
        )),
        None => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "history",
            codes::POST_NOT_FOUND,
            "Post not found.",
        )
        .with("id", raw)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(q: &[(&str, &str)]) -> Vec<(String, String)> {
        q.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_and_aliases() {
        let now = Utc::now();
        let f = Filter::parse(&pairs(&[("source", "npm")]), now).unwrap();
        assert_eq!(f.limit, DEFAULT_LIMIT);
        assert_eq!(f.since, Some(now - Duration::days(30)));
        let f = Filter::parse(&pairs(&[("limit", "3"), ("lastDays", "0")]), now).unwrap();
        assert_eq!(f.limit, 3);
        assert_eq!(f.since, None);
        let f = Filter::parse(&pairs(&[("lastRecords", "5000")]), now).unwrap();
        assert_eq!(f.limit, MAX_LIMIT);
        let f = Filter::parse(
            &pairs(&[("platform[0]", "twitter"), ("platform[1]", "Threads")]),
            now,
        )
        .unwrap();
        assert_eq!(f.platforms, vec!["twitter", "threads"]);
        assert!(Filter::parse(&pairs(&[("lastDays", "-1")]), now).is_err());
        assert!(Filter::parse(&pairs(&[("status", "bogus")]), now).is_err());
    }
}
