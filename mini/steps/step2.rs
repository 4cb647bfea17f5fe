//! Step 2 of the mini loop (BOOK.md, chapter 0): step 1, and a timer heap. When no task is
//! ready the loop sleeps, with `std::thread::sleep`, until the nearest deadline.
#![forbid(unsafe_code)]

use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

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
    /// Deadlines, nearest on top; the sequence number orders equal ones and names the waker.
    timers: RefCell<BinaryHeap<Reverse<(Instant, u64)>>>,
    timer_wakers: RefCell<HashMap<u64, Waker>>,
    next_seq: RefCell<u64>,
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
        timers: RefCell::new(BinaryHeap::new()),
        timer_wakers: RefCell::new(HashMap::new()),
        next_seq: RefCell::new(0),
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
        // 2. Sleep: not at all if a task is ready, else until the nearest timer.
        let timeout = if lp.ready.lock().unwrap().is_empty() {
            let timers = lp.timers.borrow();
            timers.peek().map(|Reverse((at, _))| at.saturating_duration_since(Instant::now()))
        } else {
            Some(Duration::ZERO)
        };
        std::thread::sleep(timeout.expect("no task is ready, and no timer can wake one"));
        // 3. Wake the tasks whose deadlines have passed, nearest first.
        let mut wakers = Vec::new();
        let now = Instant::now();
        while lp.timers.borrow().peek().is_some_and(|Reverse((at, _))| *at <= now) {
            let Some(Reverse((_, seq))) = lp.timers.borrow_mut().pop() else {
                break;
            };
            wakers.extend(lp.timer_wakers.borrow_mut().remove(&seq));
        }
        wakers.into_iter().for_each(Waker::wake); // no borrow held: wakes may run code
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

// BOOK: mini-sleep
/// Completes at `now + duration`, never before.
pub async fn sleep(duration: Duration) {
    let at = Instant::now() + duration;
    let mut registered = false;
    poll_fn(|cx| {
        if Instant::now() >= at {
            return Poll::Ready(());
        }
        if !registered {
            with_loop(|lp| {
                let seq = lp.next_seq.replace_with(|s| *s + 1);
                lp.timers.borrow_mut().push(Reverse((at, seq)));
                lp.timer_wakers.borrow_mut().insert(seq, cx.waker().clone());
            });
            registered = true;
        }
        Poll::Pending
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    #[test]
    fn sleeps_end_in_deadline_order_and_never_early() {
        let ends = Rc::new(RefCell::new(Vec::new()));
        let log = Rc::clone(&ends);
        block_on(async move {
            let start = Instant::now();
            let tasks: Vec<_> = [30u64, 10, 20]
                .into_iter()
                .map(|ms| {
                    let log = Rc::clone(&log);
                    spawn(async move {
                        sleep(Duration::from_millis(ms)).await;
                        assert!(start.elapsed() >= Duration::from_millis(ms), "woke early");
                        log.borrow_mut().push(ms);
                    })
                })
                .collect();
            for task in tasks {
                task.await;
            }
        });
        assert_eq!(*ends.borrow(), [10, 20, 30]);
    }
}
