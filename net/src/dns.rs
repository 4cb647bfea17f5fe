//! Name resolution off the loop.
//!
//! The system resolver (`getaddrinfo`) blocks, for as long as the network
//! takes, and cannot be cancelled. So, as asyncio does, we run it on the
//! blocking pool and await its answer; IP literals skip it entirely.

use std::io;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};

/// Resolves `host` (a name, or an IPv4/IPv6 literal without brackets) to the
/// socket addresses for `port`, in the resolver's order of preference.
///
/// ```
/// simul_runtime::run(async {
///     let addrs = simul_net::dns::resolve("127.0.0.1", 80).await.unwrap();
///     assert_eq!(addrs, vec!["127.0.0.1:80".parse().unwrap()]);
///     let local = simul_net::dns::resolve("localhost", 8080).await.unwrap();
///     assert!(local.iter().all(|a| a.ip().is_loopback() && a.port() == 8080));
/// });
/// ```
// BOOK: dns
pub async fn resolve(host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let name = host.to_owned();
    let lookup = simul_runtime::spawn_blocking(move || {
        (name.as_str(), port)
            .to_socket_addrs()
            .map(Iterator::collect::<Vec<_>>)
    });
    let addrs = lookup
        .await
        .map_err(|e| io::Error::other(format!("the resolver thread failed: {e}")))??;
    if addrs.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("{host} has no addresses"),
        ));
    }
    Ok(addrs)
}
