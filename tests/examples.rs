//! The examples that mirror the article's sections 1 to 3, run as processes:
//! each must exit with status 0 and print exactly what the article's Python
//! prints (after a `#` header line per version, where there are several).
//!
//! The examples are built once, by cargo itself, and cargo says where it
//! put them (`cargo_env::Examples`).

mod cargo_env;

use cargo_env::Examples;

/// Runs example `name` and returns its stdout, after checking that it
/// exited with status 0.
fn run_example(name: &str) -> String {
    run_example_with(name, &[]).0
}

/// The examples this file runs.
static EXAMPLES: Examples = Examples::new(&["processes", "threads", "coroutine", "tour"]);

/// Runs example `name` with `env` added (and `SIMUL_TRACE` only if `env` sets it) and
/// returns its stdout and stderr, after checking that it exited with status 0.
fn run_example_with(name: &str, env: &[(&str, &str)]) -> (String, String) {
    let output = EXAMPLES
        .command(name)
        .envs(env.iter().copied())
        .output()
        .unwrap_or_else(|e| panic!("cannot run example {name}: {e}"));
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        output.status.success(),
        "example {name} failed ({}); stderr:\n{stderr}",
        output.status
    );
    let stdout = String::from_utf8(output.stdout).expect("the example printed UTF-8");
    (stdout, stderr)
}

#[test]
fn processes_prints_each_continent_in_start_order() {
    assert_eq!(
        run_example("processes"),
        "The name of continent is :  Asia\n\
         The name of continent is :  America\n\
         The name of continent is :  Europe\n\
         The name of continent is :  Africa\n"
    );
}

#[test]
fn threads_print_square_then_cube_then_done_both_ways() {
    assert_eq!(
        run_example("threads"),
        "# std::thread: two OS threads, joined\n\
         Square: 100\n\
         Cube: 1000\n\
         Done!\n\
         # simul::spawn_blocking: pool threads run the jobs and wake the task awaiting them\n\
         Square: 100\n\
         Cube: 1000\n\
         Done!\n"
    );
}

#[test]
fn coroutine_prints_prefix_match_and_goodbye_both_ways() {
    assert_eq!(
        run_example("coroutine"),
        "# an async fn, fed through simul::sync::channel\n\
         Searching prefix:Dear\n\
         Dear James\n\
         Closing coroutine!!\n\
         # a hand-written Future, polled by hand\n\
         Searching prefix:Dear\n\
         Dear James\n\
         Closing coroutine!!\n"
    );
}

/// The tour starts everything at once and each piece reports when it is done: the sleepers,
/// started as 300, 100, 200 ms, must report in deadline order, and after the "started" line.
/// (Where the echo and the pool job fall depends on the machine; that they are there does not.)
#[test]
fn tour_shows_tasks_finishing_in_the_order_they_are_done_not_started() {
    let output = run_example("tour");
    let who: Vec<&str> = output
        .lines()
        .filter_map(|line| line.split_whitespace().nth(2))
        .collect();
    let sleepers: Vec<&str> = who
        .iter()
        .copied()
        .filter(|w| w.starts_with("sleeper-"))
        .collect();
    assert_eq!(
        sleepers,
        ["sleeper-100", "sleeper-200", "sleeper-300"],
        "{output}"
    );
    assert_eq!(who.first(), Some(&"main"), "{output}");
    for label in ["pool-job", "echo-server", "echo-client"] {
        assert!(who.contains(&label), "no line from {label}:\n{output}");
    }
    assert!(output.contains("got \"hello, loop\" back"), "{output}");
    assert!(output.contains("summed 1..=1e6 = 500000500000"), "{output}");
}

/// The tour names each task it spawns after the label it prints, so its trace reads like its
/// output: every task on the timeline (`SIMUL_TRACE=-`) has a name, `spawn_blocking`'s own
/// task included, and each label polls.
#[test]
fn tour_trace_names_every_task() {
    let (_, timeline) = run_example_with("tour", &[("SIMUL_TRACE", "-")]);
    let labels = [
        "sleeper-300",
        "sleeper-100",
        "sleeper-200",
        "pool-job",
        "echo-server",
        "echo-client",
        "spawn_blocking",
    ];
    for label in labels {
        assert!(
            timeline
                .lines()
                .any(|line| line.contains(&format!("{label} (task ")) && line.ends_with(" poll")),
            "no poll of {label} in the trace:\n{timeline}"
        );
    }
    // An unnamed task shows as a bare `task N`; a named one as `NAME (task N)`.
    let bare = timeline.lines().find(|line| {
        line.match_indices("task ").any(|(at, _)| {
            !line[..at].ends_with('(') && line[at + 5..].starts_with(|c: char| c.is_ascii_digit())
        })
    });
    assert_eq!(bare, None, "an unnamed task in the trace:\n{timeline}");
}
