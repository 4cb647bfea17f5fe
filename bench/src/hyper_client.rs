//! The peers' HTTP client: hyper 1.x `client::conn::http1`, the same code
//! for tokio and smol; only connecting and spawning the connection's driver
//! differ, and the caller passes those in.

use std::future::Future;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1::{self, Connection, SendRequest};
use hyper::header::{CONNECTION, HOST};
use hyper::Request;

use crate::common::{Tally, Target};

/// One connection making `requests` sequential GETs (c10k: one, with
/// `Connection: close`). `spawn_driver` runs hyper's connection future as its
/// own task and returns a future that ends with it; it is awaited once the
/// requests are done, so the socket is closed inside the timed part.
pub async fn session<I, D, W>(
    io: std::io::Result<I>,
    target: &Target,
    requests: usize,
    close: bool,
    spawn_driver: D,
) -> Tally
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + 'static,
    D: FnOnce(Connection<I, Empty<Bytes>>) -> W,
    W: Future<Output = ()>,
{
    let failed = |why: String| {
        eprintln!("hyper: {why}");
        Tally {
            errors: requests,
            ..Tally::default()
        }
    };
    let io = match io {
        Ok(io) => io,
        Err(e) => return failed(format!("connect: {e}")),
    };
    let (mut sender, conn) = match http1::handshake(io).await {
        Ok(pair) => pair,
        Err(e) => return failed(format!("handshake: {e}")),
    };
    let driver = spawn_driver(conn);
    let mut tally = Tally {
        connections: 1,
        ..Tally::default()
    };
    for _ in 0..requests {
        match get(&mut sender, target, close).await {
            Ok(len) => {
                tally.ok += 1;
                tally.body_bytes += len;
            }
            Err(e) => {
                eprintln!("hyper: {e}");
                tally.errors += 1;
                if sender.is_closed() {
                    // The connection is gone: the rest cannot be sent on it.
                    tally.errors += requests - tally.ok - tally.errors;
                    break;
                }
            }
        }
    }
    // No more requests: hyper's connection finishes and closes the socket.
    drop(sender);
    driver.await;
    tally
}

/// One GET; returns the body length if the status was 200 and the whole body arrived.
async fn get(
    sender: &mut SendRequest<Empty<Bytes>>,
    target: &Target,
    close: bool,
) -> Result<usize, String> {
    sender.ready().await.map_err(|e| e.to_string())?;
    let mut request = Request::get(target.path.as_str()).header(HOST, target.authority.as_str());
    if close {
        request = request.header(CONNECTION, "close");
    }
    let request = request.body(Empty::new()).map_err(|e| e.to_string())?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| e.to_string())?;
    if response.status() != 200 {
        return Err(format!("status {}", response.status()));
    }
    let mut body = response.into_body();
    let mut len = 0;
    while let Some(frame) = body.frame().await {
        if let Some(data) = frame.map_err(|e| e.to_string())?.data_ref() {
            len += data.len();
        }
    }
    Ok(len)
}
