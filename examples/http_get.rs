//! `http_get`: a small curl on simul's HTTP client.
//!
//! ```text
//! http_get [-i] [-I] [-X METHOD] [-H 'Name: value']... [-d DATA] [-L] [--max-redirs N]
//!          [--max-time SECS] [--connect-timeout SECS] [-f] [-v] [-s] [-o FILE]
//!          [-u USER:PASS] [-A AGENT] [--compressed] [--cacert FILE] [-k] URL...
//! ```
//! The flags mean what curl's mean. The body goes to stdout (or `-o FILE`) as
//! it arrives, with a progress meter on a terminal when it goes to a file;
//! several URLs are fetched in turn with one client, so a server sees its
//! connection reused (`-v` shows it, with the TLS details and both heads). A
//! failed URL does not stop the next; the exit status is 0 only if every
//! response was complete, else that of the last failure, numbered as curl
//! numbers them (3 bad URL, 6 DNS, 7 connect, 18 body cut short, 22 HTTP
//! error with `-f`, 23 write error, 28 timeout, 35 TLS handshake, 47
//! redirects, 56 TLS stream truncated, 60 certificate, 61 bad content
//! encoding, 77 bad `--cacert` file, 1 other). As curl, it sends no
//! `Accept-Encoding` unless `--compressed`; the trust store is the system's
//! (`SSL_CERT_FILE` and `SSL_CERT_DIR` work) unless `--cacert` replaces it.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use simul::net::http::{Client, Error, Response};
use simul::net::tls::{Certificate, TlsError};
use simul::time::parse_seconds;

#[derive(Debug, Default)]
struct Options {
    include: bool,
    head: bool,
    method: Option<String>,
    headers: Vec<(String, String)>,
    data: Option<String>,
    follow: bool,
    max_redirs: Option<u32>,
    max_time: Option<Duration>,
    connect_timeout: Option<Duration>,
    fail: bool,
    verbose: bool,
    silent: bool,
    output: Option<PathBuf>,
    user: Option<String>,
    agent: Option<String>,
    compressed: bool,
    cacert: Option<PathBuf>,
    insecure: bool,
    urls: Vec<String>,
}

