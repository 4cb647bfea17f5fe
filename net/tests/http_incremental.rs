//! Incremental parsing through a real socket: however a response is cut into writes (one byte
//! each, or two pieces split at every possible point), the client sees the same head, body and
//! trailers as when it arrives whole. The server yields to the loop between pieces, so the
//! client's reads really do see each piece on its own.

mod common;

use common::{RawServer, Step};
use simul_net::http::Client;
use simul_runtime::run;

/// A response exercising every incremental state: 1xx heads, headers, chunk sizes with
/// extensions, chunk data, the CRLF after data, the last chunk and trailers.
const CHUNKED: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n\
    HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n\
    HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Head: h\r\n\r\n\
    5;ext=\"q;x\"\r\nhello\r\n\
    1\r\n,\r\n\
    a\r\n world!!! \r\n\
    0\r\nX-Trailer: t\r\nX-Other: o\r\n\r\n";

const EXACT: &[u8] = b"HTTP/1.1 201 Created\r\nContent-Length: 12\r\nX-Head: h\r\n\r\nhello, world";

/// What the client made of one response.
#[derive(Debug, PartialEq)]
struct Seen {
    status: u16,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
    trailers: Option<Vec<(String, Vec<u8>)>>,
}

/// Delivers each of `deliveries` (a response cut into pieces) on its own connection, and
/// returns what the client saw of each.
async fn receive_all(deliveries: Vec<Vec<Vec<u8>>>) -> Vec<Seen> {
    let count = deliveries.len();
    let scripts = deliveries
        .into_iter()
        .map(|pieces| {
            vec![
                Step::ReadRequest,
                Step::WritePieces(pieces),
                Step::ExpectEof,
            ]
        })
        .collect();
    let server = RawServer::start(scripts);
    // No reuse: connection i carries delivery i.
    let client = Client::builder().max_idle_per_host(0).build();
    let mut seen = Vec::new();
    for i in 0..count {
        let mut response = client
            .get(&server.url("/"))
            .await
            .unwrap_or_else(|e| panic!("delivery {i}: {e}"));
        let mut body = Vec::new();
        while let Some(piece) = response
            .chunk()
            .await
            .unwrap_or_else(|e| panic!("delivery {i}: {e}"))
        {
            body.extend_from_slice(&piece);
        }
        let fields = |h: &simul_net::http::Headers| {
            h.iter()
                .map(|(n, v)| (n.to_owned(), v.to_vec()))
                .collect::<Vec<_>>()
        };
        seen.push(Seen {
            status: response.status(),
            headers: fields(response.headers()),
            body,
            trailers: response.trailers().map(fields),
        });
    }
    seen
}

/// The response whole, one byte per write, and split in two at every point.
fn cuts(response: &[u8]) -> Vec<Vec<Vec<u8>>> {
    let mut deliveries = vec![vec![response.to_vec()]];
    deliveries.push(response.iter().map(|&b| vec![b]).collect());
    for at in 1..response.len() {
        deliveries.push(vec![response[..at].to_vec(), response[at..].to_vec()]);
    }
    deliveries
}

fn check(response: &[u8]) -> Seen {
    let deliveries = cuts(response);
    let seen = run(receive_all(deliveries));
    let (whole, rest) = seen.split_first().unwrap();
    for (i, other) in rest.iter().enumerate() {
        let how = if i == 0 {
            "one byte per write".to_owned()
        } else {
            format!("split at {i}")
        };
        assert_eq!(other, whole, "{how}");
    }
    seen.into_iter().next().unwrap()
}

// Rule: a chunked response with 1xx heads, extensions and trailers parses the same however cut.
#[test]
fn chunked_response_is_the_same_however_it_is_cut() {
    let whole = check(CHUNKED);
    assert_eq!(whole.status, 200);
    assert_eq!(whole.body, b"hello, world!!! ");
    assert!(whole
        .headers
        .contains(&("X-Head".to_owned(), b"h".to_vec())));
    assert!(
        !whole.headers.iter().any(|(n, _)| n == "Link"),
        "a 1xx header leaked"
    );
    assert_eq!(
        whole.trailers,
        Some(vec![
            ("X-Trailer".to_owned(), b"t".to_vec()),
            ("X-Other".to_owned(), b"o".to_vec())
        ])
    );
}

// Rule: a Content-Length response parses the same however cut.
#[test]
fn content_length_response_is_the_same_however_it_is_cut() {
    let whole = check(EXACT);
    assert_eq!(whole.status, 201);
    assert_eq!(whole.body, b"hello, world");
    assert_eq!(whole.trailers, None);
}
