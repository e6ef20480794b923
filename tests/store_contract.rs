//! The shared `Store` contract suite on the embedded sled store.

use postgate::store::{contract, SledStore, Store};
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sled_keeps_the_store_contract() {
    let dirs = std::sync::Mutex::new(Vec::new());
    contract::run_all(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = SledStore::open(&dir.path().join("db")).expect("store opens");
        dirs.lock().unwrap().push(dir);
        async move { Arc::new(store) as Arc<dyn Store> }
    })
    .await;
}