fn usage() -> ! {
    eprintln!(
        "usage: http_get [-i] [-I] [-X METHOD] [-H 'Name: value']... [-d DATA] [-L] \
         [--max-redirs N] [--max-time SECS] [--connect-timeout SECS] [-f] [-v] [-s] [-o FILE] \
         [-u USER:PASS] [-A AGENT] [--compressed] [--cacert FILE] [-k] URL..."
    );
    std::process::exit(2)
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Options, String> {
    let mut o = Options::default();
    while let Some(arg) = args.next() {
        let mut value = |flag: &str| args.next().ok_or_else(|| format!("{flag} needs a value"));
        match arg.as_str() {
            "-i" | "--include" => o.include = true,
            "-I" | "--head" => o.head = true,
            "-L" | "--location" => o.follow = true,
            "-f" | "--fail" => o.fail = true,
            "-v" | "--verbose" => o.verbose = true,
            "-s" | "--silent" => o.silent = true,
            "-k" | "--insecure" => o.insecure = true,
            "--compressed" => o.compressed = true,
            "-o" | "--output" => o.output = Some(PathBuf::from(value(&arg)?)),
            "-u" | "--user" => o.user = Some(value(&arg)?),
            "-A" | "--user-agent" => o.agent = Some(value(&arg)?),
            "--cacert" => o.cacert = Some(PathBuf::from(value(&arg)?)),
            "-X" | "--request" => o.method = Some(value(&arg)?),
            "-d" | "--data" => o.data = Some(value(&arg)?),
            "-H" | "--header" => {
                let line = value(&arg)?;
                let (name, val) = line
                    .split_once(':')
                    .ok_or_else(|| format!("header {line:?} is not 'Name: value'"))?;
                o.headers
                    .push((name.trim().to_owned(), val.trim().to_owned()));
            }
            "--max-redirs" => {
                let v = value(&arg)?;
                o.max_redirs = Some(v.parse().map_err(|_| format!("bad --max-redirs {v:?}"))?);
            }
            "--max-time" | "-m" => o.max_time = Some(seconds(&arg, value(&arg)?)?),
            "--connect-timeout" => o.connect_timeout = Some(seconds(&arg, value(&arg)?)?),
            "-h" | "--help" => usage(),
            flag if flag.starts_with('-') && flag.len() > 1 => {
                return Err(format!("unknown option {flag}"))
            }
            _ => o.urls.push(arg),
        }
    }
    if o.urls.is_empty() {
        return Err("no URL given".into());
    }
    Ok(o)
}

/// A duration flag's value, in seconds: the runtime's one parser, so `1e20` or `-1` is a clear
/// error and never a panic.
fn seconds(flag: &str, value: String) -> Result<Duration, String> {
    parse_seconds(&value).map_err(|e| format!("{flag}: {e}"))
}

/// curl's exit codes for the failures we can have.
fn exit_code(error: &Error) -> u8 {
    match error {
        Error::Dns { .. } => 6,
        Error::Connect { .. } => 7,
        Error::Timeout { .. } => 28,
        Error::TooManyRedirects { .. } => 47,
        Error::UnsupportedScheme { .. } => 1,
        Error::InvalidUrl { .. } => 3,
        Error::IncompleteBody { .. } => 18,
        Error::ContentDecoding(_) => 61,
        Error::Tls(TlsError::Truncated) => 56,
        Error::Tls(TlsError::Config { .. }) => 77,
        Error::Tls(e) if e.is_certificate() => 60,
        Error::Tls(_) => 35,
        _ => 1,
    }
}

fn print_head(out: &mut impl Write, response: &Response) -> std::io::Result<()> {
    write!(
        out,
        "{} {} {}\r\n",
        response.version(),
        response.status(),
        response.reason()
    )?;
    for (name, value) in response.headers().iter() {
        write!(out, "{name}: ")?;
        out.write_all(value)?;
        out.write_all(b"\r\n")?;
    }
    out.write_all(b"\r\n")
}

/// Fetches one URL; `Ok(())` when the response was complete (and, with
/// `-f`, not an error status).
async fn fetch(client: &Client, o: &Options, url: &str) -> Result<(), (u8, String)> {
    let method = match (&o.method, o.head, &o.data) {
        (Some(m), _, _) => m.clone(),
        (None, true, _) => "HEAD".to_owned(),
        (None, false, Some(_)) => "POST".to_owned(),
        (None, false, None) => "GET".to_owned(),
    };
    let mut request = client.request(&method, url);
    if let Some(data) = &o.data {
        if !o
            .headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("content-type"))
        {
            request = request.header("Content-Type", "application/x-www-form-urlencoded");
        }
        request = request.body(data.clone().into_bytes());
    }
    for (name, value) in &o.headers {
        request = request.header(name, value);
    }
    if let Some(user) = &o.user {
        let (name, password) = match user.split_once(':') {
            Some((name, password)) => (name, Some(password)),
            None => (user.as_str(), None),
        };
        request = request.basic_auth(name, password);
    }
    let failed = |e: Error| (exit_code(&e), e.to_string());
    let mut response = request.send().await.map_err(failed)?;
    // The client takes a redirect limit of 0 as "do not follow" and returns
    // the 3xx; curl's `-L --max-redirs 0` refuses it as too many redirects.
    let redirect = matches!(response.status(), 301 | 302 | 303 | 307 | 308);
    if o.follow && redirect && response.header("location").is_some() {
        return Err((47, "maximum (0) redirects followed".to_owned()));
    }
    if o.fail && response.status() >= 400 {
        return Err((
            22,
            format!("the requested URL returned error: {}", response.status()),
        ));
    }
    let io_failed = |e: std::io::Error| (23, format!("writing output failed: {e}"));
    let mut out: Box<dyn Write> = match &o.output {
        Some(path) => Box::new(
            std::fs::File::create(path)
                .map_err(|e| (23, format!("cannot write {}: {e}", path.display())))?,
        ),
        None => Box::new(std::io::stdout().lock()),
    };
    if o.include || o.head {
        print_head(&mut out, &response).map_err(io_failed)?;
    }
    // curl's meter: for a file, on a terminal, unless -s.
    let show_meter = o.output.is_some() && !o.silent && std::io::stderr().is_terminal();
    let total = response
        .header("content-length")
        .and_then(|v| v.parse::<u64>().ok());
    let mut meter = show_meter.then(|| Meter::new(total));
    while let Some(piece) = response.chunk().await.map_err(failed)? {
        out.write_all(&piece).map_err(io_failed)?;
        if let Some(meter) = &mut meter {
            meter.add(piece.len());
        }
    }
    if let Some(meter) = &mut meter {
        meter.finish();
    }
    out.flush().map_err(io_failed)
}

