//! `GET /api/history` and `GET /api/history/{id}`: the profile's posts in Ayrshare's shape.
//!
//! `GET /api/history` answers `{"history": [...]}`, newest first, each item as
//! `GET /api/post/:id` renders it. Query parameters (others, such as the SDKs' `source`, are
//! ignored):
//! - `lastRecords` / `limit`: how many posts (default 25, at most 1000);
//! - `lastDays`: only posts published in the last N days (default 30; `0` = all). A post's
//!   publish date is its `scheduleDate` for scheduled posts, else its creation date. Ignored
//!   when `startDate` or `endDate` is given;
//! - `status`: only posts of that status (`success`, `error`, `pending` or `scheduled`,
//!   `processing`, `deleted`, and Ayrshare's `awaiting approval` and `paused`, which no
//!   postgate post has); without it, deleted posts are left out, as in Ayrshare;
//! - `type`: `immediate` (or `now`) / `scheduled`;
//! - `platform`, `platform[]`, `platform[N]` (comma-separated values too): posts on any of them;
//! - `startDate` / `endDate`: bounds on the publish date, ISO-8601 with a zone
//!   (`2026-07-08T12:30:00Z`), without one (`2026-07-08T12:30:00`, read as UTC) or a bare date
//!   (`2026-07-08`: from its first instant for `startDate`, to its last for `endDate`).
//!
//! Numbers and dates out of range (a `lastDays` reaching before the calendar's start, a year
//! past 9999) answer 909 naming the parameter. The profile is read a page at a time, so one
//! request holds at most a page and its answer in memory whatever the profile's size.
//!
//! `GET /api/history/{platform}` is Ayrshare's history read from the network itself (the
//! Node SDK calls `/history/twitter,threads` for `history({platform})`); postgate does not
//! read networks, and says so with code 924 instead of answering as if it were a post id.

use super::answers::HistoryAnswer;
use super::auth::Caller;
use super::error::{codes, ApiError};
use super::posts::render_post;
use super::publish::is_ayrshare_platform;
use super::{json_response, AppState};
use crate::domain::{PostId, PostKind, PostStatus};
use crate::service;
use crate::service::history::{HistoryQuery, StatusFilter};
pub use crate::service::history::{DEFAULT_LIMIT, MAX_LIMIT};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, Utc};

/// `lastDays` when not given.
pub const DEFAULT_LAST_DAYS: i64 = 30;

/// The history query parameters, parsed into a [`HistoryQuery`].
struct Filter;

/// Which end of a day a bare date stands for.
#[derive(Clone, Copy)]
enum DayEnd {
    Start,
    End,
}

/// An ISO-8601 date: with a zone, without one (UTC), or a bare date.
fn parse_date(v: &str, end: DayEnd) -> Option<DateTime<Utc>> {
    let v = v.trim();
    if let Ok(d) = DateTime::parse_from_rfc3339(v) {
        return Some(d.with_timezone(&Utc));
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S%.f",
    ] {
        if let Ok(d) = NaiveDateTime::parse_from_str(v, fmt) {
            return Some(d.and_utc());
        }
    }
    let day = NaiveDate::parse_from_str(v, "%Y-%m-%d").ok()?;
    let t = match end {
        DayEnd::Start => day.and_hms_opt(0, 0, 0)?,
        DayEnd::End => day.and_hms_milli_opt(23, 59, 59, 999)?,
    };
    Some(t.and_utc())
}

