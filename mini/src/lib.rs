//! A complete event loop in one file: the mini loop of BOOK.md's chapter 0.
//!
//! Tasks in a slab, a ready queue of their keys, a scheduled bit per task, a
//! timer heap, and mio for sockets. The reader builds it in four steps (the
//! files in `steps/` are the first three); the rest of the book shows what
//! simul's real runtime does that this one does not, and why.
#![forbid(unsafe_code)]

use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::future::{poll_fn, Future};
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use mio::{Events, Interest, Token};
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
    os: RefCell<mio::Poll>,
    /// Per registered socket, the wakers waiting to read (`[0]`) and to write (`[1]`).
    io: RefCell<Slab<[Option<Waker>; 2]>>,
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
        os: RefCell::new(mio::Poll::new().expect("cannot create an epoll instance")),
        io: RefCell::new(Slab::new()),
    });
    CURRENT.with(|c| *c.borrow_mut() = Some(Rc::clone(&lp)));
    let main = spawn(main);
    let mut events = Events::with_capacity(64);
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
        // 2. Sleep in the kernel: not at all if a task is ready, else until the nearest timer.
        let timeout = if lp.ready.lock().unwrap().is_empty() {
            let timers = lp.timers.borrow();
            timers.peek().map(|Reverse((at, _))| at.saturating_duration_since(Instant::now()))
        } else {
            Some(Duration::ZERO)
        };
        // 3. Wake the tasks whose sockets became ready.
        if let Err(e) = lp.os.borrow_mut().poll(&mut events, timeout) {
            assert_eq!(e.kind(), io::ErrorKind::Interrupted, "epoll_wait failed: {e}");
        }
        let mut wakers = Vec::new();
        for event in events.iter() {
            let mut io = lp.io.borrow_mut();
            let Some(slot) = io.get_mut(event.token().0) else {
                continue;
            };
            if event.is_readable() || event.is_read_closed() || event.is_error() {
                wakers.extend(slot[0].take());
            }
            if event.is_writable() || event.is_write_closed() || event.is_error() {
                wakers.extend(slot[1].take());
            }
        }
        // 4. Wake the tasks whose deadlines have passed, nearest first.
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

// BOOK: mini-tcp
/// A TCP stream on the loop: each operation tries its syscall, and on `WouldBlock` leaves the
/// task's waker for the reactor and waits.
pub struct TcpStream {
    io: mio::net::TcpStream,
    token: usize,
}

impl TcpStream {
    /// Connects without blocking the loop.
    pub async fn connect(addr: SocketAddr) -> io::Result<TcpStream> {
        let mut io = mio::net::TcpStream::connect(addr)?;
        let token = with_loop(|lp| lp.io.borrow_mut().insert([None, None]));
        let interest = Interest::READABLE | Interest::WRITABLE;
        with_loop(|lp| lp.os.borrow().registry().register(&mut io, Token(token), interest))?;
        let stream = TcpStream { io, token };
        // Connected when the socket has a peer; a refusal shows up in `take_error`.
        stream
            .until_done(1, |s| match (s.take_error()?, s.peer_addr()) {
                (Some(error), _) => Err(error),
                (None, Err(e)) if e.kind() == io::ErrorKind::NotConnected => {
                    Err(io::ErrorKind::WouldBlock.into())
                }
                (None, result) => result.map(drop),
            })
            .await?;
        Ok(stream)
    }

    /// Reads what has arrived, at least one byte; `Ok(0)` at the end of the stream.
    pub async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.until_done(0, |mut s| s.read(buf)).await
    }

    /// Writes all of `buf`, waiting whenever the kernel's buffer is full.
    pub async fn write_all(&mut self, mut buf: &[u8]) -> io::Result<()> {
        while !buf.is_empty() {
            let n = self.until_done(1, |mut s| s.write(buf)).await?;
            buf = &buf[n..];
        }
        Ok(())
    }

    /// Runs `op` until it does not say `WouldBlock`; `side` 0 waits to read, 1 to write.
    async fn until_done<R>(
        &self,
        side: usize,
        mut op: impl FnMut(&mio::net::TcpStream) -> io::Result<R>,
    ) -> io::Result<R> {
        poll_fn(|cx| match op(&self.io) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                with_loop(|lp| lp.io.borrow_mut()[self.token][side] = Some(cx.waker().clone()));
                Poll::Pending
            }
            result => Poll::Ready(result),
        })
        .await
    }
}

impl Drop for TcpStream {
    fn drop(&mut self) {
        CURRENT.with(|c| {
            // No loop: it is being dropped, and its epoll instance with it.
            if let Some(lp) = c.borrow().as_ref() {
                let _ = lp.os.borrow().registry().deregister(&mut self.io);
                lp.io.borrow_mut().remove(self.token);
            }
        });
    }
}
