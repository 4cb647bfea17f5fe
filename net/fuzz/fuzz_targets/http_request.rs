//! Feeds arbitrary bytes to the server's request parser, split at points the input itself
//! chooses, as a pipelining client would send them (head, body, next head...), and checks that it
//! never panics, always terminates, respects its limits, and reaches the same outcome as when the
//! same bytes arrive in one piece.
//!
//! Input layout: byte 0 picks small or default limits; bytes 1..5 are piece lengths (cycled);
//! the rest is what the client sent.
#![no_main]

use libfuzzer_sys::fuzz_target;
use simul_net::http::server::{RequestParser, Server, ServerBuilder};
use simul_net::http::ReadBuf;

/// What one parse of a whole connection produced; compared between the split and the whole run.
#[derive(Debug, PartialEq)]
struct Outcome {
    /// Per request: method, target, field count, body.
    requests: Vec<(String, String, usize, Vec<u8>)>,
    error: Option<String>,
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 5 {
        return;
    }
    let max_head = if data[0] & 1 == 0 { 64 * 1024 } else { 96 };
    let options = if data[0] & 1 == 0 {
        Server::builder()
    } else {
        // Small limits, so the fuzzer reaches every limit error with short inputs.
        Server::builder()
            .max_head_bytes(max_head)
            .max_headers(3)
            .max_body_bytes(16)
    };
    let sizes: Vec<usize> = data[1..5]
        .iter()
        .map(|&b| usize::from(b % 17) + 1)
        .collect();
    let input = &data[5..];

    let mut pieces = Vec::new();
    let mut rest = input;
    for &size in sizes.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (piece, tail) = rest.split_at(size.min(rest.len()));
        pieces.push(piece);
        rest = tail;
    }
    let split = parse(&options, max_head, &pieces);
    let whole = parse(&options, max_head, &[input]);
    assert_eq!(split, whole, "outcome depends on how the input was split");
});

/// Parses heads and skips bodies, as the server's connection loop does.
fn parse(options: &ServerBuilder, max_head: usize, pieces: &[&[u8]]) -> Outcome {
    let mut parser = RequestParser::new(options);
    let mut buf = ReadBuf::new();
    let mut out = Outcome {
        requests: Vec::new(),
        error: None,
    };
    // The body still to read for the current request, if its head was parsed.
    let mut body: Option<(usize, Vec<u8>)> = None;
    for piece in pieces {
        buf.extend_from_slice(piece);
        // Every round consumes at least one byte or stops, so this bound is never reached
        // unless the parser stops making progress, which is the bug we are looking for.
        for _ in 0..buf.len() + 2 {
            if let Some((len, bytes)) = &mut body {
                let n = (*len - bytes.len()).min(buf.len());
                bytes.extend_from_slice(&buf.as_slice()[..n]);
                buf.consume(n);
                if bytes.len() < *len {
                    break;
                }
                let (_, bytes) = body.take().unwrap();
                out.requests.last_mut().unwrap().3 = bytes;
                continue;
            }
            let before = buf.len();
            match parser.parse(&mut buf) {
                Ok(None) => break,
                Ok(Some(head)) => {
                    assert!(buf.len() < before, "a head was parsed from no bytes");
                    assert!(before - buf.len() <= max_head, "a head past the limit");
                    out.requests.push((
                        head.method().to_owned(),
                        head.target().to_owned(),
                        head.headers().len(),
                        Vec::new(),
                    ));
                    body = Some((head.body_len(), Vec::new()));
                }
                Err(e) => {
                    assert!([400, 408, 413, 431, 501, 503].contains(&e.status()));
                    out.error = Some(e.to_string());
                    return out;
                }
            }
        }
    }
    out
}
