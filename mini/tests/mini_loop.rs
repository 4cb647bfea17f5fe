//! The mini loop of chapter 0, held to the rules the rest of the book states: a wake during a
//! poll is served by exactly one more poll, a tick runs only the tasks that were ready when it
//! began, sleeps never end early and end in deadline order, an idle loop sleeps in the kernel,
//! a refused connect is an error, and the article's three fetches really run at once.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::pin::Pin;
use std::process::Command;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use simul_mini::{block_on, sleep, spawn, TcpStream};

/// Counts its polls into `polls`; on the first one, wakes itself `wakes` times; ready on poll
/// number `ready_on` (never if 0).
struct Counting {
    polls: Rc<Cell<u32>>,
    wakes: u32,
    ready_on: u32,
}

impl Future for Counting {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.polls.set(self.polls.get() + 1);
        if self.polls.get() == 1 {
            (0..self.wakes).for_each(|_| cx.waker().wake_by_ref());
        }
        if self.polls.get() == self.ready_on {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

/// asyncio's `await sleep(0)`: pending once, after a wake.
async fn yield_now() {
    let polls = Rc::new(Cell::new(0));
    Counting { polls, wakes: 1, ready_on: 2 }.await
}

#[test]
fn block_on_returns_the_output_of_main_and_of_its_tasks() {
    let total = block_on(async {
        let a = spawn(async { 20 });
        let b = spawn(async { 22 });
        a.await + b.await
    });
    assert_eq!(total, 42);
}

#[test]
fn wakes_during_a_poll_are_served_by_exactly_one_more_poll() {
    let polls = Rc::new(Cell::new(0));
    let seen = Rc::clone(&polls);
    block_on(async move {
        drop(spawn(Counting { polls: seen, wakes: 3, ready_on: 0 }));
        for _ in 0..5 {
            yield_now().await;
        }
    });
    assert_eq!(polls.get(), 2, "three wakes during the first poll, one more poll");
}

#[test]
fn a_task_woken_during_a_tick_waits_for_the_next_one() {
    let order = Rc::new(RefCell::new(Vec::new()));
    let log = Rc::clone(&order);
    block_on(async move {
        let tasks: Vec<_> = ["a", "b"]
            .into_iter()
            .map(|name| {
                let log = Rc::clone(&log);
                spawn(async move {
                    for _ in 0..3 {
                        log.borrow_mut().push(name);
                        yield_now().await; // wakes itself: runs again next tick, not now
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await;
        }
    });
    assert_eq!(*order.borrow(), ["a", "b", "a", "b", "a", "b"]);
}

/// A task that wakes itself for ever gets one poll per tick, so the loop still reaches its
/// timers. The spinner gives up after a million polls, so that starvation fails the test
/// instead of hanging it.
#[test]
fn a_self_waking_task_does_not_starve_a_timer() {
    let stop = Rc::new(Cell::new(false));
    let (flag, spins) = (Rc::clone(&stop), Rc::new(Cell::new(0u32)));
    let counted = Rc::clone(&spins);
    block_on(async move {
        let spinner = spawn(async move {
            while !flag.get() && counted.get() < 1_000_000 {
                counted.set(counted.get() + 1);
                yield_now().await;
            }
            flag.get()
        });
        sleep(Duration::from_millis(5)).await;
        stop.set(true);
        assert!(spinner.await, "the spinner gave up before the timer fired: starved");
    });
    assert!(spins.get() > 1);
}

#[test]
fn sleeps_end_in_deadline_order_and_never_early() {
    let ends = Rc::new(RefCell::new(Vec::new()));
    let log = Rc::clone(&ends);
    block_on(async move {
        let start = Instant::now();
        let tasks: Vec<_> = [30u64, 10, 20, 10]
            .into_iter()
            .enumerate()
            .map(|(id, ms)| {
                let log = Rc::clone(&log);
                spawn(async move {
                    sleep(Duration::from_millis(ms)).await;
                    assert!(start.elapsed() >= Duration::from_millis(ms), "woke early");
                    log.borrow_mut().push(id);
                })
            })
            .collect();
        for task in tasks {
            task.await;
        }
    });
    assert_eq!(*ends.borrow(), [1, 3, 2, 0], "by deadline; equal deadlines by creation");
}

#[test]
fn an_idle_loop_sleeps_instead_of_polling() {
    let polls = Rc::new(Cell::new(0u32));
    let count = Rc::clone(&polls);
    block_on(async move {
        let sleeper = sleep(Duration::from_millis(50));
        let mut sleeper = Box::pin(sleeper);
        std::future::poll_fn(|cx| {
            count.set(count.get() + 1);
            sleeper.as_mut().poll(cx)
        })
        .await;
    });
    assert_eq!(polls.get(), 2, "one poll to start the sleep, one when its timer fired");
}

#[test]
fn a_refused_connect_is_an_error_not_a_hang() {
    let addr = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap(); // closed again
    let error = block_on(async move { TcpStream::connect(addr).await.err() });
    assert_eq!(error.map(|e| e.kind()), Some(std::io::ErrorKind::ConnectionRefused));
}

/// The article's three fetches, against a server that answers none of them until it holds all
/// three requests: a client that fetched one after another would wait for ever (and the server
/// would give up, failing the test). It then answers compsci, python, programming, each after
/// the client has closed the previous connection, so the order of the output is fixed.
#[test]
fn the_three_fetches_run_at_once_and_print_the_articles_lines() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        listener.set_nonblocking(false).unwrap();
        let mut conns = Vec::new();
        while conns.len() < 3 {
            let (conn, _) = listener.accept().unwrap();
            conn.set_read_timeout(Some(Duration::from_secs(30))).unwrap(); // only a hang guard
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            let mut first = String::new();
            reader.read_line(&mut first).unwrap();
            let mut line = String::new();
            while reader.read_line(&mut line).unwrap() > 0 && line != "\r\n" {
                line.clear();
            }
            let sub = first.split('/').nth(2).unwrap().to_string();
            conns.push((sub, conn));
        }
        for wanted in ["compsci", "python", "programming"] {
            let (_, mut conn) = conns
                .iter()
                .find(|(sub, _)| sub == wanted)
                .map(|(s, c)| (s, c.try_clone().unwrap()))
                .unwrap();
            write!(conn, "HTTP/1.0 200 OK\r\n\r\n{wanted} post\n").unwrap();
            conn.shutdown(std::net::Shutdown::Write).unwrap();
            // Wait for the client's close: it has printed this answer by then.
            assert_eq!(conn.read(&mut [0u8; 16]).unwrap(), 0, "the client closes after reading");
        }
    });
    let output = Command::new(env!("CARGO_BIN_EXE_three_fetches"))
        .args(["--base-url", &format!("http://{addr}")])
        .output()
        .unwrap();
    server.join().expect("the server saw three requests at once");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "compsci post\nDONE: compsci\n\npython post\nDONE: python\n\nprogramming post\nDONE: programming\n\n"
    );
}

#[test]
fn the_example_prints_the_articles_posts_from_its_own_server() {
    let output = Command::new(env!("CARGO_BIN_EXE_three_fetches")).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8_lossy(&output.stdout);
    // The order comes from the server's delays; the test above pins it without timing.
    let mut done: Vec<&str> = stdout.lines().filter(|l| l.starts_with("DONE: ")).collect();
    done.sort_unstable();
    assert_eq!(done, ["DONE: compsci", "DONE: programming", "DONE: python"]);
    assert_eq!(stdout.lines().filter(|l| l.contains(": ") && !l.starts_with("DONE")).count(), 13);
    assert!(
        stdout.contains("\n50: Undershoot: Parsing theory in 1965 (http://")
            || stdout.starts_with("50: ")
    );
}
