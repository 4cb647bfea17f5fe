//! Redirects against our fixture server: where they lead, what of the request survives, and
//! where they stop. The server records every request it saw, so the test checks what was sent.

mod common;

use std::cell::RefCell;
use std::rc::Rc;

use common::{fixture, server, Serving};
use simul_net::http::server::{Request, Response};
use simul_net::http::{Client, Error};
use simul_runtime::run;

/// What the server saw of one request.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    target: String,
    body: Vec<u8>,
    content_type: Option<String>,
    authorization: Option<String>,
    cookie: Option<String>,
}

type Log = Rc<RefCell<Vec<Seen>>>;

fn record(log: &Log, req: &Request) {
    log.borrow_mut().push(Seen {
        method: req.method().to_owned(),
        target: req.target().to_owned(),
        body: req.body().to_vec(),
        content_type: req.header("content-type").map(str::to_owned),
        authorization: req.header("authorization").map(str::to_owned),
        cookie: req.header("cookie").map(str::to_owned),
    });
}

/// A server where `/redirect/CODE?to=LOCATION` answers CODE with that Location, `/loop` redirects
/// to itself, and anything else answers 200 with its own target.
fn redirecting_server() -> (String, Log, Serving) {
    let log: Log = Rc::default();
    let seen = Rc::clone(&log);
    let (addr, serving) = fixture(server(), move |req| {
        record(&seen, &req);
        async move {
            if let Some(code) = req.path().strip_prefix("/redirect/") {
                let to = req
                    .query()
                    .and_then(|q| q.strip_prefix("to="))
                    .unwrap_or("/");
                Response::redirect(code.parse().unwrap(), to)
            } else if req.path() == "/loop" {
                Response::redirect(302, "/loop")
            } else {
                Response::text(200, format!("{} {}", req.method(), req.target()))
            }
        }
    });
    (format!("http://{addr}"), log, serving)
}

// Rule: a relative Location is resolved against the URL that answered.
#[test]
fn location_is_resolved_against_the_current_url() {
    run(async {
        let (base, log, _serving) = redirecting_server();
        let response = Client::new()
            .get(&format!("{base}/redirect/302?to=../landed?x=1"))
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.url().as_str(), format!("{base}/landed?x=1"));
        assert_eq!(response.text().await.unwrap(), "GET /landed?x=1");
        assert_eq!(log.borrow().len(), 2);
    });
}

// Rule: 301, 302 and 303 turn a POST into a GET without its body and the headers describing it.
#[test]
fn post_becomes_get_without_body_on_301_302_303() {
    for code in [301, 302, 303] {
        run(async {
            let (base, log, _serving) = redirecting_server();
            let response = Client::new()
                .post(&format!("{base}/redirect/{code}?to=/target"))
                .json(&serde_json::json!({ "a": 1 }))
                .await
                .unwrap();
            assert_eq!(response.text().await.unwrap(), "GET /target", "{code}");
            let log = log.borrow();
            assert_eq!(log[0].method, "POST");
            assert_eq!(log[0].content_type.as_deref(), Some("application/json"));
            let hop = &log[1];
            assert_eq!(hop.method, "GET", "{code}");
            assert!(hop.body.is_empty(), "{code}: body kept");
            assert_eq!(hop.content_type, None, "{code}: Content-Type kept");
        });
    }
}

