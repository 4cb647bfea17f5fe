//! Tasks: spawning with options, awaiting a task, and the cooperative budget.
//!
//! | file | concept |
//! |---|---|
//! | `builder.rs` | [`Builder`]: a task with a name |
//! | `cell.rs` | one allocation per task: the future, then its output |
//! | `join.rs` | [`JoinHandle`]: awaiting, aborting, detaching |
//! | `error.rs` | [`JoinError`]: cancelled or panicked |
//!
//! The budget itself is in `coop.rs`; [`unconstrained`] opts out of it.

mod builder;
mod cell;
mod error;
mod join;

pub use builder::Builder;
pub(crate) use cell::{Runnable, Stage};
pub use error::JoinError;
pub use join::JoinHandle;

pub use crate::coop::{remaining as budget_remaining, unconstrained, Unconstrained, PER_POLL};
