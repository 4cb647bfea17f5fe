//! HTTP/1.1: the protocol without IO (request encoder, response decoder), the client, the server.
//!
//! This layer is *sans-IO*: it never touches a socket or the runtime. The IO layer reads bytes
//! into a [`ReadBuf`], hands it to a [`ResponseDecoder`], and writes what [`encode_request`]
//! produced. Keeping the protocol pure makes every RFC 9112 rule testable byte by byte, with the
//! input split at every possible point, and fuzzable (`net/fuzz`).
//!
//! | file | concept |
//! |---|---|
//! | `error.rs`, `problem.rs` | the one error enum, and the details of what was malformed |
//! | `headers.rs` | ordered header fields, the HTTP version |
//! | `framing.rs` | RFC 9112 §6.3: body length and keep-alive, as one function |
//! | `decode.rs` | the response decoder: 1xx skipping, heads, bodies, EOF |
//! | `chunked.rs` | the chunked transfer coding |
//! | `scan.rs` | finding the end of a header block without re-scanning |
//! | `buffer.rs` | the read buffer shared with the IO layer (now in `net/src/buffer.rs`) |
//! | `content.rs` | content decoding (gzip, deflate), bounded, above the framing |
//! | `encode.rs` | the request head, refusing injection |
//! | `limits.rs` | bounds on heads, headers, bodies, extensions, trailers |
//! | `client/` | the IO layer: connections, the keep-alive pool, timeouts, redirects, retries |
//! | `server/` | the server: an incremental request parser, limits and deadlines against hostile clients |

mod buffer;
mod chunked;
pub mod client;
mod content;
mod decode;
mod encode;
mod error;
mod framing;
mod headers;
mod limits;
mod problem;
mod scan;
pub mod server;

#[cfg(test)]
mod tests;

pub use buffer::ReadBuf;
pub use client::{Client, ClientBuilder, RequestBuilder, Response};
pub use content::{ContentCoding, ContentDecoder, DecodeError};
pub use decode::{BodyEvent, Head, ResponseDecoder};
pub use encode::{encode_request, RequestHead};
pub use error::{ClosePhase, Error, TimeoutPhase};
pub use framing::{framing, BodyLength, Framing};
pub use headers::{Headers, Version};
pub use limits::Limits;
pub use problem::{BodyProblem, HeadProblem, RequestProblem};
