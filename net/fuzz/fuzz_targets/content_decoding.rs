//! Feeds arbitrary bytes to the content decoder (gzip or deflate, as byte 0 says), split at
//! points the input itself chooses and with a small output room, and checks that it never
//! panics, always terminates, never writes more than the room per call, and reaches the same
//! outcome (output and error) as when the bytes arrive in one piece with plenty of room.
//!
//! Input layout: byte 0 picks the coding; bytes 1..4 are piece lengths (cycled); byte 4 the
//! room per call; the rest is the body. Seed it with real gzip and zlib files to go deep.
#![no_main]

use libfuzzer_sys::fuzz_target;
use simul_net::http::{ContentCoding, ContentDecoder, DecodeError};

/// Output beyond this is cut off (the real client's body limit does the same): a bomb must not
/// exhaust the fuzzer's memory, nor its time (with a room of one byte, each byte of output is a
/// call). 64 KiB is twice deflate's 32 KiB window, so back-references across the window still
/// come before the cut.
const LIMIT: usize = 1 << 16;

fuzz_target!(|data: &[u8]| {
    if data.len() < 5 {
        return;
    }
    let coding = match data[0] & 1 {
        0 => ContentCoding::Gzip,
        _ => ContentCoding::Deflate,
    };
    let sizes: Vec<usize> = data[1..4].iter().map(|&b| usize::from(b % 31) + 1).collect();
    let room = usize::from(data[4] % 64) + 1;
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
    let split = feed(coding, &pieces, room);
    let whole = feed(coding, &[input], 64 * 1024);
    match (&split, &whole) {
        // Past the limit, where exactly decoding stopped may differ; below it, nothing may.
        (Ok((out, true)), _) | (_, Ok((out, true))) => assert_eq!(out.len(), LIMIT),
        _ => assert_eq!(split, whole, "outcome depends on how the input was split"),
    }
});

/// The decoded output (and whether it reached `LIMIT`, where it was cut), or the error.
fn feed(
    coding: ContentCoding,
    pieces: &[&[u8]],
    room: usize,
) -> Result<(Vec<u8>, bool), DecodeError> {
    let mut decoder = ContentDecoder::new(coding);
    let mut out = Vec::new();
    let mut step = |input: &[u8], out: &mut Vec<u8>| -> Result<(usize, usize), DecodeError> {
        let mut chunk = Vec::new();
        let used = decoder.decode(input, &mut chunk, room)?;
        assert!(chunk.len() <= room, "wrote {} bytes into a room of {room}", chunk.len());
        assert!(used <= input.len());
        out.extend_from_slice(&chunk);
        Ok((used, chunk.len()))
    };
    for piece in pieces {
        let mut rest = *piece;
        while !rest.is_empty() {
            let (used, produced) = step(rest, &mut out)?;
            assert!(used > 0 || produced > 0, "no progress");
            rest = &rest[used..];
            if out.len() >= LIMIT {
                out.truncate(LIMIT);
                return Ok((out, true));
            }
        }
    }
    while step(&[], &mut out)?.1 > 0 {
        if out.len() >= LIMIT {
            out.truncate(LIMIT);
            return Ok((out, true));
        }
    }
    decoder.finish()?;
    Ok((out, false))
}
