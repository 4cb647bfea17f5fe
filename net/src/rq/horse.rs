//! Where a blocking job function runs: on a thread of its own, or in a child process, RQ's
//! "work horse".
//!
//! Invariant this file owns: **a timed-out or interrupted blocking job never holds a thread that
//! anything else needs.** A thread cannot be stopped, so in [`Horse::Thread`] mode each blocking
//! job gets a fresh thread outside the runtime's blocking pool (which DNS lookups use): at the
//! timeout the job is failed and its slot freed, and the thread runs on alone until the
//! function returns. In [`Horse::Process`] mode the job runs in a child process (this very
//! binary, run again: see [`serve_horse`]), which is killed, process group and all, at the
//! timeout, so the work really stops.
//!
//! The child speaks a tiny protocol: the call as one JSON object on its stdin, and the outcome
//! as one line on its stdout, after a marker byte (anything else the function prints passes
//! through to the worker's stdout).

use std::io::{self, Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Map, Value};
use simul_runtime::io::IoSource;
use simul_runtime::sync::{oneshot, Event};
use simul_runtime::time::sleep;
use simul_runtime::{select, Either};

use super::functions::{Functions, Handler, JobError, JobOutput, OnThread};
use super::job::Call;
use super::lingering;
use super::options::Horse;

/// The environment variable that makes [`serve_horse`] serve one job instead of returning.
pub const HORSE_ENV: &str = "SIMUL_RQ_HORSE";
/// Starts the child's outcome line on stdout.
const MARKER: char = '\u{1e}';

/// How a blocking job ended, short of returning.
pub(crate) enum Ended {
    /// It returned (or failed) by itself.
    Output(JobOutput),
    /// The timeout passed first.
    TimedOut,
    /// `interrupted` was set first.
    Interrupted,
}

/// How a worker runs its blocking jobs: [`Horse`], and for threads, how many abandoned ones may
/// linger (`lingering.rs`) and where to say that jobs wait for them.
pub(crate) struct Blocking<'a> {
    pub(crate) mode: Horse,
    pub(crate) max_lingering: usize,
    pub(crate) log: &'a dyn Fn(&str),
}

/// Runs a blocking function `f` for `call` as `how` says, for at most `limit`, or until
/// `interrupted` is set.
pub(crate) async fn run_blocking(
    how: Blocking<'_>,
    f: &OnThread,
    call: Call,
    limit: Option<Duration>,
    interrupted: &Event,
) -> Ended {
    match how.mode {
        Horse::Thread => on_thread(&how, f, call, limit, interrupted).await,
        Horse::Process => match in_child(call, limit, interrupted).await {
            Ok(ended) => ended,
            Err(e) => Ended::Output(Err(JobError::new(format!(
                "WorkHorseError: cannot run the work horse process: {e}"
            )))),
        },
    }
}

async fn bounded<T>(
    work: impl std::future::Future<Output = T>,
    limit: Option<Duration>,
    interrupted: &Event,
) -> Result<T, Ended> {
    let deadline = async {
        match limit {
            Some(limit) => sleep(limit).await,
            None => std::future::pending().await,
        }
    };
    match select(work, select(deadline, interrupted.wait())).await {
        Either::Left(done) => Ok(done),
        Either::Right(Either::Left(())) => Err(Ended::TimedOut),
        Either::Right(Either::Right(())) => Err(Ended::Interrupted),
    }
}

async fn on_thread(
    how: &Blocking<'_>,
    f: &OnThread,
    call: Call,
    limit: Option<Duration>,
    interrupted: &Event,
) -> Ended {
    // A thread is started only while few enough abandoned ones run (lingering.rs); the wait for
    // one to end is not part of the job's timeout, but a stop ends it.
    let mark = match select(
        lingering::admit(how.max_lingering, how.log),
        interrupted.wait(),
    )
    .await
    {
        Either::Left(mark) => mark,
        Either::Right(()) => return Ended::Interrupted,
    };
    let (send, receive) = oneshot::channel();
    let f = Arc::clone(f);
    let func = call.func.clone();
    let thread_mark = mark.clone();
    let spawned = std::thread::Builder::new()
        .name(format!("rq-job {func}"))
        .spawn(move || {
            let output = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(call)));
            thread_mark.done();
            let _ = send.send(output);
        });
    if let Err(e) = spawned {
        return Ended::Output(Err(JobError::new(format!(
            "WorkHorseError: cannot start a thread for {func}: {e}"
        ))));
    }
    let _waiting = mark.waiting();
    match bounded(receive, limit, interrupted).await {
        Ok(Ok(Ok(output))) => Ended::Output(output),
        Ok(Ok(Err(panic))) => Ended::Output(Err(JobError::new(format!(
            "PanicException: {func} panicked: {}",
            panic_text(&*panic)
        )))),
        Ok(Err(_dropped)) => Ended::Output(Err(JobError::new(format!(
            "PanicException: the thread running {func} went away"
        )))),
        Err(ended) => ended,
    }
}

fn panic_text(panic: &(dyn std::any::Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)")
}

