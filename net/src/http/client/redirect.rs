//! Where a redirect leads, and what of the request survives the trip.
//!
//! The rules (RFC 9110 §15.4, and what browsers, reqwest and aiohttp do):
//! - `Location` is resolved against the URL that answered;
//! - 301 and 302 turn POST into GET, 303 turns everything but HEAD into GET;
//!   a request turned into GET loses its body and the headers describing it;
//! - 307 and 308 keep the method and the body;
//! - `Authorization` and `Cookie` are dropped when the origin changes, so
//!   credentials never leak to another host; and `Authorization` never goes
//!   from `https://` to `http://`, where anyone on the path could read it;
//! - between `http://` and `https://` both ways is fine (the origin changes).

use url::Url;

use crate::http::{Error, Headers};

/// The next request of a redirect chain.
#[derive(Debug)]
pub(super) struct Hop {
    pub(super) url: Url,
    pub(super) method: String,
    pub(super) headers: Headers,
    pub(super) keep_body: bool,
}

/// Whether `status` is a redirect this client follows.
pub(super) fn is_redirect(status: u16) -> bool {
    matches!(status, 301 | 302 | 303 | 307 | 308)
}

/// Computes the next hop of a redirect from `current` with `status` and `location`.
// BOOK: redirect
pub(super) fn next_hop(
    current: &Url,
    method: &str,
    headers: &Headers,
    status: u16,
    location: &str,
) -> Result<Hop, Error> {
    let url = current.join(location).map_err(|e| Error::InvalidUrl {
        url: location.to_owned(),
        reason: format!("redirect Location is not a valid URL: {e}"),
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Error::UnsupportedScheme {
            scheme: url.scheme().to_owned(),
        });
    }
    let to_get = match status {
        301 | 302 => method == "POST",
        303 => method != "HEAD",
        _ => false,
    };
    let same_origin = url.origin() == current.origin();
    let downgrade = current.scheme() == "https" && url.scheme() == "http";
    let mut kept = Headers::new();
    for (name, value) in headers.iter() {
        let describes_body = ["content-type", "content-encoding", "content-language"]
            .iter()
            .any(|h| name.eq_ignore_ascii_case(h));
        let credential = ["authorization", "cookie", "proxy-authorization"]
            .iter()
            .any(|h| name.eq_ignore_ascii_case(h));
        let authorization = name.eq_ignore_ascii_case("authorization");
        if (to_get && describes_body)
            || (!same_origin && credential)
            || (downgrade && authorization)
        {
            continue;
        }
        kept.append(name, value);
    }
    Ok(Hop {
        url,
        method: if to_get {
            "GET".to_owned()
        } else {
            method.to_owned()
        },
        headers: kept,
        keep_body: !to_get,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(fields: &[(&str, &str)]) -> Headers {
        let mut h = Headers::new();
        for (n, v) in fields {
            h.append(n, v);
        }
        h
    }

    #[test]
    fn location_resolves_relative_to_the_current_url() {
        let here = Url::parse("http://a.test:8080/x/y?q=1").unwrap();
        let hop = next_hop(&here, "GET", &Headers::new(), 302, "../z?r=2").unwrap();
        assert_eq!(hop.url.as_str(), "http://a.test:8080/z?r=2");
        let hop = next_hop(&here, "GET", &Headers::new(), 302, "//b.test/p").unwrap();
        assert_eq!(hop.url.as_str(), "http://b.test/p");
    }

    #[test]
    fn methods_change_as_the_status_says() {
        let here = Url::parse("http://a.test/").unwrap();
        let h = headers(&[("Content-Type", "application/json")]);
        for (status, method, want, body) in [
            (301, "POST", "GET", false),
            (302, "POST", "GET", false),
            (302, "PUT", "PUT", true),
            (303, "POST", "GET", false),
            (303, "DELETE", "GET", false),
            (303, "HEAD", "HEAD", true),
            (307, "POST", "POST", true),
            (308, "PUT", "PUT", true),
        ] {
            let hop = next_hop(&here, method, &h, status, "/next").unwrap();
            assert_eq!(hop.method, want, "{status} {method}");
            assert_eq!(hop.keep_body, body, "{status} {method}");
            assert_eq!(
                hop.headers.contains("content-type"),
                body,
                "{status} {method}"
            );
        }
    }

    #[test]
    fn credentials_are_dropped_when_the_origin_changes() {
        let here = Url::parse("http://a.test/").unwrap();
        let h = headers(&[
            ("Authorization", "Bearer t"),
            ("Cookie", "s=1"),
            ("X-Keep", "1"),
        ]);
        let same = next_hop(&here, "GET", &h, 302, "/other").unwrap();
        assert!(same.headers.contains("authorization") && same.headers.contains("cookie"));
        for elsewhere in ["http://b.test/", "http://a.test:81/"] {
            let hop = next_hop(&here, "GET", &h, 302, elsewhere).unwrap();
            assert!(!hop.headers.contains("authorization"), "{elsewhere}");
            assert!(!hop.headers.contains("cookie"), "{elsewhere}");
            assert!(hop.headers.contains("x-keep"));
        }
    }

    #[test]
    fn a_redirect_to_a_scheme_we_do_not_speak_is_refused() {
        let here = Url::parse("http://a.test/").unwrap();
        let err = next_hop(&here, "GET", &Headers::new(), 301, "ftp://a.test/").unwrap_err();
        assert!(matches!(err, Error::UnsupportedScheme { .. }), "{err}");
    }

    #[test]
    fn http_and_https_redirect_both_ways_and_authorization_never_goes_down() {
        let h = headers(&[("Authorization", "Bearer t"), ("X-Keep", "1")]);
        let plain = Url::parse("http://a.test/").unwrap();
        let up = next_hop(&plain, "GET", &h, 301, "https://a.test/").unwrap();
        assert_eq!(up.url.scheme(), "https");
        let secure = Url::parse("https://a.test/").unwrap();
        let down = next_hop(&secure, "GET", &h, 302, "http://a.test/").unwrap();
        assert_eq!(down.url.scheme(), "http");
        assert!(!down.headers.contains("authorization"));
        assert!(down.headers.contains("x-keep"));
    }
}
