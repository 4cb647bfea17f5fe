//! `chess_simul`: the article's conclusion, run on simul.
//!
//! > "We have 24 games and 24 people with whom you can play, and if the chess
//! > player plays with them synchronously, it will take at least 12 hours
//! > (provided that the average game takes 30 moves, the chess player thinks
//! > through the move for 5 seconds, and the opponent takes about 55
//! > seconds.) However, in the asynchronous mode [...] they can all be won in
//! > just one hour."
//!
//! The master is the processor, the opponents are IO: while an opponent
//! thinks, the master has nothing to do at *that* board, and the whole point
//! of the event loop is that he walks on to the next one.
//!
//! ## The move model
//! A game is `moves` rounds; in a round the master moves (he thinks
//! `master` seconds, and while thinking at one board he can do nothing
//! else), then the opponent replies (thinks `opponent` seconds, while the
//! master is free). A game ends with the opponent's last reply.
//! - Synchronous: the master stays at a board until its game ends, then goes
//!   to the next: `boards × moves × (master + opponent)` = 24 × 30 × 60 s = 12:00:00.
//! - Asynchronous: one task per board. The master is a fair (FIFO) lock:
//!   he serves boards in the order their opponents replied. Either the master
//!   is the bottleneck and never idles — total `boards × moves × master +
//!   opponent` — or the opponents are, and a board waits for its own
//!   opponent — total `moves × (master + opponent) + (boards − 1) × master`.
//!   The total is the larger of the two: 24 × 30 × 5 s + 55 s = 1:00:55.
//!
//! Both run on the virtual clock, so twelve hours take milliseconds:
//! `cargo run --example chess_simul`. Flags: `--boards N --moves N
//! --master-secs S --opponent-secs S`, `--real-time --speedup N` (the real
//! clock, N times faster), `--svg FILE` (the master's attention across the
//! boards over time), `--stats`.

use std::cell::RefCell;
use std::process::ExitCode;
use std::rc::Rc;
use std::time::{Duration, Instant};

use simul::sync::Mutex;
use simul::time::{now, parse_seconds, sleep};
use simul::{join_all, task, Runtime};

#[derive(Debug, Clone)]
struct Config {
    boards: u32,
    moves: u32,
    master: Duration,
    opponent: Duration,
    real_time: bool,
    speedup: f64,
    svg: Option<String>,
    stats: bool,
}

/// One stretch of the master's attention: at `board`, from `start` to `end`.
#[derive(Debug, Clone, Copy)]
struct Visit {
    board: u32,
    start: Duration,
    end: Duration,
}

