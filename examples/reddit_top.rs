//! `reddit_top`: the article's asyncio section, on simul.
//!
//! The Python (abridged):
//! ```text
//! async def get_reddit_top(subreddit, client):
//!     data1 = await get_json(client, 'https://www.reddit.com/r/' + subreddit + '/top.json?sort=top&t=day&limit=5')
//!     j = json.loads(data1.decode('utf-8'))
//!     for i in j['data']['children']:
//!         print(str(i['data']['score']) + ': ' + i['data']['title'] + ' (' + i['data']['url'] + ')')
//!     print('DONE:', subreddit + '\n')
//!
//! asyncio.ensure_future(get_reddit_top('python', client))
//! asyncio.ensure_future(get_reddit_top('programming', client))
//! asyncio.ensure_future(get_reddit_top('compsci', client))
//! loop.run_forever()
//! ```
//! Three tasks fetch at once on one thread; each prints as soon as *its*
//! answer arrives, so the order of the `DONE:` lines is the order the
//! server answered in, not the order the tasks started in.
//!
//! With no internet, by default the program starts its own server (our
//! fixture server, on `127.0.0.1:0`, in the same loop) serving the posts the
//! article printed, with a delay per subreddit chosen so that, as in the
//! article, compsci answers first, then python, then programming. The
//! article shows three compsci posts and five of each other: 13 in all.
//! `--base-url URL` points it at any server speaking the same API, among them
//! the real one (`--base-url https://www.reddit.com`: TLS, redirects and gzip
//! are the client's defaults, and reddit asks for the descriptive
//! User-Agent it sends); `--cacert FILE` trusts a local TLS server's CA, and
//! the system's roots honour `SSL_CERT_FILE`. `--subreddits a,b,c` picks
//! others. Ctrl-C closes the client, stops the loop and exits 0, as the
//! article's `signal_handler` does.
//!
//! `--serve` runs only the embedded server: it prints `serving http://127.0.0.1:PORT`
//! and answers until it is stopped, so that another client (the article's Python, in
//! `scripts/side-by-side.sh asyncio`) can fetch the same posts with the same delays.

use std::process::ExitCode;
use std::rc::Rc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use simul::net::http::server::{Response, Server};
use simul::net::http::{Client, Error};
use simul::net::tls::Certificate;

/// Reddit's API rules ask every client for a User-Agent that says what it is
/// (`<platform>:<app ID>:<version> (<contact>)`); generic ones are throttled.
const USER_AGENT: &str = concat!(
    "rust:simul-reddit-top:v",
    env!("CARGO_PKG_VERSION"),
    " (the asyncio example of the simul course)"
);
use simul::time::sleep;
use simul::{join_all, select, signal, task, Either};

/// The part of a reddit listing the program reads.
#[derive(Debug, Deserialize, Serialize)]
struct Listing {
    data: ListingData,
}

#[derive(Debug, Deserialize, Serialize)]
struct ListingData {
    children: Vec<Child>,
}

#[derive(Debug, Deserialize, Serialize)]
struct Child {
    data: Post,
}

#[derive(Debug, Deserialize, Serialize)]
struct Post {
    score: i64,
    title: String,
    url: String,
}

/// A subreddit the embedded server knows: its name, how long the server
/// waits before answering, and its posts as (score, title, url).
type Subreddit = (
    &'static str,
    Duration,
    Vec<(i64, &'static str, &'static str)>,
);

