//! The article's chess exhibition and subreddit fetch, run as processes,
//! and the traces any program writes with `SIMUL_TRACE`.

mod cargo_env;

use std::io::Read;
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use cargo_env::Examples;
use simul::net::http::server::{Response, Server};

/// A command that runs example `name`, built by cargo for this test.
fn example(name: &str) -> Command {
    static EXAMPLES: Examples = Examples::new(&["chess_simul", "reddit_top"]);
    EXAMPLES.command(name)
}

fn run(mut command: Command) -> (Output, String, String) {
    let output = command.output().expect("the example runs");
    let stdout = String::from_utf8(output.stdout.clone()).expect("UTF-8 stdout");
    let stderr = String::from_utf8(output.stderr.clone()).expect("UTF-8 stderr");
    (output, stdout, stderr)
}

/// The article's numbers: 12 hours one board after another, and the move
/// model's 1:00:55 (24 × 30 × 5 s of the master's time, then the last
/// opponent's 55 s) with one task per board.
#[test]
fn chess_simul_prints_the_article_totals() {
    let (out, stdout, _) = run(example("chess_simul"));
    assert!(out.status.success());
    let lines: Vec<_> = stdout.lines().collect();
    assert_eq!(lines[0], "synchronous: 12:00:00");
    assert_eq!(lines[1], "asynchronous: 1:00:55");
    assert!(
        lines[2].starts_with("(the move model predicts 1:00:55;"),
        "{}",
        lines[2]
    );
}

/// With two boards the opponents are the bottleneck: 30 × 60 s plus the
/// master's 5 s at the second board.
#[test]
fn chess_simul_follows_the_move_model_when_opponents_are_the_bottleneck() {
    let mut command = example("chess_simul");
    command.args([
        "--boards",
        "2",
        "--moves",
        "10",
        "--master-secs",
        "3",
        "--opponent-secs",
        "20",
    ]);
    let (out, stdout, _) = run(command);
    assert!(out.status.success());
    let lines: Vec<_> = stdout.lines().collect();
    // sync: 2 × 10 × 23 s = 460 s; async: 10 × 23 + 3 = 233 s.
    assert_eq!(lines[0], "synchronous: 0:07:40");
    assert_eq!(lines[1], "asynchronous: 0:03:53");
}

