//! Chapter 6, exercise 6: a resolver cache in the connection layer, as aiohttp keeps one.
//! install: net/tests/dns_cache.rs
//!
//! The API: `simul_net::connect::open` asks a cache before `dns::resolve`, and keeps what
//! the resolver answered for `simul_net::connect::DNS_CACHE_TTL`:
//!
//! ```text
//! /// How long the connection layer keeps a resolver's answer.
//! pub const DNS_CACHE_TTL: Duration = Duration::from_secs(10);
//! ```
//!
//! The rules: the key is the (host, port) pair; an answer made at time `t` is used until
//! `t + DNS_CACHE_TTL` and asked again from then on; time is the runtime's clock, so the cache
//! expires on the virtual clock too. Failed lookups are not kept. The map stays small (a bound
//! on its entries; expired ones go first), and it belongs to the loop's thread, as the loop
//! does.
//!
//! A lookup is a blocking-pool job, and `spawn_blocking` spawns a task to await it: the tests
//! count lookups as `stats().tasks_spawned` (connecting spawns nothing else).
//!
//! Copy this file to `net/tests/dns_cache.rs` and run
//! `timeout 120 cargo test -p simul-net --test dns_cache`.

use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use simul_net::connect::{open, Endpoint, DNS_CACHE_TTL};
use simul_runtime::time::sleep;
use simul_runtime::{run, stats, Runtime};

/// A listener on 127.0.0.1 (where `localhost` resolves), not accepting: the kernel completes
/// connects into its backlog, which is all `open` needs.
fn listener() -> (TcpListener, u16) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    (listener, port)
}

/// Connects to `localhost:port` and says how many lookups that took.
async fn connect_to_localhost(port: u16) -> u64 {
    let before = stats().tasks_spawned;
    let endpoint = Endpoint {
        host: "localhost",
        port,
        addrs: None,
        tls: None,
    };
    let transport = open(&endpoint, None).await.unwrap();
    drop(transport);
    stats().tasks_spawned - before
}

#[test]
fn two_connects_to_localhost_resolve_once() {
    let (_listener, port) = listener();
    let lookups = run(async {
        [
            connect_to_localhost(port).await,
            connect_to_localhost(port).await,
        ]
    });
    assert_eq!(lookups, [1, 0]);
}

/// On the virtual clock: still cached a second before the answer is 10 s old, asked again at 10 s.
#[test]
fn the_answer_is_asked_again_once_10_s_have_passed() {
    assert_eq!(DNS_CACHE_TTL, Duration::from_secs(10));
    let (_listener, port) = listener();
    let rt = Runtime::builder().virtual_clock(true).build().unwrap();
    let lookups = rt.block_on(async {
        let first = connect_to_localhost(port).await;
        sleep(DNS_CACHE_TTL - Duration::from_secs(1)).await;
        let within = connect_to_localhost(port).await;
        sleep(Duration::from_secs(1)).await;
        let after = connect_to_localhost(port).await;
        let again = connect_to_localhost(port).await;
        [first, within, after, again]
    });
    assert_eq!(lookups, [1, 0, 1, 0]);
}

/// The port is part of the key: after `localhost:A`, a connect to `localhost:B` resolves again
/// and reaches B, not A.
#[test]
fn the_cache_is_per_host_and_port() {
    let (a, port_a) = listener();
    let (b, port_b) = listener();
    let lookups = run(async {
        [
            connect_to_localhost(port_a).await,
            connect_to_localhost(port_b).await,
        ]
    });
    assert_eq!(lookups, [1, 1]);
    let accepted = |l: &TcpListener| l.accept().map(|(_, from): (_, SocketAddr)| from).is_ok();
    assert!(accepted(&a), "the connect to A reached A");
    assert!(accepted(&b), "the connect to B reached B");
}
