//! The article's `mymodule`, in Rust: the functions `examples/rq_worker.rs` registers, under
//! the names a Python program enqueues them by. `examples/rq/mymodule.py` is the same module in
//! Python, for `rq worker`. It lives with the examples, not in the library: a job queue has no
//! business knowing an HTTP client.
//!
//! | name | runs | does |
//! |---|---|---|
//! | `mymodule.count_words_at_url(url)` | on the loop | GETs `url` with [`Client`], returns `len(text.split())` (and prints it, as the article's does) |
//! | `mymodule.add(a, b)` | on the loop | `a + b` (integers, or floats) |
//! | `mymodule.fail(message='boom')` | on the loop | fails with `ValueError: <message>` |
//! | `mymodule.sleep(seconds)` | blocking pool | `time.sleep(seconds)`: blocks a thread, returns `seconds` |
//! | `mymodule.async_sleep(seconds)` | on the loop | waits on a timer without a thread, returns `seconds` |
//! | `mymodule.touch(path, token, seconds)` | on the loop | waits `seconds`, then appends `token` and a newline to `path` (the chaos test's side effect), returns `token` |

use std::time::Duration;

use serde_json::{json, Value};

use simul::net::http::Client;
use simul::net::rq::{Call, Functions, JobError, JobOutput};

/// Registers every function of the table above.
pub fn register(functions: &mut Functions) {
    functions
        .register("mymodule.count_words_at_url", count_words_at_url)
        .register("mymodule.add", |call| async move { add(&call) })
        .register("mymodule.fail", |call| async move {
            let message: String = call.arg_or(0, "message", "boom".to_owned())?;
            Err(JobError::new(format!("ValueError: {message}")))
        })
        .register("mymodule.async_sleep", |call| async move {
            let (seconds, given) = seconds(&call)?;
            simul::time::sleep(seconds).await;
            Ok(given)
        })
        .register("mymodule.touch", |call| async move {
            let path: String = call.arg(0, "path")?;
            let token: String = call.arg(1, "token")?;
            let (wait, _) = seconds_at(&call, 2)?;
            simul::time::sleep(wait).await;
            append_line(&path, &token)?;
            Ok(json!(token))
        })
        .register_blocking("mymodule.sleep", |call| {
            let (seconds, given) = seconds(&call)?;
            std::thread::sleep(seconds);
            Ok(given)
        });
}

// BOOK: rq-count-words
/// `count_words_at_url(url)`: the article's job. Python's `len(resp.text.split())` splits on
/// runs of whitespace, which is `split_whitespace`. A status other than 2xx fails the job, as
/// `resp.raise_for_status()` would (the article's function does not call it, and would count
/// the words of the error page).
pub async fn count_words_at_url(call: Call) -> JobOutput {
    let url: String = call.arg(0, "url")?;
    let response = Client::new()
        .get(&url)
        .send()
        .await
        .map_err(|e| JobError::new(format!("ConnectionError: {e}")))?;
    let status = response.status();
    if !(200..300).contains(&status) {
        return Err(JobError::new(format!("HTTPError: {status} for url: {url}")));
    }
    let text = response
        .text()
        .await
        .map_err(|e| JobError::new(format!("ConnectionError: {e}")))?;
    let words = text.split_whitespace().count();
    println!("{words}");
    Ok(json!(words))
}

fn add(call: &Call) -> JobOutput {
    let a: Value = call.arg(0, "a")?;
    let b: Value = call.arg(1, "b")?;
    match (a.as_i64(), b.as_i64(), a.as_f64(), b.as_f64()) {
        (Some(a), Some(b), _, _) => a
            .checked_add(b)
            .map(|sum| json!(sum))
            .ok_or_else(|| JobError::new("OverflowError: the sum does not fit in 64 bits")),
        (_, _, Some(a), Some(b)) => Ok(json!(a + b)),
        _ => Err(JobError::new(format!(
            "TypeError: unsupported operand type(s) for +: {a} and {b}"
        ))),
    }
}

/// Appends `line` and a newline to `path` in one `write` (O_APPEND: concurrent writers from
/// several processes never interleave within a line).
fn append_line(path: &str, line: &str) -> Result<(), JobError> {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| JobError::new(format!("OSError: {path}: {e}")))?;
    file.write_all(format!("{line}\n").as_bytes())
        .map_err(|e| JobError::new(format!("OSError: {path}: {e}")))
}

/// The `seconds` argument, as a duration and as given (returned as given, as Python does).
fn seconds(call: &Call) -> Result<(Duration, Value), JobError> {
    seconds_at(call, 0)
}

fn seconds_at(call: &Call, position: usize) -> Result<(Duration, Value), JobError> {
    let given: Value = call.arg(position, "seconds")?;
    let seconds: f64 = call.arg(position, "seconds")?;
    if !(0.0..=86_400.0).contains(&seconds) {
        return Err(JobError::new(format!(
            "ValueError: sleep length must be 0 to 86400 seconds, not {seconds}"
        )));
    }
    Ok((Duration::from_secs_f64(seconds), given))
}
