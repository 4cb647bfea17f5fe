//! Content decoding in the client: `Accept-Encoding: gzip, deflate` by default, gzip and deflate
//! decoded, `.json()` on a compressed body, the body limit counted after decoding (a gzip bomb
//! stops at the limit), and corrupt or cut streams as typed errors. Against our own server (to
//! send exactly the bytes a case needs) and a real nginx (`gzip on`, plain and over TLS).

mod common_nginx;
mod tls_support;

use std::cell::RefCell;
use std::io::Write;
use std::rc::Rc;

use flate2::write::{DeflateEncoder, GzEncoder, ZlibEncoder};
use flate2::Compression;
use simul_net::http::server::{Response, Server};
use simul_net::http::{Client, ContentCoding, Error};
use simul_runtime::{run, spawn};

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::best());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// Our server answering every request with `body` under `Content-Encoding: encoding`; the
/// `Accept-Encoding` of each request is recorded.
fn serve(encoding: &'static str, body: Vec<u8>) -> (String, Rc<RefCell<Vec<Option<String>>>>) {
    let server = Server::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let base = format!("http://{}", server.local_addr());
    let seen = Rc::new(RefCell::new(Vec::new()));
    let log = Rc::clone(&seen);
    let body = Rc::new(body);
    drop(spawn(server.serve(move |request| {
        log.borrow_mut()
            .push(request.header("accept-encoding").map(str::to_owned));
        let body = Rc::clone(&body);
        async move {
            Response::new(200)
                .header("Content-Encoding", encoding)
                .body(body.to_vec())
        }
    })));
    (base, seen)
}

#[test]
fn gzip_is_asked_for_by_default_and_decoded() {
    run(async {
        let (base, seen) = serve("gzip", gzip(b"hello, decoded world"));
        let client = Client::new();
        let text = client.get(&base).await.unwrap().text().await.unwrap();
        assert_eq!(text, "hello, decoded world");
        assert_eq!(seen.borrow()[0].as_deref(), Some("gzip, deflate"));
        assert_eq!(client.idle_connections(), 1, "decoded to the end: reused");
    });
}

#[test]
fn deflate_as_zlib_and_as_raw_deflate_both_decode() {
    let data = b"deflate, which is zlib by the RFC and raw deflate by some servers".repeat(50);
    let mut zlib = ZlibEncoder::new(Vec::new(), Compression::default());
    zlib.write_all(&data).unwrap();
    let mut raw = DeflateEncoder::new(Vec::new(), Compression::default());
    raw.write_all(&data).unwrap();
    for encoded in [zlib.finish().unwrap(), raw.finish().unwrap()] {
        let data = data.clone();
        run(async move {
            let (base, _) = serve("deflate", encoded);
            let body = Client::new()
                .get(&base)
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap();
            assert_eq!(body, data);
        });
    }
}

#[test]
fn json_works_on_a_compressed_body() {
    run(async {
        let (base, _) = serve("gzip", gzip(br#"{"score": 336, "title": "pawn"}"#));
        let value: serde_json::Value = Client::new()
            .get(&base)
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(value["score"], 336);
    });
}

#[test]
fn with_decompress_off_nothing_is_asked_and_the_body_is_as_sent() {
    run(async {
        let encoded = gzip(b"left alone");
        let (base, seen) = serve("gzip", encoded.clone());
        let client = Client::builder().decompress(false).build();
        let body = client.get(&base).await.unwrap().bytes().await.unwrap();
        assert_eq!(body, encoded);
        assert_eq!(seen.borrow()[0], None, "no Accept-Encoding");
        // A request that names its own Accept-Encoding gets the body as sent, too.
        let body = Client::new()
            .get(&base)
            .header("Accept-Encoding", "gzip")
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        assert_eq!(body, encoded);
    });
}

#[test]
fn a_gzip_bomb_stops_at_the_body_limit_and_streams_in_bounded_pieces() {
    // 64 MiB of zeros in about 64 KiB.
    let bomb = gzip(&vec![0u8; 64 << 20]);
    assert!(bomb.len() < 100_000, "{}", bomb.len());
    run(async move {
        let (base, _) = serve("gzip", bomb);
        let client = Client::builder().max_body_bytes(1 << 20).build();
        let error = client.get(&base).await.unwrap().bytes().await.unwrap_err();
        assert!(
            matches!(error, Error::BodyTooLarge { limit } if limit == 1 << 20),
            "{error}"
        );
        assert!(error.to_string().contains("after decoding"), "{error}");
        // Streamed, each piece is bounded however much the input expands.
        let mut response = client.get(&base).await.unwrap();
        for _ in 0..10 {
            let piece = response.chunk().await.unwrap().unwrap();
            assert!(
                !piece.is_empty() && piece.len() <= 64 * 1024,
                "{}",
                piece.len()
            );
        }
    });
}

#[test]
fn a_gzip_stream_cut_short_inside_a_complete_body_is_a_decoding_error() {
    let mut cut = gzip(&b"0123456789".repeat(1000));
    cut.truncate(cut.len() / 2);
    run(async move {
        let (base, _) = serve("gzip", cut);
        let error = Client::new()
            .get(&base)
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap_err();
        let Error::ContentDecoding(e) = &error else {
            panic!("expected a decoding error, got {error:?}");
        };
        assert_eq!(e.coding, ContentCoding::Gzip);
        assert!(error.to_string().contains("truncated"), "{error}");
    });
}

#[test]
fn unknown_encodings_are_handed_over_as_sent() {
    run(async {
        let (base, _) = serve("br", b"\x0b\x02\x80brotli?".to_vec());
        let body = Client::new()
            .get(&base)
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        assert_eq!(body, b"\x0b\x02\x80brotli?");
    });
}

#[test]
fn nginx_gzip_chunked_with_a_trailer_decodes_plain_and_over_tls() {
    let pki = tls_support::Pki::new("simul test CA");
    let leaf = pki.leaf(&["127.0.0.1"]);
    let files = common_nginx::TlsFiles {
        cert_pem: leaf.cert_pem,
        key_pem: leaf.key_pem,
        directives: String::new(),
    };
    let nginx = common_nginx::Nginx::with_tls("", &files);
    run(async {
        let client = Client::builder().add_root_certificate(&pki.root()).build();
        for url in [nginx.url("/gz"), nginx.tls_url("/gz")] {
            let mut response = client.get(&url).await.unwrap();
            assert_eq!(response.header("content-encoding"), Some("gzip"));
            let mut body = Vec::new();
            while let Some(piece) = response.chunk().await.unwrap() {
                body.extend_from_slice(&piece);
            }
            assert_eq!(body, common_nginx::big_file(), "{url}");
            let trailer = response.trailers().and_then(|t| t.get("x-fixture-trailer"));
            assert_eq!(trailer, Some("done"));
        }
        let listing: serde_json::Value = client
            .get(&nginx.tls_url("/json"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(listing["data"]["children"][0]["data"]["title"], "gzip");
        assert_eq!(client.idle_connections(), 2, "both connections went back");
    });
}
