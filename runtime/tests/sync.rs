//! Scenario tests for `sync` (invariant 13): channel, Mutex, Semaphore, Event.
//!
//! Two styles. Some tests poll futures by hand with counting wakers, so they
//! can stop at the exact moment that matters ("notified, not yet polled") and
//! assert exact wake counts. The others run real tasks on a runtime and
//! assert exact outcomes. Nothing here sleeps to synchronise or measures real
//! time; threads meet through channels.

use std::cell::Cell;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use simul_runtime::sync::{
    channel, AcquireError, Event, Mutex, Semaphore, SendError, TryAcquireError, TryRecvError,
    TrySendError,
};
use simul_runtime::time::{sleep, timeout};
use simul_runtime::{run, spawn, spawn_blocking, yield_now, Runtime};

// ---- helpers ---------------------------------------------------------------

/// A waker that counts how often it was woken.
struct WakeCount(AtomicUsize);

impl Wake for WakeCount {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn counting_waker() -> (Arc<WakeCount>, Waker) {
    let count = Arc::new(WakeCount(AtomicUsize::new(0)));
    (Arc::clone(&count), Waker::from(count))
}

fn wakes(count: &WakeCount) -> usize {
    count.0.load(Ordering::SeqCst)
}

fn poll<F: Future + ?Sized>(future: Pin<&mut F>, waker: &Waker) -> Poll<F::Output> {
    future.poll(&mut Context::from_waker(waker))
}

fn virtual_runtime() -> Runtime {
    Runtime::builder().virtual_clock(true).build().unwrap()
}

#[test]
fn shared_types_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<simul_runtime::sync::Sender<String>>();
    send::<simul_runtime::sync::Receiver<String>>();
    send_sync::<Semaphore>();
    send_sync::<Mutex<Vec<u8>>>();
    send_sync::<Event>();
}

// ---- Semaphore -------------------------------------------------------------

#[test]
fn semaphore_notified_waiter_dropped_before_poll_passes_permit_on() {
    let semaphore = Semaphore::new(1);
    let held = semaphore.try_acquire().unwrap();
    let (c1, w1) = counting_waker();
    let (c2, w2) = counting_waker();
    let (c3, w3) = counting_waker();
    let mut first = Box::pin(semaphore.acquire());
    let mut second = Box::pin(semaphore.acquire());
    let mut third = Box::pin(semaphore.acquire());
    assert!(poll(first.as_mut(), &w1).is_pending());
    assert!(poll(second.as_mut(), &w2).is_pending());
    assert!(poll(third.as_mut(), &w3).is_pending());

    drop(held); // handed to `first`
    assert_eq!((wakes(&c1), wakes(&c2), wakes(&c3)), (1, 0, 0));
    assert_eq!(semaphore.available_permits(), 0);

    drop(first); // cancelled before it picked the permit up
    assert_eq!((wakes(&c1), wakes(&c2), wakes(&c3)), (1, 1, 0));

    let permit = match poll(second.as_mut(), &w2) {
        Poll::Ready(Ok(permit)) => permit,
        other => panic!("second waiter should hold the permit, got {other:?}"),
    };
    assert!(poll(third.as_mut(), &w3).is_pending());
    drop(permit);
    assert_eq!((wakes(&c1), wakes(&c2), wakes(&c3)), (1, 1, 1));
    assert!(matches!(poll(third.as_mut(), &w3), Poll::Ready(Ok(_))));
    assert_eq!(semaphore.available_permits(), 1);
}

#[test]
fn semaphore_waiter_polled_repeatedly_queues_once() {
    let semaphore = Semaphore::new(0);
    let (old, old_waker) = counting_waker();
    let (new, new_waker) = counting_waker();
    let (other, other_waker) = counting_waker();
    let mut first = Box::pin(semaphore.acquire());
    let mut second = Box::pin(semaphore.acquire());
    for _ in 0..3 {
        assert!(poll(first.as_mut(), &old_waker).is_pending());
    }
    assert!(poll(first.as_mut(), &new_waker).is_pending()); // moved to another waker
    assert!(poll(second.as_mut(), &other_waker).is_pending());

    semaphore.add_permits(1);
    // Only the latest waker of the first waiter is woken, exactly once.
    assert_eq!((wakes(&old), wakes(&new), wakes(&other)), (0, 1, 0));
    assert!(matches!(
        poll(first.as_mut(), &new_waker),
        Poll::Ready(Ok(_))
    ));

    // Had `first` been queued twice, this permit would go to its ghost.
    semaphore.add_permits(1);
    assert_eq!(wakes(&other), 1);
    assert!(matches!(
        poll(second.as_mut(), &other_waker),
        Poll::Ready(Ok(_))
    ));
}

