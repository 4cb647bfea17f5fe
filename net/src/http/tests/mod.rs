//! Tests across the decoder as a whole: a driver that plays the IO layer's part, and the
//! split-invariance property — however reads cut a response, the outcome is the same.

use super::{BodyEvent, Head, Headers, Limits, ReadBuf, ResponseDecoder};

/// Everything a response decoding produced, comparable between runs.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Outcome {
    pub head: Option<Head>,
    pub body: Vec<u8>,
    /// `(reusable, leftover)` from the final `End`, if the body ended.
    pub end: Option<(bool, usize)>,
    pub trailers: Option<Headers>,
    /// The error's `Debug`, since `Error` holds `io::Error` and cannot be compared.
    pub error: Option<String>,
}

/// Feeds `pieces` one after another as the IO layer would (decode until more input is needed),
/// then, if `eof`, reports the close and decodes to the end.
pub(crate) fn run(method: &str, limits: Limits, pieces: &[&[u8]], eof: bool) -> Outcome {
    let mut dec = ResponseDecoder::new(method, limits);
    let mut buf = ReadBuf::new();
    let mut out = Outcome {
        head: None,
        body: Vec::new(),
        end: None,
        trailers: None,
        error: None,
    };
    for piece in pieces {
        buf.extend_from_slice(piece);
        if pump(&mut dec, &mut buf, &mut out).is_err() {
            return out;
        }
    }
    if eof {
        dec.eof();
    }
    match pump(&mut dec, &mut buf, &mut out) {
        Ok(true) => {}
        Ok(false) => assert!(!eof, "decoder asked for more input after EOF"),
        Err(()) => return out,
    }
    out.trailers = dec.trailers().cloned();
    out
}

/// Decodes what `buf` holds. `Ok(true)` when the body ended, `Ok(false)` when more input is
/// needed, `Err(())` after recording an error.
pub(crate) fn pump(
    dec: &mut ResponseDecoder,
    buf: &mut ReadBuf,
    out: &mut Outcome,
) -> Result<bool, ()> {
    if out.head.is_none() {
        match dec.decode_head(buf) {
            Ok(Some(head)) => out.head = Some(head),
            Ok(None) => return Ok(false),
            Err(e) => {
                out.error = Some(format!("{e:?}"));
                return Err(());
            }
        }
    }
    // Bounded: every `Data` consumes at least one byte, so this cannot spin.
    for _ in 0..=buf.len() + 2 {
        match dec.decode_body(buf) {
            Ok(BodyEvent::Data(d)) => {
                assert!(!d.is_empty(), "empty Data event");
                out.body.extend_from_slice(d);
            }
            Ok(BodyEvent::NeedMore) => return Ok(false),
            Ok(BodyEvent::End { reusable, leftover }) => {
                out.end = Some((reusable, leftover));
                return Ok(true);
            }
            Err(e) => {
                out.error = Some(format!("{e:?}"));
                return Err(());
            }
        }
    }
    panic!("decode_body made no progress");
}

/// Decodes `input` fed whole.
pub(crate) fn whole(method: &str, input: &[u8], eof: bool) -> Outcome {
    run(method, Limits::default(), &[input], eof)
}

struct Case {
    name: &'static str,
    method: &'static str,
    input: &'static [u8],
    eof: bool,
    limits: Limits,
}

fn case(name: &'static str, method: &'static str, input: &'static [u8], eof: bool) -> Case {
    Case {
        name,
        method,
        input,
        eof,
        limits: Limits::default(),
    }
}