/// The posts the article printed, and how long our server waits before
/// answering for each subreddit.
fn fixture() -> Vec<Subreddit> {
    vec![
        ("compsci", Duration::from_millis(100), vec![
            (50, "Undershoot: Parsing theory in 1965", "http://jeffreykegler.github.io/Ocean-of-Awareness-blog/individual/2018/07/knuth_1965_2.html"),
            (12, "Question about best-prefix/failure function/primal match table in kmp algorithm", "https://www.reddit.com/r/compsci/comments/8xd3m2/question_about_bestprefixfailure_functionprimal/"),
            (1, "Question regarding calculating the probability of failure of a RAID system", "https://www.reddit.com/r/compsci/comments/8xbkk2/question_regarding_calculating_the_probability_of/"),
        ]),
        ("python", Duration::from_millis(200), vec![
            (336, "/r/thanosdidnothingwrong -- banning people with python", "https://clips.twitch.tv/AstutePluckyCocoaLitty"),
            (175, "PythonRobotics: Python sample codes for robotics algorithms", "https://atsushisakai.github.io/PythonRobotics/"),
            (23, "Python and Flask Tutorial in VS Code", "https://code.visualstudio.com/docs/python/tutorial-flask"),
            (17, "Started a new blog on Celery - what would you like to read about?", "https://www.python-celery.com"),
            (14, "A Simple Anomaly Detection Algorithm in Python", "https://medium.com/@mathmare_/pyng-a-simple-anomaly-detection-algorithm-2f355d7dc054"),
        ]),
        ("programming", Duration::from_millis(300), vec![
            (1360, "git bundle", "https://dev.to/gabeguz/git-bundle-2l5o"),
            (1191, "Which hashing algorithm is best for uniqueness and speed? Ian Boyd's answer (top voted) is one of the best comments I've seen on Stackexchange.", "https://softwareengineering.stackexchange.com/questions/49550/which-hashing-algorithm-is-best-for-uniqueness-and-speed"),
            (430, "ARM launches “Facts” campaign against RISC-V", "https://riscv-basics.com/"),
            (244, "Choice of search engine on Android nuked by “Anonymous Coward” (2009)", "https://android.googlesource.com/platform/packages/apps/GlobalSearch/+/592150ac00086400415afe936d96f04d3be3ba0c"),
            (209, "Exploiting freely accessible WhatsApp data or “Why does WhatsApp web know my phone’s battery level?”", "https://medium.com/@juan_cortes/exploiting-freely-accessible-whatsapp-data-or-why-does-whatsapp-know-my-battery-level-ddac224041b4"),
        ]),
    ]
}

/// Starts the embedded server on a free loopback port; returns its base URL
/// and the sum of its delays (what fetching one after another would cost).
fn start_fixture_server() -> std::io::Result<(String, Duration)> {
    let server = Server::bind("127.0.0.1:0".parse().unwrap())?;
    let base = format!("http://{}", server.local_addr());
    let subs = Rc::new(fixture());
    let total_delay = subs.iter().map(|(_, delay, _)| *delay).sum();
    // Named, as the fetches are, so that a trace (`SIMUL_TRACE`) says who is who.
    let serve = task::Builder::new().name("fixture server");
    drop(serve.spawn(server.serve(move |request| {
        let subs = Rc::clone(&subs);
        async move {
            let found = request
                .path()
                .strip_prefix("/r/")
                .and_then(|rest| rest.strip_suffix("/top.json"))
                .and_then(|name| subs.iter().find(|(sub, _, _)| *sub == name));
            let Some((_, delay, posts)) = found else {
                return Response::text(404, "no such subreddit");
            };
            sleep(*delay).await;
            let children = posts
                .iter()
                .map(|(score, title, url)| Child {
                    data: Post {
                        score: *score,
                        title: (*title).into(),
                        url: (*url).into(),
                    },
                })
                .collect();
            Response::json(
                200,
                &Listing {
                    data: ListingData { children },
                },
            )
        }
    })));
    Ok((base, total_delay))
}

/// `--serve`: the embedded server alone, until Ctrl-C (or any signal that ends the process).
fn serve() -> ExitCode {
    simul::run(async {
        match start_fixture_server() {
            Ok((base, _)) => println!("serving {base}"),
            Err(e) => {
                eprintln!("error: could not start the local server: {e}");
                return ExitCode::FAILURE;
            }
        }
        match signal::ctrl_c().await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: cannot wait for Ctrl-C: {e}");
                ExitCode::FAILURE
            }
        }
    })
}

/// Why one subreddit could not be shown.
#[derive(Debug)]
enum FetchError {
    Http(Error),
    Status(u16),
}

/// The article's `get_reddit_top`: fetch, parse, print.
// BOOK: reddit-fetch
async fn get_reddit_top(client: &Client, base: &str, subreddit: &str) -> Result<(), FetchError> {
    let url = format!("{base}/r/{subreddit}/top.json?sort=top&t=day&limit=5");
    let response = client.get(&url).await.map_err(FetchError::Http)?;
    if response.status() != 200 {
        return Err(FetchError::Status(response.status()));
    }
    let listing: Listing = response.json().await.map_err(FetchError::Http)?;
    for child in listing.data.children {
        let post = child.data;
        println!("{}: {} ({})", post.score, post.title, post.url);
    }
    println!("DONE: {subreddit}\n");
    Ok(())
}

