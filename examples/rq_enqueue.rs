//! `rq_enqueue`: the article's enqueue, on simul.
//!
//! ```text
//! q = Queue(connection=Redis())
//! job = q.enqueue(count_words_at_url, 'http://nvie.com')
//! ```
//!
//! With no internet, by default the page to count is served by this very process (our fixture
//! server on `127.0.0.1:0`, in the same loop that waits for the result), so a worker in another
//! process, `rq_worker` or Python's `rq worker`, fetches it from here. `--page URL` counts another
//! page. Prints `Job <id> enqueued`, then waits (`XREAD BLOCK` on the job's result stream, up to
//! `--wait SECS`, default 60) and prints `Result: <value>`, or `Failed: <text>` and exits 1.
//!
//! ```text
//! rq_enqueue [--url redis://host:port/db] [--queue NAME] [--page URL] [--wait SECS]
//!            [--serializer pickle|json]
//! ```
//! The job's `data` is pickled by default, as RQ's `Queue(connection=Redis())` does; with
//! `--serializer json` it is what `Queue(..., serializer=JSONSerializer)` writes.

use std::process::ExitCode;
use std::time::Duration;

use simul::net::http::server::{Response, Server};
use simul::net::redis::Connection;
use simul::net::rq::{JobOptions, JobResult, Queue, Serializer};
use simul::spawn;
use simul::time::parse_seconds;

/// The page served by default: the article's paragraph on RQ (42 words).
const PAGE: &str = "Using asyncio and aiohttp is not always a good idea, especially if you are \
using older versions of Python. In addition, there are times when you need to distribute tasks \
across different servers. In this case, RQ (Redis Queue) can be used.\n";

struct Args {
    url: String,
    queue: String,
    page: Option<String>,
    wait: Duration,
    serializer: Serializer,
}

fn parse() -> Result<Args, String> {
    let mut parsed = Args {
        url: std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into()),
        queue: "default".into(),
        page: None,
        wait: Duration::from_secs(60),
        serializer: Serializer::Pickle,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--url" => parsed.url = value,
            "--queue" => parsed.queue = value,
            "--page" => parsed.page = Some(value),
            "--serializer" => {
                parsed.serializer = Serializer::parse(&value)
                    .ok_or_else(|| format!("--serializer wants pickle or json, not {value:?}"))?
            }
            "--wait" => {
                // The runtime's one duration parser: `1e19` is a clear error, not a panic.
                parsed.wait = parse_seconds(&value).map_err(|e| format!("--wait: {e}"))?
            }
            other => return Err(format!("unknown flag {other:?}")),
        }
    }
    Ok(parsed)
}

fn main() -> ExitCode {
    let args = match parse() {
        Ok(args) => args,
        Err(problem) => {
            eprintln!("rq_enqueue: {problem}");
            eprintln!(
                "usage: rq_enqueue [--url redis://host:port/db] [--queue NAME] [--page URL] [--wait SECS] \
                 [--serializer pickle|json]"
            );
            return ExitCode::from(2);
        }
    };
    simul::run(async move {
        match enqueue_and_wait(args).await {
            Ok(code) => code,
            Err(e) => {
                eprintln!("rq_enqueue: {e}");
                ExitCode::FAILURE
            }
        }
    })
}

async fn enqueue_and_wait(args: Args) -> Result<ExitCode, Box<dyn std::error::Error>> {
    // The page, served from this loop while it waits for the result.
    let (page, _serving) = match args.page {
        Some(page) => (page, None),
        None => {
            let server = Server::bind("127.0.0.1:0".parse()?)?;
            let page = format!("http://{}/", server.local_addr());
            let serving = spawn(server.serve(|_| async { Response::text(200, PAGE) }));
            (page, Some(serving))
        }
    };
    let redis = Connection::open(&args.url).await?;
    let mut queue = Queue::new(redis, &args.queue);
    let options = JobOptions::default().serializer(args.serializer);
    let id = queue
        .enqueue_with(
            "mymodule.count_words_at_url",
            serde_json::json!([page]),
            serde_json::Map::new(),
            &options,
        )
        .await?;
    println!("Job {id} enqueued");
    match queue.wait_result(&id, args.wait).await? {
        Some(JobResult::Finished(value)) => {
            println!("Result: {value}");
            Ok(ExitCode::SUCCESS)
        }
        Some(JobResult::Failed(text)) => {
            println!("Failed: {text}");
            Ok(ExitCode::FAILURE)
        }
        Some(JobResult::Other { kind }) => {
            println!("Ended with result type {kind}");
            Ok(ExitCode::FAILURE)
        }
        None => {
            println!(
                "No result within {:?} (is a worker running on {}?)",
                args.wait, args.queue
            );
            Ok(ExitCode::FAILURE)
        }
    }
}
