//! Step 1 of the mini loop (BOOK.md, chapter 0): tasks in a slab, a ready queue of keys, a
//! scheduled bit, and the tick. Nothing can wake a task yet but another task.
#![forbid(unsafe_code)]

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

use slab::Slab;

// BOOK: mini-task
/// A spawned future, and what its wakers point at.
struct Task {
    future: Pin<Box<dyn Future<Output = ()>>>,
    waker: Arc<TaskWaker>,
}

/// A waker names its task by key; it does not own it (tasks need not be `Send`).
struct TaskWaker {
    key: usize,
    /// True while the key is on the ready queue: only the wake that sets it enqueues.
    scheduled: AtomicBool,
    ready: Arc<Mutex<VecDeque<usize>>>,
}

impl Wake for TaskWaker {
    fn wake(self: Arc<Self>) {
        if !self.scheduled.swap(true, SeqCst) {
            self.ready.lock().unwrap().push_back(self.key);
        }
    }
}

// BOOK: mini-loop
/// Everything one loop owns.
struct Loop {
    tasks: RefCell<Slab<Option<Task>>>,
    ready: Arc<Mutex<VecDeque<usize>>>,
}

thread_local! {
    static CURRENT: RefCell<Option<Rc<Loop>>> = const { RefCell::new(None) };
}

fn with_loop<R>(f: impl FnOnce(&Loop) -> R) -> R {
    CURRENT.with(|c| f(c.borrow().as_ref().expect("not inside simul_mini::block_on")))
}

/// Starts a task; its output comes back through the handle.
pub fn spawn<T: 'static>(future: impl Future<Output = T> + 'static) -> JoinHandle<T> {
    let state: Rc<RefCell<(Option<T>, Option<Waker>)>> = Rc::new(RefCell::new((None, None)));
    let out = Rc::clone(&state);
    let future = Box::pin(async move {
        let value = future.await;
        let waiter = {
            let mut out = out.borrow_mut();
            out.0 = Some(value);
            out.1.take()
        };
        if let Some(waiter) = waiter {
            waiter.wake(); // outside the borrow: waking may run code
        }
    });
    with_loop(|lp| {
        let mut tasks = lp.tasks.borrow_mut();
        let key = tasks.vacant_key();
        let scheduled = AtomicBool::new(true); // a new task starts on the queue
        let ready = Arc::clone(&lp.ready);
        let waker = Arc::new(TaskWaker { key, scheduled, ready });
        tasks.insert(Some(Task { future, waker }));
        lp.ready.lock().unwrap().push_back(key);
    });
    JoinHandle(state)
}

/// Awaits a spawned task's output.
pub struct JoinHandle<T>(Rc<RefCell<(Option<T>, Option<Waker>)>>);

impl<T> Future for JoinHandle<T> {
    type Output = T;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let mut state = self.0.borrow_mut();
        match state.0.take() {
            Some(value) => Poll::Ready(value),
            None => {
                state.1 = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

// BOOK: mini-tick
/// Runs `main` (and every task it spawns) until `main` is done.
pub fn block_on<T: 'static>(main: impl Future<Output = T> + 'static) -> T {
    let lp = Rc::new(Loop {
        tasks: RefCell::new(Slab::new()),
        ready: Arc::new(Mutex::new(VecDeque::new())),
    });
    CURRENT.with(|c| *c.borrow_mut() = Some(Rc::clone(&lp)));
    let main = spawn(main);
    loop {
        // 1. Poll the tasks that were ready when the tick began, and no more.
        let ready_now = lp.ready.lock().unwrap().len();
        for _ in 0..ready_now {
            let key = lp.ready.lock().unwrap().pop_front();
            run_task(&lp, key.expect("counted"));
        }
        if let Some(value) = main.0.borrow_mut().0.take() {
            CURRENT.with(|c| c.borrow_mut().take()); // the loop and its tasks go with `lp`
            return value;
        }
        // 2. Nothing else in this loop can wake a task: if none is ready, none ever will be.
        assert!(!lp.ready.lock().unwrap().is_empty(), "no task is ready, and none can be woken");
    }
}

// BOOK: mini-run-task
/// Polls one task once. The task is taken out of the slab for the poll, so it may spawn.
fn run_task(lp: &Loop, key: usize) {
    let Some(mut task) = lp.tasks.borrow_mut().get_mut(key).and_then(Option::take) else {
        return; // finished meanwhile
    };
    task.waker.scheduled.store(false, SeqCst); // before the poll: a wake during it re-queues
    let waker = Waker::from(Arc::clone(&task.waker));
    if task.future.as_mut().poll(&mut Context::from_waker(&waker)).is_ready() {
        task.waker.scheduled.store(true, SeqCst); // for good: late wakes do nothing
        lp.tasks.borrow_mut().remove(key);
    } else {
        lp.tasks.borrow_mut()[key] = Some(task);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    /// Pending once, after waking itself.
    async fn yield_now() {
        let mut yielded = false;
        std::future::poll_fn(|cx| {
            if std::mem::replace(&mut yielded, true) {
                return Poll::Ready(());
            }
            cx.waker().wake_by_ref();
            Poll::Pending
        })
        .await
    }

    #[test]
    fn tasks_run_and_hand_back_their_outputs() {
        let polls = Rc::new(Cell::new(0));
        let seen = Rc::clone(&polls);
        let total = block_on(async move {
            let a = spawn(async move {
                seen.set(seen.get() + 1);
                yield_now().await;
                seen.set(seen.get() + 1);
                20
            });
            a.await + spawn(async { 22 }).await
        });
        assert_eq!((total, polls.get()), (42, 2));
    }
}
