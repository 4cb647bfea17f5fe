//! The chunked coding on its own, byte-level edge cases from RFC 9112 §7.1 and the research notes.

use super::*;

/// A chunked body decoded to its end.
struct Decoded {
    body: Vec<u8>,
    chunked: Chunked,
    /// Bytes left in the buffer after the body.
    rest: Vec<u8>,
}

/// Decodes `input` as a chunked body with `limits`, or `Ok(None)` if it needs more input.
fn decode_with(input: &[u8], limits: &Limits) -> Result<Option<Decoded>, Error> {
    let mut chunked = Chunked::default();
    let mut buf = ReadBuf::new();
    buf.extend_from_slice(input);
    let mut body = Vec::new();
    loop {
        match chunked.decode(&mut buf, limits, u64::MAX)? {
            Chunk::Data(n) => body.extend_from_slice(buf.take(n)),
            Chunk::NeedMore => return Ok(None),
            Chunk::Done => {
                let rest = buf.as_slice().to_vec();
                return Ok(Some(Decoded {
                    body,
                    chunked,
                    rest,
                }));
            }
        }
    }
}

fn decode(input: &[u8]) -> Result<Option<Vec<u8>>, Error> {
    decode_with(input, &Limits::default()).map(|r| r.map(|d| d.body))
}

fn problem(input: &[u8]) -> BodyProblem {
    match decode(input) {
        Err(Error::MalformedBody { what }) => what,
        other => panic!("expected a malformed body for {input:?}, got {other:?}"),
    }
}

#[test]
fn decodes_chunks_and_stops_at_the_last_one() {
    let Decoded {
        body,
        mut chunked,
        rest,
    } = decode_with(
        b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\nNEXT",
        &Limits::default(),
    )
    .unwrap()
    .unwrap();
    assert_eq!(body, b"hello world");
    assert_eq!(rest, b"NEXT");
    assert_eq!(chunked.take_trailers(), None);
}

#[test]
fn size_line_needs_a_hex_digit() {
    // httparse's parse_chunk_size reads both of these as the last chunk.
    assert_eq!(problem(b"\r\nhello"), BodyProblem::MissingChunkSize);
    assert_eq!(problem(b";ext\r\n"), BodyProblem::MissingChunkSize);
    assert_eq!(problem(b" 5\r\nhello\r\n"), BodyProblem::MissingChunkSize);
    assert_eq!(problem(b"-1\r\n"), BodyProblem::MissingChunkSize);
}

#[test]
fn size_line_rejects_junk_after_the_size() {
    assert_eq!(problem(b"0x5\r\n"), BodyProblem::InvalidChunkSizeLine);
    assert_eq!(
        problem(b"2 erfrferferf\r\n"),
        BodyProblem::InvalidChunkSizeLine
    );
    assert_eq!(problem(b"5;a\0b\r\n"), BodyProblem::InvalidChunkSizeLine);
}

#[test]
fn size_overflow_is_an_error_but_leading_zeros_are_fine() {
    assert_eq!(
        problem(b"10000000000000000\r\n"),
        BodyProblem::ChunkSizeOverflow
    );
    assert_eq!(decode(b"ffffffffffffffff\r\nab").unwrap(), None);
    assert_eq!(
        decode(b"00000000000000000005\r\nhello\r\n0\r\n\r\n")
            .unwrap()
            .unwrap(),
        b"hello"
    );
}

#[test]
fn framing_lines_must_end_in_crlf() {
    assert_eq!(problem(b"5\nhello\r\n"), BodyProblem::BareLineEnding);
    // httparse lets this bare LF hide inside the extension and reports size 5.
    assert_eq!(
        problem(b"5;ext\nmore\r\nhello\r\n"),
        BodyProblem::BareLineEnding
    );
    assert_eq!(problem(b"5;a\rb\r\n"), BodyProblem::BareLineEnding);
}

