//! Group commit for checkouts and checkins on SQLite. Each is a short transaction of
//! several statements, and SQLite makes one fsync per commit; here the jobs that queue
//! while a commit is on its way share the next transaction, each inside a savepoint of
//! its own (so a refused checkout undoes only its own writes), and each is answered once
//! the shared commit is on disk. Jobs take the transaction one at a time, in the order
//! they came (a fair lock), so they see each other's writes as if run one after another.
//!
//! A job cancelled half-way (its request dropped) leaves its savepoint marked dirty; the
//! next one to take the transaction, or the committer, rolls it back first.

use std::fmt;
use std::sync::Arc;

use sqlx::AnyPool;
use tokio::sync::{Mutex, Notify, OwnedMutexGuard, watch};

use crate::StoreError;

type Tx = sqlx::Transaction<'static, sqlx::Any>;
type Done = watch::Sender<Option<Result<(), String>>>;

#[derive(Default)]
struct Open {
    tx: Option<Tx>,
    done: Option<Done>,
    /// A job's savepoint is open without its job (cancelled, or failed half-way).
    dirty: bool,
}

impl Open {
    async fn clean(&mut self) {
        if !self.dirty {
            return;
        }
        self.dirty = false;
        if let Some(tx) = self.tx.as_mut() {
            let undone = async {
                sqlx::query("ROLLBACK TO job").execute(&mut **tx).await?;
                sqlx::query("RELEASE job").execute(&mut **tx).await
            }
            .await;
            if let Err(e) = undone {
                // The transaction is unusable: the batch fails as a whole.
                tracing::warn!(error = %e, "undoing a cancelled job failed; the batch is rolled back");
                if let Some(tx) = self.tx.take() {
                    let _ = tx.rollback().await;
                }
                if let Some(done) = self.done.take() {
                    let _ = done.send(Some(Err(e.to_string())));
                }
            }
        }
    }
}

/// The shared transaction and its committer.
#[derive(Clone)]
pub(crate) struct Group {
    open: Arc<Mutex<Open>>,
    wake: Arc<Notify>,
    writer: AnyPool,
}

impl fmt::Debug for Group {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Group")
    }
}

impl Group {
    /// Starts the committer (must be called inside a Tokio runtime).
    pub(crate) fn start(writer: AnyPool) -> Self {
        let group = Group {
            open: Arc::new(Mutex::new(Open::default())),
            wake: Arc::new(Notify::new()),
            writer,
        };
        tokio::spawn(commit_forever(group.open.clone(), group.wake.clone()));
        group
    }

    /// A job inside the shared transaction (begun if none is open). Opened in a task of
    /// its own, so that a request cancelled meanwhile cannot leave the connection half-way
    /// into a transaction: the task finishes, and the job it made, dropped unused, wakes
    /// the committer.
    pub(crate) async fn job(&self) -> Result<Job, StoreError> {
        let guard = self.open.clone().lock_owned().await;
        let writer = self.writer.clone();
        let wake = self.wake.clone();
        let opened = tokio::spawn(async move {
            let mut job = Job {
                guard: Some(guard),
                wake,
            };
            let open = job.guard.as_mut().expect("just made");
            open.clean().await;
            if open.tx.is_none() {
                open.tx = Some(writer.begin_with("BEGIN IMMEDIATE").await?);
                open.done = Some(watch::channel(None).0);
            }
            // Dirty from before the statement: if it ran but its answer was lost, the
            // next one rolls it back.
            open.dirty = true;
            let Some(tx) = open.tx.as_mut() else {
                return Err(StoreError::Corrupt("no shared transaction".into()));
            };
            sqlx::query("SAVEPOINT job").execute(&mut **tx).await?;
            Ok(job)
        })
        .await;
        match opened {
            Ok(job) => job,
            Err(e) => {
                self.wake.notify_one();
                Err(StoreError::Commit(e.to_string()))
            }
        }
    }
}

/// One request's turn in the shared transaction.
pub(crate) struct Job {
    guard: Option<OwnedMutexGuard<Open>>,
    wake: Arc<Notify>,
}

impl Job {
    pub(crate) fn tx(&mut self) -> &mut Tx {
        self.guard
            .as_mut()
            .and_then(|g| g.tx.as_mut())
            .expect("a job holds the open transaction")
    }

    /// Keeps the job's writes; answers once they are committed.
    pub(crate) async fn keep(mut self) -> Result<(), StoreError> {
        // The guard stays in the job until the savepoint is released: if this is
        // cancelled meanwhile, dropping the job wakes the committer.
        let open = self.guard.as_mut().expect("a job is kept once");
        let Some(tx) = open.tx.as_mut() else {
            return Err(StoreError::Corrupt("no shared transaction".into()));
        };
        sqlx::query("RELEASE job").execute(&mut **tx).await?;
        open.dirty = false;
        let mut done = match open.done.as_ref() {
            Some(d) => d.subscribe(),
            None => return Err(StoreError::Corrupt("no batch to wait for".into())),
        };
        drop(self.guard.take());
        self.wake.notify_one();
        let result = done
            .wait_for(Option::is_some)
            .await
            .map_err(|_| StoreError::Unsupported("the database is closed"))?
            .clone()
            .unwrap_or(Ok(()));
        result.map_err(StoreError::Commit)
    }

    /// Undoes the job's writes (the others in the transaction stay).
    pub(crate) async fn undo(mut self) -> Result<(), StoreError> {
        if let Some(open) = self.guard.as_mut() {
            open.clean().await;
        }
        drop(self.guard.take());
        self.wake.notify_one();
        Ok(())
    }
}

impl Drop for Job {
    fn drop(&mut self) {
        // Dropped without keep or undo (its request was cancelled): the savepoint stays
        // dirty for the next one, and the committer is woken to finish the batch.
        if self.guard.take().is_some() {
            self.wake.notify_one();
        }
    }
}

async fn commit_forever(open: Arc<Mutex<Open>>, wake: Arc<Notify>) {
    loop {
        wake.notified().await;
        let mut guard = open.lock().await;
        guard.clean().await;
        let (Some(tx), Some(done)) = (guard.tx.take(), guard.done.take()) else {
            continue;
        };
        let result = tx.commit().await.map_err(|e| e.to_string());
        if let Err(e) = &result {
            tracing::error!(error = %e, "a group commit failed");
        }
        let _ = done.send(Some(result));
    }
}
