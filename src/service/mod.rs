//! The service layer: the delete orchestrator, the publisher, the scheduler, the delete
//! queue and its worker, webhooks, idempotency keys, history reads, imports, renewed
//! network sessions and counts of API calls (`usage`). It knows
//! neither HTTP wire formats nor sled; it talks to [`crate::store::Store`] and
//! [`crate::networks::Network`].

pub mod delete;
pub mod history;
pub mod idempotency;
pub mod import;
pub mod linking;
pub mod locks;
pub mod media;
pub mod publish;
pub mod queue;
pub mod scheduler;
pub mod sessions;
pub mod usage;
pub mod webhooks;

pub use delete::{DeleteReport, DeleteResult, DeleteService, EntryReport, ManualResult};
pub use linking::{LinkEvent, LinkingService};
pub use locks::{KeyedLocks, PostLocks};
pub use publish::{NewPost, PostChange, PostRefusal, PublishConfig, PublishService};
pub use queue::{DeleteQueue, QueueConfig, QueueWorker};
pub use scheduler::{Scheduler, SchedulerHandle};
pub use usage::CallCounts;