#[test]
fn semaphore_returned_permit_skips_newcomers_when_tasks_wait() {
    let semaphore = Semaphore::new(1);
    let held = semaphore.try_acquire().unwrap();
    let (count, waker) = counting_waker();
    let mut waiter = Box::pin(semaphore.acquire());
    assert!(poll(waiter.as_mut(), &waker).is_pending());
    drop(held);
    // The permit went to the waiter, not back to the pool.
    assert_eq!(
        semaphore.try_acquire().unwrap_err(),
        TryAcquireError::NoPermits
    );
    assert_eq!(wakes(&count), 1);
    assert!(matches!(poll(waiter.as_mut(), &waker), Poll::Ready(Ok(_))));
}

#[test]
fn semaphore_close_fails_waiters_but_keeps_handed_permits() {
    let semaphore = Semaphore::new(0);
    let (c1, w1) = counting_waker();
    let (c2, w2) = counting_waker();
    let mut handed = Box::pin(semaphore.acquire());
    let mut waiting = Box::pin(semaphore.acquire());
    assert!(poll(handed.as_mut(), &w1).is_pending());
    assert!(poll(waiting.as_mut(), &w2).is_pending());
    semaphore.add_permits(1); // handed to the first waiter
    semaphore.close();
    assert_eq!((wakes(&c1), wakes(&c2)), (1, 1));
    let permit = match poll(handed.as_mut(), &w1) {
        Poll::Ready(Ok(permit)) => permit,
        other => panic!("a permit handed before close stays valid, got {other:?}"),
    };
    assert!(matches!(
        poll(waiting.as_mut(), &w2),
        Poll::Ready(Err(AcquireError { .. }))
    ));
    assert_eq!(
        semaphore.try_acquire().unwrap_err(),
        TryAcquireError::Closed
    );
    drop(permit);
    assert_eq!(semaphore.available_permits(), 1);
    assert!(run(semaphore.acquire()).is_err());
}

