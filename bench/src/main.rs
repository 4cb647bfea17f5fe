//! `workload`: simul side by side with tokio, smol and Python asyncio.
//!
//! ```text
//! workload WORKLOAD RUNTIME ARGS...   one run, one result line (WORKLOADS.md)
//! workload all [--rounds N] [--quick] [--runtimes a,b] [--workloads x,y] [--out FILE]
//! workload tiny                       every workload on simul at a tiny size (CI)
//! workload with-nginx CMD ARGS...     CMD with BENCH_URL pointing at our nginx
//! workload rq-all [--rounds N] [--quick]  our RQ worker against Python rq's (results/rq.md)
//! ```
//!
//! This crate is a measuring tool, not part of the product: it may use
//! `unsafe` and libc where the product may not.

mod common;
mod data;
mod driver;
mod fairness;
mod hyper_client;
mod hyper_io;
mod nginx;
mod redis_server;
mod report;
mod rq;
mod rq_driver;
mod rq_monitor;
mod rt_simul;
mod rt_smol;
mod rt_tokio;
mod runs;
mod workloads;

use rt_simul::Simul;
use rt_smol::Smol;
use rt_tokio::Tokio;

const USAGE: &str = "usage:
  workload WORKLOAD simul|tokio|smol ARGS...
      spawn N | yield T Y | pingpong M | timers N MAX_MS | echo C K
      http R C URL | c10k N URL | memory N | fairness N K S
  workload rq-trivial simul|rq-simple|rq-fork N C
  workload rq-io simul|rq-simple|rq-fork N C URL
  workload rq-count simul|rq-simple|rq-fork N
  workload rq-all [--rounds N] [--quick] [--out FILE]
  workload all [--rounds N] [--quick] [--runtimes a,b,..] [--workloads x,y,..] [--out FILE]
  workload tiny
  workload with-nginx CMD ARGS...";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("all") => driver::all(&args[1..]),
        Some("tiny") => driver::tiny(),
        Some("with-nginx") => driver::with_nginx(&args[1..]),
        Some("rq-all") => rq_driver::all(&args[1..]),
        Some("rq-count") => rq_driver::count_line(&args[1..]),
        Some(name @ ("rq-trivial" | "rq-io")) => rq::workload(name, &args[1..]),
        // Our worker, as the rq workloads start it (not for the command line).
        Some("rq-worker") => rq::our_worker(&args[1..]),
        Some("-h" | "--help") | None => {
            println!("{USAGE}");
            return;
        }
        Some(workload) => {
            let rest = args.get(2..).unwrap_or_default();
            match args.get(1).map(String::as_str) {
                Some("simul") => workloads::run::<Simul>("simul", workload, rest),
                Some("tokio") => workloads::run::<Tokio>("tokio", workload, rest),
                Some("smol") => workloads::run::<Smol>("smol", workload, rest),
                other => Err(format!("unknown runtime {other:?}")),
            }
        }
    };
    if let Err(e) = result {
        eprintln!("workload: {e}\n{USAGE}");
        std::process::exit(2);
    }
}
