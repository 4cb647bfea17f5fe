//! The read buffer now lives in `net/src/buffer.rs`, shared by the HTTP client, the HTTP server
//! and Redis; this re-export keeps the old path working.

pub use crate::buffer::ReadBuf;
