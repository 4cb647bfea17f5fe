#![doc = include_str!("../BOOK.md")]
#![forbid(unsafe_code)]
pub use simul_net as net;
pub use simul_runtime::*;
