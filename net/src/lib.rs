//! simul-net (work in progress).
#![forbid(unsafe_code)]
