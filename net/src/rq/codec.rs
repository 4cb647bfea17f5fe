//! The small encodings RQ's Redis layout is made of: UTC timestamps, uuid4 job ids, base64,
//! zlib, and Python's `repr` (for job descriptions).
//!
//! Invariant this file owns: **everything written here reads back in Python exactly as RQ's own
//! values do** (`utils.utcparse`, `uuid.UUID`, `base64.b64decode`, `zlib.decompress`), and
//! everything read here from Redis is checked: malformed input is an `Err`, never a panic.

use std::fmt::Write as _;
use std::io;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;

/// Largest inflated payload accepted from Redis (a job's `data`, an `exc_string`): a few bytes of
/// zlib can claim gigabytes.
pub const MAX_INFLATED: usize = 64 * 1024 * 1024;

/// Seconds since the Unix epoch, as a float: RQ's `execution_*_at` and `first_seen` values.
pub fn epoch_seconds(at: SystemTime) -> f64 {
    at.duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs_f64()
}

/// Whole seconds since the Unix epoch: RQ's registry scores (`current_timestamp()`).
pub fn epoch_whole_seconds(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs()
}

// BOOK: rq-timestamp
/// `at` as RQ writes it: `%Y-%m-%dT%H:%M:%S.%fZ` in UTC, with microseconds.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use simul_net::rq::utc_timestamp;
/// let at = UNIX_EPOCH + Duration::from_micros(1_795_550_677_509_692);
/// assert_eq!(utc_timestamp(at), "2026-11-24T20:04:37.509692Z");
/// ```
pub fn utc_timestamp(at: SystemTime) -> String {
    let since = at.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    let secs = since.as_secs();
    let (year, month, day) = civil_from_days((secs / 86_400) as i64);
    let of_day = secs % 86_400;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:06}Z",
        of_day / 3600,
        of_day / 60 % 60,
        of_day % 60,
        since.subsec_micros()
    )
}

/// `text` safe to print on one log line: control characters (newlines, ESC, DEL, the C1 range)
/// and the bidirectional overrides that reorder what a terminal shows are written as `\u{..}`
/// escapes, so a job description cannot forge log lines or terminal output.
///
/// ```
/// use simul_net::rq::log_safe;
/// assert_eq!(log_safe("f('a')"), "f('a')");
/// assert_eq!(log_safe("x\n15:10:51 default: Job OK\x1b[2J"), "x\\u{a}15:10:51 default: Job OK\\u{1b}[2J");
/// ```
pub fn log_safe(text: &str) -> std::borrow::Cow<'_, str> {
    let unsafe_char =
        |c: char| c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
    if !text.chars().any(unsafe_char) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if unsafe_char(c) {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// `HH:MM:SS` of `at` in UTC: the worker's log prefix.
pub fn clock(at: SystemTime) -> String {
    let secs = epoch_whole_seconds(at) % 86_400;
    format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)
}

/// The proleptic Gregorian date of day `days` after 1970-01-01 (Howard Hinnant's
/// `civil_from_days`): eras of 400 years, each exactly 146 097 days, with years starting in
/// March so that the leap day is the last day of the year.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468; // days since 0000-03-01
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097); // [0, 146096]
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365; // [0, 399]
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100); // [0, 365]
    let month_from_march = (5 * day_of_year + 2) / 153; // [0, 11]
    let day = (day_of_year - (153 * month_from_march + 2) / 5 + 1) as u32;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// A random (version 4) UUID from the kernel's `getrandom(2)`, formatted as RQ's job ids are:
/// `a2b7451e-731f-4f31-9232-2b7e3549051f`. One system call and no file descriptor (it was an
/// open, a read and a close of `/dev/urandom` per job), so a worker that has run out of
/// descriptors can still start and end jobs.
pub fn uuid4() -> io::Result<String> {
    let mut bytes = [0u8; 16];
    let mut filled = 0;
    while filled < bytes.len() {
        // Reads of up to 256 bytes are whole and never interrupted once the pool is ready; the
        // loop and the EINTR retry are for a worker started at boot, before it is (a signal
        // such as our own SIGTERM can then interrupt the wait).
        match rustix::rand::getrandom(&mut bytes[filled..], rustix::rand::GetRandomFlags::empty()) {
            Ok(n) => filled += n,
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    bytes[6] = (bytes[6] & 0x0f) | 0x40; // version 4
    bytes[8] = (bytes[8] & 0x3f) | 0x80; // RFC 4122 variant
    let mut out = String::with_capacity(36);
    for (i, byte) in bytes.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out.push('-');
        }
        let _ = write!(out, "{byte:02x}");
    }
    Ok(out)
}