/// The SVG shows one dark bar per master move.
#[test]
fn chess_simul_draws_the_masters_attention() {
    let dir = std::env::temp_dir().join(format!("simul-svg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("chess.svg");
    let mut command = example("chess_simul");
    command
        .args(["--boards", "3", "--moves", "4", "--svg"])
        .arg(&file);
    let (out, _, stderr) = run(command);
    assert!(out.status.success(), "{stderr}");
    let svg = std::fs::read_to_string(&file).unwrap();
    assert!(svg.starts_with("<svg"));
    assert_eq!(
        svg.matches("class=\"move\"").count(),
        3 * 4,
        "one bar per master move"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

const POSTS: [(&str, usize); 3] = [("compsci", 3), ("python", 5), ("programming", 5)];

/// The article's output: each subreddit's posts, then `DONE:` and a blank
/// line, compsci first, then python, then programming.
#[test]
fn reddit_top_prints_the_articles_posts_in_the_articles_order() {
    let (out, stdout, stderr) = run(example("reddit_top"));
    assert!(out.status.success(), "{stderr}");
    let mut lines = stdout.lines();
    for (sub, count) in POSTS {
        for _ in 0..count {
            let line = lines.next().unwrap();
            let (score, rest) = line.split_once(": ").expect("score: title (url)");
            assert!(score.parse::<u32>().is_ok(), "{line}");
            assert!(rest.ends_with(')') && rest.contains(" (http"), "{line}");
        }
        assert_eq!(lines.next(), Some(format!("DONE: {sub}").as_str()));
        assert_eq!(lines.next(), Some(""));
    }
    assert!(
        stdout.contains("50: Undershoot: Parsing theory in 1965 (http://jeffreykegler.github.io/")
    );
    assert!(stdout.contains("1360: git bundle (https://dev.to/gabeguz/git-bundle-2l5o)"));
    let summary = lines.next().unwrap();
    assert!(summary.starts_with("fetched 3 subreddits in "), "{summary}");
}

/// A server for the subprocess to talk to, in its own thread and runtime.
/// `python` is fine, `programming` answers 500, `compsci` sends broken
/// JSON, and `slow` never answers (it reports that the request arrived).
fn start_peer() -> (String, mpsc::Receiver<()>) {
    let (addr_tx, addr_rx) = mpsc::channel();
    let (seen_tx, seen_rx) = mpsc::channel();
    std::thread::spawn(move || {
        simul::run(async move {
            let server = Server::bind("127.0.0.1:0".parse().unwrap()).unwrap();
            addr_tx.send(server.local_addr()).unwrap();
            server
                .serve(move |request| {
                    let seen = seen_tx.clone();
                    async move {
                        match request.path() {
                            "/r/python/top.json" => Response::json(
                                200,
                                &serde_json::json!({"data": {"children": [
                                    {"data": {"score": 7, "title": "t", "url": "http://u"}}
                                ]}}),
                            ),
                            "/r/programming/top.json" => Response::text(500, "boom"),
                            "/r/compsci/top.json" => Response::new(200).body("{\"data\": [oops"),
                            _ => {
                                let _ = seen.send(());
                                simul::time::sleep(Duration::from_secs(3600)).await;
                                Response::new(204)
                            }
                        }
                    }
                })
                .await;
        });
    });
    let addr = addr_rx.recv().unwrap();
    (format!("http://{addr}"), seen_rx)
}

/// One subreddit failing (an error status, or malformed JSON) does not stop
/// the others; each failure is reported on stderr and the exit is non-zero.
#[test]
fn reddit_top_reports_failing_subreddits_and_prints_the_rest() {
    let (base, _) = start_peer();
    let mut command = example("reddit_top");
    command.args([
        "--base-url",
        &base,
        "--subreddits",
        "python,programming,compsci",
    ]);
    let (out, stdout, stderr) = run(command);
    assert!(!out.status.success());
    assert!(
        stdout.contains("7: t (http://u)\nDONE: python\n"),
        "{stdout}"
    );
    assert!(!stdout.contains("DONE: programming") && !stdout.contains("DONE: compsci"));
    assert!(
        stderr.contains("error: r/programming: the server answered 500"),
        "{stderr}"
    );
    assert!(
        stderr.contains("error: r/compsci:") && stderr.contains("JSON"),
        "{stderr}"
    );
}

/// Ctrl-C while a fetch hangs: the program closes the client, stops the
/// loop, says so and exits 0 — as the article's signal handler does.
#[test]
fn reddit_top_stops_cleanly_on_ctrl_c() {
    let (base, seen) = start_peer();
    let mut child = example("reddit_top")
        .args(["--base-url", &base, "--subreddits", "slow"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The request reached the server, so the program is inside its loop and
    // its Ctrl-C handler is installed (it is created before any fetch runs).
    seen.recv_timeout(Duration::from_secs(30))
        .expect("the request never arrived");
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    assert!(exit.success(), "exit {exit:?}, stdout {stdout}");
    assert!(
        stdout.contains("Interrupted: closed the client and stopped the loop."),
        "{stdout}"
    );
}

/// `SIMUL_TRACE=FILE` writes Chrome Trace JSON; on the virtual clock two runs
/// write the same file.
#[test]
fn trace_files_are_valid_json_and_deterministic_on_the_virtual_clock() {
    let dir = std::env::temp_dir().join(format!("simul-trace-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut traces = Vec::new();
    for round in 0..2 {
        let file = dir.join(format!("trace{round}.json"));
        let mut command = example("chess_simul");
        command
            .args(["--boards", "3", "--moves", "2"])
            .env("SIMUL_TRACE", &file);
        let (out, _, stderr) = run(command);
        assert!(out.status.success(), "{stderr}");
        traces.push(std::fs::read_to_string(&file).unwrap());
    }
    assert_eq!(
        traces[0], traces[1],
        "the virtual clock gives the same trace twice"
    );
    let doc: serde_json::Value = serde_json::from_str(&traces[0]).unwrap();
    let events = doc["traceEvents"].as_array().unwrap();
    let names: std::collections::BTreeSet<_> =
        events.iter().filter_map(|e| e["name"].as_str()).collect();
    for kind in ["spawn", "poll", "wake", "timers fired", "thread_name"] {
        assert!(names.contains(kind), "no {kind:?} event in {names:?}");
    }
    // Nothing is registered with the reactor and the virtual clock never
    // sleeps, so the loop never needs to ask the OS for IO.
    assert!(!names.contains("reactor wait"), "{names:?}");
    let woken_by: std::collections::BTreeSet<_> = events
        .iter()
        .filter(|e| e["name"] == "wake")
        .filter_map(|e| e["args"]["by"].as_str())
        .collect();
    assert!(woken_by.contains("timer"), "{woken_by:?}");
    // Polls open and close in pairs on each task's track.
    let begins = events.iter().filter(|e| e["ph"] == "B").count();
    let ends = events.iter().filter(|e| e["ph"] == "E").count();
    assert_eq!(begins, ends);
    std::fs::remove_dir_all(dir).unwrap();
}

/// `SIMUL_TRACE=-` prints a text timeline on stderr.
#[test]
fn trace_dash_prints_a_text_timeline() {
    let mut command = example("chess_simul");
    command
        .args(["--boards", "1", "--moves", "1"])
        .env("SIMUL_TRACE", "-");
    let (out, _, stderr) = run(command);
    assert!(out.status.success());
    assert!(stderr.contains("spawned board 1 (task 1)"), "{stderr}");
    assert!(stderr.contains("woken by timer"), "{stderr}");
    assert!(stderr.contains("timers           1 fired"), "{stderr}");
}
