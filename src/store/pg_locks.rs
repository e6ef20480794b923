//! Cross-process post locks of the PostgreSQL store: session advisory locks on one dedicated
//! connection, taken and released in batches.
//!
//! One connection for all locks, not one per lock: a lock held across a post's network calls
//! would otherwise keep a pooled connection out of the pool, and a bulk delete working on more
//! posts at once than the pool has connections would starve its own queries. Session locks
//! are reentrant, so two holders in this process could share one key: the in-process post
//! lock, taken first, rules that out (and a hash collision between two posts only shares a
//! lock this process holds anyway). A process that dies loses the connection and so its locks.
//!
//! Batches: every delete takes and releases a lock, and one statement at a time on the one
//! connection capped a gateway at one lock round trip per operation (the 2026-11-26 run:
//! ~200 deletes/s). Requests queue up; one runner at a time sends everything queued as one
//! statement (releases and trials together), answers each request and goes on while more
//! queued meanwhile, as sled's group commit does with flushes. A waiting request is answered
//! "not granted" and polls again, so a held lock never blocks the connection.

use super::{PostLock, StoreError};
use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::oneshot;

/// Advisory-lock class of post locks (the two-key form keeps them apart from any other
/// advisory locks in the database). The post id's `hashtext` is the second key: a collision
/// only makes two posts wait for each other.
const POST_LOCK_CLASS: i32 = 0x706f_7374;

/// What a trial answers: `Some(generation)` of the connection the keys were taken on, or
/// `None` when another process holds one of them (nothing taken).
type Trial = Result<Option<u64>, StoreError>;

enum Op {
    /// Take every key or none.
    Lock {
        keys: Vec<String>,
        reply: oneshot::Sender<Trial>,
    },
    /// Release keys taken on connection `generation` (nothing if that connection was lost).
    Unlock { keys: Vec<String>, generation: u64 },
}

#[derive(Default)]
struct Queue {
    ops: Vec<Op>,
    /// Whether a runner is on it (it will see ops queued meanwhile).
    running: bool,
}

/// The lock connection and its request queue (see the module docs).
pub(super) struct LockSession {
    options: PgConnectOptions,
    queue: Mutex<Queue>,
    /// The connection and its generation (bumped at each reconnect, so a guard of a lost
    /// connection never unlocks what a newer holder took on the next one). Only the runner
    /// uses it, so its lock is never contended.
    conn: tokio::sync::Mutex<(Option<PgConnection>, u64)>,
}

impl LockSession {
    pub(super) fn new(options: PgConnectOptions) -> Self {
        Self {
            options,
            queue: Mutex::default(),
            conn: tokio::sync::Mutex::new((None, 0)),
        }
    }

    fn queue(&self) -> std::sync::MutexGuard<'_, Queue> {
        // Every change under this lock is a push, a take or a flag: nothing half-done to see.
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues `op` and starts a runner if none is on the queue. Without a runtime (the
    /// process is ending) the op waits for the next runner; a lock's release then comes with
    /// the connection's end at the latest.
    fn submit(self: &Arc<Self>, op: Op) {
        let start = {
            let mut q = self.queue();
            q.ops.push(op);
            !std::mem::replace(&mut q.running, true)
        };
        if !start {
            return;
        }
        // Clears `running` if the runner ends before the queue is empty: its runtime dropped
        // it (unpolled, or mid-batch), so the next submitter starts another.
        struct Running(Option<Arc<LockSession>>);
        impl Drop for Running {
            fn drop(&mut self) {
                if let Some(session) = self.0.take() {
                    session.queue().running = false;
                }
            }
        }
        impl Running {
            /// The runner left through `run`, which cleared the flag itself.
            fn disarm(&mut self) {
                self.0 = None;
            }
        }
        let mut running = Running(Some(self.clone()));
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => drop(rt.spawn(async move {
                if let Some(session) = running.0.clone() {
                    session.run().await;
                }
                running.disarm();
            })),
            Err(_) => drop(running),
        }
    }

    /// Sends batches until the queue is empty, then clears `running` under the same lock a
    /// submitter checks it with, so an op queued after the last take starts a new runner.
    async fn run(self: &Arc<Self>) {
        loop {
            let ops = {
                let mut q = self.queue();
                if q.ops.is_empty() {
                    q.running = false;
                    return;
                }
                std::mem::take(&mut q.ops)
            };
            self.batch(ops).await;
        }
    }

