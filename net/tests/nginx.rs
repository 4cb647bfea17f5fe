//! The client against a real nginx (Debian's `nginx` package; `scripts/test.sh`
//! installs it): keep-alive, chunked bodies with trailers, redirects, slow
//! bodies against timeouts, connections closed without a reply, idle
//! connections the server timed out, and `keepalive_requests`.
//!
//! Each test starts its own nginx (see `common_nginx`). Connection reuse is
//! read from the `X-Conn` / `X-Req` headers nginx adds to every response
//! (`$connection`, `$connection_requests`), so nothing here is timed; the
//! only real waits are nginx's own rate limit and keep-alive timer.

mod common_nginx;

use std::time::Duration;

use common_nginx::{big_file, Nginx, BIG_LEN, SMALL_LEN};
use simul_net::http::{Client, ClosePhase, Error, Response, TimeoutPhase};
use simul_runtime::run;
use simul_runtime::time::{self, sleep};

/// nginx's (connection number, request number on it) for this response.
fn conn_of(response: &Response) -> (u64, u64) {
    let number = |name: &str| -> u64 {
        response
            .header(name)
            .unwrap_or_else(|| panic!("no {name} in {response:?}"))
            .parse()
            .unwrap_or_else(|_| panic!("{name} is not a number in {response:?}"))
    };
    (number("x-conn"), number("x-req"))
}

/// GET `path`, read the body whole; the (connection, request) it used.
async fn get_ok(client: &Client, nginx: &Nginx, path: &str) -> (u64, u64) {
    let response = client.get(&nginx.url(path)).await.expect("GET");
    assert_eq!(response.status(), 200, "{path}");
    let used = conn_of(&response);
    response.bytes().await.expect("body");
    used
}

/// The access log once it has `lines` lines, for requests whose log line
/// nginx may write just after the client saw the response. Bounded: nginx
/// writes it within microseconds, 5 s means it never will.
async fn access_log_with(nginx: &Nginx, lines: usize) -> Vec<String> {
    let give_up = time::now() + Duration::from_secs(5);
    loop {
        let log = nginx.access_log();
        if log.len() >= lines || time::now() > give_up {
            return log;
        }
        sleep(Duration::from_millis(10)).await;
    }
}

#[test]
fn fifty_gets_share_one_connection() {
    let nginx = Nginx::start();
    let used = run(async {
        let client = Client::new();
        let mut used = Vec::new();
        for _ in 0..50 {
            used.push(get_ok(&client, &nginx, "/ok").await);
        }
        used
    });
    let first = used[0].0;
    let expected: Vec<(u64, u64)> = (1..=50).map(|n| (first, n)).collect();
    assert_eq!(
        used, expected,
        "every GET on connection {first}, numbered 1..50"
    );
}

#[test]
fn without_a_pool_fifty_gets_use_fifty_connections() {
    let nginx = Nginx::start();
    let used = run(async {
        let client = Client::builder().max_idle_per_host(0).build();
        let mut used = Vec::new();
        for _ in 0..50 {
            used.push(get_ok(&client, &nginx, "/ok").await);
        }
        assert_eq!(client.idle_connections(), 0);
        used
    });
    let mut connections: Vec<u64> = used.iter().map(|&(c, _)| c).collect();
    connections.sort_unstable();
    connections.dedup();
    assert_eq!(connections.len(), 50, "{used:?}");
    assert!(used.iter().all(|&(_, request)| request == 1), "{used:?}");
}

