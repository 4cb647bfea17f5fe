//! Every duration flag of every example, given values no `Duration` should mean (negative, NaN,
//! infinite, past a century, not a number): each example exits with status 2 and a message naming
//! the flag, never with a panic (status 101). And the largest allowed value still works.
//!
//! The examples are built once by cargo for this test (`cargo_env::Examples`).

mod cargo_env;

use std::process::{Command, Stdio};

use cargo_env::Examples;
use simul::net::http::server::{Response, Server};

/// What a user might type where seconds are expected, and must be refused.
const ABSURD: [&str; 8] = ["1e19", "1e20", "-1", "NaN", "inf", "-inf", "1e400", "soon"];

/// The examples whose flags this file tries.
static EXAMPLES: Examples = Examples::new(&["http_get", "rq_worker", "rq_enqueue", "chess_simul"]);

fn example(name: &str) -> Command {
    let mut command = EXAMPLES.command(name);
    // Nothing may be contacted: a refused flag must stop the example before any connection.
    command
        .env("REDIS_URL", "redis://127.0.0.1:1")
        .stdin(Stdio::null());
    command
}

/// Runs `name` with `args` and checks the refusal: status 2, the flag named on stderr.
fn assert_refused(name: &str, args: &[&str], flag: &str) {
    let output = example(name).args(args).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(2),
        "{name} {args:?}: expected a usage error, got {:?}\n{stderr}",
        output.status
    );
    assert!(!stderr.contains("panicked"), "{name} {args:?}: {stderr}");
    assert!(stderr.contains(flag), "{name} {args:?}: {stderr}");
}

#[test]
fn http_get_refuses_absurd_timeouts() {
    for value in ABSURD {
        for flag in ["--max-time", "--connect-timeout"] {
            assert_refused("http_get", &[flag, value, "http://127.0.0.1:1/"], flag);
        }
    }
}

#[test]
fn rq_worker_refuses_absurd_durations() {
    for value in ABSURD {
        for flag in [
            "--heartbeat-ttl",
            "--heartbeat-interval",
            "--maintenance-interval",
            "--intermediate-grace",
        ] {
            assert_refused("rq_worker", &[flag, value], flag);
        }
    }
}

#[test]
fn rq_enqueue_refuses_absurd_waits() {
    for value in ABSURD {
        assert_refused("rq_enqueue", &["--wait", value], "--wait");
    }
}

#[test]
fn chess_simul_refuses_absurd_thinking_times() {
    for value in ABSURD {
        for flag in ["--master-secs", "--opponent-secs"] {
            assert_refused("chess_simul", &[flag, value], flag);
        }
    }
}

// The longest allowed timeout (100 years) is a deadline like any other: the request completes.
#[test]
fn http_get_with_a_century_timeout_works() {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        simul::run(async move {
            let server = Server::bind("127.0.0.1:0".parse().unwrap()).unwrap();
            tx.send(server.local_addr()).unwrap();
            server
                .serve(|_| async { Response::text(200, "patient\n") })
                .await;
        })
    });
    let addr = rx.recv().unwrap();
    let century = simul::time::MAX_SECONDS.to_string();
    let output = example("http_get")
        .args(["--max-time", &century, "--connect-timeout", &century])
        .arg(format!("http://{addr}/"))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{:?}: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(output.stdout, b"patient\n");
}
