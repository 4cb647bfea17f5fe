//! `task::Builder`: spawning a task with options (asyncio's
//! `create_task(coro, name=...)`).

use std::future::Future;
use std::panic::Location;

use super::JoinHandle;
use crate::context;
use crate::scheduler::Scheduler;

/// Options for one task, then [`spawn`](Builder::spawn).
///
/// A name shows in the scheduling trace (the Chrome JSON's track names,
/// the text timeline, the SVG) and in slow-poll warnings, so that "task 7"
/// becomes "r/python".
///
/// ```
/// use simul_runtime::task::Builder;
/// simul_runtime::run(async {
///     let fetch = Builder::new().name("r/python").spawn(async { 13 });
///     assert_eq!(fetch.await.unwrap(), 13);
/// });
/// ```
#[derive(Debug, Clone, Default)]
pub struct Builder {
    name: Option<String>,
}

impl Builder {
    /// No options yet: a task like [`spawn`](crate::spawn)'s.
    pub fn new() -> Builder {
        Builder::default()
    }

    /// Names the task.
    pub fn name(mut self, name: impl Into<String>) -> Builder {
        self.name = Some(name.into());
        self
    }

    /// Spawns `future` as a task on the current loop; see [`spawn`](crate::spawn).
    ///
    /// # Panics
    /// Outside a simul runtime.
    #[track_caller]
    pub fn spawn<F>(self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        let spawned_at = Location::caller();
        Scheduler::with_current(|scheduler| {
            scheduler.spawn(future, self.name.as_deref(), spawned_at)
        })
        .unwrap_or_else(|| context::outside("simul::task::Builder::spawn"))
    }
}
