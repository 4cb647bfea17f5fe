//! `redis://[[user]:password@]host[:port][/db]`: where to connect and what to send first.
//!
//! The URL carries the whole setup of a connection: the address, the `AUTH` credentials and the
//! `SELECT`ed database. A connection keeps its [`ConnectionInfo`] so that reconnecting after the
//! server went away replays the same `AUTH` and `SELECT`. The password never appears in
//! `Display` or in error messages.

use std::fmt;

use super::error::Error;

/// A parsed `redis://` URL.
///
/// ```
/// use simul_net::redis::ConnectionInfo;
/// let info = ConnectionInfo::parse("redis://:s3cret@127.0.0.1:6380/3").unwrap();
/// assert_eq!((info.host.as_str(), info.port, info.db), ("127.0.0.1", 6380, 3));
/// assert_eq!((info.username.as_deref(), info.password.as_deref()), (None, Some("s3cret")));
/// assert_eq!(info.to_string(), "redis://:***@127.0.0.1:6380/3");
///
/// let acl = ConnectionInfo::parse("redis://worker:pw@localhost").unwrap();
/// assert_eq!((acl.username.as_deref(), acl.port, acl.db), (Some("worker"), 6379, 0));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct ConnectionInfo {
    /// Host name or IP address (an IPv6 address without brackets).
    pub host: String,
    /// TCP port; 6379 when the URL has none.
    pub port: u16,
    /// ACL user for `AUTH user password`; `None` sends `AUTH password` (the `default` user).
    pub username: Option<String>,
    /// Password for `AUTH`; `None` sends no `AUTH`.
    pub password: Option<String>,
    /// Database for `SELECT`; 0 (the default database) sends no `SELECT`.
    pub db: u32,
}

impl ConnectionInfo {
    /// Parses a `redis://` URL. User name and password may be percent-encoded (`%40` for `@`).
    pub fn parse(url: &str) -> Result<ConnectionInfo, Error> {
        let refuse = |reason: &str| Error::InvalidUrl {
            url: redact(url),
            reason: reason.to_owned(),
        };
        let parsed = ::url::Url::parse(url).map_err(|e| refuse(&e.to_string()))?;
        match parsed.scheme() {
            "redis" => {}
            "rediss" => return Err(refuse("TLS (rediss://) is not supported")),
            other => return Err(refuse(&format!("scheme {other:?} is not redis://"))),
        }
        let host = match parsed.host() {
            Some(::url::Host::Domain(name)) if !name.is_empty() => name.to_owned(),
            Some(::url::Host::Ipv4(ip)) => ip.to_string(),
            Some(::url::Host::Ipv6(ip)) => ip.to_string(),
            _ => return Err(refuse("no host")),
        };
        let username = match percent_decode(parsed.username()) {
            Some(name) if name.is_empty() => None,
            Some(name) => Some(name),
            None => return Err(refuse("the user name is not valid UTF-8")),
        };
        let password = match parsed.password().map(percent_decode) {
            None => None,
            Some(Some(password)) => Some(password),
            Some(None) => return Err(refuse("the password is not valid UTF-8")),
        };
        if username.is_some() && password.is_none() {
            return Err(refuse(
                "a user name without a password; write redis://user:password@host",
            ));
        }
        let db = match parsed.path().trim_start_matches('/') {
            "" => 0,
            number => number
                .parse()
                .map_err(|_| refuse(&format!("database {number:?} is not a number")))?,
        };
        if parsed.query().is_some() || parsed.fragment().is_some() {
            return Err(refuse("query parameters and fragments are not supported"));
        }
        Ok(ConnectionInfo {
            host,
            port: parsed.port().unwrap_or(6379),
            username,
            password,
            db,
        })
    }
}

/// The URL again, with the password as `***`.
impl fmt::Display for ConnectionInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("redis://")?;
        if self.password.is_some() {
            write!(f, "{}:***@", self.username.as_deref().unwrap_or(""))?;
        }
        if self.host.contains(':') {
            write!(f, "[{}]", self.host)?;
        } else {
            f.write_str(&self.host)?;
        }
        write!(f, ":{}/{}", self.port, self.db)
    }
}

/// Like `Display`: a `ConnectionInfo` in a log or a panic message must not leak the password.
impl fmt::Debug for ConnectionInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ConnectionInfo({self})")
    }
}

/// `url` with the password in its user info replaced by `***`, for error messages about URLs
/// that did not even parse.
fn redact(url: &str) -> String {
    let start = url.find("://").map_or(0, |i| i + 3);
    let authority_end = url[start..].find('/').map_or(url.len(), |i| start + i);
    let Some(at) = url[start..authority_end].rfind('@').map(|i| start + i) else {
        return url.to_owned();
    };
    match url[start..at].find(':') {
        Some(colon) => format!("{}:***{}", &url[..start + colon], &url[at..]),
        None => url.to_owned(),
    }
}

/// Decodes `%XX` escapes; `None` if the result is not UTF-8. A `%` not followed by two hex
/// digits is kept as it is.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_percent_encoding() {
        let info = ConnectionInfo::parse("redis://localhost").unwrap();
        assert_eq!((info.port, info.db, info.password), (6379, 0, None));
        let info = ConnectionInfo::parse("redis://u%40x:p%3Aw%2F@[::1]:7000/").unwrap();
        assert_eq!(info.username.as_deref(), Some("u@x"));
        assert_eq!(info.password.as_deref(), Some("p:w/"));
        assert_eq!(info.host, "::1");
        assert_eq!(info.to_string(), "redis://u@x:***@[::1]:7000/0");
    }

    #[test]
    fn refusals_name_the_problem_and_hide_the_password() {
        for (url, reason) in [
            ("http://localhost", "is not redis://"),
            ("rediss://localhost", "TLS"),
            ("redis://localhost/x", "not a number"),
            ("redis://localhost/1/2", "not a number"),
            ("redis://user@localhost", "without a password"),
            ("redis://localhost?db=2", "query"),
            ("redis://:hunter2@", "hunter2"),
        ] {
            let message = ConnectionInfo::parse(url).unwrap_err().to_string();
            if reason == "hunter2" {
                assert!(!message.contains(reason), "{message}");
            } else {
                assert!(message.contains(reason), "{url}: {message}");
            }
        }
        assert_eq!(
            redact("redis://u:hunter2@h:1/0"),
            "redis://u:***@h:1/0".to_owned()
        );
        assert_eq!(redact("redis://h:1/0"), "redis://h:1/0");
    }
}
