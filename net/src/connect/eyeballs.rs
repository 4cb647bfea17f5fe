//! Happy eyeballs (RFC 8305): which of a host's addresses to connect to.
//!
//! A name often has several addresses (IPv6 and IPv4, or several of one family), and some of
//! them may be dead: a SYN that is dropped gets no answer for a minute or more. Trying them one
//! after another makes a single dead address cost the whole connect timeout; trying them all at
//! once floods the network. RFC 8305 §5 takes the middle road:
//!
//! - order the addresses by alternating families, starting with the resolver's first choice
//!   (§4), so one broken family cannot hide the other;
//! - start the first attempt; if it has not connected within 250 ms, start the next one too,
//!   and so on; an attempt that *fails* starts the next one at once;
//! - the first attempt to connect wins, and the others are dropped (which closes their sockets).
//!
//! One overall deadline bounds all of it; that is the caller's (`connect/mod.rs`).

use std::future::{poll_fn, Future};
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use simul_runtime::time::{self, Sleep};

use crate::TcpStream;

/// How long an attempt has before the next one starts beside it (RFC 8305 §8's
/// recommended "Connection Attempt Delay").
pub const ATTEMPT_DELAY: Duration = Duration::from_millis(250);

type Attempt = Pin<Box<dyn Future<Output = io::Result<TcpStream>>>>;

/// Connects to the first of `addrs` that answers, staggering attempts by [`ATTEMPT_DELAY`]; on
/// failure, the error of the last attempt that failed.
// BOOK: happy-eyeballs
pub async fn connect_first(addrs: &[SocketAddr]) -> io::Result<(TcpStream, SocketAddr)> {
    if let [only] = addrs {
        // One address (an IP literal, most names): nothing to race.
        return Ok((TcpStream::connect(*only).await?, *only));
    }
    let order = interleave_families(addrs);
    let mut running: Vec<(SocketAddr, Attempt)> = Vec::new();
    let mut next = 0;
    let mut last_error = None;
    // Start an attempt on this turn: the first one, or the next after a failure.
    let mut start_now = true;
    // When the next attempt starts if none has connected by then.
    let mut stagger: Option<Sleep> = None;
    poll_fn(|cx| loop {
        let stagger_passed = stagger
            .as_mut()
            .is_some_and(|s| Pin::new(s).poll(cx).is_ready());
        if (start_now || stagger_passed) && next < order.len() {
            let addr = order[next];
            next += 1;
            running.push((addr, Box::pin(TcpStream::connect(addr))));
            // No timer when no address is left to start (a single address: the common case).
            stagger = (next < order.len()).then(|| time::sleep(ATTEMPT_DELAY));
        }
        start_now = false;
        let mut i = 0;
        while i < running.len() {
            match running[i].1.as_mut().poll(cx) {
                Poll::Ready(Ok(stream)) => return Poll::Ready(Ok((stream, running[i].0))),
                Poll::Ready(Err(error)) => {
                    last_error = Some(error);
                    drop(running.swap_remove(i));
                    // A failure does not wait for the stagger: the next address starts now.
                    start_now = true;
                }
                Poll::Pending => i += 1,
            }
        }
        if next == order.len() && running.is_empty() {
            let error = last_error
                .take()
                .unwrap_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no address to try"));
            return Poll::Ready(Err(error));
        }
        if start_now && next < order.len() {
            continue;
        }
        // Every running attempt holds our waker; so does the stagger timer once polled (a
        // fresh one registers on this poll, and may already have passed).
        let more = next < order.len();
        if more
            && stagger
                .as_mut()
                .is_some_and(|s| Pin::new(s).poll(cx).is_ready())
        {
            continue;
        }
        return Poll::Pending;
    })
    .await
}

/// RFC 8305 §4: alternate address families, starting with the family of the first address, and
/// keep the resolver's order within each family.
pub fn interleave_families(addrs: &[SocketAddr]) -> Vec<SocketAddr> {
    let Some(first) = addrs.first() else {
        return Vec::new();
    };
    if addrs.iter().all(|a| a.is_ipv6() == first.is_ipv6()) {
        return addrs.to_vec();
    }
    let (preferred, other): (Vec<SocketAddr>, Vec<SocketAddr>) =
        addrs.iter().partition(|a| a.is_ipv6() == first.is_ipv6());
    let mut order = Vec::with_capacity(addrs.len());
    let (mut a, mut b) = (preferred.into_iter(), other.into_iter());
    loop {
        match (a.next(), b.next()) {
            (None, None) => return order,
            (x, y) => order.extend(x.into_iter().chain(y)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_alternate_starting_with_the_resolvers_first_choice() {
        let v6 = |n: u16| SocketAddr::from(([0, 0, 0, 0, 0, 0, 0, n], 80));
        let v4 = |n: u8| SocketAddr::from(([127, 0, 0, n], 80));
        let order = interleave_families(&[v6(1), v6(2), v6(3), v4(1)]);
        assert_eq!(order, vec![v6(1), v4(1), v6(2), v6(3)]);
        let order = interleave_families(&[v4(1), v4(2), v6(1), v6(2)]);
        assert_eq!(order, vec![v4(1), v6(1), v4(2), v6(2)]);
        assert!(interleave_families(&[]).is_empty());
    }
}
