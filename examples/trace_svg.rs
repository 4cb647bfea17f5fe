//! `trace_svg`: draws a trace written by `SIMUL_TRACE=FILE` as an SVG timeline.
//!
//! ```text
//! SIMUL_TRACE=/tmp/r.json cargo run --example reddit_top
//! cargo run --example trace_svg -- /tmp/r.json docs/trace-reddit.svg
//! cargo run --example trace_svg -- /tmp/r.json docs/trace-reddit-start.svg --to 3
//! ```
//!
//! The input is Chrome Trace Event JSON (`runtime/src/trace/export.rs`): per
//! runtime (a "process"), track 0 is the reactor and track N + 1 is task N.
//! The picture has a row per track, and in it:
//! - a bar per poll slice, dark when that poll finished the task;
//! - each reactor wait shaded, on the reactor's row and faintly across the
//!   runtime's rows: while the loop waits in `epoll`, no task runs;
//! - a red triangle where a task was woken, a green dot where it was spawned,
//!   and an orange diamond on the reactor's row where timers fired;
//! - an axis in ms (in s once the picture spans more than ten seconds).
//!
//! `--from MS` and `--to MS` draw only that window of time. Under the
//! virtual clock polls take no time at all, so every bar is drawn at least
//! a pixel and a half wide.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::process::ExitCode;

use serde_json::Value;

/// What one row shows, times in ms.
#[derive(Default)]
struct Track {
    name: String,
    /// Poll slices: start, end, whether the poll finished the task.
    polls: Vec<(f64, f64, bool)>,
    /// Reactor waits: start, end.
    waits: Vec<(f64, f64)>,
    /// Instants: time and kind (`wake`, `spawn` or `timers fired`).
    marks: Vec<(f64, String)>,
    /// Start of the slice in progress (Chrome's `B` waiting for its `E`).
    open: Option<f64>,
}

/// The tracks, keyed by (runtime, track), and each runtime's name.
struct Trace {
    tracks: BTreeMap<(u64, u64), Track>,
    runtimes: BTreeMap<u64, String>,
}

fn read_trace(doc: &Value) -> Result<Trace, String> {
    let events = doc["traceEvents"]
        .as_array()
        .ok_or("not a Chrome trace: no traceEvents array")?;
    let mut trace = Trace {
        tracks: BTreeMap::new(),
        runtimes: BTreeMap::new(),
    };
    for e in events {
        let pid = e["pid"].as_u64().unwrap_or(1);
        let name = e["name"].as_str().unwrap_or("");
        if name == "process_name" {
            let runtime = e["args"]["name"].as_str().unwrap_or("runtime");
            trace.runtimes.insert(pid, runtime.to_owned());
            continue;
        }
        let tid = e["tid"].as_u64().unwrap_or(0);
        let track = trace.tracks.entry((pid, tid)).or_default();
        let ts = e["ts"].as_f64().unwrap_or(0.0) / 1000.0; // µs to ms
        match e["ph"].as_str().unwrap_or("") {
            "M" => track.name = e["args"]["name"].as_str().unwrap_or("?").to_owned(),
            "B" => track.open = Some(ts),
            "E" => {
                let start = track.open.take().ok_or("a slice ends that never began")?;
                match name {
                    "reactor wait" => track.waits.push((start, ts)),
                    _ => track.polls.push((start, ts, e["args"]["finished"] == true)),
                }
            }
            "i" => track.marks.push((ts, name.to_owned())),
            _ => {}
        }
    }
    Ok(trace)
}

/// Maps a time window (ms) onto `width` pixels starting at `left`.
struct Scale {
    from: f64,
    to: f64,
    left: f64,
    width: f64,
}

impl Scale {
    fn x(&self, ms: f64) -> f64 {
        let at = (ms - self.from) / (self.to - self.from);
        self.left + self.width * at.clamp(0.0, 1.0)
    }