#[test]
fn semaphore_limits_concurrency_on_virtual_clock() {
    let rt = virtual_runtime();
    let (max_inside, elapsed) = rt.block_on(async {
        let start = simul_runtime::time::now();
        let limit = Rc::new(Semaphore::new(2));
        let inside = Rc::new(Cell::new(0));
        let max_inside = Rc::new(Cell::new(0));
        let tasks: Vec<_> = (0..6)
            .map(|_| {
                let (limit, inside, max_inside) = (
                    Rc::clone(&limit),
                    Rc::clone(&inside),
                    Rc::clone(&max_inside),
                );
                spawn(async move {
                    let _permit = limit.acquire().await.unwrap();
                    inside.set(inside.get() + 1);
                    max_inside.set(max_inside.get().max(inside.get()));
                    sleep(Duration::from_secs(1)).await;
                    inside.set(inside.get() - 1);
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        (max_inside.get(), simul_runtime::time::now() - start)
    });
    assert_eq!(max_inside, 2);
    // Six one-second jobs, two at a time: three virtual seconds.
    assert_eq!(elapsed, Duration::from_secs(3));
}

// ---- Mutex -----------------------------------------------------------------

#[test]
fn mutex_is_fifo_among_waiters() {
    let order = run(async {
        let lock = Rc::new(Mutex::new(Vec::new()));
        let guard = lock.lock().await;
        let tasks: Vec<_> = (0..4)
            .map(|i| {
                let lock = Rc::clone(&lock);
                spawn(async move {
                    let mut log = lock.lock().await;
                    yield_now().await; // hold it across an await
                    log.push(i);
                })
            })
            .collect();
        yield_now().await; // all four are queued now
        drop(guard);
        // Handed to the first waiter: a newcomer cannot take it.
        assert!(lock.try_lock().is_err());
        for task in tasks {
            task.await.unwrap();
        }
        let log = lock.lock().await.clone();
        log
    });
    assert_eq!(order, [0, 1, 2, 3]);
}

#[test]
fn mutex_notified_waiter_dropped_before_poll_passes_lock_on() {
    let lock = Mutex::new(0);
    let held = lock.try_lock().unwrap();
    let (c1, w1) = counting_waker();
    let (c2, w2) = counting_waker();
    let (c3, w3) = counting_waker();
    let mut first = Box::pin(lock.lock());
    let mut second = Box::pin(lock.lock());
    let mut third = Box::pin(lock.lock());
    assert!(poll(first.as_mut(), &w1).is_pending());
    assert!(poll(second.as_mut(), &w2).is_pending());
    assert!(poll(third.as_mut(), &w3).is_pending());
    drop(held);
    drop(first);
    assert_eq!((wakes(&c1), wakes(&c2), wakes(&c3)), (1, 1, 0));
    let Poll::Ready(mut guard) = poll(second.as_mut(), &w2) else {
        panic!("the second waiter should hold the lock");
    };
    *guard += 1;
    drop(guard);
    assert_eq!(wakes(&c3), 1);
    let Poll::Ready(guard) = poll(third.as_mut(), &w3) else {
        panic!("the third waiter should hold the lock");
    };
    assert_eq!(*guard, 1);
}

#[test]
fn mutex_task_aborted_after_being_handed_the_lock_passes_it_on() {
    let (log, first) = run(async {
        let lock = Rc::new(Mutex::new(Vec::new()));
        let guard = lock.lock().await;
        let mut tasks: Vec<_> = (0..3)
            .map(|i| {
                let lock = Rc::clone(&lock);
                spawn(async move { lock.lock().await.push(i) })
            })
            .collect();
        yield_now().await; // the three tasks are queued on the lock
        drop(guard); // handed to task 0, which is woken...
        tasks[0].abort(); // ...and dropped before it runs again
        let first = tasks.remove(0).await;
        for task in tasks {
            task.await.unwrap();
        }
        let log = lock.lock().await.clone();
        (log, first)
    });
    assert!(first.unwrap_err().is_cancelled());
    assert_eq!(log, [1, 2]);
}

#[test]
fn mutex_waiter_timing_out_leaves_the_queue() {
    let rt = virtual_runtime();
    let (timed_out, log) = rt.block_on(async {
        let lock = Rc::new(Mutex::new(Vec::new()));
        let guard = lock.lock().await;
        let impatient = {
            let lock = Rc::clone(&lock);
            spawn(async move { timeout(Duration::from_secs(1), lock.lock()).await.is_err() })
        };
        let patient = {
            let lock = Rc::clone(&lock);
            spawn(async move { lock.lock().await.push("patient") })
        };
        sleep(Duration::from_secs(2)).await; // the impatient one gives up
        drop(guard);
        let timed_out = impatient.await.unwrap();
        patient.await.unwrap();
        let log = lock.lock().await.clone();
        (timed_out, log)
    });
    assert!(timed_out);
    assert_eq!(log, ["patient"]);
}

#[test]
fn mutex_guard_held_across_await_excludes_other_tasks() {
    let total = run(async {
        let counter = Rc::new(Mutex::new(0u32));
        let tasks: Vec<_> = (0..50)
            .map(|_| {
                let counter = Rc::clone(&counter);
                spawn(async move {
                    let mut n = counter.lock().await;
                    let seen = *n;
                    yield_now().await;
                    *n = seen + 1; // a lost update if anyone else got in
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        let n = *counter.lock().await;
        n
    });
    assert_eq!(total, 50);
}

#[test]
fn mutex_try_lock_get_mut_into_inner() {
    let mut lock = Mutex::new(String::from("a"));
    lock.get_mut().push('b');
    {
        let mut guard = lock.try_lock().unwrap();
        guard.push('c');
        assert!(lock.try_lock().is_err());
    }
    lock.try_lock().unwrap().push('d');
    assert_eq!(lock.into_inner(), "abcd");
}

// ---- Event -----------------------------------------------------------------

#[test]
fn event_set_wakes_every_waiter_once() {
    let event = Event::new();
    let wakers: Vec<_> = (0..3).map(|_| counting_waker()).collect();
    let mut waits: Vec<_> = (0..3).map(|_| Box::pin(event.wait())).collect();
    for (wait, (_, waker)) in waits.iter_mut().zip(&wakers) {
        // Polled twice: still one place in the queue, one wake.
        assert!(poll(wait.as_mut(), waker).is_pending());
        assert!(poll(wait.as_mut(), waker).is_pending());
    }
    event.set();
    event.set(); // a second set has no one left to wake
    for (wait, (count, waker)) in waits.iter_mut().zip(&wakers) {
        assert_eq!(wakes(count), 1);
        assert!(poll(wait.as_mut(), waker).is_ready());
    }
}

#[test]
fn event_set_then_clear_still_releases_the_waiters_that_were_waiting() {
    let event = Event::new();
    let (count, waker) = counting_waker();
    let mut waiting = Box::pin(event.wait());
    assert!(poll(waiting.as_mut(), &waker).is_pending());
    event.set();
    event.clear(); // before the waiter runs again
    assert_eq!(wakes(&count), 1);
    assert!(poll(waiting.as_mut(), &waker).is_ready());
    // A wait that starts after the clear waits for the next set.
    let mut late = Box::pin(event.wait());
    assert!(poll(late.as_mut(), &waker).is_pending());
    event.set();
    assert_eq!(wakes(&count), 2);
    assert!(poll(late.as_mut(), &waker).is_ready());
}

#[test]
fn event_notified_waiter_dropped_does_not_hold_back_the_others() {
    let event = Event::new();
    let (c1, w1) = counting_waker();
    let (c2, w2) = counting_waker();
    let (c3, w3) = counting_waker();
    let mut first = Box::pin(event.wait());
    let mut second = Box::pin(event.wait());
    let mut third = Box::pin(event.wait());
    assert!(poll(first.as_mut(), &w1).is_pending());
    assert!(poll(second.as_mut(), &w2).is_pending());
    assert!(poll(third.as_mut(), &w3).is_pending());
    event.set();
    drop(first);
    assert_eq!((wakes(&c1), wakes(&c2), wakes(&c3)), (1, 1, 1));
    assert!(poll(second.as_mut(), &w2).is_ready());
    assert!(poll(third.as_mut(), &w3).is_ready());
}

#[test]
fn event_set_from_blocking_thread_wakes_waiting_tasks() {
    let released = run(async {
        let event = Arc::new(Event::new());
        let released = Rc::new(Cell::new(0));
        let waiters: Vec<_> = (0..3)
            .map(|_| {
                let (event, released) = (Arc::clone(&event), Rc::clone(&released));
                spawn(async move {
                    event.wait().await;
                    released.set(released.get() + 1);
                })
            })
            .collect();
        yield_now().await; // the waiters are queued
        let setter = Arc::clone(&event);
        spawn_blocking(move || setter.set()).await.unwrap();
        for waiter in waiters {
            waiter.await.unwrap();
        }
        released.get()
    });
    assert_eq!(released, 3);
}

// ---- channel ---------------------------------------------------------------

#[test]
fn channel_delivers_in_order_through_a_small_buffer() {
    let received = run(async {
        let (tx, mut rx) = channel(2);
        spawn(async move {
            for i in 0..100 {
                tx.send(i).await.unwrap();
            }
        });
        let mut received = Vec::new();
        while let Some(i) = rx.recv().await {
            received.push(i);
        }
        received
    });
    assert_eq!(received, (0..100).collect::<Vec<_>>());
}

#[test]
fn channel_full_sender_waits_until_recv_frees_a_slot() {
    let (tx, mut rx) = channel(1);
    tx.try_send(1).unwrap();
    let (count, waker) = counting_waker();
    let mut send = Box::pin(tx.send(2));
    assert!(poll(send.as_mut(), &waker).is_pending());
    assert!(poll(send.as_mut(), &waker).is_pending());
    assert_eq!(wakes(&count), 0);
    assert_eq!(rx.try_recv(), Ok(1));
    assert_eq!(wakes(&count), 1);
    assert!(matches!(poll(send.as_mut(), &waker), Poll::Ready(Ok(()))));
    assert_eq!(rx.try_recv(), Ok(2));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
}

#[test]
fn channel_sender_granted_a_slot_then_dropped_passes_it_on() {
    let (tx, mut rx) = channel(1);
    tx.try_send("queued").unwrap();
    let (c1, w1) = counting_waker();
    let (c2, w2) = counting_waker();
    let (c3, w3) = counting_waker();
    let mut first = Box::pin(tx.send("first"));
    let mut second = Box::pin(tx.send("second"));
    let mut third = Box::pin(tx.send("third"));
    assert!(poll(first.as_mut(), &w1).is_pending());
    assert!(poll(second.as_mut(), &w2).is_pending());
    assert!(poll(third.as_mut(), &w3).is_pending());

    assert_eq!(rx.try_recv(), Ok("queued")); // the free slot goes to `first`
    assert_eq!((wakes(&c1), wakes(&c2), wakes(&c3)), (1, 0, 0));
    drop(first); // cancelled after being granted the slot
    assert_eq!((wakes(&c1), wakes(&c2), wakes(&c3)), (1, 1, 0));
    assert!(matches!(poll(second.as_mut(), &w2), Poll::Ready(Ok(()))));
    assert!(poll(third.as_mut(), &w3).is_pending());
    assert_eq!(rx.try_recv(), Ok("second"));
    assert_eq!(wakes(&c3), 1);
    assert!(matches!(poll(third.as_mut(), &w3), Poll::Ready(Ok(()))));
    assert_eq!(rx.try_recv(), Ok("third"));
}

#[test]
fn channel_receiver_polled_repeatedly_is_woken_once_on_its_latest_waker() {
    let (tx, mut rx) = channel(1);
    let (old, old_waker) = counting_waker();
    let (new, new_waker) = counting_waker();
    let mut recv = Box::pin(rx.recv());
    assert!(poll(recv.as_mut(), &old_waker).is_pending());
    assert!(poll(recv.as_mut(), &old_waker).is_pending());
    assert!(poll(recv.as_mut(), &new_waker).is_pending());
    tx.try_send(5).unwrap();
    assert_eq!((wakes(&old), wakes(&new)), (0, 1));
    assert_eq!(poll(recv.as_mut(), &new_waker), Poll::Ready(Some(5)));
}

#[test]
fn channel_last_sender_dropped_while_receiver_waits_gives_none() {
    let (tx, mut rx) = channel::<u8>(1);
    let tx2 = tx.clone();
    let (count, waker) = counting_waker();
    let mut recv = Box::pin(rx.recv());
    assert!(poll(recv.as_mut(), &waker).is_pending());
    drop(tx);
    assert_eq!(wakes(&count), 0); // one sender is left
    drop(tx2);
    assert_eq!(wakes(&count), 1);
    assert_eq!(poll(recv.as_mut(), &waker), Poll::Ready(None));
}

#[test]
fn channel_last_sender_task_ending_ends_the_receiving_loop() {
    let got = run(async {
        let (tx, mut rx) = channel(4);
        for t in 0..3 {
            let tx = tx.clone();
            spawn(async move { tx.send(t).await.unwrap() });
        }
        drop(tx);
        let mut got = Vec::new();
        while let Some(t) = rx.recv().await {
            got.push(t);
        }
        got.sort();
        got
    });
    assert_eq!(got, [0, 1, 2]);
}

#[test]
fn channel_receiver_dropped_gives_waiting_senders_their_values_back() {
    let queued = Arc::new(());
    let (tx, rx) = channel(1);
    tx.try_send(Arc::clone(&queued)).unwrap();
    let (c1, w1) = counting_waker();
    let (c2, w2) = counting_waker();
    let mut first = Box::pin(tx.send(Arc::new(())));
    let mut second = Box::pin(tx.send(Arc::new(())));
    assert!(poll(first.as_mut(), &w1).is_pending());
    assert!(poll(second.as_mut(), &w2).is_pending());
    drop(rx);
    assert_eq!((wakes(&c1), wakes(&c2)), (1, 1));
    assert_eq!(Arc::strong_count(&queued), 1); // the unread value was dropped
    for (send, waker) in [(first.as_mut(), &w1), (second.as_mut(), &w2)] {
        match poll(send, waker) {
            Poll::Ready(Err(SendError(value))) => assert_eq!(Arc::strong_count(&value), 1),
            other => panic!("expected the value back, got {other:?}"),
        }
    }
    assert!(tx.is_closed());
}

#[test]
fn channel_close_drains_queued_values_then_ends() {
    let (tx, mut rx) = channel(2);
    tx.try_send(1).unwrap();
    tx.try_send(2).unwrap();
    let (count, waker) = counting_waker();
    let mut blocked = Box::pin(tx.send(3));
    assert!(poll(blocked.as_mut(), &waker).is_pending());
    rx.close();
    assert_eq!(wakes(&count), 1);
    assert!(matches!(
        poll(blocked.as_mut(), &waker),
        Poll::Ready(Err(SendError(3)))
    ));
    assert_eq!(tx.try_send(4), Err(TrySendError::Closed(4)));
    assert_eq!(rx.try_recv(), Ok(1));
    assert_eq!(rx.try_recv(), Ok(2));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
    assert_eq!(run(rx.recv()), None);
}

#[test]
fn channel_try_send_reports_full_then_closed() {
    let (tx, mut rx) = channel(1);
    assert_eq!(tx.try_send('a'), Ok(()));
    assert_eq!(tx.try_send('b'), Err(TrySendError::Full('b')));
    assert_eq!(rx.try_recv(), Ok('a'));
    assert_eq!(tx.try_send('c'), Ok(()));
    drop(rx);
    assert_eq!(tx.try_send('d'), Err(TrySendError::Closed('d')));
}

#[test]
#[should_panic(expected = "the capacity must be at least 1")]
fn channel_zero_capacity_panics() {
    let _ = channel::<u8>(0);
}

#[test]
fn channel_thread_sender_wakes_receiver_sleeping_in_reactor() {
    const COUNT: u32 = 1000;
    let (tx, mut rx) = channel(4);
    let (go_tx, go_rx) = mpsc::channel::<()>();
    // The producer runs its own loop on its own thread; it starts only once
    // the receiver has registered its waker and given up the CPU.
    let producer = std::thread::spawn(move || {
        go_rx.recv().unwrap();
        run(async move {
            for i in 0..COUNT {
                tx.send(i).await.unwrap();
            }
        });
    });
    let (first_remote_wakes, received) = run(async move {
        let before = simul_runtime::stats().wakes_remote;
        let mut go = Some(go_tx);
        let first = poll_fn(|cx| {
            let poll = rx.poll_recv(cx);
            if poll.is_pending() {
                if let Some(go) = go.take() {
                    go.send(()).unwrap();
                }
            }
            poll
        })
        .await;
        // The first value can only have arrived through one remote wake: the
        // waker was taken by that push and not registered again since.
        let first_remote_wakes = simul_runtime::stats().wakes_remote - before;
        let mut received = vec![first.unwrap()];
        while let Some(i) = rx.recv().await {
            received.push(i);
        }
        (first_remote_wakes, received)
    });
    producer.join().unwrap();
    assert_eq!(first_remote_wakes, 1);
    assert_eq!(received, (0..COUNT).collect::<Vec<_>>());
}

#[test]
fn channel_many_thread_senders_each_arrive_in_order() {
    const THREADS: usize = 4;
    const EACH: usize = 500;
    let (tx, mut rx) = channel(3);
    let producers: Vec<_> = (0..THREADS)
        .map(|t| {
            let tx = tx.clone();
            std::thread::spawn(move || {
                run(async move {
                    for i in 0..EACH {
                        tx.send((t, i)).await.unwrap();
                    }
                })
            })
        })
        .collect();
    drop(tx);
    let per_thread = run(async move {
        let mut per_thread = vec![Vec::new(); THREADS];
        while let Some((t, i)) = rx.recv().await {
            per_thread[t].push(i);
        }
        per_thread
    });
    producers.into_iter().for_each(|p| p.join().unwrap());
    for got in per_thread {
        assert_eq!(got, (0..EACH).collect::<Vec<_>>());
    }
}

#[test]
fn channel_send_cancelled_by_timeout_frees_its_place() {
    let rt = virtual_runtime();
    let (gave_up, received) = rt.block_on(async {
        let (tx, mut rx) = channel(1);
        tx.send("first").await.unwrap();
        let tx = Rc::new(tx);
        let impatient = {
            let tx = Rc::clone(&tx);
            spawn(async move {
                timeout(Duration::from_secs(1), tx.send("never"))
                    .await
                    .is_err()
            })
        };
        let patient = {
            let tx = Rc::clone(&tx);
            spawn(async move { tx.send("patient").await.unwrap() })
        };
        sleep(Duration::from_secs(2)).await;
        let gave_up = impatient.await.unwrap();
        let mut received = vec![rx.recv().await.unwrap()];
        patient.await.unwrap();
        drop(tx);
        while let Some(value) = rx.recv().await {
            received.push(value);
        }
        (gave_up, received)
    });
    assert!(gave_up);
    assert_eq!(received, ["first", "patient"]);
}
