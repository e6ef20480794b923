//! Reading every post of an Ayrshare-compatible `GET /history` (Ayrshare itself, or another
//! postgate) for `postgate import --from-api`.
//!
//! Ayrshare's history has no cursor: a request answers at most `limit` posts (1000 on the
//! current API, 500 on older ones), filtered by publish date (`startDate`/`endDate`) and
//! ordered newest first by a key the contract does not pin down (scheduled posts publish long
//! after they are created). So paging by "older than the last one seen" can skip posts.
//! Instead the reader asks for date *windows*: a window answered with fewer posts than the page
//! size holds all its posts, whatever the order; a full window is split in two at the median
//! publish date of what it answered (dense recent months split finely, empty decades are one
//! request) until every window fits. Windows overlap at their shared instant, so posts are
//! de-duplicated by id. A single instant holding more posts than a page cannot be split: it is
//! reported, never silently cut.
//!
//! Deleted posts, which Ayrshare leaves out of the history unless asked with `status=deleted`,
//! are read in a second pass, so the imported history is complete.

use chrono::{DateTime, Duration, SecondsFormat, TimeZone, Utc};
use serde_json::Value;
use std::collections::HashSet;

/// Where the history is read from.
pub struct HistorySource {
    /// Base URL of the API, e.g. `https://api.ayrshare.com/api` (the reader appends `/history`).
    pub base_url: String,
    /// The source's API key (sent as a bearer token, never printed).
    pub api_key: String,
    /// The source's `Profile-Key` (a user profile; the primary profile when absent).
    pub profile_key: Option<String>,
    /// Posts asked for per request.
    pub page_size: usize,
}

/// Why reading stopped.
#[derive(Debug)]
pub struct SourceError(pub String);

impl std::fmt::Display for SourceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A batch of posts read from the source, new to this run.
pub struct SourcePage {
    /// The posts, as the source rendered them.
    pub posts: Vec<Value>,
    /// Requests made so far.
    pub requests: usize,
}

/// The widest window: every date the gateway (and Ayrshare) accepts.
fn full_range() -> (DateTime<Utc>, DateTime<Utc>) {
    let start = Utc.with_ymd_and_hms(1970, 1, 1, 0, 0, 0).single();
    let end = Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59).single();
    // Both are valid constants; the fallbacks only satisfy the types.
    (
        start.unwrap_or(DateTime::UNIX_EPOCH),
        end.map(|e| e + Duration::milliseconds(999))
            .unwrap_or(DateTime::<Utc>::MAX_UTC),
    )
}

fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A date in Ayrshare's forms: an ISO-8601 string or `{"utc": …}` / `{"_seconds": …}`.
fn date_of(v: &Value) -> Option<DateTime<Utc>> {
    match v {
        Value::String(s) => DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|d| d.with_timezone(&Utc)),
        Value::Object(o) => match (o.get("utc"), o.get("_seconds")) {
            (Some(Value::String(s)), _) => date_of(&Value::String(s.clone())),
            (_, Some(n)) => n.as_i64().and_then(|s| DateTime::from_timestamp(s, 0)),
            _ => None,
        },
        _ => None,
    }
}

/// When a history item was (or is to be) published: the date `startDate`/`endDate` filter on.
pub fn publish_date(item: &Value) -> Option<DateTime<Utc>> {
    let scheduled = item.get("type").and_then(Value::as_str) == Some("scheduled");
    scheduled
        .then(|| item.get("scheduleDate").and_then(date_of))
        .flatten()
        .or_else(|| item.get("created").and_then(date_of))
}

/// Where to split a full window `[start, end]`: the median publish date of what it answered
/// (or the second after it), or the middle of the window when neither is strictly inside it. `None`: the window is one
/// instant (at millisecond precision) and cannot be split.
pub fn split_point(
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    answered: &[Value],
) -> Option<DateTime<Utc>> {
    if end - start <= Duration::milliseconds(1) {
        return None;
    }
    let mut dates: Vec<_> = answered.iter().filter_map(publish_date).collect();
    dates.sort();
    // Dates are often rendered to the second: posts shown at `m` lie in [m, m + 1 s), so
    // the second after the median isolates them when the median is the window's own start.
    let inside = |t: &DateTime<Utc>| *t > start && *t < end;
    Some(
        dates
            .get(dates.len() / 2)
            .and_then(|&m| [m, m + Duration::seconds(1)].into_iter().find(inside))
            .unwrap_or_else(|| start + (end - start) / 2),
    )
}

/// The history items of an answer: `{"history": [...]}` (current) or a bare array (oldest docs).
fn items_of(answer: Value) -> Option<Vec<Value>> {
    match answer {
        Value::Array(items) => Some(items),
        Value::Object(mut o) => match o.remove("history") {
            Some(Value::Array(items)) => Some(items),
            _ => None,
        },
        _ => None,
    }
}

/// Reads the source window by window ([`HistoryReader::next_page`]).
pub struct HistoryReader<'a> {
    source: &'a HistorySource,
    client: reqwest::Client,
    url: String,
    limit: usize,
    seen: HashSet<String>,
    requests: usize,
    overfull: usize,
    /// Status filters still to read (`None`: the default listing, without deleted posts).
    passes: Vec<Option<&'static str>>,
    /// The current pass and its windows to ask for (`None`: no dates, the whole history).
    pass: Option<Option<&'static str>>,
    windows: Vec<Option<(DateTime<Utc>, DateTime<Utc>)>>,
}

