//! A five-minute tour of simul: tasks, timers, a thread, and a socket, all
//! on one loop. Run it with `cargo run --example tour`.
//!
//! Each step prints what happened and when, so you can see the tasks
//! interleave: the loop never waits for one thing while another could run.

use std::time::{Duration, Instant};

use simul::net::{TcpListener, TcpStream};
use simul::time::sleep;

fn main() {
    let started = Instant::now();
    let at = move || format!("{:>5.0} ms", started.elapsed().as_secs_f64() * 1000.0);

    simul::run(async move {
        // Three tasks sleeping at once take as long as the longest, not the sum.
        let sleepers: Vec<_> = [300u64, 100, 200]
            .into_iter()
            .map(|ms| {
                simul::spawn(async move {
                    sleep(Duration::from_millis(ms)).await;
                    ms
                })
            })
            .collect();
        for task in sleepers {
            let ms = task.await.expect("sleeper failed");
            println!("{}  slept {ms} ms", at());
        }

        // A blocking job runs on a pool thread; its result wakes us.
        let sum = simul::spawn_blocking(|| (1..=1_000_000u64).sum::<u64>())
            .await
            .expect("blocking job failed");
        println!("{}  a pool thread summed 1..=1e6 = {sum}", at());

        // An echo round trip over loopback, server and client on the same loop.
        let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap()).expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let server = simul::spawn(async move {
            let (conn, _) = listener.accept().await.expect("accept");
            let mut buf = [0u8; 64];
            let n = conn.read(&mut buf).await.expect("read");
            conn.write_all(&buf[..n]).await.expect("write");
        });
        let client = TcpStream::connect(addr).await.expect("connect");
        client.write_all(b"hello, loop").await.expect("write");
        let mut buf = [0u8; 64];
        let n = client.read(&mut buf).await.expect("read");
        server.await.expect("server failed");
        println!("{}  echoed {:?}", at(), String::from_utf8_lossy(&buf[..n]));

        let stats = simul::stats();
        println!(
            "{}  {} tasks, {} polls, {} reactor turns, {:.0} ms asleep",
            at(),
            stats.tasks_spawned,
            stats.polls,
            stats.reactor_turns,
            stats.time_asleep.as_secs_f64() * 1000.0
        );
    });
}
