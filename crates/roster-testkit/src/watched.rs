//! State that tests wait on: a value behind a lock, and a signal rung every
//! time it changes, so waiting is signal-based and never polls or sleeps.

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::Notify;

#[derive(Default)]
pub(crate) struct Watched<S> {
    state: Mutex<S>,
    changed: Notify,
}

impl<S> Watched<S> {
    pub(crate) fn lock(&self) -> MutexGuard<'_, S> {
        // A panicking test thread must not hide what arrived from the others.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Changes the state and wakes every waiter.
    pub(crate) fn update<T>(&self, change: impl FnOnce(&mut S) -> T) -> T {
        let out = change(&mut self.lock());
        self.changed.notify_waiters();
        out
    }

    /// Runs `pick` on the state now and after every change until it answers,
    /// or `timeout` passes.
    pub(crate) async fn wait_until<T>(
        &self,
        timeout: Duration,
        mut pick: impl FnMut(&mut S) -> Option<T>,
    ) -> Option<T> {
        let wait = async {
            loop {
                // Registered before looking, so a change in between still wakes us.
                let changed = self.changed.notified();
                tokio::pin!(changed);
                changed.as_mut().enable();
                if let Some(found) = pick(&mut self.lock()) {
                    return found;
                }
                changed.await;
            }
        };
        tokio::time::timeout(timeout, wait).await.ok()
    }
}
