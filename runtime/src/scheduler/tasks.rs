//! The slab of tasks and what hangs off a task besides its slot: the waker of whoever awaits
//! its `JoinHandle`, and its name and spawn location. One `RefCell` in the scheduler holds all
//! of it, so one borrow sees a task whole.

use std::collections::HashMap;
use std::panic::Location;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::Waker;

use slab::Slab;

use super::state::TaskState;
use super::waker::{TaskKey, WakeHandle};
use crate::task::Runnable;

/// One task's slot in the slab.
pub(super) struct TaskSlot {
    /// The future or its output. `None` only while the task is polled: it
    /// is moved to the stack so the poll may spawn into the slab.
    pub(super) cell: Option<Pin<Box<dyn Runnable>>>,
    /// What the task's wakers point at; `None` while polled, and once finished.
    pub(super) handle: Option<Arc<WakeHandle>>,
    /// Serial of the spawn that filled this slot; stale keys do not match it.
    pub(super) serial: u32,
    pub(super) state: TaskState,
}

/// A task's name and where it was spawned. Kept only for tasks that were
/// named, or when a trace or the slow-poll check will want them: most tasks
/// never need one, and a slot has no room to spare.
pub(super) struct TaskMeta {
    pub(super) name: Option<Rc<str>>,
    pub(super) spawned_at: &'static Location<'static>,
    /// A slow poll of this task was reported already (once per task).
    pub(super) warned_slow: bool,
}

/// The tasks and what hangs off them, behind one `RefCell`.
pub(super) struct Tasks {
    pub(super) slots: Slab<TaskSlot>,
    /// The wakers of tasks awaiting a `JoinHandle`, by slot index. Kept
    /// apart because most tasks are never awaited while they run, and a
    /// `Waker` in every slot would cost 16 bytes a task (a third of a slot).
    /// Taken (and woken) at completion, so no waker cycle outlives the task.
    pub(super) join_waiters: HashMap<u32, Waker>,
    /// Names and spawn locations, by slot index (see [`TaskMeta`]).
    pub(super) meta: HashMap<u32, TaskMeta>,
    pub(super) next_serial: u32,
}

impl Tasks {
    /// Frees a slot, with its metadata.
    pub(super) fn free(&mut self, index: u32) -> TaskSlot {
        if !self.meta.is_empty() {
            self.meta.remove(&index);
        }
        self.slots.remove(index as usize)
    }

    pub(super) fn get_mut(&mut self, key: TaskKey) -> Option<&mut TaskSlot> {
        self.slots
            .get_mut(key.index as usize)
            .filter(|slot| slot.serial == key.serial)
    }

    /// Who took too long, in words, the first time task `key` does; `None` after that, so a
    /// task that is always slow is reported once.
    pub(super) fn first_slow_poll(&mut self, key: TaskKey) -> Option<String> {
        let Some(meta) = self.meta.get_mut(&key.index) else {
            return Some(format!("task {}", key.serial));
        };
        if std::mem::replace(&mut meta.warned_slow, true) {
            return None;
        }
        let name = meta
            .name
            .as_deref()
            .map(|n| format!(" \"{n}\""))
            .unwrap_or_default();
        Some(format!(
            "task {}{name} (spawned at {})",
            key.serial, meta.spawned_at
        ))
    }
}
