//! Network sessions renewed at run time (Bluesky's rotating refresh tokens), kept in the
//! store's metadata so a renewal survives a restart and is seen by every gateway process on
//! the same store.

use crate::networks::SessionStore;
use crate::store::Store;
use async_trait::async_trait;
use std::sync::Arc;

/// [`SessionStore`] over [`Store::get_meta`]/[`Store::set_meta`]; a save is flushed before it
/// returns, since the token it replaces is already revoked.
pub struct StoreSessions(pub Arc<dyn Store>);

#[async_trait]
impl SessionStore for StoreSessions {
    async fn load(&self, key: &str) -> Result<Option<String>, String> {
        self.0.get_meta(key).await.map_err(|e| e.to_string())
    }

    async fn save(&self, key: &str, value: &str) -> Result<(), String> {
        self.0
            .set_meta(key, value)
            .await
            .map_err(|e| e.to_string())?;
        self.0.flush().await.map_err(|e| e.to_string())
    }
}
