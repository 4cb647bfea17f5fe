//! A five-minute tour of simul: tasks, timers, a thread, and a socket, all
//! on one loop. Run it with `cargo run --example tour`.
//!
//! Everything is started at once, and each piece prints its own line, with
//! its label and the time, the moment it is done. So the lines come out in
//! the order things *finish*, not the order they were started: the sleepers
//! started first (300 ms, 100 ms, 200 ms) wake last, and in deadline order;
//! the pool thread's sum and the echo finish while they sleep. The loop never
//! waits for one thing while another could run.
//!
//! Each task is spawned under the label it prints (`task::Builder::name`), so
//! the trace names them too: `SIMUL_TRACE=- cargo run --example tour` prints
//! the loop's timeline on stderr, with `sleeper-100 (task 2)` where an
//! unnamed task would be only `task 2`.

use std::rc::Rc;
use std::time::{Duration, Instant};

use simul::net::{TcpListener, TcpStream};
use simul::task::Builder;
use simul::time::sleep;

fn main() {
    let started = Instant::now();
    // Each line: the time since the start, who speaks, what happened.
    let say = Rc::new(move |who: &str, what: String| {
        println!(
            "{:>5.0} ms  {who:<12} {what}",
            started.elapsed().as_secs_f64() * 1000.0
        );
    });

    simul::run(async move {
        let mut tasks = Vec::new();

        // Three sleepers, started in this order: they wake by deadline, not by start.
        for ms in [300u64, 100, 200] {
            let say = Rc::clone(&say);
            let label = format!("sleeper-{ms}");
            tasks.push(Builder::new().name(label.clone()).spawn(async move {
                sleep(Duration::from_millis(ms)).await;
                say(&label, format!("woke after {ms} ms"));
            }));
        }

        // A blocking job runs on a pool thread; its result wakes this task from that thread.
        let pool_say = Rc::clone(&say);
        tasks.push(Builder::new().name("pool-job").spawn(async move {
            let sum = simul::spawn_blocking(|| (1..=1_000_000u64).sum::<u64>())
                .await
                .expect("blocking job failed");
            pool_say("pool-job", format!("a pool thread summed 1..=1e6 = {sum}"));
        }));

        // An echo over loopback: a server task and a client task on the same loop.
        let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap()).expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let server_say = Rc::clone(&say);
        tasks.push(Builder::new().name("echo-server").spawn(async move {
            let (conn, _) = listener.accept().await.expect("accept");
            let mut buf = [0u8; 64];
            let n = conn.read(&mut buf).await.expect("read");
            conn.write_all(&buf[..n]).await.expect("write");
            server_say("echo-server", format!("echoed {n} bytes"));
        }));
        let client_say = Rc::clone(&say);
        tasks.push(Builder::new().name("echo-client").spawn(async move {
            let client = TcpStream::connect(addr).await.expect("connect");
            client.write_all(b"hello, loop").await.expect("write");
            let mut buf = [0u8; 64];
            let n = client.read(&mut buf).await.expect("read");
            let echo = String::from_utf8_lossy(&buf[..n]).into_owned();
            client_say("echo-client", format!("got {echo:?} back"));
        }));

        say(
            "main",
            format!("started {} tasks; now waiting for all of them", tasks.len()),
        );
        for task in tasks {
            task.await.expect("a task failed");
        }

        let stats = simul::stats();
        say(
            "main",
            format!(
                "{} tasks, {} polls, {} reactor turns, {:.0} ms asleep",
                stats.tasks_spawned,
                stats.polls,
                stats.reactor_turns,
                stats.time_asleep.as_secs_f64() * 1000.0
            ),
        );
    });
}
