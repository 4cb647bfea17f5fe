//! What every runtime's workloads share: the clock, the spec's `yield_now`,
//! the timer durations, RSS, and where the HTTP server is.

use std::future::Future;
use std::net::{SocketAddr, ToSocketAddrs};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// Size of nginx's `data.json` (see `data.rs`): every response body has it.
pub const BODY_LEN: usize = 2070;

/// A value produced inside the timed part, with the wall and CPU time it took.
pub struct Timed<T> {
    pub value: T,
    pub wall: Duration,
    pub cpu: Duration,
}

/// The stopwatch of the spec: started right before the first task is
/// spawned, stopped when the last one has finished.
pub struct Meter {
    wall: Instant,
    cpu: Duration,
}

impl Meter {
    pub fn start() -> Meter {
        Meter {
            wall: Instant::now(),
            cpu: process_cpu_time(),
        }
    }

    pub fn stop<T>(self, value: T) -> Timed<T> {
        // Read both clocks before anything else happens.
        let wall = self.wall.elapsed();
        let cpu = process_cpu_time().saturating_sub(self.cpu);
        Timed { value, wall, cpu }
    }
}

/// User + system CPU time of every thread of this process.
pub fn process_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the clock id is a constant
    // every Linux kernel knows.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_PROCESS_CPUTIME_ID) failed");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// The spec's `yield_now`: the first poll wakes its own task and returns
/// `Pending`, the second returns `Ready`. Written here rather than taken from
/// each runtime, because tokio's built-in defers the wake and so measures
/// something else.
pub fn yield_now() -> YieldNow {
    YieldNow { yielded: false }
}

pub struct YieldNow {
    yielded: bool,
}

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            return Poll::Ready(());
        }
        self.yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// `now - deadline` in signed nanoseconds (negative: the timer fired early).
pub fn lateness_ns(now: Instant, deadline: Instant) -> i64 {
    match now.checked_duration_since(deadline) {
        Some(late) => late.as_nanos() as i64,
        None => -((deadline - now).as_nanos() as i64),
    }
}

/// The seed of the timer durations (WORKLOADS.md, "timers").
pub const TIMER_SEED: u64 = 0x5EED_0000_0000_2024;

/// The first `n` SplitMix64 outputs from [`TIMER_SEED`], each `% (max_ms + 1)`.
pub fn timer_durations_ms(n: usize, max_ms: u64) -> Vec<u64> {
    let mut state = TIMER_SEED;
    (0..n)
        .map(|_| {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            (z ^ (z >> 31)) % (max_ms + 1)
        })
        .collect()
}

/// Resident set size in bytes: `/proc/self/statm` field 2 × 4096, as the spec says.
pub fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("read /proc/self/statm");
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|f| f.parse().ok())
        .expect("statm field 2");
    pages * 4096
}

/// Raises the soft open-file limit to 20,000 (the spec's `ulimit -n 20000`),
/// lifting the hard limit too when allowed (root).
pub fn raise_nofile_limit() {
    const WANTED: libc::rlim_t = 20_000;
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain getrlimit/setrlimit on a valid, local struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 || limit.rlim_cur >= WANTED {
            return;
        }
        let raised = libc::rlimit {
            rlim_cur: WANTED,
            rlim_max: limit.rlim_max.max(WANTED),
        };
        if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) != 0 {
            // Not allowed above the hard limit: take as much as we may.
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}

/// An `http://host:port/path` URL, split the way a hand-made request needs it.
#[derive(Clone, Debug)]
pub struct Target {
    pub url: String,
    pub addr: SocketAddr,
    /// `host:port`, for the `Host` header.
    pub authority: String,
    pub path: String,
    /// `https://`: the CA to trust is in the file `BENCH_CA` names.
    pub tls: bool,
}

impl Target {
    pub fn parse(url: &str) -> Result<Target, String> {
        let (tls, rest) = match (url.strip_prefix("http://"), url.strip_prefix("https://")) {
            (Some(rest), _) => (false, rest),
            (_, Some(rest)) => (true, rest),
            _ => return Err(format!("{url}: only http:// and https:// URLs")),
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let with_port = if authority.contains(':') {
            authority.to_owned()
        } else {
            format!("{authority}:{}", if tls { 443 } else { 80 })
        };
        let addr = with_port
            .to_socket_addrs()
            .map_err(|e| format!("{url}: {e}"))?
            .next()
            .ok_or_else(|| format!("{url}: no address"))?;
        Ok(Target {
            url: url.to_owned(),
            addr,
            authority: authority.to_owned(),
            path: path.to_owned(),
            tls,
        })
    }

    /// The PEM of the CA `BENCH_CA` names (the driver sets it for the TLS workloads).
    pub fn ca_pem() -> Result<Vec<u8>, String> {
        let path = std::env::var_os("BENCH_CA").ok_or("BENCH_CA is not set")?;
        std::fs::read(&path).map_err(|e| format!("BENCH_CA: {e}"))
    }
}

/// What the HTTP workloads count: responses that were 200 with a whole
/// body, body bytes, and failures of any kind.
#[derive(Clone, Copy, Debug, Default)]
pub struct Tally {
    pub ok: usize,
    pub body_bytes: usize,
    pub errors: usize,
    /// Connections the client really used (http: must be C).
    pub connections: usize,
}

impl Tally {
    pub fn add(&mut self, other: Tally) {
        self.ok += other.ok;
        self.body_bytes += other.body_bytes;
        self.errors += other.errors;
        self.connections += other.connections;
    }
}

/// How many of `total` requests connection `i` of `conns` makes: `R/C`,
/// plus one for the first `R mod C` connections.
pub fn share(total: usize, conns: usize, i: usize) -> usize {
    total / conns + usize::from(i < total % conns)
}

/// What the memory workload measured before the process exits.
pub struct MemoryProbe {
    pub rss_before: u64,
    pub rss_after: u64,
    pub polled: usize,
}

/// The echo workload's message: 64 bytes of 0x5A.
pub const ECHO_MSG: [u8; 64] = [0x5A; 64];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timer_durations_match_the_spec_check_values() {
        let d = timer_durations_ms(100_000, 1000);
        assert_eq!(&d[..5], &[675, 749, 472, 565, 12]);
        assert_eq!(d.iter().sum::<u64>(), 50_111_114);
    }

    #[test]
    fn shares_add_up() {
        let total: usize = (0..64).map(|i| share(20_000, 64, i)).sum();
        assert_eq!(total, 20_000);
        assert_eq!(share(10, 4, 0), 3);
        assert_eq!(share(10, 4, 3), 2);
    }

    #[test]
    fn target_parts() {
        let t = Target::parse("http://127.0.0.1:18080/data.json").unwrap();
        assert_eq!(t.authority, "127.0.0.1:18080");
        assert_eq!(t.path, "/data.json");
        assert_eq!(t.addr.port(), 18080);
    }
}