    /// Whether anything between `from` and `to` falls in the window.
    fn shows(&self, from: f64, to: f64) -> bool {
        to >= self.from && from <= self.to
    }

    /// A round tick step, 1, 2 or 5 times a power of ten, for about eight ticks.
    fn step(&self) -> f64 {
        let rough = (self.to - self.from) / 8.0;
        let power = 10f64.powf(rough.log10().floor());
        let round = [1.0, 2.0, 5.0].map(|m| m * power);
        round
            .into_iter()
            .find(|s| *s >= rough)
            .unwrap_or(10.0 * power)
    }
}

fn rect(svg: &mut String, class: &str, x: (f64, f64), y: f64, height: f64, fill: &str) {
    let (from, to) = x;
    let _ = writeln!(
        svg,
        "<rect class=\"{class}\" x=\"{from:.2}\" y=\"{y}\" width=\"{:.2}\" height=\"{height}\" fill=\"{fill}\"/>",
        to - from
    );
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;")
}

fn draw(trace: &Trace, scale: &Scale) -> String {
    let (row, top) = (20.0, 10.0);
    let right = scale.left + scale.width;
    // Row positions: a header line per runtime, then its tracks in order.
    let (mut headers, mut rows, mut y) = (Vec::new(), Vec::new(), top);
    for (&(pid, tid), track) in &trace.tracks {
        if rows.last().is_none_or(|&(p, _, _, _)| p != pid) {
            headers.push((pid, y));
            y += row;
        }
        rows.push((pid, tid, track, y));
        y += row;
    }
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" \
         font-family=\"sans-serif\" font-size=\"11\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n",
        right + 30.0,
        y + 45.0
    );
    for &(pid, header_y) in &headers {
        let name = trace.runtimes.get(&pid).map_or("runtime", String::as_str);
        let _ = writeln!(
            svg,
            "<text x=\"4\" y=\"{}\" font-weight=\"bold\">{}</text>",
            header_y + 14.0,
            escape(name)
        );
        // The loop's waits, faintly across the rows of this runtime.
        let (first, end) = (header_y + row, header_y + row * (1.0 + rows_of(&rows, pid)));
        let waits = trace.tracks.get(&(pid, 0)).map(|r| &r.waits[..]);
        for &(from, to) in waits.unwrap_or_default() {
            rect(
                &mut svg,
                "idle",
                (scale.x(from), scale.x(to)),
                first,
                end - first,
                "#f2f2f2",
            );
        }
    }
    for &(_, _, track, ry) in &rows {
        let _ = writeln!(
            svg,
            "<text class=\"row\" x=\"14\" y=\"{}\">{}</text>\n\
             <line x1=\"{}\" x2=\"{right}\" y1=\"{line}\" y2=\"{line}\" stroke=\"#ddd\"/>",
            ry + 14.0,
            escape(&track.name),
            scale.left,
            line = ry + row - 1.0
        );
        for &(from, to) in track.waits.iter().filter(|w| scale.shows(w.0, w.1)) {
            let (a, b) = (scale.x(from), scale.x(to));
            rect(
                &mut svg,
                "wait",
                (a, b.max(a + 0.5)),
                ry + 3.0,
                row - 6.0,
                "#aaa",
            );
        }
        for &(from, to, last) in track.polls.iter().filter(|p| scale.shows(p.0, p.1)) {
            let (a, b) = (scale.x(from), scale.x(to));
            let fill = if last { "#123" } else { "#3a7bd5" };
            rect(
                &mut svg,
                "poll",
                (a, b.max(a + 1.5)),
                ry + 6.0,
                row - 8.0,
                fill,
            );
        }
        for (at, kind) in track.marks.iter().filter(|m| scale.shows(m.0, m.0)) {
            let (x, mid) = (scale.x(*at), ry + row / 2.0);
            let _ = match kind.as_str() {
                "wake" => writeln!(
                    svg,
                    "<path class=\"wake\" d=\"M{:.2} {ry} h6 l-3 5 z\" fill=\"#d22\"/>",
                    x - 3.0
                ),
                "spawn" => writeln!(
                    svg,
                    "<circle class=\"spawn\" cx=\"{x:.2}\" cy=\"{mid}\" r=\"3\" fill=\"#2a2\"/>"
                ),
                _ => writeln!(
                    svg,
                    "<path class=\"timers\" d=\"M{x:.2} {} l4 5 l-4 5 l-4 -5 z\" fill=\"#e80\"/>",
                    mid - 5.0
                ),
            };
        }
    }
    // The axis: round ticks, in ms, or in s when the window is long.
    let step = scale.step();
    let seconds = scale.to - scale.from > 10_000.0;
    let mut tick = (scale.from / step).ceil() * step;
    while tick <= scale.to + step * 1e-6 {
        let label = match seconds {
            true => format!("{} s", tick / 1000.0),
            false => format!("{} ms", (tick * 1e6).round() / 1e6),
        };
        let _ = writeln!(
            svg,
            "<line x1=\"{x:.2}\" x2=\"{x:.2}\" y1=\"{top}\" y2=\"{}\" stroke=\"#ccc\" stroke-dasharray=\"2 3\"/>\n\
             <text x=\"{x:.2}\" y=\"{}\" text-anchor=\"middle\">{label}</text>",
            y + 4.0,
            y + 18.0,
            x = scale.x(tick)
        );
        tick = ((tick + step) / step).round() * step; // no drift from adding 0.1s
    }
    let _ = writeln!(
        svg,
        "<text x=\"{}\" y=\"{}\" fill=\"#555\">blue: a poll (dark: the one that finished the task) · \
         grey: the reactor waits · red: a wake (above the poll it causes) · green: a spawn · orange: timers fired</text>",
        scale.left,
        y + 36.0
    );
    svg + "</svg>\n"
}