// BOOK: rq-horse
/// Runs `call` in a child process: this executable again, with [`HORSE_ENV`] set, in a process
/// group of its own. Killed (the whole group, `SIGKILL`) at the deadline or on an interrupt.
async fn in_child(call: Call, limit: Option<Duration>, interrupted: &Event) -> io::Result<Ended> {
    let exe = std::env::current_exe()?;
    let mut child = Command::new(exe)
        .env(HORSE_ENV, "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .process_group(0)
        .spawn()?;
    let pid = child.id();
    let request = json!({"func": call.func, "args": call.args, "kwargs": call.kwargs}).to_string();
    let stdin = mio::unix::pipe::Sender::from(child.stdin.take().expect("piped stdin"));
    let stdout = mio::unix::pipe::Receiver::from(child.stdout.take().expect("piped stdout"));
    stdin.set_nonblocking(true)?;
    stdout.set_nonblocking(true)?;
    let (stdin, stdout) = (IoSource::new(stdin)?, IoSource::new(stdout)?);
    let talk = async {
        let mut sent = 0;
        let request = request.as_bytes();
        while sent < request.len() {
            sent += stdin.write_with(|s| (&*s).write(&request[sent..])).await?;
        }
        drop(stdin); // EOF: the request is complete
        let mut out = Vec::new();
        let mut chunk = [0u8; 8192];
        loop {
            match stdout.read_with(|s| (&*s).read(&mut chunk)).await? {
                0 => return Ok::<Vec<u8>, io::Error>(out),
                n => out.extend_from_slice(&chunk[..n]),
            }
        }
    };
    let outcome = bounded(talk, limit, interrupted).await;
    if outcome.is_err() {
        kill_group(pid);
    }
    // The pipe closed (or the group was just killed): the child is gone or going; reap it.
    let status = reap(child).await;
    Ok(match outcome {
        Err(ended) => ended,
        Ok(Err(e)) => Ended::Output(Err(JobError::new(format!(
            "WorkHorseError: lost the work horse's output: {e}"
        )))),
        Ok(Ok(out)) => Ended::Output(parse_outcome(&out, status)),
    })
}

fn kill_group(pid: u32) {
    if let Some(pid) = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    {
        let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
    }
}

/// Waits for `child` to be reaped without holding a pool thread: it has closed its stdout or
/// been killed, so `try_wait` succeeds within moments; a child that lingers (it closed stdout
/// and kept running) is waited for by a thread of its own.
async fn reap(mut child: std::process::Child) -> Option<std::process::ExitStatus> {
    for _ in 0..200 {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        sleep(Duration::from_millis(5)).await;
    }
    kill_group(child.id());
    let _ = std::thread::Builder::new()
        .name("rq-horse-reaper".into())
        .spawn(move || child.wait());
    None
}

/// The job's outcome from what the child wrote: prints pass through; the marked line decides.
fn parse_outcome(out: &[u8], status: Option<std::process::ExitStatus>) -> JobOutput {
    let text = String::from_utf8_lossy(out);
    let mut outcome = None;
    for line in text.lines() {
        match line.strip_prefix(MARKER) {
            Some(marked) => outcome = Some(marked.to_owned()),
            None => println!("{line}"),
        }
    }
    let Some(marked) = outcome else {
        let how = status.map_or_else(|| "did not exit".to_owned(), |s| s.to_string());
        return Err(JobError::new(format!(
            "Work-horse terminated unexpectedly; {how}"
        )));
    };
    match serde_json::from_str::<Value>(&marked) {
        Ok(Value::Object(mut map)) => match (map.remove("ok"), map.remove("error")) {
            (Some(value), _) => Ok(value),
            (None, Some(Value::String(text))) => Err(JobError::new(text)),
            _ => Err(JobError::new(
                "WorkHorseError: an outcome line of the wrong shape",
            )),
        },
        _ => Err(JobError::new(
            "WorkHorseError: an outcome line that is not JSON",
        )),
    }
}

// BOOK: rq-serve-horse
/// The child side of [`Horse::Process`]: if this process was started as a work horse (the
/// [`HORSE_ENV`] variable is set), reads the call from stdin, runs it with `functions`, writes
/// the outcome, and exits; otherwise returns at once. Call it first thing in the `main` of a
/// worker binary, after registering the functions.
///
/// ```no_run
/// use simul_net::rq::{serve_horse, Functions};
/// let mut functions = Functions::new();
/// functions.register_blocking("mymodule.sleep", |_call| Ok(serde_json::json!(null)));
/// serve_horse(&functions); // returns unless this process is a work horse
/// ```
pub fn serve_horse(functions: &Functions) {
    if std::env::var_os(HORSE_ENV).is_none() {
        return;
    }
    let mut request = Vec::new();
    let outcome = match io::stdin().read_to_end(&mut request) {
        Err(e) => Err(JobError::new(format!(
            "WorkHorseError: reading the call: {e}"
        ))),
        Ok(_) => run_request(functions, &request),
    };
    let line = match outcome {
        Ok(value) => json!({ "ok": value }),
        Err(e) => json!({ "error": e.text() }),
    };
    let mut stdout = io::stdout().lock();
    let _ = writeln!(stdout, "{MARKER}{line}");
    let _ = stdout.flush();
    std::process::exit(0);
}

fn run_request(functions: &Functions, request: &[u8]) -> JobOutput {
    let bad = |what: &str| JobError::new(format!("WorkHorseError: {what}"));
    let Ok(Value::Object(mut map)) = serde_json::from_slice::<Value>(request) else {
        return Err(bad("the call is not a JSON object"));
    };
    let (Some(Value::String(func)), Some(Value::Array(args))) =
        (map.remove("func"), map.remove("args"))
    else {
        return Err(bad("the call has no func and args"));
    };
    let kwargs = match map.remove("kwargs") {
        Some(Value::Object(kwargs)) => kwargs,
        _ => Map::new(),
    };
    let call = Call { func, args, kwargs };
    match functions.handlers.get(&call.func) {
        Some(Handler::OnThread(f)) => f(call),
        Some(Handler::OnLoop(f)) => {
            let f = f.clone();
            simul_runtime::run(async move { f(call).await })
        }
        None => Err(JobError::new(format!(
            "AttributeError: no function {:?} is registered with this worker",
            call.func
        ))),
    }
}
