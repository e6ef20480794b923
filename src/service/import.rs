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
/// untouched, in one store write ([`Store::insert_new_posts`]), then flushes once. A store
/// failure fails the batch (the sled store then stored none of it).
pub async fn import_posts<E>(
    store: &dyn Store,
    items: Vec<Result<Post, E>>,
) -> Result<Vec<Result<Imported, E>>, StoreError> {
    let posts: Vec<Post> = items
        .iter()
        .filter_map(|i| i.as_ref().ok().cloned())
        .collect();
    let mut stored = store.insert_new_posts(&posts).await?.into_iter();
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        out.push(match item {
            Ok(post) => Ok(match stored.next() {
                Some(true) => Imported::Stored(post.id),
                Some(false) => Imported::Duplicate(post.id),
                None => {
                    return Err(StoreError::Backend(
                        "the store answered for fewer posts than it was given".into(),
                    ))
                }
            }),
            Err(e) => Err(e),
        });
    }
    store.flush().await?;
    Ok(out)
}