/// gzip is how core nginx produces a chunked body; `add_trailer` puts a
/// field after the last chunk. The gzip member's last 4 bytes (ISIZE) are the
/// uncompressed length, so a complete body proves itself without inflating.
#[test]
fn gzip_body_arrives_chunked_with_its_trailer_and_the_connection_is_reused() {
    let nginx = Nginx::start();
    run(async {
        let client = Client::new();
        let mut response = client
            .get(&nginx.url("/gz"))
            .header("Accept-Encoding", "gzip")
            .await
            .expect("GET /gz");
        assert_eq!(response.status(), 200);
        assert_eq!(response.header("transfer-encoding"), Some("chunked"));
        assert_eq!(response.header("content-encoding"), Some("gzip"));
        assert_eq!(response.header("content-length"), None);
        let (connection, _) = conn_of(&response);
        assert!(
            response.trailers().is_none(),
            "no trailer before the body ends"
        );

        let mut body = Vec::new();
        while let Some(piece) = response.chunk().await.expect("chunk") {
            body.extend_from_slice(&piece);
        }
        assert_eq!(&body[..3], &[0x1f, 0x8b, 0x08], "gzip magic and deflate");
        let isize_field: [u8; 4] = body[body.len() - 4..].try_into().unwrap();
        assert_eq!(u32::from_le_bytes(isize_field) as usize, BIG_LEN);
        assert!(body.len() < BIG_LEN / 2, "compressed: {} bytes", body.len());
        let trailers = response.trailers().expect("trailers after the last chunk");
        assert_eq!(trailers.get("x-fixture-trailer"), Some("done"));
        drop(response);
        assert_eq!(client.idle_connections(), 1);

        let next = get_ok(&client, &nginx, "/ok").await;
        assert_eq!(
            next,
            (connection, 2),
            "the chunked response left the connection reusable"
        );
    });
}

#[test]
fn redirect_301_turns_post_into_get_and_drops_the_body() {
    let nginx = Nginx::start();
    run(async {
        let client = Client::new();
        let response = client
            .post(&nginx.url("/r301"))
            .body("hello")
            .await
            .expect("POST /r301");
        assert_eq!(response.status(), 200);
        assert_eq!(response.url().as_str(), nginx.url("/echo"));
        assert_eq!(response.header("x-body"), None, "the body did not follow");
        assert_eq!(conn_of(&response).1, 2, "the hop reused the connection");
        assert_eq!(response.text().await.unwrap(), "GET");
    });
}

#[test]
fn redirect_302_to_an_absolute_url_is_followed_on_the_same_connection() {
    let nginx = Nginx::start();
    run(async {
        let client = Client::new();
        let response = client.get(&nginx.url("/r302")).await.expect("GET /r302");
        assert_eq!(response.status(), 200);
        assert_eq!(response.url().as_str(), nginx.url("/method"));
        assert_eq!(conn_of(&response).1, 2, "the hop reused the connection");
        assert_eq!(response.text().await.unwrap(), "GET");
    });
}

#[test]
fn redirect_307_keeps_post_and_its_body() {
    let nginx = Nginx::start();
    run(async {
        let client = Client::new();
        let response = client
            .post(&nginx.url("/r307"))
            .body("hello")
            .await
            .expect("POST /r307");
        assert_eq!(response.status(), 200);
        assert_eq!(response.url().as_str(), nginx.url("/echo"));
        assert_eq!(response.header("x-body"), Some("hello"));
        assert_eq!(conn_of(&response).1, 2, "the hop reused the connection");
        assert_eq!(response.text().await.unwrap(), "POST");
    });
}

#[test]
fn without_following_a_redirect_is_returned_as_is() {
    let nginx = Nginx::start();
    run(async {
        let client = Client::builder().max_redirects(0).build();
        let response = client.get(&nginx.url("/r302")).await.expect("GET /r302");
        assert_eq!(response.status(), 302);
        assert_eq!(
            response.header("location"),
            Some(nginx.url("/method").as_str())
        );
        assert_eq!(response.url().as_str(), nginx.url("/r302"));
    });
}

#[test]
fn a_redirect_loop_stops_at_the_limit() {
    let nginx = Nginx::start();
    let error = run(async {
        let client = Client::builder().max_redirects(5).build();
        client.get(&nginx.url("/loop")).await.unwrap_err()
    });
    assert!(
        matches!(error, Error::TooManyRedirects { limit: 5 }),
        "{error:?}"
    );
    // The first request and 5 redirects, all on one connection.
    let log = run(access_log_with(&nginx, 6));
    let connection = log[0].split(' ').next().unwrap().to_owned();
    let expected: Vec<String> = (1..=6)
        .map(|n| format!("{connection} {n} GET /loop 302"))
        .collect();
    assert_eq!(log, expected);
}

