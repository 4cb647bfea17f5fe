#![doc = include_str!("../BOOK.md")]
#![doc = include_str!("../docs/INVARIANTS.md")]
#![forbid(unsafe_code)]
pub use simul_net as net;
pub use simul_runtime::*;
