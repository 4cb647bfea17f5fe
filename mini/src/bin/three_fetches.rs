//! The article's asyncio program, three fetches at once, on the mini loop of chapter 0.
//!
//! By default it starts a small server of its own (plain threads, nothing to do with the
//! loop) that serves the posts the article printed and answers compsci after 100 ms, python
//! after 200 ms and programming after 300 ms; `--base-url http://HOST:PORT` points it at another
//! server speaking the same plain-text API. It speaks HTTP/1.0 and reads each answer to the
//! close: the naive client of chapter 7, which is all a server that closes needs.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener};
use std::time::{Duration, Instant};

use simul_mini::{block_on, spawn, TcpStream};

/// The article's `get_reddit_top`: fetch one subreddit and print its posts.
// BOOK: mini-fetch
async fn get_reddit_top(addr: SocketAddr, subreddit: &str) -> std::io::Result<()> {
    let mut stream = TcpStream::connect(addr).await?;
    let request = format!("GET /r/{subreddit}/top.txt HTTP/1.0\r\nHost: {addr}\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut response = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf).await? {
            0 => break, // HTTP/1.0: the body ends at the close
            n => response.extend_from_slice(&buf[..n]),
        }
    }
    let response = String::from_utf8_lossy(&response);
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    if !head.starts_with("HTTP/1.0 200") && !head.starts_with("HTTP/1.1 200") {
        let status = head.lines().next().unwrap_or_default();
        return Err(std::io::Error::other(format!("r/{subreddit}: {status}")));
    }
    print!("{body}");
    println!("DONE: {subreddit}\n");
    Ok(())
}

fn main() -> std::process::ExitCode {
    let mut args = std::env::args().skip(1);
    let addr = match (args.next().as_deref(), args.next()) {
        (None, _) => start_fixture_server(),
        (Some("--base-url"), Some(url)) => {
            let hostport = url.trim_start_matches("http://").trim_end_matches('/');
            hostport.parse().expect("--base-url wants http://IP:PORT")
        }
        _ => {
            eprintln!("usage: three_fetches [--base-url http://IP:PORT]");
            return std::process::ExitCode::from(2);
        }
    };
    let started = Instant::now();
    let ok = block_on(async move {
        // asyncio.ensure_future, three times: the three fetches run at once.
        let fetches: Vec<_> = ["python", "programming", "compsci"]
            .into_iter()
            .map(|sub| spawn(async move { get_reddit_top(addr, sub).await }))
            .collect();
        let mut ok = true;
        for fetch in fetches {
            if let Err(e) = fetch.await {
                eprintln!("error: {e}");
                ok = false;
            }
        }
        ok
    });
    eprintln!("fetched 3 subreddits in {:.2} s", started.elapsed().as_secs_f64());
    if ok {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    }
}

/// The posts the article printed, per subreddit, and how long the server waits before answering.
const FIXTURE: [(&str, u64, &str); 3] = [
    ("compsci", 100, "\
50: Undershoot: Parsing theory in 1965 (http://jeffreykegler.github.io/Ocean-of-Awareness-blog/individual/2018/07/knuth_1965_2.html)
12: Question about best-prefix/failure function/primal match table in kmp algorithm (https://www.reddit.com/r/compsci/comments/8xd3m2/question_about_bestprefixfailure_functionprimal/)
1: Question regarding calculating the probability of failure of a RAID system (https://www.reddit.com/r/compsci/comments/8xbkk2/question_regarding_calculating_the_probability_of/)
"),
    ("python", 200, "\
336: /r/thanosdidnothingwrong -- banning people with python (https://clips.twitch.tv/AstutePluckyCocoaLitty)
175: PythonRobotics: Python sample codes for robotics algorithms (https://atsushisakai.github.io/PythonRobotics/)
23: Python and Flask Tutorial in VS Code (https://code.visualstudio.com/docs/python/tutorial-flask)
17: Started a new blog on Celery - what would you like to read about? (https://www.python-celery.com)
14: A Simple Anomaly Detection Algorithm in Python (https://medium.com/@mathmare_/pyng-a-simple-anomaly-detection-algorithm-2f355d7dc054)
"),
    ("programming", 300, "\
1360: git bundle (https://dev.to/gabeguz/git-bundle-2l5o)
1191: Which hashing algorithm is best for uniqueness and speed? Ian Boyd's answer (top voted) is one of the best comments I've seen on Stackexchange. (https://softwareengineering.stackexchange.com/questions/49550/which-hashing-algorithm-is-best-for-uniqueness-and-speed)
430: ARM launches “Facts” campaign against RISC-V (https://riscv-basics.com/)
244: Choice of search engine on Android nuked by “Anonymous Coward” (2009) (https://android.googlesource.com/platform/packages/apps/GlobalSearch/+/592150ac00086400415afe936d96f04d3be3ba0c)
209: Exploiting freely accessible WhatsApp data or “Why does WhatsApp web know my phone’s battery level?” (https://medium.com/@juan_cortes/exploiting-freely-accessible-whatsapp-data-or-why-does-whatsapp-know-my-battery-level-ddac224041b4)
"),
];

/// A blocking server on plain threads, one per connection, on a free loopback port.
fn start_fixture_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("cannot bind a loopback port");
    let addr = listener.local_addr().expect("a bound listener has an address");
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            std::thread::spawn(move || {
                // Read the whole head: closing with unread bytes would send a reset.
                let mut reader = BufReader::new(&conn);
                let mut head = Vec::new();
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
                    head.push(std::mem::take(&mut line));
                }
                let path = head.first().and_then(|l| l.split(' ').nth(1)).unwrap_or_default();
                let found = FIXTURE.iter().find(|(sub, _, _)| path == format!("/r/{sub}/top.txt"));
                let answer = match found {
                    Some((_, delay, posts)) => {
                        std::thread::sleep(Duration::from_millis(*delay));
                        format!("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n{posts}")
                    }
                    None => "HTTP/1.0 404 Not Found\r\n\r\n".to_string(),
                };
                let _ = (&conn).write_all(answer.as_bytes());
            });
        }
    });
    addr
}