const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding (Python's `base64.b64encode`).
///
/// ```
/// use simul_net::rq::{base64_decode, base64_encode};
/// assert_eq!(base64_encode(b"322"), "MzIy");
/// assert_eq!(base64_encode(b"ab"), "YWI=");
/// assert_eq!(base64_decode("YWI=").unwrap(), b"ab");
/// assert!(base64_decode("Y*I=").is_none());
/// ```
pub fn base64_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(BASE64[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Decodes standard base64 (padding required, as Python writes it); `None` for anything else.
pub fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let quads = text.as_bytes().chunks_exact(4);
    if !quads.remainder().is_empty() {
        return None;
    }
    let count = quads.len();
    let mut out = Vec::with_capacity(count * 3);
    for (index, quad) in quads.enumerate() {
        let last = index + 1 == count;
        let pad = quad.iter().rev().take_while(|&&c| c == b'=').count();
        if pad > 2 || (pad > 0 && !last) {
            return None;
        }
        let mut n = 0u32;
        for &c in &quad[..4 - pad] {
            let digit = BASE64.iter().position(|&d| d == c)?;
            n = n << 6 | digit as u32;
        }
        n <<= 6 * pad as u32;
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&bytes[..3 - pad]);
    }
    Some(out)
}

/// zlib-compresses `bytes` (Python's `zlib.compress`, level 6).
pub fn zlib_compress(bytes: &[u8]) -> Vec<u8> {
    miniz_oxide::deflate::compress_to_vec_zlib(bytes, 6)
}

/// Inflates a zlib stream of at most [`MAX_INFLATED`] bytes; `None` if it is not one.
pub fn zlib_decompress(bytes: &[u8]) -> Option<Vec<u8>> {
    miniz_oxide::inflate::decompress_to_vec_zlib_with_limit(bytes, MAX_INFLATED).ok()
}

/// Python's `repr` of a JSON value: what RQ puts in a job's `description`.
///
/// ```
/// use simul_net::rq::python_repr;
/// let value = serde_json::json!(["http://nvie.com", "it's", 1.5, null, true, {"k": [1]}]);
/// assert_eq!(
///     python_repr(&value),
///     r#"['http://nvie.com', "it's", 1.5, None, True, {'k': [1]}]"#
/// );
/// ```
pub fn python_repr(value: &Value) -> String {
    let mut out = String::new();
    repr_into(value, &mut out);
    out
}

fn repr_into(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("None"),
        Value::Bool(true) => out.push_str("True"),
        Value::Bool(false) => out.push_str("False"),
        Value::Number(n) => {
            let _ = write!(out, "{n}");
        }
        Value::String(s) => repr_str(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                repr_into(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                repr_str(key, out);
                out.push_str(": ");
                repr_into(item, out);
            }
            out.push('}');
        }
    }
}

/// Python's `repr(str)`: single quotes unless the text has a `'` and no `"`.
fn repr_str(s: &str, out: &mut String) {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push(quote);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_cross_leap_days_and_centuries() {
        let at = |secs: u64, micros: u32| UNIX_EPOCH + Duration::new(secs, micros * 1000);
        assert_eq!(utc_timestamp(at(0, 0)), "1970-01-01T00:00:00.000000Z");
        assert_eq!(
            utc_timestamp(at(951_782_400, 1)),
            "2000-02-29T00:00:00.000001Z"
        );
        assert_eq!(
            utc_timestamp(at(4_107_542_399, 999_999)),
            "2100-02-28T23:59:59.999999Z"
        );
        assert_eq!(
            utc_timestamp(at(4_107_542_400, 0)),
            "2100-03-01T00:00:00.000000Z"
        );
        assert_eq!(clock(at(1_795_550_677, 0)), "20:04:37");
    }

    #[test]
    fn uuid4_has_the_version_and_variant_bits() {
        let id = uuid4().unwrap();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
        assert!("89ab".contains(&id[19..20]));
        assert_ne!(id, uuid4().unwrap());
    }

    #[test]
    fn base64_round_trips_every_length() {
        for len in 0..40u8 {
            let bytes: Vec<u8> = (0..len).map(|i| i.wrapping_mul(37)).collect();
            assert_eq!(base64_decode(&base64_encode(&bytes)).unwrap(), bytes);
        }
        assert_eq!(base64_decode("YQ=="), Some(b"a".to_vec()));
        assert_eq!(base64_decode("YQ="), None);
        assert_eq!(base64_decode("YQ==YQ=="), None);
        assert_eq!(base64_decode("Y==="), None);
    }

    #[test]
    fn zlib_round_trips_and_refuses_garbage() {
        let text = b"Traceback (most recent call last): ...".repeat(20);
        let packed = zlib_compress(&text);
        assert_eq!(&packed[..2], &[0x78, 0x9c]);
        assert_eq!(zlib_decompress(&packed).unwrap(), text);
        assert_eq!(zlib_decompress(b"[\"not zlib\"]"), None);
    }

    #[test]
    fn repr_escapes_like_python() {
        let repr = |s: &str| python_repr(&Value::String(s.into()));
        assert_eq!(repr("a'b\"c"), r#"'a\'b"c'"#);
        assert_eq!(repr("tab\there\n\\"), r"'tab\there\n\\'");
        assert_eq!(repr("\u{1}é"), r"'\x01é'");
    }
}
