//! `redis://[[user]:password@]host[:port][/db]`, and `rediss://` for TLS: where to connect and
//! what to send first.
//!
//! The URL carries the whole setup of a connection: the address, TLS and whom to trust, the
//! `AUTH` credentials and the `SELECT`ed database. For `rediss://` the trust rules are the HTTP
//! client's: the system's roots (honouring `SSL_CERT_FILE` and `SSL_CERT_DIR`), or, with
//! redis-py's query parameters, `?ssl_ca_certs=/path/ca.pem` (that CA only) and
//! `?ssl_cert_reqs=none` (no check, for tests). A connection keeps its [`ConnectionInfo`] so that reconnecting after the
//! server went away replays the same `AUTH` and `SELECT`. The password never appears in
//! `Display` or in error messages.

use std::fmt;
use std::path::PathBuf;

use super::error::Error;

/// A parsed `redis://` or `rediss://` URL.
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
///
/// let tls = ConnectionInfo::parse("rediss://cache.example:6380?ssl_ca_certs=/etc/ca.pem").unwrap();
/// let options = tls.tls.as_ref().unwrap();
/// assert_eq!(options.ca_file.as_deref(), Some(std::path::Path::new("/etc/ca.pem")));
/// assert!(options.verify);
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
    /// TLS (`rediss://`), and whom it trusts; `None` is plain TCP.
    pub tls: Option<TlsOptions>,
}

/// Whom a `rediss://` connection trusts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsOptions {
    /// Trust only this CA file (PEM; redis-py's `ssl_ca_certs`); `None` trusts the system's
    /// roots.
    pub ca_file: Option<PathBuf>,
    /// Check the server's certificate (`false` is redis-py's `ssl_cert_reqs=none`: encrypted,
    /// but to whoever answers).
    pub verify: bool,
}

impl ConnectionInfo {
    /// Parses a `redis://` or `rediss://` URL. User name and password may be percent-encoded
    /// (`%40` for `@`).
    pub fn parse(url: &str) -> Result<ConnectionInfo, Error> {
        let refuse = |reason: &str| Error::InvalidUrl {
            url: redact(url),
            reason: reason.to_owned(),
        };
        let parsed = ::url::Url::parse(url).map_err(|e| refuse(&e.to_string()))?;
        let tls = match parsed.scheme() {
            "redis" => None,
            "rediss" => Some(TlsOptions {
                ca_file: None,
                verify: true,
            }),
            other => {
                return Err(refuse(&format!(
                    "scheme {other:?} is neither redis:// nor rediss://"
                )))
            }
        };
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
        if parsed.fragment().is_some() {
            return Err(refuse("fragments are not supported"));
        }
        let mut tls = tls;
        for (key, value) in parsed.query_pairs() {
            let Some(options) = tls.as_mut() else {
                return Err(refuse("query parameters are only for rediss:// (TLS)"));
            };
            match (key.as_ref(), value.as_ref()) {
                ("ssl_ca_certs", path) if !path.is_empty() => {
                    options.ca_file = Some(PathBuf::from(path))
                }
                ("ssl_cert_reqs", "none") => options.verify = false,
                ("ssl_cert_reqs", "required" | "optional") => options.verify = true,
                (key, _) => {
                    return Err(refuse(&format!(
                        "query parameter {key:?} is not supported (ssl_ca_certs=FILE and \
                         ssl_cert_reqs=none|required are)"
                    )))
                }
            }
        }
        Ok(ConnectionInfo {
            host,
            port: parsed.port().unwrap_or(6379),
            username,
            password,
            db,
            tls,
        })
    }
}

/// The URL again, with the password as `***`.
impl fmt::Display for ConnectionInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.tls {
            Some(_) => "rediss://",
            None => "redis://",
        })?;
        if self.password.is_some() {
            write!(f, "{}:***@", self.username.as_deref().unwrap_or(""))?;
        }
        if self.host.contains(':') {
            write!(f, "[{}]", self.host)?;
        } else {
            f.write_str(&self.host)?;
        }
        write!(f, ":{}/{}", self.port, self.db)?;
        let Some(tls) = &self.tls else {
            return Ok(());
        };
        let mut separator = '?';
        if let Some(ca) = &tls.ca_file {
            write!(f, "{separator}ssl_ca_certs={}", ca.display())?;
            separator = '&';
        }
        if !tls.verify {
            write!(f, "{separator}ssl_cert_reqs=none")?;
        }
        Ok(())
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
            ("http://localhost", "neither redis:// nor rediss://"),
            ("rediss://localhost?db=2", "not supported"),
            ("redis://localhost/x", "not a number"),
            ("redis://localhost/1/2", "not a number"),
            ("redis://user@localhost", "without a password"),
            ("redis://localhost?db=2", "only for rediss://"),
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

    #[test]
    fn rediss_takes_redis_py_trust_parameters_and_shows_them() {
        let info = ConnectionInfo::parse("rediss://:pw@127.0.0.1:6380/2").unwrap();
        assert_eq!(
            info.tls,
            Some(TlsOptions {
                ca_file: None,
                verify: true
            })
        );
        assert_eq!(info.to_string(), "rediss://:***@127.0.0.1:6380/2");
        let url = "rediss://h:1/0?ssl_ca_certs=/tmp/ca.pem&ssl_cert_reqs=none";
        let info = ConnectionInfo::parse(url).unwrap();
        let tls = info.tls.as_ref().unwrap();
        assert_eq!(
            tls.ca_file.as_deref(),
            Some(std::path::Path::new("/tmp/ca.pem"))
        );
        assert!(!tls.verify);
        assert_eq!(info.to_string(), url);
        assert_eq!(ConnectionInfo::parse("redis://h").unwrap().tls, None);
    }
}
