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
    // The posts move into one batch (no copy); the refusals keep their places.
    let mut posts = Vec::with_capacity(items.len());
    let slots: Vec<Result<(), E>> = items
        .into_iter()
        .map(|item| item.map(|post| posts.push(post)))
        .collect();
    let stored = store.insert_new_posts(&posts).await?;
    if stored.len() < posts.len() {
        return Err(StoreError::Backend(
            "the store answered for fewer posts than it was given".into(),
        ));
    }
    let mut answers = posts.into_iter().zip(stored).map(|(post, stored)| {
        if stored {
            Imported::Stored(post.id)
        } else {
            Imported::Duplicate(post.id)
        }
    });
    let out = slots
        .into_iter()
        .map(|slot| slot.map(|()| answers.next()))
        .map(|slot| match slot {
            Ok(Some(answer)) => Ok(Ok(answer)),
            Ok(None) => Err(StoreError::Backend("import answers out of step".into())),
            Err(e) => Ok(Err(e)),
        })
        .collect::<Result<_, _>>()?;
    store.flush().await?;
    Ok(out)
}
