//! The service layer: the delete orchestrator, the publisher, the scheduler, idempotency
//! keys, history reads and imports. It knows
//! neither HTTP wire formats nor sled; it talks to [`crate::store::Store`] and
//! [`crate::networks::Network`].

pub mod delete;
pub mod history;
pub mod idempotency;
pub mod import;
pub mod linking;
pub mod locks;
pub mod publish;
pub mod scheduler;

pub use delete::{DeleteReport, DeleteResult, DeleteService, EntryReport, ManualResult};
pub use linking::{LinkEvent, LinkingService};
pub use locks::{KeyedLocks, PostLocks};
pub use publish::{NewPost, PublishConfig, PublishService};
pub use scheduler::{Scheduler, SchedulerHandle};
