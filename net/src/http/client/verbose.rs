//! What `-v` prints, as curl prints it: `*` lines about connections and TLS, `>` lines of the
//! request head, `<` lines of the response head. On stderr, so the body on stdout stays clean.

use crate::http::Head;
use crate::tls::TlsInfo;

/// The connection is up (and, for TLS, the handshake done).
pub(super) fn connected(
    host: &str,
    ip: std::net::IpAddr,
    port: u16,
    id: u64,
    tls: Option<TlsInfo>,
) {
    eprintln!("* Connected to {host} ({ip}) port {port} (#{id})");
    let Some(tls) = tls else {
        return;
    };
    let mut line = format!(
        "* SSL connection using {} / {}",
        tls.version, tls.cipher_suite
    );
    if let Some(group) = &tls.key_exchange {
        line.push_str(&format!(" / {group}"));
    }
    eprintln!("{line}");
    match &tls.alpn {
        Some(protocol) => eprintln!("* ALPN: server accepted {protocol}"),
        None => eprintln!("* ALPN: server did not agree on a protocol"),
    }
    if let Some(cert) = &tls.peer_certificate {
        eprintln!("* Server certificate:");
        eprintln!("*  subject: {}", cert.subject);
        eprintln!("*  start date: {}", cert.not_before);
        eprintln!("*  expire date: {}", cert.not_after);
        eprintln!("*  issuer: {}", cert.issuer);
    }
}

/// A pooled connection carries this request.
pub(super) fn reused(host: &str, id: u64) {
    eprintln!("* Re-using existing connection #{id} with host {host}");
}

/// The request head, line by line (the body is not shown, as curl does not).
pub(super) fn request(message: &[u8]) {
    let head_len = message
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(message.len(), |i| i + 2);
    for line in message[..head_len].split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if !line.is_empty() {
            eprintln!("> {}", String::from_utf8_lossy(line));
        }
    }
    eprintln!(">");
}

/// The response head, line by line.
pub(super) fn response(head: &Head) {
    eprintln!("< {} {} {}", head.version, head.status, head.reason);
    for (name, value) in head.headers.iter() {
        eprintln!("< {name}: {}", String::from_utf8_lossy(value));
    }
    eprintln!("<");
}
