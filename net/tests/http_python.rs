//! A server no one here wrote: Python's `http.server` (HTTP/1.0, one request per connection),
//! run as a child process on loopback. Skipped, with a note, where python3 is not installed.
//! Its process runs outside our loop, so these tests use the real clock.

mod common;

use common::Python;
use simul_net::http::{Client, Error, Version};
use simul_runtime::run;

const PAGE: &[u8] = b"<html>hello from python</html>\n";

// Rule: an HTTP/1.0 answer with Content-Length is read exactly, and the connection not pooled.
#[test]
fn get_a_file_from_http_server() {
    let Some(python) = Python::http_server(&[("page.html", PAGE)]) else {
        return;
    };
    run(async {
        let client = Client::new();
        for _ in 0..3 {
            let response = client.get(&python.url("/page.html")).await.unwrap();
            assert_eq!(response.status(), 200);
            assert_eq!(response.version(), Version::Http10);
            assert_eq!(
                response.header("content-length"),
                Some(&*PAGE.len().to_string())
            );
            assert_eq!(response.bytes().await.unwrap(), PAGE);
            assert_eq!(
                client.idle_connections(),
                0,
                "an HTTP/1.0 connection was pooled"
            );
        }
    });
}

// Rule: a large file arrives whole through many reads.
#[test]
fn get_a_large_file_from_http_server() {
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    let Some(python) = Python::http_server(&[("big.bin", &big)]) else {
        return;
    };
    run(async {
        let body = Client::new()
            .get(&python.url("/big.bin"))
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        assert_eq!(body.len(), big.len());
        assert!(body == big, "the large body was corrupted");
    });
}

// Rule: HEAD gets the headers (Content-Length included) and no body.
#[test]
fn head_against_http_server() {
    let Some(python) = Python::http_server(&[("page.html", PAGE)]) else {
        return;
    };
    run(async {
        let response = Client::new().head(&python.url("/page.html")).await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.header("content-length"),
            Some(&*PAGE.len().to_string())
        );
        assert_eq!(response.bytes().await.unwrap(), b"");
    });
}

// Rule: an error status is a response, not an Error: 404 with its HTML body.
#[test]
fn missing_file_is_a_404_response() {
    let Some(python) = Python::http_server(&[]) else {
        return;
    };
    run(async {
        let response = Client::new().get(&python.url("/nope.txt")).await.unwrap();
        assert_eq!(response.status(), 404);
        assert!(response.text().await.unwrap().contains("404"));
    });
}

// Rule: a directory without a trailing slash is redirected (301, relative Location) and followed.
#[test]
fn directory_redirect_is_followed() {
    let Some(python) = Python::http_server(&[]) else {
        return;
    };
    std::fs::create_dir(python.dir.join("sub")).unwrap();
    std::fs::write(python.dir.join("sub/index.html"), b"sub index").unwrap();
    run(async {
        let response = Client::new().get(&python.url("/sub")).await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.url().path(), "/sub/");
        assert_eq!(response.text().await.unwrap(), "sub index");
    });
}

/// An HTTP/1.0 server whose bodies have no Content-Length (they end at the close); `/short`
/// announces 100 bytes and sends 10.
const CLOSE_DELIMITED: &str = r#"
import http.server
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        if self.path == "/short":
            self.send_header("Content-Length", "100")
            self.end_headers()
            self.wfile.write(b"0123456789")
        else:
            self.end_headers()
            self.wfile.write(b"no length, " * 1000 + b"the end")
    def log_message(self, *args):
        pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
print("Serving HTTP on 127.0.0.1 port %d" % s.server_port, flush=True)
s.serve_forever()
"#;

// Rule: a body without length runs to the close and is complete there; not pooled.
#[test]
fn close_delimited_body_from_python() {
    let Some(python) = Python::script(CLOSE_DELIMITED) else {
        return;
    };
    run(async {
        let client = Client::new();
        let response = client.get(&python.url("/")).await.unwrap();
        assert_eq!(response.header("content-length"), None);
        let text = response.text().await.unwrap();
        assert!(text.starts_with("no length, no length"));
        assert!(text.ends_with("the end"));
        assert_eq!(text.len(), 11 * 1000 + 7);
        assert_eq!(client.idle_connections(), 0);
    });
}

// Rule: a body shorter than its Content-Length is IncompleteBody, never a short Ok.
#[test]
fn short_body_from_python_is_incomplete() {
    let Some(python) = Python::script(CLOSE_DELIMITED) else {
        return;
    };
    run(async {
        let response = Client::new().get(&python.url("/short")).await.unwrap();
        let err = response.bytes().await.unwrap_err();
        assert!(
            matches!(
                err,
                Error::IncompleteBody {
                    expected: Some(100),
                    received: 10
                }
            ),
            "{err:?}"
        );
        assert!(
            err.to_string().contains("after 10 of 100 body bytes"),
            "{err}"
        );
    });
}
