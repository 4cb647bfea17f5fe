//! The request encoder: exact bytes, and every refusal.

use super::*;

/// Encodes after some earlier bytes in `out`, to check they are kept and nothing is added on error.
fn encode_bytes(
    method: &str,
    target: &str,
    host: &str,
    port: Option<u16>,
    headers: &Headers,
    body_len: u64,
) -> Result<Vec<u8>, Error> {
    let head = RequestHead {
        method,
        target,
        host,
        port,
        headers,
        body_len,
    };
    let mut out = b"previous".to_vec();
    let result = encode_request(&head, &mut out);
    if result.is_err() {
        assert_eq!(out, b"previous", "nothing may be written on error");
    }
    result.map(|()| out[b"previous".len()..].to_vec())
}

fn encode(
    method: &str,
    target: &str,
    host: &str,
    port: Option<u16>,
    headers: &Headers,
    body_len: u64,
) -> Result<String, Error> {
    encode_bytes(method, target, host, port, headers, body_len)
        .map(|out| String::from_utf8_lossy(&out).into_owned())
}

fn refused(method: &str, target: &str, host: &str, headers: &Headers) -> RequestProblem {
    match encode(method, target, host, None, headers, 0) {
        Err(Error::InvalidRequest { what }) => what,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn with(fields: &[(&str, &[u8])]) -> Headers {
    let mut h = Headers::new();
    for (n, v) in fields {
        h.append(n, v);
    }
    h
}

#[test]
fn get_with_headers_in_order() {
    let h = with(&[("Accept", b"*/*"), ("X-Two", b"a"), ("x-two", b"b\t\xe9")]);
    let out = encode_bytes("GET", "/p?q=1", "example.org", None, &h, 0).unwrap();
    assert_eq!(
        out,
        b"GET /p?q=1 HTTP/1.1\r\nHost: example.org\r\nAccept: */*\r\nX-Two: a\r\nx-two: b\t\xe9\r\n\r\n"
    );
}

#[test]
fn host_carries_a_port_only_when_not_default_and_brackets_ipv6() {
    let h = Headers::new();
    let host = |host, port| {
        let out = encode("GET", "/", host, port, &h, 0).unwrap();
        out.lines().nth(1).unwrap().to_owned()
    };
    assert_eq!(host("a.test", None), "Host: a.test");
    assert_eq!(host("a.test", Some(8080)), "Host: a.test:8080");
    assert_eq!(host("127.0.0.1", Some(1)), "Host: 127.0.0.1:1");
    assert_eq!(host("::1", None), "Host: [::1]");
    assert_eq!(host("[::1]", Some(80)), "Host: [::1]:80");
}

#[test]
fn a_callers_host_replaces_ours() {
    let h = with(&[("host", b"virtual.test")]);
    let out = encode("GET", "/", "127.0.0.1", Some(8080), &h, 0).unwrap();
    assert_eq!(out, "GET / HTTP/1.1\r\nhost: virtual.test\r\n\r\n");
}

#[test]
fn content_length_for_bodies_and_empty_posts() {
    let h = Headers::new();
    let cl = |method, len| {
        encode(method, "/", "h", None, &h, len)
            .unwrap()
            .contains("Content-Length")
    };
    assert!(cl("POST", 0) && cl("PUT", 0) && cl("PATCH", 0) && cl("GET", 3) && cl("DELETE", 1));
    assert!(!cl("GET", 0) && !cl("HEAD", 0) && !cl("DELETE", 0));
    let out = encode("POST", "/", "h", None, &h, 1_234_567).unwrap();
    assert!(out.ends_with("Content-Length: 1234567\r\n\r\n"));
    let out = encode("POST", "/", "h", None, &h, 0).unwrap();
    assert!(out.ends_with("Content-Length: 0\r\n\r\n"));
}

#[test]
fn crlf_and_nul_are_refused_everywhere() {
    let none = Headers::new();
    for bad in ["\r", "\n", "\0"] {
        let byte = bad.as_bytes()[0];
        assert_eq!(
            refused(&format!("GE{bad}T"), "/", "h", &none),
            RequestProblem::Method { byte: Some(byte) }
        );
        assert_eq!(
            refused("GET", &format!("/a{bad}b"), "h", &none),
            RequestProblem::Target { byte }
        );
        assert_eq!(
            refused("GET", "/", &format!("h{bad}x"), &none),
            RequestProblem::Host { byte: Some(byte) }
        );
        let value = with(&[("X-Evil", format!("a{bad}Injected: yes").as_bytes())]);
        assert_eq!(
            refused("GET", "/", "h", &value),
            RequestProblem::HeaderValue {
                name: "X-Evil".into(),
                byte
            }
        );
        let name = with(&[(&format!("X{bad}Y"), b"v")]);
        assert!(matches!(
            refused("GET", "/", "h", &name),
            RequestProblem::HeaderName { .. }
        ));
    }
}

#[test]
fn other_malformed_parts_are_refused() {
    let none = Headers::new();
    assert_eq!(
        refused("", "/", "h", &none),
        RequestProblem::Method { byte: None }
    );
    assert_eq!(
        refused("G T", "/", "h", &none),
        RequestProblem::Method { byte: Some(b' ') }
    );
    assert_eq!(
        refused("GET", "/a b", "h", &none),
        RequestProblem::Target { byte: b' ' }
    );
    assert_eq!(
        refused("GET", "/é", "h", &none),
        RequestProblem::Target { byte: 0xC3 }
    );
    assert_eq!(
        refused("GET", "http://h/", "h", &none),
        RequestProblem::TargetNotOriginForm
    );
    assert_eq!(
        refused("GET", "", "h", &none),
        RequestProblem::TargetNotOriginForm
    );
    assert_eq!(
        refused("GET", "/", "", &none),
        RequestProblem::Host { byte: None }
    );
    for name in ["", "Bad Name", "Colon:", "Ünï"] {
        let h = with(&[(name, b"v")]);
        assert_eq!(
            refused("GET", "/", "h", &h),
            RequestProblem::HeaderName { name: name.into() }
        );
    }
    let del = with(&[("X", b"a\x7fb")]);
    assert_eq!(
        refused("GET", "/", "h", &del),
        RequestProblem::HeaderValue {
            name: "X".into(),
            byte: 0x7f
        }
    );
}

#[test]
fn framing_headers_are_ours() {
    for name in ["Content-Length", "transfer-encoding"] {
        let h = with(&[(name, b"5")]);
        assert_eq!(
            refused("POST", "/", "h", &h),
            RequestProblem::FramingHeader { name: name.into() }
        );
    }
}

#[test]
fn custom_methods_and_asterisk_form_are_fine() {
    let h = Headers::new();
    assert!(encode("PROPFIND", "/", "h", None, &h, 0).is_ok());
    assert!(encode("OPTIONS", "*", "h", None, &h, 0)
        .unwrap()
        .starts_with("OPTIONS * HTTP/1.1\r\n"));
}

#[test]
fn refusal_messages_name_the_culprit() {
    let h = with(&[("X-Evil", b"a\r\nb")]);
    let e = encode("GET", "/", "h", None, &h, 0).unwrap_err();
    assert_eq!(
        e.to_string(),
        "request not sent: the value of header \"X-Evil\" contains a carriage return (CR), which \
         could inject headers"
    );
}
