//! `RequestBuilder`: a request under construction, sent with `.send()` or `.await`.

use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::time::Duration;

use serde::Serialize;

use super::{Client, Response};
use crate::http::{Error, Headers};

/// A request being built: method and URL, then headers and a body.
///
/// ```no_run
/// # simul_runtime::run(async {
/// let client = simul_net::http::Client::new();
/// let response = client
///     .post("http://127.0.0.1:8080/items")
///     .header("X-Trace", "1")
///     .json(&serde_json::json!({ "name": "pawn" }))
///     .send()
///     .await?;
/// println!("{}", response.status());
/// # Ok::<(), simul_net::http::Error>(())
/// # });
/// ```
#[must_use = "a request does nothing until sent"]
pub struct RequestBuilder {
    pub(super) client: Client,
    pub(super) method: String,
    pub(super) url: String,
    pub(super) headers: Headers,
    pub(super) body: Vec<u8>,
    pub(super) timeout: Option<Duration>,
    /// A problem found while building (bad JSON), reported by `send`.
    pub(super) error: Option<Error>,
}

impl RequestBuilder {
    /// Adds a header field (repeats allowed). Names and values are checked
    /// when sending: CR, LF or NUL anywhere is refused before a byte is sent.
    pub fn header(mut self, name: &str, value: &str) -> RequestBuilder {
        self.headers.append(name, value);
        self
    }

    /// Adds `Authorization: Basic base64(user:password)` (RFC 7617), as curl's `-u user:pass`.
    /// Dropped by a redirect to another origin, like every credential.
    pub fn basic_auth(self, user: &str, password: Option<&str>) -> RequestBuilder {
        let credentials = format!("{user}:{}", password.unwrap_or(""));
        let value = format!("Basic {}", base64(credentials.as_bytes()));
        self.header("Authorization", &value)
    }

    /// Sets the body; it is sent with `Content-Length`.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> RequestBuilder {
        self.body = body.into();
        self
    }

    /// Sets a JSON body and `Content-Type: application/json`.
    pub fn json<T: Serialize + ?Sized>(mut self, value: &T) -> RequestBuilder {
        match serde_json::to_vec(value) {
            Ok(body) => {
                self.body = body;
                if !self.headers.contains("content-type") {
                    self.headers.append("Content-Type", "application/json");
                }
            }
            Err(e) => self.error = Some(Error::Json(e)),
        }
        self
    }

    /// Bounds this whole request, body included (overrides the client's total timeout).
    pub fn timeout(mut self, total: Duration) -> RequestBuilder {
        self.timeout = Some(total);
        self
    }

    /// Sends the request and waits for the response head (following
    /// redirects as the client is configured to).
    pub async fn send(self) -> Result<Response, Error> {
        let client = self.client.clone();
        client.execute(self).await
    }
}

/// Standard base64 with padding (RFC 4648 §4), for `basic_auth`.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for group in bytes.chunks(3) {
        let n = group
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= group.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

impl IntoFuture for RequestBuilder {
    type Output = Result<Response, Error>;
    type IntoFuture = Pin<Box<dyn Future<Output = Result<Response, Error>>>>;

    /// `client.get(url).await` is `client.get(url).send().await`.
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.send())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64_matches_rfc_4648_test_vectors() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
            ("Aladdin:open sesame", "QWxhZGRpbjpvcGVuIHNlc2FtZQ=="),
        ] {
            assert_eq!(super::base64(plain.as_bytes()), encoded, "{plain}");
        }
    }
}
