//! Chapter 7, exercise 10: `bytes_stream()` and `download(url, path)`.
//! install: net/tests/download.rs
//!
//! The API, in `net/src/http/client/` (a file of its own), exported from `simul_net::http`:
//!
//! ```text
//! impl Response {
//!     /// The body as a stream of pieces (each what `chunk` returns).
//!     pub fn bytes_stream(self) -> BytesStream;
//! }
//! impl BytesStream {
//!     /// The next piece, an error, or `None` at the end (and for ever after).
//!     pub async fn next(&mut self) -> Option<Result<Vec<u8>, Error>>;
//!     pub fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Vec<u8>, Error>>>;
//! }
//! impl Client {
//!     /// GETs `url` into the file at `path` (created or emptied); the bytes written.
//!     pub async fn download(&self, url: &str, path: impl AsRef<Path>) -> Result<u64, Error>;
//! }
//! // and a new variant, for the file's errors:
//! Error::File { path: PathBuf, source: io::Error }
//! ```
//!
//! The rules: the file is opened and written on the blocking pool, never on the loop's thread;
//! the body is written as it comes, with a bounded amount of it in memory (a few blocks of at
//! most a mebibyte or so), however large the body and however slow the file: when the writes
//! fall behind, the download stops reading the socket until they catch up.
//!
//! The server is a real nginx serving a 50 MiB file; the slow file is a FIFO read by a thread
//! of this test a little at a time, so that the disk is slower than the network.
//!
//! Copy this file to `net/tests/download.rs` and run
//! `timeout 120 cargo test -p simul-net --test download`.

#[path = "common_nginx/mod.rs"]
mod common_nginx;

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common_nginx::{big_file, Nginx, SMALL_LEN};
use simul_net::http::{Client, Error};
use simul_runtime::{run, spawn, stats, yield_now};

const FIFTY_MIB: usize = 50 << 20;

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(what: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("simul-{what}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// FNV-1a, over bytes as they come: compares 50 MiB without keeping them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Digest(u64, usize);

impl Digest {
    fn new() -> Digest {
        Digest(0xcbf2_9ce4_8422_2325, 0)
    }

    fn update(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
        self.1 += bytes.len();
    }
}

/// Writes `fifty.bin` (50 MiB of a pattern) into nginx's root, a mebibyte at a time; its digest.
fn write_fifty(nginx: &Nginx) -> Digest {
    let mut file = fs::File::create(nginx.dir().join("html/fifty.bin")).unwrap();
    let mut digest = Digest::new();
    let mut block = vec![0u8; 1 << 20];
    for n in 0..FIFTY_MIB >> 20 {
        for (i, b) in block.iter_mut().enumerate() {
            *b = (i.wrapping_mul(31) ^ n) as u8;
        }
        file.write_all(&block).unwrap();
        digest.update(&block);
    }
    digest
}

/// A line of `/proc/self/status`, in KiB.
fn status_kib(field: &str) -> usize {
    let status = fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with(field)).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Resets the process's peak resident size to what it is now (Linux's `clear_refs` 5).
fn reset_peak_rss() {
    fs::write("/proc/self/clear_refs", "5").unwrap();
}

/// 50 MiB from nginx into a FIFO that a thread reads 64 KiB at a time, pausing a millisecond
/// after each: the disk is slower than the network. The bytes arrive whole and in order, the
/// loop's thread never waits for the file (the FIFO is opened for reading only once a job of
/// the blocking pool is there, which a download that opens it on the loop never lets happen),
/// and the process grows by far less than the 50 MiB it moved.
#[test]
fn fifty_mib_go_to_a_slow_file_in_little_memory() {
    let nginx = Nginx::start();
    let expected = write_fifty(&nginx);
    let dir = TempDir::new("download-fifo");
    let fifo = dir.0.join("slow.fifo");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let url = nginx.url("/fifty.bin");

    let rss_before = status_kib("VmRSS:");
    reset_peak_rss();
    let (written, received) = run(async {
        let tasks_before = stats().live_tasks;
        let into = fifo.clone();
        let download = spawn(async move { Client::new().download(&url, &into).await });
        // The download's file job (a task of its own) exists once the file is being opened;
        // until then this task runs, as it can only if the loop is not stuck in a write.
        while stats().live_tasks < tasks_before + 2 {
            yield_now().await;
        }
        let path = fifo.clone();
        let reader = std::thread::spawn(move || slow_read(&path));
        let written = download.await.unwrap();
        (written, reader.join().unwrap())
    });
    let grew_mib = status_kib("VmHWM:").saturating_sub(rss_before) / 1024;
    assert_eq!(written.unwrap(), FIFTY_MIB as u64);
    assert_eq!(
        received, expected,
        "the file got other bytes than nginx sent"
    );
    assert!(
        grew_mib < 16,
        "the process grew by {grew_mib} MiB at its peak to move 50 MiB"
    );
}

/// Reads the FIFO at `path` to its end, 64 KiB at a time with a millisecond's pause after each
/// (a slow disk): the digest of what came.
fn slow_read(path: &Path) -> Digest {
    let mut fifo = fs::File::open(path).unwrap();
    let mut digest = Digest::new();
    let mut buf = vec![0u8; 64 << 10];
    loop {
        let n = fifo.read(&mut buf).unwrap();
        if n == 0 {
            return digest;
        }
        digest.update(&buf[..n]);
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// The stream gives the body's bytes in order, then `None`, and `None` again after that.
#[test]
fn bytes_stream_gives_the_body_in_order_then_none() {
    let nginx = Nginx::start();
    let url = nginx.url("/big.txt");
    let (body, pieces) = run(async {
        let response = Client::new().get(&url).await.unwrap();
        let mut stream = response.bytes_stream();
        let (mut body, mut pieces) = (Vec::new(), 0);
        while let Some(piece) = stream.next().await {
            body.extend(piece.unwrap());
            pieces += 1;
        }
        assert!(stream.next().await.is_none(), "None for ever after the end");
        (body, pieces)
    });
    assert_eq!(body, big_file());
    assert!(pieces > 1, "108 kB in one piece: not a stream");
}

/// A download into an existing, longer file replaces its content, and returns the length.
#[test]
fn download_replaces_an_existing_file() {
    let nginx = Nginx::start();
    let dir = TempDir::new("download-file");
    let path = dir.0.join("small.txt");
    fs::write(&path, vec![b'#'; 3 * SMALL_LEN]).unwrap();
    let written = run(Client::new().download(&nginx.url("/small.txt"), &path)).unwrap();
    assert_eq!(written, SMALL_LEN as u64);
    assert_eq!(fs::read(&path).unwrap(), vec![b's'; SMALL_LEN]);
}

/// A file that cannot be created is `Error::File`, naming it.
#[test]
fn a_file_that_cannot_be_created_is_a_typed_error() {
    let nginx = Nginx::start();
    let dir = TempDir::new("download-missing");
    let path = dir.0.join("no/such/dir/small.txt");
    let error = run(Client::new().download(&nginx.url("/small.txt"), &path)).unwrap_err();
    match &error {
        Error::File { path: named, .. } => assert_eq!(named, &path),
        other => panic!("not a file error: {other:?}"),
    }
    assert!(error.to_string().contains("no/such/dir"), "{error}");
}
