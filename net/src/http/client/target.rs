//! Where a request goes: the parsed URL, its pool key and its request
//! target, worked out once per URL string and kept for the next request.
//!
//! Parsing a URL properly (the `url` crate: IDNA, percent-encoding, IPv6)
//! costs more than the rest of a keep-alive request; a client usually
//! fetches the same few URLs again and again, so the last few are cached.

use std::cell::RefCell;
use std::rc::Rc;

use url::Url;

use super::conn::{PoolKey, Scheme};
use crate::http::Error;

/// A parsed destination.
#[derive(Debug)]
pub(super) struct Target {
    pub(super) url: Url,
    pub(super) key: PoolKey,
    /// The request target in origin form: `/path?query`.
    pub(super) path: String,
}

impl Target {
    pub(super) fn new(url: Url) -> Result<Target, Error> {
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| Error::InvalidUrl {
                url: url.to_string(),
                reason: "no host".to_owned(),
            })?;
        let scheme = Scheme::of(&url)?;
        let key = PoolKey {
            scheme,
            host: host.to_ascii_lowercase(),
            port: url.port().unwrap_or(scheme.default_port()),
        };
        let path = match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_owned(),
        };
        Ok(Target { url, key, path })
    }
}

/// The most recently used targets, by the URL string they came from.
#[derive(Default)]
pub(super) struct Targets {
    recent: RefCell<Vec<(Box<str>, Rc<Target>)>>,
}

/// How many URLs are remembered.
const KEEP: usize = 16;

impl Targets {
    /// The target of `raw`, parsed now or found among the recent ones.
    pub(super) fn resolve(&self, raw: &str) -> Result<Rc<Target>, Error> {
        let mut recent = self.recent.borrow_mut();
        if let Some(i) = recent.iter().position(|(s, _)| &**s == raw) {
            let hit = recent.remove(i);
            let target = Rc::clone(&hit.1);
            recent.insert(0, hit);
            return Ok(target);
        }
        let target = Rc::new(Target::new(parse_url(raw)?)?);
        recent.insert(0, (raw.into(), Rc::clone(&target)));
        recent.truncate(KEEP);
        Ok(target)
    }
}

/// Parses an `http://` or `https://` URL, refusing what the parser would silently fix.
pub(super) fn parse_url(raw: &str) -> Result<Url, Error> {
    // The URL parser silently strips tabs, CR and LF (and encodes NUL), so
    // "/a\r\nX: 1" would quietly become another target: refuse instead.
    if let Some(byte) = raw.bytes().find(|b| b.is_ascii_control()) {
        return Err(Error::InvalidUrl {
            url: raw.to_owned(),
            reason: format!("it contains control byte 0x{byte:02X} (CR, LF, NUL, ...)"),
        });
    }
    let url = Url::parse(raw).map_err(|e| Error::InvalidUrl {
        url: raw.to_owned(),
        reason: e.to_string(),
    })?;
    Scheme::of(&url)?;
    Ok(url)
}
