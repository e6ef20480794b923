//! Posts brought in from elsewhere (Ayrshare's history): stored as they are, never over an
//! existing post, and made durable once per batch.

use crate::domain::{Post, PostId};
use crate::store::{Store, StoreError};

/// What became of one post of a batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Imported {
    /// Stored under its id.
    Stored(PostId),
    /// A post with this id exists already; it was left as it was.
    Duplicate(PostId),
}

/// Stores each post of `items` in order, passing refusals made before (`Err`) through
/// untouched, and flushes once at the end. A store failure stops the batch: the posts
/// before it are stored.
pub async fn import_posts<E>(
    store: &dyn Store,
    items: Vec<Result<Post, E>>,
) -> Result<Vec<Result<Imported, E>>, StoreError> {
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        out.push(match item {
            Ok(post) => Ok(match store.insert_post(&post).await {
                Ok(()) => Imported::Stored(post.id),
                Err(StoreError::DuplicatePost(_)) => Imported::Duplicate(post.id),
                Err(e) => return Err(e),
            }),
            Err(e) => Err(e),
        });
    }
    store.flush().await?;
    Ok(out)
}
