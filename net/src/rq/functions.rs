//! The function registry: Rust functions registered under RQ-style dotted names, and how a job
//! function reports failure.
//!
//! Functions registered with [`Functions::register`] are futures on the loop (fetching a URL
//! costs no thread); [`Functions::register_blocking`] ones run on a thread of their own, or in a
//! work-horse process (`horse.rs`).

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;

use serde_json::Value;

use super::job::Call;

/// Why a job function failed: the text recorded as the job's `exc_info` and `exc_string`
/// (what Python shows as the traceback).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobError(String);

impl JobError {
    /// A failure with this text. By convention `Kind: message`, like the last line of a Python
    /// traceback (`ValueError: no such page`).
    pub fn new(text: impl fmt::Display) -> JobError {
        JobError(text.to_string())
    }

    /// The text.
    pub fn text(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for JobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for JobError {}

impl From<String> for JobError {
    fn from(text: String) -> JobError {
        JobError(text)
    }
}

impl From<&str> for JobError {
    fn from(text: &str) -> JobError {
        JobError(text.to_owned())
    }
}

/// What a job function returns: its JSON return value, or why it failed.
pub type JobOutput = Result<Value, JobError>;

pub(super) type OnLoop = Rc<dyn Fn(Call) -> Pin<Box<dyn Future<Output = JobOutput>>>>;
pub(super) type OnThread = Arc<dyn Fn(Call) -> JobOutput + Send + Sync>;

#[derive(Clone)]
pub(super) enum Handler {
    /// A future on the worker's loop.
    OnLoop(OnLoop),
    /// A closure that blocks: a thread of its own, or a work horse.
    OnThread(OnThread),
}

/// The functions a worker can run, by RQ-style dotted name (`mymodule.count_words_at_url`).
///
/// ```
/// use simul_net::rq::{Functions, JobError};
/// let mut functions = Functions::new();
/// functions.register("mymodule.add", |call| async move {
///     let a: i64 = call.arg(0, "a")?;
///     let b: i64 = call.arg(1, "b")?;
///     Ok(serde_json::json!(a + b))
/// });
/// functions.register_blocking("mymodule.fail", |_call| Err(JobError::new("ValueError: boom")));
/// assert!(functions.contains("mymodule.add"));
/// ```
#[derive(Default, Clone)]
pub struct Functions {
    pub(super) handlers: HashMap<String, Handler>,
}

impl fmt::Debug for Functions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.names()).finish()
    }
}

impl Functions {
    /// No functions.
    pub fn new() -> Functions {
        Functions::default()
    }

    /// Registers an async function: it runs as a task on the worker's loop, so it must not
    /// block (use [`register_blocking`](Self::register_blocking) for that). The job's timeout
    /// cancels it at its next `.await`.
    pub fn register<F, Fut>(&mut self, name: &str, f: F) -> &mut Functions
    where
        F: Fn(Call) -> Fut + 'static,
        Fut: Future<Output = JobOutput> + 'static,
    {
        let handler: OnLoop = Rc::new(move |call| Box::pin(f(call)));
        self.handlers
            .insert(name.to_owned(), Handler::OnLoop(handler));
        self
    }

    /// Registers a blocking function: it runs on a thread of its own, or, with
    /// [`Horse::Process`](super::Horse::Process), in a child process. A thread cannot be
    /// interrupted, so when the job's timeout passes the job is failed at once but the thread
    /// runs on until the function returns, and its result is dropped; a child process is
    /// killed.
    pub fn register_blocking<F>(&mut self, name: &str, f: F) -> &mut Functions
    where
        F: Fn(Call) -> JobOutput + Send + Sync + 'static,
    {
        self.handlers
            .insert(name.to_owned(), Handler::OnThread(Arc::new(f)));
        self
    }

    /// Whether `name` is registered.
    pub fn contains(&self, name: &str) -> bool {
        self.handlers.contains_key(name)
    }

    /// The registered names, sorted.
    pub fn names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.handlers.keys().map(String::as_str).collect();
        names.sort_unstable();
        names
    }
}
