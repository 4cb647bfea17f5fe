//! The framing decision, rule by rule (RFC 9112 §6.3, §9.3).

use super::*;

fn headers(fields: &[(&str, &str)]) -> Headers {
    let mut h = Headers::new();
    for (n, v) in fields {
        h.append(n, v);
    }
    h
}

fn decide(method: &str, status: u16, fields: &[(&str, &str)]) -> Result<Framing, Error> {
    framing(method, status, Version::Http11, &headers(fields))
}

fn body(method: &str, status: u16, fields: &[(&str, &str)]) -> BodyLength {
    decide(method, status, fields).unwrap().body
}

fn head_problem(r: Result<Framing, Error>) -> HeadProblem {
    match r {
        Err(Error::MalformedHead { what }) => what,
        other => panic!("expected a malformed head, got {other:?}"),
    }
}

#[test]
fn head_204_304_and_1xx_have_no_body_whatever_the_headers() {
    let lying = [("Content-Length", "256"), ("Transfer-Encoding", "chunked")];
    assert_eq!(body("HEAD", 200, &lying), BodyLength::Empty);
    assert_eq!(body("GET", 204, &lying), BodyLength::Empty);
    assert_eq!(
        body("GET", 304, &[("Content-Length", "256")]),
        BodyLength::Empty
    );
    assert_eq!(body("GET", 103, &[]), BodyLength::Empty);
    assert!(
        decide("HEAD", 200, &[("Content-Length", "256")])
            .unwrap()
            .keep_alive
    );
}

#[test]
fn methods_are_case_sensitive() {
    assert_eq!(
        body("head", 200, &[("Content-Length", "3")]),
        BodyLength::Exact(3)
    );
}

#[test]
fn chunked_final_is_chunked_and_reusable() {
    let f = decide("GET", 200, &[("Transfer-Encoding", "gzip, Chunked")]).unwrap();
    assert_eq!(
        f,
        Framing {
            body: BodyLength::Chunked,
            keep_alive: true
        }
    );
    let split = [
        ("Transfer-Encoding", "gzip"),
        ("transfer-encoding", "chunked"),
    ];
    assert_eq!(body("GET", 200, &split), BodyLength::Chunked);
}

#[test]
fn chunked_not_final_or_unknown_coding_reads_to_close() {
    for te in ["chunked, gzip", "identity", "chunkedchunked", "gzip"] {
        let f = decide("GET", 200, &[("Transfer-Encoding", te)]).unwrap();
        assert_eq!(
            f,
            Framing {
                body: BodyLength::UntilClose,
                keep_alive: false
            },
            "{te}"
        );
    }
}

#[test]
fn chunked_twice_or_empty_te_is_malformed() {
    let twice = decide("GET", 200, &[("Transfer-Encoding", "chunked, chunked")]);
    assert_eq!(head_problem(twice), HeadProblem::ChunkedTwice);
    let empty = decide("GET", 200, &[("Transfer-Encoding", " , ")]);
    assert_eq!(head_problem(empty), HeadProblem::EmptyTransferEncoding);
}

#[test]
fn te_with_cl_uses_te_and_forbids_reuse() {
    let f = decide(
        "GET",
        200,
        &[("Content-Length", "5"), ("Transfer-Encoding", "chunked")],
    );
    assert_eq!(
        f.unwrap(),
        Framing {
            body: BodyLength::Chunked,
            keep_alive: false
        }
    );
    // Even an invalid Content-Length does not matter once TE decides.
    let f = decide(
        "GET",
        200,
        &[("Content-Length", "x"), ("Transfer-Encoding", "chunked")],
    );
    assert_eq!(f.unwrap().body, BodyLength::Chunked);
}

#[test]
fn te_in_http10_is_an_error() {
    let h = headers(&[("Transfer-Encoding", "chunked"), ("Content-Length", "3")]);
    let r = framing("GET", 200, Version::Http10, &h);
    assert_eq!(head_problem(r), HeadProblem::TransferEncodingInHttp10);
}

#[test]
fn content_length_values_must_all_agree() {
    assert_eq!(
        body("GET", 200, &[("Content-Length", "42, 42")]),
        BodyLength::Exact(42)
    );
    let repeated = [("Content-Length", "42"), ("content-length", "42")];
    assert_eq!(body("GET", 200, &repeated), BodyLength::Exact(42));
    let differ = decide(
        "GET",
        200,
        &[("Content-Length", "42"), ("Content-Length", "43")],
    );
    assert_eq!(
        head_problem(differ),
        HeadProblem::ConflictingContentLength {
            first: 42,
            other: 43
        }
    );
    let differ = decide("GET", 200, &[("Content-Length", "42, 0")]);
    assert!(matches!(
        head_problem(differ),
        HeadProblem::ConflictingContentLength { .. }
    ));
}

#[test]
fn content_length_must_be_plain_digits_without_overflow() {
    assert_eq!(
        body("GET", 200, &[("Content-Length", "1844674407370955160")]),
        BodyLength::Exact(1_844_674_407_370_955_160)
    );
    assert_eq!(
        body("GET", 200, &[("Content-Length", "000042")]),
        BodyLength::Exact(42)
    );
    for bad in [
        "",
        "+5",
        "-1",
        "0x5",
        "5 5",
        "5,",
        "18446744073709551616",
        "abc",
        "1e3",
    ] {
        let r = decide("GET", 200, &[("Content-Length", bad)]);
        assert!(
            matches!(head_problem(r), HeadProblem::InvalidContentLength { .. }),
            "{bad:?}"
        );
    }
}

#[test]
fn no_length_reads_to_close_and_forbids_reuse() {
    let f = decide("GET", 200, &[]).unwrap();
    assert_eq!(
        f,
        Framing {
            body: BodyLength::UntilClose,
            keep_alive: false
        }
    );
    // A 3xx without length is close-delimited too (unlike ureq, which assumes no body).
    assert_eq!(body("GET", 302, &[]), BodyLength::UntilClose);
}

#[test]
fn keep_alive_rules_for_both_versions() {
    let cl = ("Content-Length", "0");
    let v11 = |c: &[(&str, &str)]| decide("GET", 200, c).unwrap().keep_alive;
    assert!(v11(&[cl]));
    assert!(!v11(&[cl, ("Connection", "close")]));
    assert!(!v11(&[cl, ("Connection", "keep-alive, Close")]));
    assert!(!v11(&[
        cl,
        ("Connection", "keep-alive"),
        ("Connection", "close")
    ]));
    let v10 = |c: &[(&str, &str)]| {
        framing("GET", 200, Version::Http10, &headers(c))
            .unwrap()
            .keep_alive
    };
    assert!(!v10(&[cl]));
    assert!(v10(&[cl, ("Connection", "Keep-Alive")]));
    assert!(!v10(&[cl, ("Connection", "keep-alive, close")]));
    // Proxy-Connection means nothing to a user agent.
    assert!(!v10(&[cl, ("Proxy-Connection", "keep-alive")]));
}

#[test]
fn status_outside_100_599_is_refused() {
    for code in [0, 99, 600, 999] {
        assert!(matches!(decide("GET", code, &[]), Err(Error::InvalidStatus(c)) if c == code));
    }
}

#[test]
fn connect_2xx_is_an_upgrade_we_refuse() {
    let r = decide("CONNECT", 200, &[]);
    assert!(matches!(r, Err(Error::UnexpectedUpgrade { status: 200 })));
    assert_eq!(
        body("CONNECT", 407, &[("Content-Length", "0")]),
        BodyLength::Exact(0)
    );
}