/// How many rows runtime `pid` has.
fn rows_of(rows: &[(u64, u64, &Track, f64)], pid: u64) -> f64 {
    rows.iter().filter(|r| r.0 == pid).count() as f64
}

/// The last instant anything in the trace happened, in ms.
fn end_of(trace: &Trace) -> f64 {
    let ends = trace.tracks.values().flat_map(|t| {
        let polls = t.polls.iter().map(|p| p.1);
        polls
            .chain(t.waits.iter().map(|w| w.1))
            .chain(t.marks.iter().map(|m| m.0))
    });
    ends.fold(0.0, f64::max)
}

fn run(args: &[String]) -> Result<(), String> {
    let (mut files, mut from, mut to) = (Vec::new(), 0.0, None);
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut ms = || -> Result<f64, String> {
            let value = args.next().ok_or(format!("{arg} needs a time in ms"))?;
            value
                .parse()
                .map_err(|_| format!("{arg}: {value:?} is not a number of ms"))
        };
        match arg.as_str() {
            "--from" => from = ms()?,
            "--to" => to = Some(ms()?),
            _ => files.push(arg),
        }
    }
    let [input, output @ ..] = &files[..] else {
        return Err("usage: trace_svg TRACE.json [OUT.svg] [--from MS] [--to MS]".into());
    };
    let text = std::fs::read_to_string(input).map_err(|e| format!("cannot read {input}: {e}"))?;
    let doc = serde_json::from_str(&text).map_err(|e| format!("{input} is not JSON: {e}"))?;
    let trace = read_trace(&doc)?;
    let to = to.unwrap_or_else(|| end_of(&trace)).max(from + 1e-3);
    let scale = Scale {
        from,
        to,
        left: 150.0,
        width: 1000.0,
    };
    let svg = draw(&trace, &scale);
    match output {
        [] => {
            print!("{svg}");
            Ok(())
        }
        [path] => std::fs::write(path, svg).map_err(|e| format!("cannot write {path}: {e}")),
        _ => Err("one output file at most".into()),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