impl Filter {
    fn parse(pairs: &[(String, String)], now: DateTime<Utc>) -> Result<HistoryQuery, ApiError> {
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
        let date = |name: &str, v: &str, end: DayEnd| -> Result<DateTime<Utc>, ApiError> {
            parse_date(v, end).ok_or_else(|| {
                bad(format!(
                    "Query parameter '{name}' must be an ISO-8601 date such as 2026-07-08T12:30:00Z, 2026-07-08T12:30:00 (UTC) or 2026-07-08, not {v:?}."
                ))
            })
        };
        let mut limit = None;
        let mut last_days = DEFAULT_LAST_DAYS;
        let mut f = HistoryQuery::default();
        for (k, v) in pairs {
            match k.as_str() {
                "lastRecords" | "limit" => limit = Some(number(k, v)?),
                "lastDays" => last_days = number(k, v)?,
                "status" => {
                    let norm = v.split_whitespace().collect::<Vec<_>>().join(" ");
                    f.status = Some(match norm.to_ascii_lowercase().as_str() {
                        "success" => StatusFilter::Is(PostStatus::Success),
                        "error" => StatusFilter::Is(PostStatus::Error),
                        "pending" | "scheduled" => StatusFilter::Is(PostStatus::Pending),
                        "processing" => StatusFilter::Is(PostStatus::Processing),
                        "deleted" => StatusFilter::Is(PostStatus::Deleted),
                        "awaiting approval" | "awaitingapproval" | "awaiting_approval" => {
                            StatusFilter::Is(PostStatus::AwaitingApproval)
                        }
                        "paused" => StatusFilter::Is(PostStatus::Paused),
                        _ => {
                            return Err(bad(format!(
                                "Query parameter 'status' must be one of success, error, pending, scheduled, processing, deleted, awaiting approval, paused; not {v:?}."
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
                "startDate" => f.since = Some(date(k, v, DayEnd::Start)?),
                "endDate" => f.until = Some(date(k, v, DayEnd::End)?),
                k if k == "platform"
                    || k == "platforms"
                    || (k.starts_with("platform[") && k.ends_with(']')) =>
                {
                    for name in v.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                        f.platforms
                            .push(crate::domain::Platform::from(name.to_ascii_lowercase()));
                    }
                }
                // `source` (the SDKs), `id` and anything else: ignored.
                _ => {}
            }
        }
        if let Some(n) = limit {
            f.limit = usize::try_from(n).unwrap_or(usize::MAX).min(MAX_LIMIT);
        }
        // An explicit range wins over lastDays (Ayrshare: lastDays is the default window).
        if f.since.is_none() && f.until.is_none() && last_days > 0 {
            let cutoff = Duration::try_days(last_days).and_then(|d| now.checked_sub_signed(d));
            f.since = Some(cutoff.ok_or_else(|| {
                bad(format!(
                    "Query parameter 'lastDays' is out of range: {last_days} days reach before the calendar's start; use 0 for all posts."
                ))
            })?);
        }
        Ok(f)
    }
}

/// `GET /api/history`
#[utoipa::path(
    get,
    path = "/api/history",
    tag = "ayrshare",
    description = "The profile's posts, newest first. Other query parameters are ignored.",
    params(
        ("lastRecords" = Option<u32>, Query, description = "How many posts (default 25, at most 1000)"),
        ("limit" = Option<u32>, Query, description = "Same as lastRecords"),
        ("lastDays" = Option<u32>, Query, description = "Only posts of the last N days (default 30; 0: all)"),
        ("status" = Option<String>, Query, description = "success, error, pending, scheduled, processing, deleted, awaiting approval or paused"),
        ("type" = Option<String>, Query, description = "immediate (or now) or scheduled"),
        ("platform" = Option<String>, Query, description = "Posts on any of these platforms (comma-separated)"),
        ("startDate" = Option<String>, Query, description = "ISO-8601 date or date-time; lower bound of the publish date"),
        ("endDate" = Option<String>, Query, description = "ISO-8601 date or date-time; upper bound of the publish date"),
    ),
    responses((status = 200, description = "The posts", body = super::answers::HistoryAnswer))
)]
pub async fn history(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let pairs = web::Query::<Vec<(String, String)>>::from_query(req.query_string())
        .map_err(|e| ApiError::invalid("history", format!("Query string not understood: {e}")))?
        .into_inner();
    let query = Filter::parse(&pairs, Utc::now())?;
    let posts = service::history::history(state.store.as_ref(), &caller.profile.id, &query).await?;
    Ok(json_response(
        StatusCode::OK,
        &HistoryAnswer {
            history: posts
                .iter()
                .map(|p| render_post(p, &caller.profile, &state.networks))
                .collect(),
        },
    ))
}

/// `GET /api/history/{id}`: one post, as `GET /api/post/{id}` answers it.
#[utoipa::path(
    get,
    path = "/api/history/{id}",
    tag = "ayrshare",
    description = "One post, as `GET /api/post/{id}` answers it. A platform list instead of an id asks for Ayrshare's network history, which postgate does not read (code 924).",
    params(("id" = String, Path, description = "The post's id")),
    responses(
        (status = 200, description = "The post", body = super::answers::PostView),
        (status = 404, description = "No such post in this profile", body = super::answers::ErrorBody),
    )
)]
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
    match service::history::owned_post(state.store.as_ref(), &caller.profile.id, &raw).await? {
        Some(post) => Ok(json_response(
            StatusCode::OK,
            &render_post(&post, &caller.profile, &state.networks),
        )),
        None => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "history",
            codes::POST_NOT_FOUND,
            "Post not found.",
        )
        .with_id(raw)),
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
        assert_eq!(
            f.platforms,
            vec![
                crate::domain::Platform::Twitter,
                crate::domain::Platform::Threads
            ]
        );
        assert!(Filter::parse(&pairs(&[("lastDays", "-1")]), now).is_err());
        assert!(Filter::parse(&pairs(&[("status", "bogus")]), now).is_err());
    }

    #[test]
    fn extreme_numbers_and_dates_are_errors_not_panics() {
        let now = Utc::now();
        for (k, v) in [
            ("lastDays", "100000000"),
            ("lastDays", "9223372036854775807"),
            ("lastDays", "9223372036854775808"),
            ("lastRecords", "18446744073709551616"),
            ("limit", "1e308"),
            ("limit", "NaN"),
            ("startDate", "99999-01-01T00:00:00Z"),
            ("endDate", "2025-13-01"),
            ("startDate", "2025-02-30T00:00:00"),
        ] {
            let e = Filter::parse(&pairs(&[(k, v)]), now).expect_err(v);
            assert!(e.body().failure.message.contains(k), "{k}={v}");
        }
        let f = Filter::parse(&pairs(&[("limit", "9223372036854775807")]), now).unwrap();
        assert_eq!(f.limit, MAX_LIMIT);
        let f = Filter::parse(&pairs(&[("startDate", "0000-01-01T00:00:00Z")]), now).unwrap();
        assert!(f.since.is_some());
    }

    #[test]
    fn zoneless_and_bare_dates_are_utc_and_a_range_overrides_last_days() {
        let now = Utc::now();
        let f = Filter::parse(
            &pairs(&[
                ("lastDays", "1"),
                ("startDate", "2025-03-01T12:30:00"),
                ("endDate", "2025-03-02"),
            ]),
            now,
        )
        .unwrap();
        assert_eq!(f.since.unwrap().to_rfc3339(), "2025-03-01T12:30:00+00:00");
        assert_eq!(
            f.until.unwrap().to_rfc3339(),
            "2025-03-02T23:59:59.999+00:00"
        );
        let f = Filter::parse(&pairs(&[("status", "awaiting  approval")]), now).unwrap();
        assert_eq!(
            f.status,
            Some(StatusFilter::Is(PostStatus::AwaitingApproval))
        );
        let f = Filter::parse(&pairs(&[("status", "Paused")]), now).unwrap();
        assert_eq!(f.status, Some(StatusFilter::Is(PostStatus::Paused)));
    }
}
