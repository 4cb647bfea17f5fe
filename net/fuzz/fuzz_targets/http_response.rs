//! Feeds arbitrary bytes to the response decoder, split at points the input itself chooses, and
//! checks that it never panics, always terminates, and reaches the same outcome as when the same
//! bytes arrive in one piece.
//!
//! Input layout: byte 0 picks the request method and whether the peer closes at the end; byte 1
//! picks small or default limits; bytes 2..6 are piece lengths (cycled); the rest is the response.
#![no_main]

use libfuzzer_sys::fuzz_target;
use simul_net::http::{BodyEvent, Limits, ReadBuf, ResponseDecoder};

/// What one decoding produced; compared between the split and the whole run.
#[derive(Debug, PartialEq)]
struct Outcome {
    status: Option<u16>,
    body: Vec<u8>,
    end: Option<(bool, usize)>,
    error: Option<String>,
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 6 {
        return;
    }
    let method = ["GET", "HEAD", "POST", "CONNECT"][usize::from(data[0] & 3)];
    let eof = data[0] & 4 != 0;
    let limits = if data[1] & 1 == 0 {
        Limits::default()
    } else {
        // Small limits, so the fuzzer reaches every limit error with short inputs.
        Limits {
            max_head_bytes: 128,
            max_headers: 4,
            max_body_bytes: Some(64),
            max_chunk_extension_bytes: 16,
            max_trailer_bytes: 32,
        }
    };
    let sizes: Vec<usize> = data[2..6]
        .iter()
        .map(|&b| usize::from(b % 17) + 1)
        .collect();
    let input = &data[6..];

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
    let split = decode(method, limits, &pieces, eof);
    let whole = decode(method, limits, &[input], eof);
    assert_eq!(split, whole, "outcome depends on how the input was split");
});

fn decode(method: &str, limits: Limits, pieces: &[&[u8]], eof: bool) -> Outcome {
    let mut dec = ResponseDecoder::new(method, limits);
    let mut buf = ReadBuf::new();
    let mut out = Outcome {
        status: None,
        body: Vec::new(),
        end: None,
        error: None,
    };
    for piece in pieces {
        buf.extend_from_slice(piece);
        if !pump(&mut dec, &mut buf, &mut out) {
            return out;
        }
    }
    if eof {
        dec.eof();
    }
    let finished = pump(&mut dec, &mut buf, &mut out);
    if eof && finished {
        // After the peer closed, the decoder must have reached a verdict: an end or an error.
        assert!(out.end.is_some(), "decoder asked for more input after EOF");
    }
    out
}

/// Decodes what is buffered; false once an error was recorded.
fn pump(dec: &mut ResponseDecoder, buf: &mut ReadBuf, out: &mut Outcome) -> bool {
    if out.status.is_none() {
        match dec.decode_head(buf) {
            Ok(Some(head)) => out.status = Some(head.status),
            Ok(None) => return true,
            Err(e) => {
                out.error = Some(format!("{e:?}"));
                return false;
            }
        }
    }
    // Every Data event consumes at least one byte, so this bound is never reached unless the
    // decoder stops making progress, which is the bug we are looking for.
    for _ in 0..buf.len() + 2 {
        match dec.decode_body(buf) {
            Ok(BodyEvent::Data(d)) => {
                assert!(!d.is_empty(), "empty Data event");
                out.body.extend_from_slice(d);
            }
            Ok(BodyEvent::NeedMore) => return true,
            Ok(BodyEvent::End { reusable, leftover }) => {
                assert_eq!(leftover, buf.len());
                out.end = Some((reusable, leftover));
                return true;
            }
            Err(e) => {
                out.error = Some(format!("{e:?}"));
                return false;
            }
        }
    }
    panic!("decode_body made no progress");
}