#[test]
fn a_two_hop_chain_fails_with_one_redirect_allowed_and_succeeds_with_two() {
    let nginx = Nginx::start();
    run(async {
        let one = Client::builder().max_redirects(1).build();
        let error = one.get(&nginx.url("/hop2")).await.unwrap_err();
        assert!(
            matches!(error, Error::TooManyRedirects { limit: 1 }),
            "{error:?}"
        );
        let two = Client::builder().max_redirects(2).build();
        let response = two.get(&nginx.url("/hop2")).await.expect("two hops");
        assert_eq!(response.url().as_str(), nginx.url("/method"));
        assert_eq!(response.text().await.unwrap(), "GET");
    });
}

/// `/slow` sends 4 KiB every 125 ms: the head comes at once, the body would
/// take over 3 s, and the total deadline ends it in the middle.
#[test]
fn total_timeout_fires_during_a_rate_limited_body() {
    let nginx = Nginx::start();
    run(async {
        let client = Client::builder()
            .timeout(Some(Duration::from_millis(600)))
            .build();
        let mut response = client.get(&nginx.url("/slow")).await.expect("head in time");
        assert_eq!(
            response.header("content-length"),
            Some(BIG_LEN.to_string().as_str())
        );
        let mut received = 0;
        let error = loop {
            match response.chunk().await {
                Ok(Some(piece)) => received += piece.len(),
                Ok(None) => panic!("the whole body came within the total timeout"),
                Err(error) => break error,
            }
        };
        assert!(
            matches!(
                error,
                Error::Timeout {
                    phase: TimeoutPhase::Total
                }
            ),
            "{error:?}"
        );
        assert!(received > 0 && received < BIG_LEN, "received {received}");
        drop(response);
        assert_eq!(
            client.idle_connections(),
            0,
            "a cut-off body's connection is not kept"
        );
    });
}

/// `/steady` sends 2 KiB every 125 ms for about a second: longer than the
/// 500 ms read timeout in all, never that long without a byte.
#[test]
fn read_timeout_does_not_fire_while_bytes_keep_flowing() {
    let nginx = Nginx::start();
    let read_timeout = Duration::from_millis(500);
    run(async {
        let client = Client::builder().read_timeout(Some(read_timeout)).build();
        let started = time::now();
        let body = client
            .get(&nginx.url("/steady"))
            .await
            .expect("GET /steady")
            .bytes()
            .await
            .expect("the body, despite the read timeout");
        assert_eq!(body, vec![b's'; SMALL_LEN]);
        // Not a timing check of ours: nginx's rate limit guarantees it, and
        // without it the test would prove nothing.
        assert!(
            time::now() - started > read_timeout,
            "the body was not slower than the read timeout"
        );
        assert_eq!(client.idle_connections(), 1);
    });
}

/// A request-level timeout bounds a request the same way.
#[test]
fn request_timeout_overrides_the_clients() {
    let nginx = Nginx::start();
    run(async {
        let client = Client::new();
        let response = client
            .get(&nginx.url("/slow"))
            .timeout(Duration::from_millis(300))
            .await
            .expect("head in time");
        let error = response.bytes().await.unwrap_err();
        assert!(
            matches!(
                error,
                Error::Timeout {
                    phase: TimeoutPhase::Total
                }
            ),
            "{error:?}"
        );
    });
}

/// nginx logs a 444 before closing, so the log is complete once the client
/// has seen the close.
#[test]
fn return_444_on_a_fresh_connection_is_connection_closed_without_retry() {
    let nginx = Nginx::start();
    let error = run(async { Client::new().get(&nginx.url("/reset")).await.unwrap_err() });
    assert!(
        matches!(
            error,
            Error::ConnectionClosed {
                phase: ClosePhase::BeforeResponse
            }
        ),
        "{error:?}"
    );
    let log = nginx.access_log();
    assert_eq!(log.len(), 1, "{log:?}");
    assert!(log[0].ends_with(" 1 GET /reset 444"), "{log:?}");
}