fn cases() -> Vec<Case> {
    let small = Limits {
        max_body_bytes: Some(7),
        max_head_bytes: 60,
        ..Limits::default()
    };
    vec![
        case("content-length", "GET", b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX: y\r\n\r\nhello", false),
        case(
            "chunked with extensions and trailers",
            "GET",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;n=\"v;x\"\r\nhello\r\n\
              1A ; a\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nExpires: never\r\nX-Sum: 1\r\n\r\n",
            false,
        ),
        case("close-delimited", "GET", b"HTTP/1.0 200 OK\r\nServer: x\r\n\r\nuntil the close", true),
        case(
            "1xx before final",
            "POST",
            b"HTTP/1.1 100 Continue\r\n\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n\
              HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
            false,
        ),
        case("head ignores content-length", "HEAD", b"HTTP/1.1 200 OK\r\nContent-Length: 256\r\n\r\n", false),
        case("leftover after body", "GET", b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA", false),
        case("short content-length", "GET", b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nshort", true),
        case("short chunked", "GET", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel", true),
        case("bad chunk terminator", "GET", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nxxx__1a\r\n", false),
        case("bare LF head", "GET", b"HTTP/1.1 204 No Content\nContent-Length: 3\n\n", false),
        case("closed mid-head", "GET", b"HTTP/1.1 200 OK\r\nContent-Le", true),
        Case {
            name: "body over the limit",
            method: "GET",
            input: b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n",
            eof: false,
            limits: small,
        },
        Case {
            name: "head over the limit",
            method: "GET",
            input: b"HTTP/1.1 200 OK\r\nX-Long: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n",
            eof: false,
            limits: small,
        },
    ]
}

#[test]
fn representative_cases_decode_as_expected_when_whole() {
    let outcomes: Vec<_> = cases()
        .iter()
        .map(|c| (c.name, run(c.method, c.limits, &[c.input], c.eof)))
        .collect();
    let get = |name: &str| &outcomes.iter().find(|(n, _)| *n == name).unwrap().1;

    let chunked = get("chunked with extensions and trailers");
    assert_eq!(chunked.body, b"helloabcdefghijklmnopqrstuvwxyz");
    assert_eq!(chunked.end, Some((true, 0)));
    assert_eq!(chunked.trailers.as_ref().unwrap().get("x-sum"), Some("1"));

    let close = get("close-delimited");
    assert_eq!(
        (close.body.as_slice(), close.end),
        (&b"until the close"[..], Some((false, 0)))
    );

    let informational = get("1xx before final");
    assert_eq!(informational.head.as_ref().unwrap().status, 200);
    assert_eq!(
        (informational.body.as_slice(), informational.end),
        (&b"ok"[..], Some((true, 0)))
    );

    let head = get("head ignores content-length");
    assert_eq!((head.body.len(), head.end), (0, Some((true, 0))));

    assert_eq!(get("leftover after body").end, Some((false, 5)));
    assert!(get("short content-length")
        .error
        .as_ref()
        .unwrap()
        .contains("IncompleteBody"));
    assert!(get("short chunked")
        .error
        .as_ref()
        .unwrap()
        .contains("expected: None, received: 3"));
    assert!(get("bad chunk terminator")
        .error
        .as_ref()
        .unwrap()
        .contains("ChunkDataNotTerminated"));
    assert_eq!(get("bare LF head").end, Some((true, 0)));
    assert!(get("closed mid-head")
        .error
        .as_ref()
        .unwrap()
        .contains("DuringHead"));
    let over = get("body over the limit");
    assert_eq!(over.body, b"hellowo");
    assert!(over.error.as_ref().unwrap().contains("BodyTooLarge"));
    assert!(get("head over the limit")
        .error
        .as_ref()
        .unwrap()
        .contains("HeadTooLarge"));
}

#[test]
fn outcome_is_the_same_however_the_input_is_split() {
    for c in cases() {
        let expected = run(c.method, c.limits, &[c.input], c.eof);
        let n = c.input.len();
        // One byte at a time.
        let bytes: Vec<&[u8]> = c.input.chunks(1).collect();
        assert_eq!(
            run(c.method, c.limits, &bytes, c.eof),
            expected,
            "{}: byte by byte",
            c.name
        );
        // Every split into two and three pieces.
        for i in 0..=n {
            let two = [&c.input[..i], &c.input[i..]];
            assert_eq!(
                run(c.method, c.limits, &two, c.eof),
                expected,
                "{}: split {i}",
                c.name
            );
            for j in i..=n {
                let three = [&c.input[..i], &c.input[i..j], &c.input[j..]];
                let got = run(c.method, c.limits, &three, c.eof);
                assert_eq!(got, expected, "{}: split {i}, {j}", c.name);
            }
        }
    }
}