impl<'a> HistoryReader<'a> {
    /// A reader of `source`; nothing is asked before the first [`HistoryReader::next_page`].
    pub fn new(source: &'a HistorySource) -> Self {
        Self {
            source,
            client: reqwest::Client::new(),
            url: format!("{}/history", source.base_url.trim_end_matches('/')),
            limit: source.page_size.clamp(1, 1000),
            seen: HashSet::new(),
            requests: 0,
            overfull: 0,
            passes: vec![Some("deleted"), None],
            pass: None,
            windows: Vec::new(),
        }
    }

    /// `GET /history` requests made so far.
    pub fn requests(&self) -> usize {
        self.requests
    }

    /// Posts read so far (each counted once).
    pub fn posts_read(&self) -> usize {
        self.seen.len()
    }

    /// Instants that held more posts than a page: some of their posts were not read.
    pub fn overfull(&self) -> usize {
        self.overfull
    }

    /// The next posts not seen before in this run (in the source's rendering), `None` once the
    /// whole history was read.
    pub async fn next_page(&mut self) -> Result<Option<SourcePage>, SourceError> {
        loop {
            let Some(window) = self.windows.pop() else {
                let Some(status) = self.passes.pop() else {
                    return Ok(None);
                };
                self.pass = Some(status);
                self.windows.push(None);
                continue;
            };
            let items = self.ask(window).await?;
            if items.len() >= self.limit {
                let (start, end) = window.unwrap_or_else(full_range);
                match split_point(start, end, &items) {
                    Some(m) => {
                        self.windows.push(Some((start, m)));
                        self.windows.push(Some((m, end)));
                        continue;
                    }
                    // One instant with a page or more of posts: take what was answered.
                    None => self.overfull += 1,
                }
            }
            let seen = &mut self.seen;
            let fresh: Vec<Value> = items
                .into_iter()
                .filter(|p| match p.get("id").and_then(Value::as_str) {
                    Some(id) => seen.insert(id.to_owned()),
                    None => true,
                })
                .collect();
            if !fresh.is_empty() {
                return Ok(Some(SourcePage {
                    posts: fresh,
                    requests: self.requests,
                }));
            }
        }
    }

    /// One `GET /history` of the current pass over `window`.
    async fn ask(
        &mut self,
        window: Option<(DateTime<Utc>, DateTime<Utc>)>,
    ) -> Result<Vec<Value>, SourceError> {
        let mut query: Vec<(&str, String)> = vec![
            ("limit", self.limit.to_string()),
            ("lastRecords", self.limit.to_string()),
            ("lastDays", "0".into()),
        ];
        if let Some(Some(s)) = self.pass {
            query.push(("status", s.into()));
        }
        if let Some((start, end)) = window {
            query.push(("startDate", iso(start)));
            query.push(("endDate", iso(end)));
        }
        let mut req = self
            .client
            .get(&self.url)
            .bearer_auth(&self.source.api_key)
            .query(&query);
        if let Some(pk) = &self.source.profile_key {
            req = req.header("Profile-Key", pk);
        }
        self.requests += 1;
        let response = req.send().await.map_err(|e| {
            SourceError(format!(
                "the source at {} did not answer: {}",
                self.source.base_url,
                e.without_url()
            ))
        })?;
        let http = response.status();
        let answer: Value = response.json().await.unwrap_or_default();
        if !http.is_success() {
            let message = answer
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("no message");
            return Err(SourceError(format!(
                "the source refused GET /history (HTTP {}): {message}",
                http.as_u16()
            )));
        }
        items_of(answer).ok_or_else(|| {
            SourceError("the source's GET /history answer holds no history list".into())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn publish_date_is_the_schedule_date_of_scheduled_posts() {
        let now = json!({"created": "2026-01-01T00:00:00Z", "type": "now", "scheduleDate": "2026-02-01T00:00:00Z"});
        assert_eq!(publish_date(&now), Some(at("2026-01-01T00:00:00Z")));
        let later = json!({"created": "2026-01-01T00:00:00Z", "type": "scheduled", "scheduleDate": {"_seconds": 1769904000, "utc": "2026-02-01T00:00:00Z"}});
        assert_eq!(publish_date(&later), Some(at("2026-02-01T00:00:00Z")));
        assert_eq!(publish_date(&json!({"post": "no dates"})), None);
    }

    #[test]
    fn a_full_window_splits_inside_itself_until_it_is_one_instant() {
        let (a, b) = (at("2026-01-01T00:00:00Z"), at("2026-01-31T00:00:00Z"));
        let items: Vec<Value> = [
            "2026-01-20T00:00:00Z",
            "2026-01-25T00:00:00Z",
            "2026-01-30T00:00:00Z",
        ]
        .iter()
        .map(|d| json!({"created": d}))
        .collect();
        assert_eq!(split_point(a, b, &items), Some(at("2026-01-25T00:00:00Z")));
        // The median on the window's end: the middle instead.
        let edge = vec![json!({"created": "2026-01-31T00:00:00Z"})];
        assert_eq!(split_point(a, b, &edge), Some(at("2026-01-16T00:00:00Z")));
        // On its start (posts within that second): the second after it.
        let first = vec![json!({"created": "2026-01-01T00:00:00Z"})];
        assert_eq!(split_point(a, b, &first), Some(at("2026-01-01T00:00:01Z")));
        assert_eq!(split_point(a, b, &[]), Some(at("2026-01-16T00:00:00Z")));
        assert_eq!(split_point(a, a, &items), None);
        let (lo, hi) = full_range();
        assert!(split_point(lo, hi, &[]).is_some());
    }

    #[test]
    fn history_answers_come_wrapped_or_bare() {
        assert_eq!(
            items_of(json!({"history": [{"id": "a"}]})).unwrap().len(),
            1
        );
        assert_eq!(
            items_of(json!([{"id": "a"}, {"id": "b"}])).unwrap().len(),
            2
        );
        assert!(items_of(json!({"status": "error"})).is_none());
    }
}
