#![forbid(unsafe_code)]
pub use simul_runtime::*;
pub use simul_net as net;
