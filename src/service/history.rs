//! Reading a profile's posts: one by id, or filtered and newest first, a page at a time so
//! that one request holds at most a page and its answer in memory whatever the profile's size.

use super::delete::SCAN_PAGE;
use crate::domain::{Platform, Post, PostId, PostKind, PostStatus};
use crate::store::{Store, StoreError};
use chrono::{DateTime, Utc};

/// Posts answered when the query names no limit (Ayrshare's default).
pub const DEFAULT_LIMIT: usize = 25;
/// Most posts answered by one query.
pub const MAX_LIMIT: usize = 1000;

/// A status filter: one of postgate's statuses, or (`Never`) one no postgate post can have,
/// accepted and matching nothing.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum StatusFilter {
    /// Posts of this status.
    Is(PostStatus),
    /// Nothing.
    Never,
}

/// Which posts a history read answers.
#[derive(Debug, PartialEq)]
pub struct HistoryQuery {
    /// Most posts answered.
    pub limit: usize,
    /// Published at or after (see [`publish_date`]).
    pub since: Option<DateTime<Utc>>,
    /// Published at or before.
    pub until: Option<DateTime<Utc>>,
    /// Without one, deleted posts are left out (as in Ayrshare).
    pub status: Option<StatusFilter>,
    /// Publish now or scheduled.
    pub kind: Option<PostKind>,
    /// Posts on any of these; all posts when empty.
    pub platforms: Vec<Platform>,
}

impl Default for HistoryQuery {
    fn default() -> Self {
        Self {
            limit: DEFAULT_LIMIT,
            since: None,
            until: None,
            status: None,
            kind: None,
            platforms: Vec::new(),
        }
    }
}

/// When a post was (or is to be) published: its schedule date for scheduled posts.
pub fn publish_date(post: &Post) -> DateTime<Utc> {
    match (post.kind, post.schedule_date) {
        (PostKind::Scheduled, Some(d)) => d,
        _ => post.created,
    }
}

impl HistoryQuery {
    /// Whether `post` is answered.
    pub fn matches(&self, post: &Post) -> bool {
        let status_ok = match self.status {
            Some(StatusFilter::Is(s)) => post.status == s,
            Some(StatusFilter::Never) => false,
            None => post.status != PostStatus::Deleted,
        };
        let published = publish_date(post);
        status_ok
            && self.since.is_none_or(|s| published >= s)
            && self.until.is_none_or(|u| published <= u)
            && self.kind.is_none_or(|k| post.kind == k)
            && (self.platforms.is_empty()
                || post
                    .entries
                    .iter()
                    .any(|e| self.platforms.contains(&e.platform)))
    }
}

/// The post `raw_id` if it belongs to `profile_id`; anything else (another profile's post, an
/// id that cannot exist) reads as unknown, so one tenant cannot probe another's ids.
pub async fn owned_post(
    store: &dyn Store,
    profile_id: &str,
    raw_id: &str,
) -> Result<Option<Post>, StoreError> {
    let Ok(id) = PostId::parse(raw_id) else {
        return Ok(None);
    };
    Ok(store
        .get_post(&id)
        .await?
        .filter(|p| p.profile_id == profile_id))
}

/// The posts of `profile_id` that `query` answers, newest first.
pub async fn history(
    store: &dyn Store,
    profile_id: &str,
    query: &HistoryQuery,
) -> Result<Vec<Post>, StoreError> {
    let mut items: Vec<Post> = Vec::new();
    if query.limit == 0 || query.status == Some(StatusFilter::Never) {
        return Ok(items);
    }
    // A scheduled post's publish date may lie well after its creation, so no page is
    // skipped on dates alone.
    let mut cursor = None;
    loop {
        let page = store
            .posts_by_profile_page(profile_id, cursor.as_ref(), SCAN_PAGE)
            .await?;
        items.extend(page.posts.into_iter().filter(|p| query.matches(p)));
        if items.len() >= query.limit {
            items.truncate(query.limit);
            break;
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    Ok(items)
}