#[test]
fn whitespace_and_extensions_are_skipped() {
    let input = b"5 \r\nhello\r\n1\t;a=b ; c=\"x;y\"\r\n!\r\n0;last\r\n\r\n";
    assert_eq!(decode(input).unwrap().unwrap(), b"hello!");
}

#[test]
fn chunk_data_must_be_followed_by_crlf() {
    assert_eq!(
        problem(b"3\r\nxxx__1a\r\n"),
        BodyProblem::ChunkDataNotTerminated
    );
    assert_eq!(
        problem(b"3\r\nxxx\n0\r\n\r\n"),
        BodyProblem::ChunkDataNotTerminated
    );
    assert_eq!(problem(b"3\r\nxxx\rX"), BodyProblem::ChunkDataNotTerminated);
    assert_eq!(decode(b"3\r\nxxx\r").unwrap(), None);
}

#[test]
fn extensions_are_bounded_over_the_whole_body() {
    let limits = Limits {
        max_chunk_extension_bytes: 10,
        ..Limits::default()
    };
    let one = decode_with(b"1;aaaaaaaa\r\nx\r\n0\r\n\r\n", &limits);
    assert!(one.unwrap().is_some());
    let two = decode_with(b"1;aaaaaaaa\r\nx\r\n1;aaaaaaaa\r\ny\r\n0\r\n\r\n", &limits);
    let err = two.err().unwrap();
    assert!(matches!(
        err,
        Error::MalformedBody {
            what: BodyProblem::ExtensionsTooLong { limit: 10 }
        }
    ));
    // A line that never ends is refused before its LF arrives.
    let endless = [b"1;".as_slice(), &[b'a'; 200]].concat();
    assert!(decode_with(&endless, &limits).is_err());
}

#[test]
fn trailers_are_parsed_and_bounded() {
    let Decoded {
        mut chunked, rest, ..
    } = decode_with(
        b"0\r\nExpires: never\r\nX-Sum: 1\n\nafter",
        &Limits::default(),
    )
    .unwrap()
    .unwrap();
    let trailers = chunked.take_trailers().unwrap();
    assert_eq!(
        (trailers.get("expires"), trailers.get("x-sum")),
        (Some("never"), Some("1"))
    );
    assert_eq!(rest, b"after");

    let small = Limits {
        max_trailer_bytes: 16,
        ..Limits::default()
    };
    let big = decode_with(b"0\r\nX-Long: aaaaaaaaaaaaaaaa\r\n\r\n", &small);
    assert!(matches!(
        big,
        Err(Error::MalformedBody {
            what: BodyProblem::TrailersTooLarge { limit: 16 }
        })
    ));
    let few = Limits {
        max_headers: 1,
        ..Limits::default()
    };
    let many = decode_with(b"0\r\nA: 1\r\nB: 2\r\n\r\n", &few);
    assert!(matches!(many, Err(Error::TooManyHeaders { limit: 1 })));
}

#[test]
fn malformed_trailers_are_refused() {
    assert_eq!(
        problem(b"0\r\nno colon here\r\n\r\n"),
        BodyProblem::InvalidTrailer
    );
    assert_eq!(
        problem(b"0\r\nA: 1\r\n folded\r\n\r\n"),
        BodyProblem::InvalidTrailer
    );
    assert_eq!(decode(b"0\r\nA: 1\r\n").unwrap(), None);
}

#[test]
fn data_is_cut_at_the_budget() {
    let mut chunked = Chunked::default();
    let mut buf = ReadBuf::new();
    buf.extend_from_slice(b"5\r\nhello\r\n");
    let limits = Limits::default();
    assert_eq!(
        chunked.decode(&mut buf, &limits, 3).unwrap(),
        Chunk::Data(3)
    );
    buf.consume(3);
    assert!(matches!(
        chunked.decode(&mut buf, &limits, 0),
        Err(Error::BodyTooLarge { .. })
    ));
}
