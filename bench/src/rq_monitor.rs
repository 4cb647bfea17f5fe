//! Counting a worker's Redis commands with `MONITOR`: round trips (what the worker waits for)
//! and commands (what Redis runs), for the rq workloads' "where the time goes".
//!
//! MONITOR prints every command a client sends, one line each (`<time> [0 127.0.0.1:port]
//! "HSET" ...`), the commands a script calls (`[0 lua] ...`), and a transaction as `MULTI`, its
//! commands, `EXEC`. A client that waits for each reply before the next command (both workers
//! here; a transaction is written in one go) makes one round trip per command it sends, except
//! inside `MULTI`…`EXEC`, which is one round trip in all. MONITOR slows Redis down, so counted
//! runs are never the timed ones.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::thread::JoinHandle;

/// What `ECHO`es the end of a counted stretch.
const MARKER: &str = "simul-bench-rq-monitor-end";

/// Commands seen from a worker.
#[derive(Clone, Debug, Default)]
pub struct Counts {
    /// Commands sent outside a transaction, plus one per transaction.
    pub round_trips: usize,
    /// Commands Redis ran, those inside transactions and scripts included (`MULTI`, `EXEC` and
    /// the `EVAL` around a script are not counted).
    pub commands: usize,
    /// Round trips by command (`MULTI` for a transaction, `EVAL` for a script).
    pub trips: BTreeMap<String, usize>,
}

impl Counts {
    /// Per job: (`self` − `empty`, a run of the same worker with no job) / `jobs`.
    pub fn per_job(&self, empty: &Counts, jobs: usize) -> PerJob {
        let per = |a: usize, b: usize| (a as f64 - b as f64) / jobs.max(1) as f64;
        PerJob {
            round_trips: per(self.round_trips, empty.round_trips),
            commands: per(self.commands, empty.commands),
            trips: self
                .trips
                .iter()
                .map(|(name, &n)| (name.clone(), per(n, *empty.trips.get(name).unwrap_or(&0))))
                .filter(|(_, n)| n.abs() >= 0.005)
                .collect(),
        }
    }

    fn see(&mut self, line: &str, in_transaction: &mut HashMap<String, bool>) {
        // `+1733300000.123456 [0 127.0.0.1:50000] "HSET" "rq:job:..." ...`
        let Some((client, rest)) = line
            .split_once('[')
            .and_then(|(_, r)| r.split_once(']'))
            .map(|(inside, rest)| (inside.split_whitespace().nth(1).unwrap_or(""), rest))
        else {
            return;
        };
        let Some(name) = rest.trim_start().split('"').nth(1) else {
            return;
        };
        let name = name.to_ascii_uppercase();
        if client == "lua" {
            self.commands += 1;
            return;
        }
        let inside = in_transaction.entry(client.to_owned()).or_default();
        match name.as_str() {
            "MULTI" => {
                *inside = true;
                self.trip("MULTI");
            }
            "EXEC" | "DISCARD" => *inside = false,
            _ if *inside => self.commands += 1,
            "EVAL" | "EVALSHA" => self.trip(&name),
            _ => {
                self.commands += 1;
                self.trip(&name);
            }
        }
    }

    fn trip(&mut self, name: &str) {
        self.round_trips += 1;
        *self.trips.entry(name.to_owned()).or_default() += 1;
    }
}

/// [`Counts`] per job.
#[derive(Clone, Debug, Default)]
pub struct PerJob {
    /// See [`Counts::round_trips`].
    pub round_trips: f64,
    /// See [`Counts::commands`].
    pub commands: f64,
    /// See [`Counts::trips`]; entries that round to 0 are left out.
    pub trips: Vec<(String, f64)>,
}

/// A MONITOR connection, read on a thread of its own.
pub struct Monitor {
    reader: JoinHandle<Result<Counts, String>>,
}

impl Monitor {
    /// Starts monitoring the server on `port`, leaving out the client at `ignore` (the bench's
    /// own probe); returns once Redis has said `+OK`, so every command sent after this is seen.
    pub fn start(port: u16, ignore: &str) -> Result<Monitor, String> {
        let ignore = format!(" {ignore}]");
        let mut stream = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
        stream
            .write_all(b"MONITOR\r\n")
            .map_err(|e| e.to_string())?;
        let mut lines = BufReader::new(stream);
        let mut ok = String::new();
        lines.read_line(&mut ok).map_err(|e| e.to_string())?;
        if !ok.starts_with("+OK") {
            return Err(format!("MONITOR answered {ok:?}"));
        }
        let reader = std::thread::spawn(move || {
            let mut counts = Counts::default();
            let mut in_transaction = HashMap::new();
            let mut line = String::new();
            loop {
                line.clear();
                match lines.read_line(&mut line) {
                    Ok(0) => return Err("MONITOR connection closed".to_owned()),
                    Ok(_) if line.contains(MARKER) => return Ok(counts),
                    Ok(_) if line.contains(&ignore) => {}
                    Ok(_) => counts.see(&line, &mut in_transaction),
                    Err(e) => return Err(e.to_string()),
                }
            }
        });
        Ok(Monitor { reader })
    }

    /// Ends the count (an `ECHO` of the marker on another connection) and returns it.
    pub fn finish(self, port: u16) -> Result<Counts, String> {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
        let echo = format!("ECHO {MARKER}\r\n");
        stream
            .write_all(echo.as_bytes())
            .map_err(|e| e.to_string())?;
        let mut reply = String::new();
        BufReader::new(stream)
            .read_line(&mut reply)
            .map_err(|e| e.to_string())?;
        self.reader
            .join()
            .map_err(|_| "the MONITOR reader panicked".to_owned())?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_transaction_is_one_trip_and_script_calls_are_commands() {
        let mut counts = Counts::default();
        let mut state = HashMap::new();
        for line in [
            r#"+1.0 [0 127.0.0.1:5000] "EVAL" "return 1" "0""#,
            r#"+1.0 [0 lua] "LMOVE" "a" "b" "LEFT" "RIGHT""#,
            r#"+1.0 [0 127.0.0.1:5000] "MULTI""#,
            r#"+1.0 [0 127.0.0.1:5000] "HSET" "k" "f" "v""#,
            r#"+1.0 [0 127.0.0.1:5001] "hgetall" "k""#,
            r#"+1.0 [0 127.0.0.1:5000] "ZADD" "z" "1" "m""#,
            r#"+1.0 [0 127.0.0.1:5000] "EXEC""#,
            "+OK",
        ] {
            counts.see(line, &mut state);
        }
        assert_eq!(counts.round_trips, 3);
        assert_eq!(counts.commands, 4);
        assert_eq!(counts.trips["MULTI"], 1);
        assert_eq!(counts.trips["HGETALL"], 1);
        let per = counts.per_job(&Counts::default(), 2);
        assert_eq!(per.round_trips, 1.5);
    }
}
