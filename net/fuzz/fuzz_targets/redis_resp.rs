//! Feeds arbitrary bytes to the RESP2 reply decoder, split at points the input itself chooses,
//! and checks that it never panics, always terminates, reaches the same outcome as when the same
//! bytes arrive in one piece, and that every reply it produces encodes back to bytes that decode
//! to the same reply.
//!
//! Input layout: byte 0 picks small or default limits; bytes 1..5 are piece lengths (cycled);
//! the rest is what the server sent.
#![no_main]

use libfuzzer_sys::fuzz_target;
use simul_net::redis::{decode, write_value, Decoder, Limits, ProtocolError, Value};

fuzz_target!(|data: &[u8]| {
    if data.len() < 5 {
        return;
    }
    let limits = if data[0] & 1 == 0 {
        Limits::default()
    } else {
        // Small limits, so the fuzzer reaches every limit error with short inputs.
        Limits {
            max_reply_bytes: 512,
            max_bulk: 16,
            max_array: 8,
            max_depth: 4,
            max_line: 24,
        }
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
    let split = feed(limits, &pieces);
    let whole = feed(limits, &[input]);
    assert_eq!(split, whole, "outcome depends on how the input was split");

    // The stateless form agrees on the first reply.
    if limits == Limits::default() {
        match (decode(input), &whole.0.first()) {
            (Ok(Some((value, _))), Some(first)) => assert_eq!(&value, *first),
            (Ok(Some(_)), None) => panic!("decode found a reply the decoder did not"),
            _ => {}
        }
    }
    // Every reply survives encode → decode.
    for value in &whole.0 {
        let mut wire = Vec::new();
        write_value(value, &mut wire);
        assert_eq!(decode(&wire), Ok(Some((value.clone(), wire.len()))));
    }
});

/// Every reply completed, and the error that stopped decoding, if any.
fn feed(limits: Limits, pieces: &[&[u8]]) -> (Vec<Value>, Option<ProtocolError>) {
    let mut decoder = Decoder::with_limits(limits);
    let mut buf = Vec::new();
    let mut replies = Vec::new();
    for piece in pieces {
        buf.extend_from_slice(piece);
        // Every reply consumes at least three bytes, so this bound is never reached unless the
        // decoder stops making progress, which is the bug we are looking for.
        let bound = buf.len() + 1;
        let mut rounds = 0;
        loop {
            rounds += 1;
            assert!(rounds <= bound, "decoder made no progress");
            match decoder.decode(&buf) {
                Ok((used, reply)) => {
                    assert!(used <= buf.len(), "consumed more than it was given");
                    buf.drain(..used);
                    match reply {
                        Some(reply) => replies.push(reply),
                        None => break,
                    }
                }
                Err(e) => return (replies, Some(e)),
            }
        }
    }
    (replies, None)
}