/// A one-line progress meter on stderr: percentage (when the length is known), bytes, speed.
struct Meter {
    total: Option<u64>,
    received: u64,
    started: Instant,
    last_shown: Option<Instant>,
}

impl Meter {
    fn new(total: Option<u64>) -> Meter {
        Meter {
            total,
            received: 0,
            started: Instant::now(),
            last_shown: None,
        }
    }

    fn add(&mut self, bytes: usize) {
        self.received += bytes as u64;
        // At most ten redraws a second.
        let due = self
            .last_shown
            .is_none_or(|at| at.elapsed() >= Duration::from_millis(100));
        if due {
            self.show();
        }
    }

    fn finish(&mut self) {
        self.show();
        eprintln!();
    }

    fn show(&mut self) {
        self.last_shown = Some(Instant::now());
        let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
        let seconds = self.started.elapsed().as_secs_f64().max(1e-3);
        let speed = mib(self.received) / seconds;
        let line = match self.total {
            Some(total) if total > 0 => format!(
                "{:5.1}%  {:.1} MiB of {:.1} MiB  {speed:.1} MiB/s",
                100.0 * self.received as f64 / total as f64,
                mib(self.received),
                mib(total)
            ),
            _ => format!("{:.1} MiB  {speed:.1} MiB/s", mib(self.received)),
        };
        eprint!("\r{line}   ");
    }
}

fn main() -> ExitCode {
    let options = parse_args(std::env::args().skip(1)).unwrap_or_else(|e| {
        eprintln!("error: {e}");
        usage()
    });
    // As in curl, a time limit of 0 is no limit (for connecting: the default).
    let nonzero = |limit: Option<Duration>| limit.filter(|d| !d.is_zero());
    let mut builder = Client::builder();
    if let Some(path) = &options.cacert {
        match Certificate::from_pem_file(path) {
            Ok(ca) => {
                builder = builder
                    .tls_built_in_root_certs(false)
                    .add_root_certificate(&ca)
            }
            Err(e) => {
                if !options.silent {
                    eprintln!("error: --cacert: {e}");
                }
                return ExitCode::from(77);
            }
        }
    }
    if let Some(agent) = &options.agent {
        builder = builder.user_agent(Some(agent));
    }
    let client = builder
        .max_redirects(if options.follow {
            options.max_redirs.unwrap_or(10)
        } else {
            0
        })
        .timeout(nonzero(options.max_time))
        .connect_timeout(nonzero(options.connect_timeout).or(Some(Duration::from_secs(10))))
        .verbose(options.verbose)
        .decompress(options.compressed)
        .danger_accept_invalid_certs(options.insecure)
        .build();
    let mut status = 0;
    simul::run(async {
        for url in &options.urls {
            if let Err((code, message)) = fetch(&client, &options, url).await {
                if !options.silent {
                    eprintln!("error: {url}: {message}");
                }
                status = code;
            }
        }
    });
    ExitCode::from(status)
}