    /// One round trip for every op of `ops`.
    async fn batch(self: &Arc<Self>, ops: Vec<Op>) {
        let mut slot = self.conn.lock().await;
        let mut unlock = Vec::new();
        let mut trials = Vec::new();
        for op in ops {
            match op {
                Op::Unlock { keys, generation } => {
                    if generation == slot.1 && slot.0.is_some() {
                        unlock.extend(keys);
                    }
                }
                Op::Lock { keys, reply } => trials.push((keys, reply)),
            }
        }
        if trials.is_empty() && unlock.is_empty() {
            return;
        }
        if slot.0.is_none() {
            match PgConnection::connect_with(&self.options).await {
                Ok(conn) => {
                    slot.0 = Some(conn);
                    slot.1 += 1;
                }
                Err(e) => {
                    for (_, reply) in trials {
                        let _ = reply.send(Err(StoreError::Backend(format!(
                            "post lock connection: {e}"
                        ))));
                    }
                    return;
                }
            }
        }
        let generation = slot.1;
        let Some(conn) = slot.0.as_mut() else {
            return;
        };
        let wanted: Vec<&str> = trials
            .iter()
            .flat_map(|(keys, _)| keys.iter().map(String::as_str))
            .collect();
        // Releases first, then trials in order. A key released and tried again in one
        // batch (a post handed from one task of this process to the next) ends up held once,
        // whichever runs first: session locks count.
        let answer: Result<Vec<bool>, _> = sqlx::query_scalar(
            "WITH released AS (
                 SELECT pg_advisory_unlock($1, hashtext(k)) FROM unnest($2::text[]) AS k)
             SELECT array(SELECT pg_try_advisory_lock($1, hashtext(k))
                          FROM unnest($3::text[]) WITH ORDINALITY AS t(k, n) ORDER BY n)
             FROM (SELECT count(*) FROM released) AS r",
        )
        .bind(POST_LOCK_CLASS)
        .bind(&unlock)
        .bind(&wanted)
        .fetch_one(&mut *conn)
        .await;
        let got = match answer {
            Ok(got) if got.len() == wanted.len() => got,
            other => {
                let e = match other {
                    Err(e) => e.to_string(),
                    Ok(_) => "a lock answer of the wrong length".into(),
                };
                // Its locks go with it: no holder in this process can be sure of them any more.
                tracing::error!(error = %e, "the post lock connection failed; reconnecting");
                slot.0 = None;
                for (_, reply) in trials {
                    let _ = reply.send(Err(StoreError::Backend(format!("post lock: {e}"))));
                }
                return;
            }
        };
        drop(slot);
        let mut got = got.into_iter();
        for (keys, reply) in trials {
            let taken: Vec<bool> = got.by_ref().take(keys.len()).collect();
            let all = taken.iter().all(|t| *t);
            let kept = if all {
                reply.send(Ok(Some(generation))).is_ok()
            } else {
                let _ = reply.send(Ok(None));
                false
            };
            if kept {
                continue;
            }
            // Not all granted, or the caller gave up (a cancelled request): what was taken
            // goes back in the next batch.
            let undo: Vec<String> = keys
                .into_iter()
                .zip(taken)
                .filter_map(|(k, t)| t.then_some(k))
                .collect();
            if !undo.is_empty() {
                self.queue().ops.push(Op::Unlock {
                    keys: undo,
                    generation,
                });
            }
        }
    }

    /// One trial of `keys` (all or none).
    async fn trial(self: &Arc<Self>, keys: &[String]) -> Trial {
        let (reply, answer) = oneshot::channel();
        self.submit(Op::Lock {
            keys: keys.to_vec(),
            reply,
        });
        answer
            .await
            .unwrap_or_else(|_| Err(StoreError::Backend("the post lock runner stopped".into())))
    }

    /// Takes the locks of `keys` (sorted, distinct post ids), all or none, polling until
    /// granted when `wait`. A caller that gives up (a cancelled request) leaves nothing
    /// held: a grant nobody receives is released by the runner.
    pub(super) async fn acquire(
        self: &Arc<Self>,
        keys: Vec<String>,
        wait: bool,
    ) -> Result<Option<PostLock>, StoreError> {
        // Polls rather than waiting in `pg_advisory_lock`: a wait would hold the one lock
        // connection, and one longer than `statement_timeout` would fail.
        let mut pause = Duration::from_millis(1);
        loop {
            if let Some(generation) = self.trial(&keys).await? {
                return Ok(Some(PostLock::held(Box::new(SessionGuard {
                    session: self.clone(),
                    keys,
                    generation,
                }))));
            }
            if !wait {
                return Ok(None);
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(10));
        }
    }
}

/// Post locks held on the [`LockSession`]; dropping it releases them (in the next batch).
struct SessionGuard {
    session: Arc<LockSession>,
    keys: Vec<String>,
    generation: u64,
}

impl Drop for SessionGuard {
    fn drop(&mut self) {
        self.session.submit(Op::Unlock {
            keys: std::mem::take(&mut self.keys),
            generation: self.generation,
        });
    }
}