fn parse_args() -> Result<Config, String> {
    let mut c = Config {
        boards: 24,
        moves: 30,
        master: Duration::from_secs(5),
        opponent: Duration::from_secs(55),
        real_time: false,
        speedup: 1.0,
        svg: None,
        stats: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        // The runtime's one duration parser: `1e20` is a clear error, not a panic.
        let seconds = |v: String| parse_seconds(&v).map_err(|e| format!("{arg}: {e}"));
        match arg.as_str() {
            "--boards" => c.boards = value()?.parse().map_err(|_| "bad --boards")?,
            "--moves" => c.moves = value()?.parse().map_err(|_| "bad --moves")?,
            "--master-secs" => c.master = seconds(value()?)?,
            "--opponent-secs" => c.opponent = seconds(value()?)?,
            "--real-time" => c.real_time = true,
            "--speedup" => {
                c.speedup = value()?
                    .parse::<f64>()
                    .ok()
                    // Bounded so that scaling a duration by it can neither overflow nor vanish.
                    .filter(|s| (1e-6..=1e9).contains(s))
                    .ok_or("--speedup wants a factor from 0.000001 to 1000000000")?
            }
            "--svg" => c.svg = Some(value()?),
            "--stats" => c.stats = true,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if c.boards == 0 || c.moves == 0 {
        return Err("--boards and --moves must be at least 1".into());
    }
    Ok(c)
}

/// `H:MM:SS`, as the article counts hours.
fn clock(d: Duration) -> String {
    let s = d.as_secs_f64().round() as u64;
    format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

/// Simulated durations, shortened by `speedup` on the real clock.
fn scaled(c: &Config, d: Duration) -> Duration {
    d.div_f64(c.speedup)
}

/// The master plays one board to the end, then the next.
async fn synchronous(c: Config) -> Duration {
    let start = now();
    for _board in 0..c.boards {
        for _round in 0..c.moves {
            sleep(scaled(&c, c.master)).await; // the master thinks
            sleep(scaled(&c, c.opponent)).await; // and waits for the reply
        }
    }
    (now() - start).mul_f64(c.speedup)
}

/// One task per board; the master (a FIFO lock) goes wherever a reply came.
// BOOK: chess-async
async fn asynchronous(c: Config, visits: Rc<RefCell<Vec<Visit>>>) -> Duration {
    let start = now();
    let master = Rc::new(Mutex::new(()));
    let games = (0..c.boards).map(|board| {
        let (c, master, visits) = (c.clone(), Rc::clone(&master), Rc::clone(&visits));
        // Named, so that a trace shows "board 3", not "task 4".
        let named = task::Builder::new().name(format!("board {}", board + 1));
        named.spawn(async move {
            for _round in 0..c.moves {
                {
                    let _attention = master.lock().await;
                    let from = now() - start;
                    sleep(scaled(&c, c.master)).await;
                    let to = now() - start;
                    let (from, to) = (from.mul_f64(c.speedup), to.mul_f64(c.speedup));
                    visits.borrow_mut().push(Visit {
                        board,
                        start: from,
                        end: to,
                    });
                } // the master walks on while the opponent thinks
                sleep(scaled(&c, c.opponent)).await;
            }
        })
    });
    for game in join_all(games).await {
        game.expect("a game task failed");
    }
    (now() - start).mul_f64(c.speedup)
}

/// What the move model predicts for the asynchronous exhibition.
fn predicted_async(c: &Config) -> Duration {
    // Saturating: a century per move on many boards must print a big number, not panic.
    let master_bound =
        (c.master.saturating_mul(c.boards).saturating_mul(c.moves)).saturating_add(c.opponent);
    let opponent_bound = (c.master.saturating_add(c.opponent).saturating_mul(c.moves))
        .saturating_add(c.master.saturating_mul(c.boards - 1));
    master_bound.max(opponent_bound)
}

/// Draws the master's attention: a row per board, a dark bar per move he
/// thinks there, a light bar while that board's opponent thinks.
fn svg(c: &Config, visits: &[Visit], total: Duration) -> String {
    let (left, top, row, width) = (70.0, 40.0, 16.0, 1100.0);
    let x = |d: Duration| left + width * d.as_secs_f64() / total.as_secs_f64().max(1e-9);
    let height = top + row * f64::from(c.boards) + 60.0;
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"11\">\n\
         <text x=\"{left}\" y=\"20\" font-size=\"14\">The master's attention: {b} boards, {m} moves, total {t}</text>\n",
        w = left + width + 20.0,
        b = c.boards,
        m = c.moves,
        t = clock(total)
    );
    for board in 0..c.boards {
        let y = top + row * f64::from(board);
        out += &format!(
            "<text x=\"4\" y=\"{}\">board {}</text>\n",
            y + 11.0,
            board + 1
        );
    }
    for v in visits {
        let y = top + row * f64::from(v.board);
        let think_end = (v.end + c.opponent).min(total);
        out += &format!(
            "<rect x=\"{:.2}\" y=\"{y}\" width=\"{:.2}\" height=\"{}\" fill=\"#ddd\"/>\n\
             <rect class=\"move\" x=\"{:.2}\" y=\"{y}\" width=\"{:.2}\" height=\"{}\" fill=\"#234\"/>\n",
            x(v.end),
            (x(think_end) - x(v.end)).max(0.5),
            row - 2.0,
            x(v.start),
            (x(v.end) - x(v.start)).max(0.5),
            row - 2.0,
        );
    }
    let axis = top + row * f64::from(c.boards) + 16.0;
    // Round tick steps (1 min .. 2 h), at most eight ticks.
    let step = [60, 300, 600, 900, 1800, 3600, 7200]
        .into_iter()
        .find(|step| total.as_secs() / step <= 8)
        .unwrap_or(total.as_secs().div_ceil(8).max(1));
    for tick in (0..=total.as_secs()).step_by(step as usize) {
        let d = Duration::from_secs(tick);
        out += &format!(
            "<text x=\"{:.1}\" y=\"{axis}\" text-anchor=\"middle\">{}</text>\n",
            x(d),
            clock(d)
        );
    }
    out += &format!(
        "<rect x=\"{left}\" y=\"{ly}\" width=\"10\" height=\"10\" fill=\"#234\"/>\
         <text x=\"{}\" y=\"{}\">the master thinks at this board</text>\
         <rect x=\"{}\" y=\"{ly}\" width=\"10\" height=\"10\" fill=\"#ddd\"/>\
         <text x=\"{}\" y=\"{}\">its opponent thinks</text>\n",
        left + 14.0,
        axis + 17.0,
        left + 230.0,
        left + 244.0,
        axis + 17.0,
        ly = axis + 8.0,
    );
    out + "</svg>\n"
}

fn runtime(c: &Config) -> Runtime {
    Runtime::builder()
        .virtual_clock(!c.real_time)
        .build()
        .expect("could not create the runtime")
}

fn main() -> ExitCode {
    let config = match parse_args() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            eprintln!(
                "usage: chess_simul [--boards N] [--moves N] [--master-secs S] [--opponent-secs S] \
                 [--real-time --speedup N] [--svg FILE] [--stats]"
            );
            return ExitCode::from(2);
        }
    };
    let real_start = Instant::now();

    let sync_rt = runtime(&config);
    let sync_total = sync_rt.block_on(synchronous(config.clone()));
    println!("synchronous: {}", clock(sync_total));

    let async_rt = runtime(&config);
    let visits = Rc::new(RefCell::new(Vec::new()));
    let async_total = async_rt.block_on(asynchronous(config.clone(), Rc::clone(&visits)));
    println!("asynchronous: {}", clock(async_total));
    println!(
        "(the move model predicts {}; {} of real time)",
        clock(predicted_async(&config)),
        format_args!("{:.3} s", real_start.elapsed().as_secs_f64())
    );

    if config.stats {
        println!("\nloop counters, asynchronous run:\n{}", async_rt.stats());
    }
    if let Some(path) = &config.svg {
        if let Err(e) = std::fs::write(path, svg(&config, &visits.borrow(), async_total)) {
            eprintln!("error: could not write {path}: {e}");
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}