struct Options {
    base_url: Option<String>,
    subreddits: Vec<String>,
    stats: bool,
    cacert: Option<std::path::PathBuf>,
    serve: bool,
}

fn parse_args() -> Result<Options, String> {
    let mut options = Options {
        base_url: None,
        // The article's order of `ensure_future` calls.
        subreddits: ["python", "programming", "compsci"]
            .map(String::from)
            .to_vec(),
        stats: false,
        cacert: None,
        serve: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--base-url" => {
                let url = args.next().ok_or("--base-url needs a URL")?;
                options.base_url = Some(url.trim_end_matches('/').to_owned());
            }
            "--subreddits" => {
                let list = args.next().ok_or("--subreddits needs a,b,c")?;
                options.subreddits = list
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect();
            }
            "--stats" => options.stats = true,
            "--serve" => options.serve = true,
            "--cacert" => {
                let path = args.next().ok_or("--cacert needs a file")?;
                options.cacert = Some(path.into());
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if options.serve && options.base_url.is_some() {
        return Err("--serve runs the local server; --base-url names another one".into());
    }
    Ok(options)
}

fn main() -> ExitCode {
    let options = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!(
                "error: {e}\nusage: reddit_top [--base-url URL] [--cacert FILE] [--subreddits a,b,c] \
                 [--stats]\n       reddit_top --serve"
            );
            return ExitCode::from(2);
        }
    };
    if options.serve {
        return serve();
    }
    let mut builder = Client::builder().user_agent(Some(USER_AGENT));
    if let Some(path) = &options.cacert {
        match Certificate::from_pem_file(path) {
            Ok(ca) => {
                builder = builder
                    .tls_built_in_root_certs(false)
                    .add_root_certificate(&ca)
            }
            Err(e) => {
                eprintln!("error: --cacert: {e}");
                return ExitCode::from(2);
            }
        }
    }
    simul::run(async move {
        let (base, sequential) = match &options.base_url {
            Some(base) => (base.clone(), None),
            None => match start_fixture_server() {
                Ok((base, delays)) => (base, Some(delays)),
                Err(e) => {
                    eprintln!("error: could not start the local server: {e}");
                    return ExitCode::FAILURE;
                }
            },
        };
        let client = builder.build();
        let started = Instant::now();
        let fetches = options.subreddits.iter().map(|sub| {
            let (client, base, sub) = (client.clone(), base.clone(), sub.clone());
            let named = task::Builder::new().name(format!("r/{sub}"));
            named.spawn(async move {
                let result = get_reddit_top(&client, &base, &sub).await;
                if let Err(e) = &result {
                    match e {
                        FetchError::Http(e) => eprintln!("error: r/{sub}: {e}"),
                        FetchError::Status(s) => {
                            eprintln!("error: r/{sub}: the server answered {s}")
                        }
                    }
                }
                result.is_ok()
            })
        });
        let all = join_all(fetches.collect::<Vec<_>>());
        // The article's signal_handler: on Ctrl-C, close the client, stop the loop, exit 0.
        let outcome = match select(all, signal::ctrl_c()).await {
            Either::Left(results) => results,
            Either::Right(_) => {
                drop(client);
                println!("Interrupted: closed the client and stopped the loop.");
                return ExitCode::SUCCESS;
            }
        };
        let elapsed = started.elapsed();
        match sequential {
            Some(sum) => println!(
                "fetched {} subreddits in {:.2} s; one after another they would take {:.2} s",
                options.subreddits.len(),
                elapsed.as_secs_f64(),
                sum.as_secs_f64()
            ),
            None => println!(
                "fetched {} subreddits in {:.2} s",
                options.subreddits.len(),
                elapsed.as_secs_f64()
            ),
        }
        if options.stats {
            println!("\nloop counters:\n{}", simul::stats());
        }
        if outcome.iter().all(|r| matches!(r, Ok(true))) {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        }
    })
}