/// A close before any response byte on a reused connection looks exactly
/// like the stale keep-alive race, so an idempotent request goes once more
/// on a new connection, and fails again here.
#[test]
fn return_444_on_a_reused_connection_is_retried_once_for_get() {
    let nginx = Nginx::start();
    let error = run(async {
        let client = Client::new();
        get_ok(&client, &nginx, "/ok").await;
        client.get(&nginx.url("/reset")).await.unwrap_err()
    });
    assert!(
        matches!(
            error,
            Error::ConnectionClosed {
                phase: ClosePhase::BeforeResponse
            }
        ),
        "{error:?}"
    );
    let log = nginx.access_log();
    assert_eq!(log.len(), 3, "{log:?}");
    let first = log[0].split(' ').next().unwrap();
    assert_eq!(log[0], format!("{first} 1 GET /ok 200"));
    assert_eq!(
        log[1],
        format!("{first} 2 GET /reset 444"),
        "first try on the reused connection"
    );
    let retry = log[2].split(' ').next().unwrap();
    assert_ne!(retry, first, "the retry went on a new connection");
    assert_eq!(log[2], format!("{retry} 1 GET /reset 444"));
}

#[test]
fn return_444_on_a_reused_connection_is_not_retried_for_post() {
    let nginx = Nginx::start();
    let error = run(async {
        let client = Client::new();
        get_ok(&client, &nginx, "/ok").await;
        client
            .post(&nginx.url("/reset"))
            .body("x")
            .await
            .unwrap_err()
    });
    assert!(
        matches!(
            error,
            Error::ConnectionClosed {
                phase: ClosePhase::BeforeResponse
            }
        ),
        "{error:?}"
    );
    let log = nginx.access_log();
    let first = log[0].split(' ').next().unwrap();
    assert_eq!(
        log,
        [
            format!("{first} 1 GET /ok 200"),
            format!("{first} 2 POST /reset 444")
        ]
    );
}

/// The stale-connection race, made certain: nginx closes the idle
/// connection after 1 s while the client would keep it 30 s. The next
/// request must notice and use a new connection, not fail.
#[test]
fn a_connection_nginx_timed_out_is_replaced_not_an_error() {
    let nginx = Nginx::with("keepalive_timeout 1s;");
    run(async {
        let client = Client::builder()
            .max_idle_age(Duration::from_secs(30))
            .build();
        let (first, _) = get_ok(&client, &nginx, "/ok").await;
        assert_eq!(client.idle_connections(), 1);

        // Wait for nginx's timer: until our pooled socket has seen its FIN.
        let give_up = time::now() + Duration::from_secs(5);
        while nginx.connections_closed_by_server() == 0 {
            assert!(
                time::now() < give_up,
                "nginx never closed the idle connection"
            );
            sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(
            client.idle_connections(),
            1,
            "still pooled: only checkout can tell"
        );

        let (second, request) = get_ok(&client, &nginx, "/ok").await;
        assert_ne!(second, first);
        assert_eq!(request, 1);
        assert_eq!(
            nginx.connections_closed_by_server(),
            0,
            "the stale socket was closed"
        );
    });
}

/// With `keepalive_requests 3` nginx answers the 3rd request on a connection
/// with `Connection: close` and closes; the client must not pool it.
#[test]
fn keepalive_requests_3_means_a_new_connection_every_third_request() {
    let nginx = Nginx::with("keepalive_requests 3;");
    let seen = run(async {
        let client = Client::new();
        let mut seen = Vec::new();
        for _ in 0..6 {
            let response = client.get(&nginx.url("/ok")).await.expect("GET /ok");
            let used = conn_of(&response);
            let close = response.header("connection").map(str::to_owned);
            assert_eq!(response.text().await.unwrap(), "ok\n");
            seen.push((used, close, client.idle_connections()));
        }
        seen
    });
    let (a, b) = (seen[0].0 .0, seen[3].0 .0);
    assert_ne!(a, b);
    let keep = || Some("keep-alive".to_owned());
    let close = || Some("close".to_owned());
    assert_eq!(
        seen,
        [
            ((a, 1), keep(), 1),
            ((a, 2), keep(), 1),
            ((a, 3), close(), 0),
            ((b, 1), keep(), 1),
            ((b, 2), keep(), 1),
            ((b, 3), close(), 0),
        ]
    );
}

/// The static file is served intact (a baseline for the slow tests).
#[test]
fn a_static_file_arrives_intact() {
    let nginx = Nginx::start();
    let body = run(async {
        Client::new()
            .get(&nginx.url("/big.txt"))
            .await
            .expect("GET /big.txt")
            .bytes()
            .await
            .expect("body")
    });
    assert!(body == big_file(), "big.txt differs ({} bytes)", body.len());
}
