//! Happy eyeballs (RFC 8305, `net/src/connect/eyeballs.rs`) through the HTTP client, with two
//! loopback addresses for one name (`ClientBuilder::resolve`): 127.0.0.2 and 127.0.0.1 are both
//! loopback on Linux. Under the virtual clock, time moves only when every task waits, so the
//! stagger shows as an exact 250 ms.

use std::net::SocketAddr;
use std::time::Duration;

use simul_net::connect::ATTEMPT_DELAY;
use simul_net::http::server::{Response, Server};
use simul_net::http::{Client, Error, TimeoutPhase};
use simul_runtime::time::now;
use simul_runtime::{spawn, Runtime};

fn virtual_runtime() -> Runtime {
    Runtime::builder().virtual_clock(true).build().unwrap()
}

/// A listener on `ip` whose accept queue is full, so the kernel drops new SYNs and a connect
/// to it hangs. Returns it with what holds the queue full, or `None` if it never filled.
fn hanging_listener(ip: &str) -> Option<(std::net::TcpListener, Vec<std::net::TcpStream>)> {
    let listener = std::net::TcpListener::bind((ip, 0)).unwrap();
    let addr = listener.local_addr().unwrap();
    let mut held = Vec::new();
    while held.len() < 5000 {
        match std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(300)) {
            Ok(stream) => held.push(stream),
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => return Some((listener, held)),
            Err(e) => panic!("connect to a full listener failed with {e}"),
        }
    }
    None
}

/// Our server on `addr`, answering "served".
fn serve(addr: SocketAddr) -> Option<SocketAddr> {
    let server = Server::bind(addr).ok()?;
    let bound = server.local_addr();
    drop(spawn(
        server.serve(|_| async { Response::text(200, "served") }),
    ));
    Some(bound)
}

#[test]
fn a_first_address_that_hangs_is_overtaken_after_250_ms() {
    let Some((hanging, _held)) = hanging_listener("127.0.0.2") else {
        eprintln!("note: could not fill the accept queue; happy eyeballs not tested");
        return;
    };
    let port = hanging.local_addr().unwrap().port();
    virtual_runtime().block_on(async {
        // The same port on 127.0.0.1, where a server answers.
        let Some(good) = serve(SocketAddr::from(([127, 0, 0, 1], port))) else {
            eprintln!("note: port {port} is taken on 127.0.0.1; happy eyeballs not tested");
            return;
        };
        let client = Client::builder()
            .resolve("eyeballs.test", &[hanging.local_addr().unwrap(), good])
            .build();
        let start = now();
        let url = format!("http://eyeballs.test:{port}/");
        let body = client.get(&url).await.unwrap().text().await.unwrap();
        assert_eq!(body, "served");
        assert_eq!(
            now() - start,
            ATTEMPT_DELAY,
            "the second attempt started at 250 ms"
        );
    });
}

#[test]
fn a_refused_first_address_moves_on_at_once() {
    virtual_runtime().block_on(async {
        let good = serve("127.0.0.1:0".parse().unwrap()).unwrap();
        // Nobody listens on 127.0.0.2 at that port: refused.
        let refused = SocketAddr::from(([127, 0, 0, 2], good.port()));
        let client = Client::builder()
            .resolve("eyeballs.test", &[refused, good])
            .build();
        let start = now();
        let url = format!("http://eyeballs.test:{}/", good.port());
        let body = client.get(&url).await.unwrap().text().await.unwrap();
        assert_eq!(body, "served");
        assert_eq!(now() - start, Duration::ZERO, "no stagger after a failure");
    });
}

#[test]
fn when_every_address_hangs_one_connect_timeout_bounds_them_all() {
    let (Some((first, _a)), Some((second, _b))) =
        (hanging_listener("127.0.0.2"), hanging_listener("127.0.0.3"))
    else {
        eprintln!("note: could not fill the accept queues; not tested");
        return;
    };
    virtual_runtime().block_on(async {
        let client = Client::builder()
            .resolve(
                "eyeballs.test",
                &[first.local_addr().unwrap(), second.local_addr().unwrap()],
            )
            .connect_timeout(Some(Duration::from_secs(5)))
            .build();
        let start = now();
        let error = client.get("http://eyeballs.test/").await.unwrap_err();
        assert!(
            matches!(
                error,
                Error::Timeout {
                    phase: TimeoutPhase::Connect
                }
            ),
            "{error:?}"
        );
        assert_eq!(now() - start, Duration::from_secs(5));
    });
}

#[test]
fn when_every_address_refuses_the_error_names_the_host() {
    virtual_runtime().block_on(async {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port(); // closed again: nobody listens there now
        let addrs: Vec<SocketAddr> = [1, 2, 3]
            .map(|i| SocketAddr::from(([127, 0, 0, i], port)))
            .to_vec();
        let client = Client::builder().resolve("eyeballs.test", &addrs).build();
        let error = client
            .get(&format!("http://eyeballs.test:{port}/"))
            .await
            .unwrap_err();
        let Error::Connect { source, .. } = &error else {
            panic!("expected Connect, got {error:?}");
        };
        assert_eq!(source.kind(), std::io::ErrorKind::ConnectionRefused);
        assert!(
            error.to_string().contains(&format!("eyeballs.test:{port}")),
            "{error}"
        );
    });
}