// Rule: 307 and 308 keep the method, the body and its headers.
#[test]
fn post_stays_post_with_body_on_307_308() {
    for code in [307, 308] {
        run(async {
            let (base, log, _serving) = redirecting_server();
            let response = Client::new()
                .post(&format!("{base}/redirect/{code}?to=/target"))
                .json(&serde_json::json!({ "a": 1 }))
                .await
                .unwrap();
            assert_eq!(response.text().await.unwrap(), "POST /target", "{code}");
            let hop = log.borrow()[1].clone();
            assert_eq!(hop.method, "POST");
            assert_eq!(hop.body, br#"{"a":1}"#);
            assert_eq!(hop.content_type.as_deref(), Some("application/json"));
        });
    }
}

// Rule: Authorization and Cookie go along on the same origin, and are dropped when the origin
// changes (two servers on two ports are two origins).
#[test]
fn credentials_are_dropped_when_the_origin_changes() {
    run(async {
        let (here, here_log, _a) = redirecting_server();
        let (there, there_log, _b) = redirecting_server();
        let client = Client::new();
        let send = |url: String| {
            client
                .get(&url)
                .header("Authorization", "Bearer secret")
                .header("Cookie", "session=1")
        };
        send(format!("{here}/redirect/302?to=/same")).await.unwrap();
        let same = here_log.borrow()[1].clone();
        assert_eq!(same.target, "/same");
        assert_eq!(same.authorization.as_deref(), Some("Bearer secret"));
        assert_eq!(same.cookie.as_deref(), Some("session=1"));

        let response = send(format!("{here}/redirect/307?to={there}/other"))
            .await
            .unwrap();
        assert_eq!(response.url().as_str(), format!("{there}/other"));
        let other = there_log.borrow()[0].clone();
        assert_eq!(other.target, "/other");
        assert_eq!(
            other.authorization, None,
            "Authorization leaked to another origin"
        );
        assert_eq!(other.cookie, None, "Cookie leaked to another origin");
    });
}

// Rule: a redirect loop stops at the limit with TooManyRedirects (limit + 1 requests made).
#[test]
fn a_redirect_loop_stops_at_the_limit() {
    run(async {
        let (base, log, _serving) = redirecting_server();
        let client = Client::builder().max_redirects(3).build();
        let err = client.get(&format!("{base}/loop")).await.unwrap_err();
        assert!(
            matches!(err, Error::TooManyRedirects { limit: 3 }),
            "{err:?}"
        );
        assert!(err.to_string().contains("after 3 redirects"), "{err}");
        assert_eq!(log.borrow().len(), 4);
    });
}

// Rule: the default limit also ends a loop (10 redirects, 11 requests).
#[test]
fn the_default_limit_is_ten() {
    run(async {
        let (base, log, _serving) = redirecting_server();
        let err = Client::new()
            .get(&format!("{base}/loop"))
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::TooManyRedirects { limit: 10 }),
            "{err:?}"
        );
        assert_eq!(log.borrow().len(), 11);
    });
}

// Rule: `max_redirects(0)` returns the 3xx itself, untouched.
#[test]
fn max_redirects_zero_returns_the_redirect() {
    run(async {
        let (base, log, _serving) = redirecting_server();
        let client = Client::builder().max_redirects(0).build();
        let response = client
            .get(&format!("{base}/redirect/302?to=/x"))
            .await
            .unwrap();
        assert_eq!(response.status(), 302);
        assert_eq!(response.header("location"), Some("/x"));
        assert_eq!(log.borrow().len(), 1);
    });
}

// Rule: following a redirect reuses the connection (its small body is drained, not abandoned).
#[test]
fn a_redirect_reuses_the_connection() {
    run(async {
        let peers: Rc<RefCell<Vec<std::net::SocketAddr>>> = Rc::default();
        let seen = Rc::clone(&peers);
        let (addr, _serving) = fixture(server(), move |req| {
            seen.borrow_mut().push(req.peer_addr());
            async move {
                match req.path() {
                    "/from" => Response::text(302, "moved").header("Location", "/to"),
                    _ => Response::text(200, "here"),
                }
            }
        });
        let client = Client::new();
        let response = client.get(&common::url(addr, "/from")).await.unwrap();
        assert_eq!(response.text().await.unwrap(), "here");
        let peers = peers.borrow();
        assert_eq!(peers.len(), 2);
        assert_eq!(peers[0], peers[1], "the redirect opened a new connection");
    });
}
